"""Reliability: a training process killed with SIGKILL resumes to the very numbers of an
uninterrupted run, and a kill while a checkpoint is written leaves the previous one loadable."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from eraskit import cli, records, runs, training_run
from helpers import (ERASKIT, TIMING_KEYS, save_checkpoint, save_npz, subprocess_env,
                     synthetic_cifar, tiny_config, without_timing)

# 128 images in batches of 16: 8 steps an epoch, long enough to kill a run between epochs.
SETTINGS = dict(subset=128, epochs=3)
FLAGS = ["--preset", "smoke", "--width", "8", "--subset", "128", "--test-subset", "32",
         "--batch-size", "16", "--epochs", "3", "--max-lr", "0.05", "--workers", "0",
         "--device", "cpu", "--precision", "fp32", "--eval-batch-size", "64", "--quiet"]


def train(npz, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(ERASKIT + ["train", *FLAGS, "--data", str(npz), "--out", str(out),
                                       *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=subprocess_env())


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A `python -m eraskit train` SIGKILLed after its first epoch, then resumed with --resume
    (through cli.main, to spare a second interpreter start), and an uninterrupted run."""
    root = tmp_path_factory.mktemp("resume")
    data = synthetic_cifar(n_train=128, n_test=32, seed=1)
    npz = save_npz(root / "data.npz", data)
    victim = train(npz, root / "victim")
    history = root / "victim" / "history.json"
    checkpoint = root / "victim" / "checkpoint.pt"
    deadline = time.monotonic() + 240
    while not checkpoint.is_file():
        assert victim.poll() is None, victim.communicate()[1]
        assert time.monotonic() < deadline, "no epoch finished in time"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    after_kill = {"history": runs.read_json(history),
                  "checkpoint": records.load_checkpoint(checkpoint),
                  "predictions": records.load_predictions(root / "victim" / "predictions.npz")}
    assert cli.main(["train", *FLAGS, "--data", str(npz), "--out", str(root / "victim"),
                     "--resume"]) == 0
    reference = training_run.fit(tiny_config(**SETTINGS), data, root / "reference", progress=False,
                             log=lambda *_: None)
    return root, after_kill, reference


def test_the_kill_left_a_loadable_checkpoint_of_a_finished_epoch(killed_and_resumed):
    _, after_kill, _ = killed_and_resumed
    epoch = after_kill["checkpoint"].epoch
    assert 1 <= epoch < 3, "the run ended before it could be killed"
    # An epoch's files are renamed into place together, the checkpoint last: a kill between the
    # renames leaves history and predictions at most one epoch ahead of it, never behind.
    assert len(after_kill["history"]) in (epoch, epoch + 1)
    assert after_kill["history"][:epoch] == after_kill["checkpoint"].history
    assert after_kill["predictions"].epoch in (epoch, epoch + 1)


def test_resumed_run_has_one_row_per_epoch_and_a_loadable_checkpoint(killed_and_resumed):
    root, _, _ = killed_and_resumed
    history = runs.read_json(root / "victim" / "history.json")
    assert [row["epoch"] for row in history] == [1, 2, 3]
    state = torch.load(root / "victim" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3 and state["history"] == history


def test_resumed_run_equals_an_uninterrupted_one(killed_and_resumed):
    """Augmentation and order are functions of (seed, epoch, index); on a CPU the numbers
    after a kill and a resume are exactly those of a run that was never stopped (the same
    --seed, so this is also two runs giving the same history)."""
    root, _, reference = killed_and_resumed
    resumed = runs.load_run(root / "victim")
    assert resumed.config == reference.config == tiny_config(**SETTINGS)
    assert without_timing(resumed.history) == without_timing(reference.history)
    assert all(set(row) >= set(TIMING_KEYS) for row in resumed.history)
    np.testing.assert_array_equal(resumed.predictions().logits, reference.predictions().logits)
    a = records.load_checkpoint(resumed.paths.checkpoint).model
    b = records.load_checkpoint(reference.paths.checkpoint).model
    assert all(torch.equal(a[k], b[k]) for k in b)


KILL_WHILE_WRITING = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from eraskit import safe_write

    def dies_halfway(f):  # torch.save writes to memory: the kill comes during the disk write
        f.write(b"PK\\x03\\x04" + bytes(5000))  # the start of a zip file, then nothing
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    safe_write.atomic_write(Path(sys.argv[1]), dies_halfway)
""")


def test_a_kill_while_a_checkpoint_is_written_keeps_the_previous_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, records.Checkpoint({"w": torch.ones(3)}, 1, tiny_config()))
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", KILL_WHILE_WRITING, str(path)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert path.read_bytes() == before
    assert records.load_checkpoint(path).epoch == 1
    # What the kill leaves is a hidden temporary file beside it, never a half checkpoint.
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".checkpoint.pt.") and leftovers[0].endswith(".tmp")
