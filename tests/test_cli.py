"""Bad input on the command line: exit code 2, one line on stderr, no traceback, and nothing
in an existing run folder changes. Most cases run main() in this process (fast); a few run
`python -m eraskit` as a user would."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from eraskit import cli, config as cfg, flags, preflight, runs, safe_write, training_run
from eraskit.cli import main
from helpers import (ERASKIT, TINY_FLAGS, as_flags, interrupt_at, save_npz, snapshot,
                     subprocess_env, tiny_config, tiny_flags, without_timing)


@pytest.fixture(scope="module")
def files(tmp_path_factory, data, trained_run):
    """Good and bad data files, an existing run, an empty folder and a regular file."""
    root = tmp_path_factory.mktemp("cli")
    corrupt = root / "corrupt.npz"
    corrupt.write_bytes(np.random.default_rng(0).bytes(3000))
    (root / "empty").mkdir()
    (root / "a_file").write_text("")
    return {
        "good": save_npz(root / "good.npz", data),
        "corrupt": corrupt,
        "shape": save_npz(root / "shape.npz", data, x_train=data.x_train[:, :, :, :1]),
        "labels": save_npz(root / "labels.npz", data, y_test=data.y_test + 10),
        "missing": root / "missing.npz",
        "run": shutil.copytree(trained_run.paths.root, root / "run"),
        "empty": root / "empty",
        "file": root / "a_file",
    }


def call(argv: list[str], capsys) -> tuple[int, str, str]:
    """main(argv) as the shell sees it: exit code, stdout, stderr."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's errors
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


