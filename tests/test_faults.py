"""Faults around a run folder: a second writer, an edited config.json, a full disk, a folder the
analysis cannot write, a stop while a figure is saved, a deleted predictions.npz. Each is
answered on the command line in one line with exit code 2, and nothing is lost."""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from eraskit import cli, records, run_lock, runs, safe_write
from eraskit.errors import EraskitError
from eraskit.runs import RunPaths
from helpers import (ERASKIT, TINY_FLAGS, snapshot, subprocess_env, tiny_config,
                     without_timing)


def call(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


# --- 1. one writer per run folder ------------------------------------------------------------

HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from eraskit import run_lock

    root = Path(sys.argv[1])
    with run_lock.writing(root):
        (root / ".history.json.live.tmp").write_text("being written")  # a live write
        print("holding", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder(tmp_path):
    """A live process that holds the lock of tmp_path/'run' (and writes a file there)."""
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=subprocess_env())
    assert process.stdout.readline().strip() == "holding", process.communicate()[1]
    yield out, process
    process.kill()
    process.communicate()


def test_a_second_writer_is_refused_naming_the_folder_and_the_first(holder, npz_path, capsys):
    out, process = holder
    done = subprocess.run(ERASKIT + ["train", *TINY_FLAGS, "--data", str(npz_path),
                                     "--out", str(out)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert f"{out} is in use by another eraskit process (pid {process.pid})" in line
    code, _, err = call(["find-lr", "--preset", "smoke", "--device", "cpu", "--quiet",
                         "--data", npz_path, "--out", out], capsys)
    assert code == 2 and f"pid {process.pid}" in one_line(err)
    # nothing of the refused runs was written, and the live writer's file was left alone
    assert sorted(p.name for p in out.iterdir()) == [".history.json.live.tmp", ".lock"]


def test_a_killed_writer_blocks_nobody_and_its_stale_files_are_cleaned(holder, npz_path,
                                                                       capsys):
    out, process = holder
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert (out / ".lock").read_text().strip() == str(process.pid)  # left behind by the kill
    code, _, err = call(["train", *TINY_FLAGS, "--data", npz_path, "--out", out], capsys)
    assert code == 0, err
    assert len(runs.load_run(out).history) == 3
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no lock, no .tmp


def test_two_trainings_into_one_folder_one_is_refused(tmp_path, npz_path):
    """Two `python -m eraskit train` started together: one trains, the other exits with 2
    (in use, or, if it came late, already trained), and the run is whole."""
    out = tmp_path / "run"
    argv = ERASKIT + ["train", *TINY_FLAGS, "--data", str(npz_path), "--out", str(out)]
    processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=subprocess_env()) for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1], p.pid) for p in processes]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    winner = next(pid for code, _, pid in results if code == 0)
    refused = one_line(next(err for code, err, _ in results if code == 2))
    # Which refusal depends on timing: while the winner trains, its lock; after, its run
    # (seen by the command line before the data loads, or by training_run.start after).
    in_use = f"{out} is in use by another eraskit process (pid {winner})"
    finished = (f"{out} holds a run that has finished all 3 epochs: analyse it",
                f"{out} already holds a trained run: continue it with --resume")
    assert (in_use in refused if "in use" in refused
            else any(message in refused for message in finished)), refused
    run = runs.load_run(out)
    state = records.load_checkpoint(run.paths.checkpoint)
    assert [row["epoch"] for row in run.history] == [1, 2, 3] == [r["epoch"] for r in
                                                                   state.history]
    assert run.predictions().epoch == 3


def test_the_lock_is_re_entrant_and_goes_with_its_holder(tmp_path):
    out = tmp_path / "new" / "run"
    with run_lock.writing(out):
        assert (out / ".lock").read_text().strip() == str(os.getpid())
        with run_lock.writing(out):  # fit runs the range test, which locks the folder too
            pass
        assert (out / ".lock").is_file()
    assert not (tmp_path / "new").exists()  # nothing written: the folders it made are gone


# --- 2. resume trusts the checkpoint's own config ----------------------------------------

@pytest.mark.parametrize("field, edited, words", [
    ("epochs", 5, "epochs: 3 in the checkpoint, 5 in config.json"),
    ("width", 16, "width: 8 in the checkpoint, 16 in config.json"),
])
def test_resume_refuses_a_config_json_edited_since_the_checkpoint(run_copy, npz_path, capsys,
                                                                  field, edited, words):
    saved = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**saved, field: edited}))
    before = snapshot(run_copy)
    code, _, err = call(["train", "--resume", "--quiet", "--data", npz_path, "--out", run_copy],
                        capsys)
    assert code == 2 and words in one_line(err) and "config.json differs" in err
    assert snapshot(run_copy) == before


