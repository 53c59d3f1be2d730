"""tools/gpu_check.py: every command it will run on a GPU machine is one the kit accepts.

Its --tiny rehearsal runs 12 commands (3 minutes on 2 busy CPU cores), too long for the unit
tests: it runs only with ERASKIT_SLOW_TESTS=1."""

import importlib.util
import os
import subprocess
import sys

import pytest

from eraskit import flags, preflight
from helpers import ROOT, save_npz, subprocess_env, synthetic_cifar


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("tiny", [False, True])
def test_every_command_parses_to_a_valid_config(tiny, tmp_path):
    gpu_check = load_script()
    commands = {**gpu_check.bench_commands(tiny), **gpu_check.training_runs(tiny)}
    assert len(commands) == 10
    configs = {}
    for name, argv in commands.items():
        args = flags.build_parser().parse_args(argv + ["--data", "x.npz",
                                                       "--out", str(tmp_path / name)])
        configs[name] = preflight.make_config(args)
    assert configs["default"] == preflight.make_config(flags.build_parser().parse_args(
        ["run", "--out", str(tmp_path)] + (gpu_check.TINY if tiny else []))).replace(
        workers=configs["default"].workers, gpu_augment="off")  # the kit's defaults otherwise
    original = configs["original"]
    assert (original.optimizer, original.max_lr, original.precision, original.flip_tta,
            original.decay_norm_and_bias) == ("adam", 0.00183, "fp32", False, True)
    assert configs["batch-augment"].gpu_augment == "on" and configs["fp16"].precision == "fp16"
    assert {c.width for n, c in configs.items() if not n.startswith("bench")} == {8 if tiny else 64}


def test_a_dry_run_prints_the_commands_and_writes_nothing(tmp_path):
    out = tmp_path / "check"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--data",
                             "x.npz", "--out", str(out), "--dry-run"], capture_output=True,
                            text=True, env=subprocess_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 12 and all(line.startswith("start ") for line in lines)
    assert "eraskit compare" in lines[-1]
    assert not out.exists()


@pytest.mark.skipif(not os.environ.get("ERASKIT_SLOW_TESTS"), reason="3 minutes on a CPU: "
                    "set ERASKIT_SLOW_TESTS=1")
def test_the_tiny_rehearsal_writes_the_results_folder(tmp_path):
    npz = save_npz(tmp_path / "data.npz", synthetic_cifar(n_train=256, n_test=100))
    out = tmp_path / "check"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--data",
                             str(npz), "--out", str(out), "--tiny", "--archive",
                             str(tmp_path / "check.tar.gz")], capture_output=True, text=True,
                            env=subprocess_env(), timeout=900)
    assert result.returncode == 0, result.stderr
    log = (out / "check.log").read_text()
    assert log.count("exit 0") == 12, log
    assert len((out / "bench.jsonl").read_text().splitlines()) == 4
    table = (out / "compare.md").read_text()
    assert all(name in table for name in ("default", "original", "fp16", "batch-augment"))
    assert (out / "default" / "figures").is_dir() and (tmp_path / "check.tar.gz").is_file()