# (arguments, a fragment of the one-line message); "{name}" is a path from `files`. (The
# data is read only after a new run in the trained run's folder is refused: hence --resume.)
BAD = [
    (["train", "--epochs", "0"], "epochs must be positive"),
    (["train", "--max-lr", "-1"], "max_lr must be positive"),
    (["train", "--max-lr", "nan"], "max_lr must be a finite number"),
    (["train", "--batch-size", "0"], "batch_size must be positive"),
    (["train", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["train", "--width", "abc"], "invalid int value: 'abc'"),
    (["train", "--epochs", "1.5"], "invalid int value: '1.5'"),
    (["train", "--preset", "huge"], "invalid choice: 'huge'"),
    (["train", "--resume", "--data", "{missing}"], "data file not found"),
    (["train", "--resume", "--data", "{corrupt}"], "corrupt.npz is not a readable .npz"),
    (["train", "--resume", "--data", "{empty}"],
     "is a folder; --data (and ERASKIT_DATA) take a .npz file"),
    (["train", "--resume", "--data", "{file}"],
     "a_file is not a readable .npz file: not a zip archive"),
    (["train", "--resume", "--data", "{shape}"],
     "x_train in {shape} must be uint8 (N, 32, 32, 3)"),
    (["train", "--resume", "--data", "{labels}"], "y_test in {labels} has labels outside 0..9"),
    (["train", "--resume", "--epochs", "5"],
     "holds a run trained with other settings: --epochs 5 (the run: 3): drop that flag, or use "
     "another run folder (--out)"),
    (["train", "--epoch", "0"], "unrecognized argument --epoch; did you mean --epochs?"),
    (["train", "--batchsize", "8"],
     "unrecognized argument --batchsize; did you mean --batch-size?"),
    (["train", "--sparkle", "on"], "unrecognized argument --sparkle; see python -m eraskit "
                                   "train --help"),
    (["find-lr", "--max-lr", "0.1"], "find-lr takes no --max-lr: see python -m eraskit find-lr "
                                     "--help for the settings it uses"),
    (["run", "--preset", "smoke", "--images", "{empty}"],
     "not the full assignment (width 8, not 64; epochs 3, not 20; 2,000 training images, not "
     "50,000; 500 test images, not 10,000)"),
    (["train"], "holds a run trained with other settings: from --preset full, --subset all "
                "(the run: 64), "),
    (["run"], "give the run's values as flags, or use another run folder (--out)"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(files, capsys, argv, message):
    argv = [a.format(**files) for a in argv]
    if "--data" not in argv:
        argv += ["--data", files["good"]]
    if "--device" not in argv:
        argv += ["--device", "cpu"]
    before = snapshot(files["run"])
    code, out, err = call(argv + ["--out", files["run"], "--quiet"], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "error:" in err and message.format(**files) in err
    assert snapshot(files["run"]) == before


TOO_FEW = [
    (["--subset", "5"], "5 training images for 10 classes: the subset (--subset) needs at least "
                        "one image per class"),
    (["--subset", "20"], "20 training images, fewer than one batch of 512: lower the batch size "
                         "(--batch-size) or use more images (--subset)"),
]


@pytest.mark.parametrize("command", ["train", "find-lr"])
@pytest.mark.parametrize("flags, message", TOO_FEW, ids=["classes", "batch"])
def test_too_few_training_images_say_how_many(files, capsys, tmp_path, command, flags, message):
    code, _, err = call([command, *flags, "--data", files["good"], "--device", "cpu",
                         "--out", tmp_path / "run"], capsys)
    assert code == 2 and err == f"eraskit: error: {message}\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["analyse", "gradcam"])
def test_analysis_of_a_folder_without_a_run(files, capsys, command):
    code, _, err = call([command, "--data", files["good"], "--out", files["empty"]], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "holds no run" in err and "eraskit run --preset" in err
    assert not any(files["empty"].iterdir())


def test_analysis_checks_the_run_before_the_data(files, capsys, monkeypatch):
    monkeypatch.delenv("ERASKIT_DATA", raising=False)
    code, _, err = call(["analyse", "--out", files["empty"]], capsys)  # no --data: no download
    assert code == 2 and "holds no run" in err


def test_analysis_reads_the_data_the_run_was_trained_on(files, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ERASKIT_DATA", raising=False)
    out = tmp_path / "run"
    assert call(["train", *TINY_FLAGS, "--data", files["good"], "--out", out], capsys)[0] == 0
    assert runs.load_run(out).meta.data_source == f"npz: {files['good']}"
    code, stdout, err = call(["gradcam", "--out", out], capsys)
    assert code == 0, err
    assert (out / "figures" / "gradcam.png").is_file()


def test_resume_in_a_folder_without_a_run_is_refused(files, capsys):
    code, _, err = call(["train", *TINY_FLAGS, "--resume", "--data", files["good"],
                         "--out", files["empty"]], capsys)
    assert code == 2 and "holds no run to resume" in err
    assert not any(files["empty"].iterdir())


def test_an_unwritable_out_folder_fails_before_training(files, capsys):
    out = files["file"] / "run"
    code, _, err = call(["train", *TINY_FLAGS, "--data", files["good"], "--out", out], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "cannot write to" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "run", "find-lr", "bench"])
def test_an_unavailable_device_is_refused_before_the_data(files, capsys, tmp_path, command):
    # the data file is missing: the device is what is reported, and no folder is made
    out = tmp_path / "run"
    flags = [f for f in tiny_flags(command) if f != "--quiet" or command != "bench"]
    argv = [command, *flags, "--device", "cuda", "--data", files["missing"], "--out", out]
    code, _, err = call(argv, capsys)
    assert code == 2 and err == ("eraskit: error: device 'cuda' is not available here; use "
                                 "--device auto or cpu\n")
    assert not out.exists()


def test_a_new_run_in_a_trained_folder_is_refused_before_the_data(files, capsys, tmp_path):
    run, missing = files["run"], files["missing"]  # the data is never read
    before = snapshot(run)

    def refusal(*flags) -> str:
        code, _, err = call(["train", *flags, "--data", missing, "--out", run], capsys)
        assert code == 2 and len(err.splitlines()) == 1, err
        return err.removeprefix("eraskit: error: ").rstrip("\n")

    assert refusal(*TINY_FLAGS, "--epochs", "4") == (
        f"{run} holds a run trained with other settings: --epochs 4 (the run: 3): drop that "
        f"flag, or use another run folder (--out)")
    # the preset left out: its values differ, and the preset that gives the run's is named
    assert refusal(*TINY_FLAGS[2:], "--seed", "2") == (
        f"{run} holds a run trained with other settings: --seed 2 (the run: 1), and from "
        f"--preset full, --width 64 (the run: 8), --epochs 20 (the run: 3): drop that flag and "
        f"give --preset smoke, or use another run folder (--out)")
    # the same settings (how it runs aside): what to do with the run instead
    assert refusal(*TINY_FLAGS, "--workers", "1") == (
        f"{run} holds a run that has finished all 3 epochs: analyse it (python -m eraskit "
        f"analyse --out {run}), or train another run in another folder (--out)")
    assert snapshot(run) == before
    partial = shutil.copytree(run, tmp_path / "partial")
    safe_write.save_json(partial / "history.json", runs.read_json(partial / "history.json")[:1])
    code, _, err = call(["train", *TINY_FLAGS, "--data", missing, "--out", partial], capsys)
    assert code == 2 and err == (f"eraskit: error: {partial} holds a run trained for 1 of 3 "
                                 f"epochs: continue it with --resume, or use another run folder "
                                 f"(--out)\n")


def test_a_trained_folder_in_use_is_reported_as_in_use(files, capsys):
    out = files["run"]  # another process holds its lock, as one training there would
    script = (f"import time; from eraskit import run_lock\n"
              f"with run_lock.writing({str(out)!r}):\n    print('locked', flush=True); "
              f"time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = call(["train", *TINY_FLAGS, "--data", files["missing"], "--out", out],
                            capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and f"is in use by another eraskit process (pid {holder.pid})" in err


def test_interrupt_before_an_epoch_is_saved_gives_the_command_again(files, capsys, tmp_path,
                                                                   monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run, "fit", interrupted)
    argv = ["train", *TINY_FLAGS, "--data", str(files["good"]), "--out", str(tmp_path)]
    code, _, err = call(argv, capsys)
    assert code == 130 and err == (f"eraskit: interrupted before the first epoch was saved; "
                                   f"start again with `python -m eraskit {' '.join(argv)}`\n")


def test_interrupt_says_how_many_epochs_are_kept_and_how_to_continue(files, capsys, tmp_path,
                                                                    monkeypatch):
    out = tmp_path / "my run"  # quoted in the command to copy
    interrupt_at(monkeypatch, stop_epoch=2)
    code, _, err = call(["run", *TINY_FLAGS, "--data", files["good"], "--out", out], capsys)
    assert code == 130
    assert err == (f"eraskit: interrupted; 1 of 3 epochs kept in {out}: continue with "
                   f"`python -m eraskit run --resume --out '{out}' --data {files['good']}`\n")


def test_train_then_resume_a_finished_run(files, capsys, tmp_path, trained_run):
    out = tmp_path / "run"
    code, stdout, err = call(["train", *TINY_FLAGS, "--data", files["good"], "--out", out],
                             capsys)
    assert code == 0, err
    assert f"run folder: {out}" in stdout
    run = runs.load_run(out)
    assert run.config == tiny_config()
    # The same settings and seed as the fixture's run made in-process: the same numbers.
    assert without_timing(run.history) == without_timing(trained_run.history)
    before = runs.read_json(out / "history.json")
    code, _, err = call(["train", "--resume", "--quiet", "--data", files["good"], "--out", out],
                        capsys)
    assert code == 0, err
    assert runs.read_json(out / "history.json") == before


def test_flags_cover_every_config_field(tmp_path):
    config = EVERY_SETTING
    at_default = [name for name, f in cfg.FIELDS.items() if getattr(config, name) == f.default]
    assert not at_default, f"a flag at its default proves nothing: {at_default}"
    args = flags.parse(["train", "--preset", "full", *as_flags(config.to_dict())])
    args.out = str(tmp_path)
    assert preflight.make_config(args) == config


def test_compare_prints_a_table_of_runs(trained_run, capsys, files):
    code, out, err = call(["compare", trained_run.paths.root, files["file"]], capsys)
    assert code == 0
    assert out.splitlines()[2].startswith(f"| {trained_run.paths.root.name} | 8 | 3/3 | 16 | sgd |")
    assert err == f"eraskit: skipping {files['file']}: not a run folder\n"
    code, _, err = call(["compare", files["file"]], capsys)
    assert code == 2 and "none of the paths given is a run folder" in err


# --- as a user runs it ------------------------------------------------------------------------

SUBPROCESS_BAD = [
    (["train", "--epochs", "0"], "epochs must be positive"),
    (["train", "--width", "abc"], "invalid int value: 'abc'"),
    (["train", "--resume", "--data", "{corrupt}"], "is not a readable .npz"),
]


def test_python_m_eraskit_bad_input(files):
    """Started together: each pays the interpreter's start-up, in parallel."""
    before = snapshot(files["run"])
    started = []
    for argv, message in SUBPROCESS_BAD:
        argv = [a.format(**files) for a in argv]
        if "--data" not in argv:
            argv += ["--data", str(files["good"])]
        command = ERASKIT + argv + ["--out", str(files["run"]), "--quiet"]
        started.append((subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, env=subprocess_env()), message))
    for process, message in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, err
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert message in err and out == ""
    assert snapshot(files["run"]) == before


# Every Config field away from its default, so that each one must come from its flag.
EVERY_SETTING = tiny_config(
    lr_start=1e-4, lr_end=5.0, lr_iters=20, lr_factor=3.0, lr_diverge_at=4.0, compile=True,
    flip_tta=False, optimizer="adam", gpu_augment="off", momentum=0.8, base_momentum=0.7,
    weight_decay=1e-4, decay_norm_and_bias=True, label_smoothing=0.05, pct_start=0.3,
    div_factor=10.0, final_div_factor=100.0, anneal="linear", pad=2, flip_p=0.25, cutout=8,
    cutout_p=0.75, channels_last=False, seed=3, cam_method="layercam", cam_layer="layer2")


def settings(command: str) -> set[str]:
    """The Config fields a command takes: those its parser fills in when given every flag."""
    parser = flags.build_parser().commands[command]
    args, _ = parser.parse_known_args(as_flags(EVERY_SETTING.to_dict()))
    return set(vars(args)) & set(cfg.FIELDS)


def test_each_command_takes_the_flags_it_uses():
    assert settings("run") == settings("train") == set(cfg.FIELDS)
    assert settings("analyse") == settings("gradcam") == {"cam_method", "cam_layer"}
    # every setting the range test depends on; the peak is its output, the schedule train's
    assert set(cfg.FIELDS) - set(cfg.RANGE_TEST_IGNORES) <= settings("find-lr")
    assert {"lr_factor", "epochs", "pct_start"} <= settings("find-lr")
    assert not {"max_lr", "anneal", "flip_tta", "cam_layer"} & settings("find-lr")
    assert {"gpu_augment", "width", "flip_p"} <= settings("bench")
    assert not {"epochs", "subset", "lr_iters"} & settings("bench")
    for command, names in flags.COMMAND_SETTINGS.items():
        assert set(names) <= set(cfg.FIELDS), command


def test_command_options_besides_the_settings():
    parser = flags.build_parser()
    run = parser.commands["run"].parse_args(["--resume", "--images", "x", "--force-images"])
    assert run.resume and run.images == "x" and run.force_images
    assert parser.commands["bench"].parse_args([]).steps == 3
    for command, option in (("train", "--images"), ("analyse", "--resume"), ("bench", "--quiet")):
        with pytest.raises(SystemExit):
            parser.commands[command].parse_args([option])


def test_none_asks_for_the_automatic_value(tmp_path):
    args = flags.parse(["train", "--preset", "smoke", "--subset", "none", "--max-lr", " None ",
                      "--lr-iters", "30", "--out", str(tmp_path)])
    config = preflight.make_config(args)
    assert config.subset is None and config.max_lr is None and config.lr_iters == 30
    assert config.test_subset == cfg.preset("smoke").test_subset  # left out: the preset's


def test_help_shows_each_presets_value():
    text = " ".join(flags.build_parser().commands["train"].format_help().split())
    assert "[full: 64, smoke: 8, cpu: 16]" in text
    assert "[default: auto]" in text
    assert "[default: none]" in text


def test_help_says_what_none_chooses_and_each_default_once():
    text = " ".join(flags.build_parser().commands["train"].format_help().split())
    assert ("--max-lr LR OneCycle's peak rate (none = the LR range test's suggestion) "
            "[default: none]") in text
    assert ("--lr-start LR the range test's first rate (none = 1e-4 for SGD, 1e-6 for Adam) "
            "[default: none]") in text
    assert ("--subset N training images to use, class-balanced and seeded (none = all 50,000) "
            "[full: none, smoke: 2000, cpu: 10000]") in text
    optional = [name for name in cfg.FIELDS if cfg.field_type(name)[1]]
    assert set(optional) == {name for name in cfg.FIELDS if cfg.none_means(name)}
    helps = {a.option_strings[0]: a.help for a in flags.build_parser().commands["train"]._actions
             if a.option_strings}
    for name in optional:
        line = helps[flags.flag(name)]
        assert "(none = " in line and line.count("default") <= 1, line


def test_a_bad_value_says_none_is_accepted_where_it_is(capsys):
    code, _, err = call(["train", "--max-lr", "nonsense"], capsys)
    assert code == 2 and err == ("python -m eraskit train: error: argument --max-lr: invalid "
                                 "float value: 'nonsense' (a float, or none = the LR range "
                                 "test's suggestion)\n")
    code, _, err = call(["train", "--width", "wide"], capsys)  # no none for the width
    assert code == 2 and err.endswith("argument --width: invalid int value: 'wide'\n")


def test_analysis_says_a_trained_run_keeps_its_settings(files, capsys):
    code, out, err = call(["analyse", "--epochs", "3", "--out", files["run"]], capsys)
    assert code == 2 and out == ""
    assert err == ("python -m eraskit analyse: error: analyse takes no --epochs: a trained run "
                   "keeps its settings (only --cam-method and --cam-layer may change); train a "
                   "new run to change them\n")


def test_every_command_has_a_handler():
    assert set(cli.HANDLERS) == set(flags.COMMANDS) == set(flags.build_parser().commands)


def test_a_bare_command_line_points_to_help(capsys):
    code, out, err = call([], capsys)
    assert code == 2 and out == ""
    assert err == ("python -m eraskit: give a command (run, find-lr, train, analyse, gradcam, "
                   "bench, compare); see python -m eraskit --help\n")


def test_analysis_without_out_lists_the_run_folders(trained_run, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = call(["analyse"], capsys)
    assert code == 2 and err == ("eraskit: error: no run in runs/full and none under runs/: train "
                                 "one first, e.g. `python -m eraskit run --preset smoke`\n")
    for name in ("b", "a/seed-1"):
        shutil.copytree(trained_run.paths.root, tmp_path / "runs" / name)
    code, _, err = call(["analyse"], capsys)
    assert code == 2
    assert err == ("eraskit: error: no run in runs/full; give one with --out: runs/b, "
                   "runs/a/seed-1\n")  # the shallowest first


RESULTS = "# Course\n<!-- results:begin -->\nthe course's table\n<!-- results:end -->\n"


def test_images_refuses_a_run_that_is_not_the_assignment(files, capsys, tmp_path):
    readme, images = tmp_path / "README.md", tmp_path / "images"
    readme.write_text(RESULTS)
    before = snapshot(files["run"])
    code, out, err = call(["analyse", "--data", files["good"], "--out", files["run"],
                           "--images", images], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert ("not the full assignment (width 8, not 64; epochs 3, not 20; 64 training images, not "
            "50,000; 32 test images, not 10,000)") in err and "--force-images" in err
    assert readme.read_text() == RESULTS and not images.exists()
    assert snapshot(files["run"]) == before


def test_force_images_says_what_it_replaces_then_does_it(files, capsys, tmp_path, trained_run):
    readme, images = tmp_path / "README.md", tmp_path / "images"
    readme.write_text(RESULTS)
    run = shutil.copytree(trained_run.paths.root, tmp_path / "run")
    code, out, err = call(["analyse", "--data", files["good"], "--out", run, "--images", images,
                           "--force-images"], capsys)
    assert code == 0, err
    (announced,) = [line for line in out.splitlines() if line.startswith("--images: ")]
    start = f"--images: writing {images}/ ("
    end = f", results.md) and the results table of {readme}"
    assert announced.startswith(start) and announced.endswith(end)
    figures = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert sorted(announced[len(start):-len(end)].split(", ")) == figures
    assert sorted(p.name for p in images.iterdir()) == sorted(figures + ["results.md"])
    assert "the course's table" not in readme.read_text()
    assert out.index("--images: ") < out.index("figures:")  # said before it is done


def test_a_partly_trained_run_says_how_far_it_got(files, capsys, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, stop_epoch=2)
    out = tmp_path / "run"
    code, _, err = call(["train", *TINY_FLAGS, "--data", files["good"], "--out", out], capsys)
    assert code == 130
    code, _, err = call(["gradcam", "--data", files["good"], "--out", out], capsys)
    assert code == 0
    assert err == (f"eraskit: {out} has trained 1 of 3 epochs: the figures show the model after "
                   f"epoch 1\n")
    code, _, err = call(["analyse", "--data", files["good"], "--out", out, "--images",
                         tmp_path / "images"], capsys)
    assert code == 2 and "; 1 of 3 epochs done)" in err


def test_bad_values_are_reported_before_torch_is_imported(files, tmp_path):
    run, good = str(files["run"]), str(files["good"])
    bad = [["train", "--epochs", "0"],
           ["train", "--resume", "--epochs", "5", "--out", run, "--data", good],
           ["analyse", "--out", run, "--images", str(tmp_path / "images")],
           ["train", "--subset", "5", "--data", good, "--out", str(tmp_path / "new")],
           # settings that leave no warm-up: refused before the data (missing here) is read
           ["train", "--preset", "smoke", "--subset", "64", "--batch-size", "64", "--data",
            str(tmp_path / "missing.npz"), "--out", str(tmp_path / "new")],
           # a new run in a trained run's folder, without --resume
           ["train", *TINY_FLAGS, "--epochs", "4", "--out", run, "--data", good]]
    script = (f"import sys; from eraskit.cli import main; codes = [main(a) for a in {bad!r}]; "
              f"print(*codes, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)
    assert done.stdout.split() == ["2", "2", "2", "2", "2", "2", "False"], done.stderr
    errors = done.stderr.splitlines()
    assert errors[0] == "eraskit: error: epochs must be positive, got 0"
    assert "holds a run trained with other settings: --epochs 5 (the run: 3)" in errors[1]
    assert "not the full assignment" in errors[2] and "5 training images for 10" in errors[3]
    assert errors[4] == ("eraskit: error: 3 training steps leave OneCycle no warm-up: use more "
                         "epochs, more data or a smaller batch size")
    assert errors[5] == (f"eraskit: error: {run} holds a run trained with other settings: "
                         f"--epochs 4 (the run: 3): drop that flag, or use another run folder "
                         f"(--out)")
    assert len(errors) == 6 and not (tmp_path / "new").exists()


def test_find_lr_saves_the_sweep_and_a_captioned_figure(files, capsys, tmp_path):
    argv = ["find-lr", *tiny_flags("find-lr", lr_iters=20)]
    code, out, err = call(argv + ["--data", files["good"], "--out", tmp_path], capsys)
    assert code == 0, err
    assert (tmp_path / "lr_finder.json").is_file()
    assert f"figure: {tmp_path / 'figures' / 'lr_finder.png'}" in out
    assert not (tmp_path / "config.json").exists()  # a range test alone starts no run


def test_interrupting_an_analysis_does_not_mention_resume(files, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("eraskit.run_figures.write_figures", interrupted)
    code, _, err = call(["analyse", "--data", files["good"], "--out", files["run"]], capsys)
    assert code == 130 and err == "eraskit: interrupted; run it again\n"


def test_a_subset_larger_than_the_data_says_it_takes_all_of_it(files, capsys, tmp_path):
    # the smoke preset's 2,000 images on 64: a notice, then the run goes on with 64 (here to
    # the refusal of 3 one-step epochs, which only the data's size reveals)
    code, out, err = call(["train", "--preset", "smoke", "--test-subset", "40", "--device",
                           "cpu", "--data", files["good"], "--out", tmp_path / "run"], capsys)
    assert out.splitlines()[:2] == [
        "eraskit: --subset 2,000 is more than the 64 training images: using all 64",
        "eraskit: --test-subset 40 is more than the 32 test images: using all 32"]
    assert code == 2 and "3 training steps leave OneCycle no warm-up" in err


def test_a_subset_within_the_data_says_nothing():
    assert preflight.subset_notes(tiny_config(), 64, 32) == []
    no_subsets = tiny_config().replace(subset=None, test_subset=None)
    assert preflight.subset_notes(no_subsets, 10, 10) == []


@pytest.mark.parametrize("argv, terminal, shown", [
    ([], True, True),
    ([], False, False),  # a pipe, a log file, CI: no bars unless asked
    (["--progress"], False, True),
    (["--quiet"], True, False),
])
def test_progress_bars_only_on_a_terminal_unless_asked(monkeypatch, argv, terminal, shown):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    for command in ("run", "train", "find-lr"):
        assert cli.show_progress(flags.parse([command, *argv])) is shown


def test_quiet_and_progress_together_are_refused(capsys):
    code, _, err = call(["train", "--quiet", "--progress"], capsys)
    assert code == 2 and "not allowed with argument" in err