def test_resume_with_other_settings_names_them(run_copy, data):
    from eraskit import training_run
    before = snapshot(run_copy)
    with pytest.raises(EraskitError, match="--epochs 5 here, but the run in .* was trained with "
                                           "--epochs 3"):
        training_run.fit(tiny_config(epochs=5), data, run_copy, resume=True, progress=False,
                     log=lambda *_: None)
    assert snapshot(run_copy) == before


# --- 3. a full disk -----------------------------------------------------------------------

def fill_the_disk_at_epoch_2(monkeypatch, name: str) -> None:
    """Writes of `name` fail with ENOSPC, halfway, once a checkpoint exists."""
    stage = safe_write._stage

    def full(path, write):
        if path.name == name and (path.parent / "checkpoint.pt").is_file():
            def half_then_full(f):
                f.write(b"\0" * 100)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return stage(path, half_then_full)
        return stage(path, write)
    monkeypatch.setattr(safe_write, "_stage", full)


def check_whole_at_epoch(out: Path, epoch: int) -> None:
    run = runs.load_run(out)
    state = records.load_checkpoint(run.paths.checkpoint)
    assert state.epoch == epoch == run.final["epoch"] == run.predictions().epoch
    assert [r["epoch"] for r in run.history] == [r["epoch"] for r in state.history]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no .tmp, no lock


@pytest.mark.parametrize("name", ["history.json", "predictions.npz", "checkpoint.pt"])
def test_a_full_disk_says_so_and_leaves_the_last_epoch_whole(tmp_path, npz_path, capsys,
                                                             monkeypatch, trained_run, name):
    out = tmp_path / "run"
    fill_the_disk_at_epoch_2(monkeypatch, name)
    code, _, err = call(["train", *TINY_FLAGS, "--data", npz_path, "--out", out], capsys)
    assert code == 2
    assert one_line(err) == (f"eraskit: error: the disk holding {out} is full (writing {name}); "
                             f"epoch 2 was not saved and the files of epoch 1 are intact: free "
                             f"some space, then continue with --resume")
    check_whole_at_epoch(out, 1)
    monkeypatch.undo()  # space freed
    code, _, err = call(["train", "--resume", "--quiet", "--data", npz_path, "--out", out],
                        capsys)
    assert code == 0, err
    check_whole_at_epoch(out, 3)
    assert without_timing(runs.load_run(out).history) == without_timing(trained_run.history)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: room for one checkpoint of the tiny run (1.5 MB), not two (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk(small_disk, npz_path, capsys):
    out = small_disk / "run"
    code, _, err = call(["train", *TINY_FLAGS, "--data", npz_path, "--out", out], capsys)
    assert code == 2 and f"the disk holding {out} is full" in one_line(err)
    assert "the files of epoch 1 are intact" in err
    check_whole_at_epoch(out, 1)


# --- 4. an analysis that cannot write -----------------------------------------------------

@pytest.mark.parametrize("error", [errno.EROFS, errno.EACCES])
def test_analysis_into_a_folder_it_cannot_write(run_copy, npz_path, capsys, monkeypatch, error):
    def refused(folder, name):  # root ignores chmod: the OS's answer is injected instead
        raise OSError(error, os.strerror(error))
    monkeypatch.setattr(safe_write, "make_temporary", refused)
    code, _, err = call(["analyse", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 2
    assert one_line(err) == (f"eraskit: error: cannot write to {run_copy / 'figures'} "
                             f"({os.strerror(error)})")


def test_analysis_whose_figures_folder_is_a_file(run_copy, npz_path, capsys):
    shutil.rmtree(run_copy / "figures", ignore_errors=True)
    (run_copy / "figures").write_text("not a folder")
    code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 2 and f"cannot write to {run_copy / 'figures'}" in one_line(err)


def test_a_write_that_fails_during_the_analysis_is_one_line(run_copy, npz_path, capsys,
                                                            monkeypatch):
    stage = safe_write._stage

    def no_permission(path, write):
        if path.name == "gradcam.png":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return stage(path, write)
    monkeypatch.setattr(safe_write, "_stage", no_permission)
    code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 2
    assert one_line(err) == (f"eraskit: error: cannot write {run_copy / 'figures/gradcam.png'} "
                             f"(Permission denied); gradcam.png is as it was")


# --- 5. figures and the README are written atomically ---------------------------------------

KILL_WHILE_SAVING = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from eraskit import run_figures

    def dies_halfway(self, f, **kwargs):
        f.write(b"\\x89PNG")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    plt.Figure.savefig = dies_halfway
    run_figures.save_figure(plt.figure(), Path(sys.argv[1]))
""")


def test_a_kill_while_a_figure_is_saved_keeps_the_previous_one(tmp_path):
    path = tmp_path / "figures" / "gradcam.png"
    path.parent.mkdir()
    good = b"\x89PNG a good figure"
    path.write_bytes(good)
    done = subprocess.run([sys.executable, "-c", KILL_WHILE_SAVING, str(path)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert path.read_bytes() == good


def test_the_readme_and_the_image_copies_are_replaced_not_rewritten(trained_run, tmp_path,
                                                                    monkeypatch):
    from eraskit import publish
    readme = tmp_path / "README.md"
    readme.write_text("# Results\n<!-- results:begin -->\nold\n<!-- results:end -->\n")
    figure = tmp_path / "figures" / "x.png"
    safe_write.atomic_write(figure, safe_write.write_bytes(b"\x89PNG"))
    written = publish.copy_to_images(trained_run, [figure], tmp_path / "images")
    assert readme in written and "| epoch |" in readme.read_text()
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in written}

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(safe_write.os, "fsync", no_space)
    with pytest.raises(EraskitError, match="is full"):
        publish.copy_to_images(trained_run, [figure], tmp_path / "images")
    with pytest.raises(EraskitError, match="README.md.*README.md is as it was"):
        publish.update_readme(readme, "new table\n")
    monkeypatch.undo()
    assert {p: (p.read_bytes(), p.stat().st_ino) for p in written} == before
    assert not list(tmp_path.rglob(".*.tmp"))
    publish.update_readme(readme, "new table\n")
    assert readme.stat().st_ino != before[readme][1]  # a new file renamed over the old one


# --- 6. a deleted or torn predictions.npz has a way back --------------------------------------

def test_deleted_predictions_are_recomputed_by_resume(run_copy, trained_run, npz_path, capsys):
    (run_copy / "predictions.npz").unlink()
    code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 2
    assert one_line(err) == (f"eraskit: error: no predictions at {run_copy / 'predictions.npz'}: "
                             f"run `python -m eraskit train --resume --out {run_copy}` to "
                             f"recompute them from the checkpoint")
    checkpoint = (run_copy / "checkpoint.pt").read_bytes()
    code, out, err = call(["train", "--resume", "--quiet", "--data", npz_path, "--out",
                           run_copy], capsys)
    assert code == 0, err
    recomputed, original = runs.load_run(run_copy).predictions(), trained_run.predictions()
    np.testing.assert_array_equal(recomputed.logits, original.logits)
    np.testing.assert_array_equal(recomputed.indices, original.indices)
    assert recomputed.epoch == 3 and (run_copy / "checkpoint.pt").read_bytes() == checkpoint


def test_files_of_different_epochs_are_refused_then_made_whole(run_copy, trained_run, npz_path,
                                                               capsys):
    """A stop between the renames of epoch 3: predictions of epoch 3, history ahead by a row."""
    paths = RunPaths(run_copy)
    history = runs.read_json(paths.history)
    safe_write.save_json(paths.history, history + [{**history[-1], "epoch": 4}])
    code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 2 and "holds files of different epochs" in one_line(err)
    # history.json against whichever file of epoch 3 the analysis reads first
    assert re.search(r"history.json of epoch 4, (predictions.npz|checkpoint.pt) of epoch 3", err)
    assert call(["train", "--resume", "--quiet", "--data", npz_path, "--out", run_copy],
                capsys)[0] == 0
    assert runs.read_json(paths.history) == history
    code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    assert code == 0, err


# --- 7. messages ------------------------------------------------------------------------------

class RunsCode:
    def __reduce__(self):
        return (print, ("this should never run",))


def test_a_checkpoint_that_asks_for_code_is_not_an_eraskit_checkpoint(run_copy, npz_path, capsys):
    import pickle
    with open(run_copy / "checkpoint.pt", "wb") as f:
        pickle.dump({"model": RunsCode(), "epoch": 3, "config": {}}, f, protocol=2)
    code, out, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
    line = one_line(err)
    assert code == 2 and "is not an eraskit checkpoint (it asks to run print)" in line
    assert "do not load it with pickle" in line and "will likely succeed" not in line
    assert "should never run" not in out


def test_a_refused_device_leaves_no_run_folder(tmp_path, npz_path, capsys):
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if cuda and mps:
        pytest.skip("every device is available here")
    device = "mps" if cuda else "cuda"
    out = tmp_path / "runs" / "new"
    code, _, err = call(["train", *TINY_FLAGS, "--device", device, "--data", npz_path,
                         "--out", out], capsys)
    assert code == 2 and f"device '{device}' is not available" in one_line(err)
    assert not (tmp_path / "runs").exists()
