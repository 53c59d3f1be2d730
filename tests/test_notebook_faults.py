"""Faults on the notebook path, each answered in one line with nothing lost or mixed, in a
notebook's words and on the command line: a resume or an analysis on other data, a folder of
someone else's files, a reader while another process trains, data that would fail only after
training, advice in the wrong language, a read-only finished run, and ERASKIT_ variables that no
notebook reads. Readers and writers are real processes, and the notebooks run in real kernels
where the fault needs one."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from eraskit import (advice, colab, lr_choice, predictions, run_figures, run_identity, runs,
                     safe_write, training_run)
from eraskit import notebook as nb
from eraskit.config import preset
from eraskit.data import load_npz
from eraskit.errors import EraskitError
from eraskit.runs import RunPaths
from helpers import interrupt_at, save_npz, snapshot, subprocess_env, tiny_config
from test_faults import call, fill_the_disk_at_epoch_2, one_line

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
quiet = dict(progress=False, log=lambda *_: None)


@pytest.fixture
def notebook_words(monkeypatch):
    """Advice worded as in a notebook (colab.show_errors_briefly does this in a kernel)."""
    monkeypatch.setattr(advice, "_in_notebook", True)


class Interrupted(Exception):
    pass


def interrupted_run(data, out: Path) -> Path:
    """The tiny run in `out`, stopped after its first epoch."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        interrupt_at(monkeypatch, stop_epoch=2, error=Interrupted)
        with pytest.raises(Interrupted):
            training_run.fit(tiny_config(), data, out, **quiet)
    return out


@pytest.fixture
def shuffled_npz(tmp_path, data) -> Path:
    """The same images as `data`, with shuffled labels."""
    rng = np.random.default_rng(1)
    return save_npz(tmp_path / "shuffled.npz", data, y_train=rng.permutation(data.y_train),
                    y_test=rng.permutation(data.y_test))


# --- 1. a run knows its data ----------------------------------------------------------------

def test_resuming_on_other_data_is_refused_naming_both(tmp_path, npz_path, shuffled_npz,
                                                       monkeypatch, notebook_words, capsys):
    own = Path(shutil.copy(npz_path, tmp_path / "cifar.npz"))
    out = interrupted_run(load_npz(own), tmp_path / "run")
    meta = runs.load_meta(RunPaths(out))
    assert meta.data_fingerprint == load_npz(own).fingerprint and own.name in meta.data_source
    ours, theirs = load_npz(own).fingerprint[:8], load_npz(shuffled_npz).fingerprint[:8]
    before = snapshot(out)
    with pytest.raises(EraskitError) as caught:
        training_run.fit(tiny_config(), load_npz(shuffled_npz), out, resume=True, **quiet)
    assert str(caught.value) == (f"{out} was trained on {own} (arrays {ours}), not on "
                                 f"{shuffled_npz} (arrays {theirs}): set DATA (or ERASKIT_DATA) to "
                                 f"'{own}', or use another RUN_DIR")
    advice.use_notebook_words(False)  # the command line's words
    code, _, err = call(["train", "--resume", "--quiet", "--data", shuffled_npz, "--out", out],
                        capsys)
    assert code == 2 and one_line(err) == (
        f"eraskit: error: {out} was trained on {own} (arrays {ours}), not on {shuffled_npz} "
        f"(arrays {theirs}): pass --data {own}, or use another run folder (--out)")
    shutil.copy(shuffled_npz, own)  # the same path, other arrays
    code, _, err = call(["train", "--resume", "--quiet", "--data", own, "--out", out], capsys)
    assert code == 2 and f"trained on {own} (arrays {ours}) as it was then; that file now " \
                         f"holds other arrays ({theirs})" in one_line(err)
    assert snapshot(out) == before
    shutil.copy(npz_path, own)
    assert call(["train", "--resume", "--quiet", "--data", own, "--out", out], capsys)[0] == 0
    assert [row["epoch"] for row in runs.load_run(out).history] == [1, 2, 3]


def test_analysis_takes_only_the_recorded_data_and_says_when_it_is_gone(
        tmp_path, npz_path, shuffled_npz, run_copy, capsys):
    own = Path(shutil.copy(npz_path, tmp_path / "cifar.npz"))
    paths = RunPaths(run_copy)
    meta = runs.load_meta(paths)
    runs.save_meta(paths, dataclasses.replace(meta, data_source=f"npz: {own}"))
    run = runs.load_run(run_copy)
    assert len(predictions.load_test_results(run, nb.analysis_data(run)).labels) == 32
    with pytest.raises(EraskitError, match=rf"^{run_copy} was trained on {own} \(arrays "
                                           rf"\w{{8}}\), not on {shuffled_npz} \(arrays \w{{8}}\)"):
        predictions.load_test_results(run, nb.analysis_data(run, str(shuffled_npz)))
    code, _, err = call(["gradcam", "--data", shuffled_npz, "--out", run_copy], capsys)
    assert code == 2 and f"pass --data {own}, or use" in one_line(err)
    own.unlink()
    with pytest.raises(EraskitError) as caught:
        nb.analysis_data(run)
    assert str(caught.value) == (f"{run_copy} was trained on {own}, which is gone: set DATA to "
                                 f"a copy of it")
    code, _, err = call(["gradcam", "--out", run_copy], capsys)
    assert code == 2 and one_line(err) == (f"eraskit: error: {run_copy} was trained on {own}, "
                                           f"which is gone: pass --data with a copy of it")


def test_a_range_test_made_on_other_data_is_made_again(tmp_path, data, shuffled_npz):
    paths = RunPaths(tmp_path)  # as notebook 02 leaves it (a sweep made before this kit's
    safe_write.save_json(paths.lr_finder, {"lrs": [1e-4, 10], "losses": [2.3, 2.3], "evidence": "ok", "max_lr": 0.1,  # config)
                                           "data_fingerprint": data.fingerprint})
    said = []
    assert lr_choice.saved_range_test(paths, preset("full"), said.append, data) is not None
    other = load_npz(shuffled_npz)
    assert lr_choice.saved_range_test(paths, preset("full"), said.append, other) is None
    assert said == [f"{paths.lr_finder} was made on other data (arrays {data.fingerprint[:8]}, "
                    f"these {other.fingerprint[:8]}): running the range test again"]


# --- 2. a folder of someone else's files ------------------------------------------------------

@pytest.fixture
def foreign(tmp_path) -> Path:
    """A student's own folder: a config.json, history.json and meta.json of another project."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"lr": 0.1, "model": "vit"}))
    (folder / "history.json").write_text(json.dumps([{"step": 1, "loss": 2.3}]))
    (folder / "meta.json").write_text(json.dumps({"author": "me"}))
    return folder


def test_a_folder_the_kit_did_not_write_is_never_written_into(foreign, data, npz_path, capsys,
                                                              notebook_words):
    before = snapshot(foreign)
    refusal = (f"{foreign} holds files the kit did not write (config.json, history.json, "
               f"meta.json) and no run of its own (no checkpoint.pt, nor its meta.json or "
               f"lr_finder.json): nothing was written there; use another RUN_DIR")
    for write in (lambda: training_run.fit(tiny_config(), data, foreign, resume=True, **quiet),
                  lambda: lr_choice.find_lr(tiny_config(max_lr=None), data, foreign, **quiet)):
        with pytest.raises(EraskitError) as caught:
            write()
        assert str(caught.value) == refusal
    advice.use_notebook_words(False)
    for resume in ([], ["--resume"]):
        code, _, err = call(["train", *resume, "--quiet", "--data", npz_path, "--out", foreign],
                            capsys)
        assert code == 2 and one_line(err) == "eraskit: error: " + refusal.replace(
            "another RUN_DIR", "another run folder (--out)")
    assert snapshot(foreign) == before  # not even a lock file came and went unseen: no .lock


@pytest.mark.parametrize("holds, kit", [
    ({}, True), ({".ipynb_checkpoints/x": "", ".DS_Store": ""}, True),
    ({"meta.json": {"started": "t", "data_source": "npz: a", "max_lr_source": "config"}}, True),
    ({"lr_finder.json": {"lrs": [], "losses": [], "evidence": "flat"}}, True),
    ({"checkpoint.pt": "", "notes.txt": ""}, True),
    ({"meta.json": {"started": "t"}}, False), ({"01_explore_data.ipynb": ""}, False)])
def test_what_counts_as_a_run_of_the_kit(tmp_path, holds, kit):
    for name, content in holds.items():
        path = tmp_path / "run" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert (run_identity.foreign_files(RunPaths(tmp_path / "run")) == []) is kit


def test_an_empty_run_folder_is_refused(tmp_path, data, monkeypatch, notebook_words, capsys):
    monkeypatch.chdir(tmp_path)
    for use in (lambda: colab.run_folder(""), lambda: nb.require_run(""),
                lambda: training_run.fit(tiny_config(), data, "", **quiet)):
        with pytest.raises(EraskitError) as caught:
            use()
        assert str(caught.value) == ("RUN_DIR = '' names no folder: set it to one, e.g. "
                                     "\"runs/resnet18\"")
    advice.use_notebook_words(False)
    code, _, err = call(["train", "--out", "", "--quiet"], capsys)
    assert code == 2 and one_line(err) == ("eraskit: error: --out '' names no folder: give one, "
                                           "e.g. --out runs/smoke")
    assert list(tmp_path.iterdir()) == []


# --- 3. readers and the writer agree ------------------------------------------------------------

WRITE_EPOCHS = textwrap.dedent("""
    import dataclasses, sys
    from pathlib import Path
    from eraskit import records, run_lock, runs, safe_write

    paths = runs.RunPaths(Path(sys.argv[1]))
    saved = records.load_checkpoint(paths.checkpoint)
    kept = records.load_predictions(paths.predictions)
    config = saved.config.replace(epochs=100_000)
    safe_write.save_json(paths.config, config.to_dict())
    row = saved.history[-1]
    with run_lock.writing(paths.root):
        print("writing", flush=True)
        for epoch in range(4, config.epochs + 1):  # epoch after epoch, as fast as it can
            history = saved.history + [dict(row, epoch=e) for e in range(4, epoch + 1)]
            checkpoint = dataclasses.replace(saved, epoch=epoch, history=history, config=config)
            runs.save_epoch(paths, checkpoint, kept.logits, kept.labels, kept.indices)
""")


@contextmanager
def live_writer(script: str, out: Path):
    """A process that holds the lock of `out` and runs `script` there until the block ends."""
    process = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert process.stdout.readline().strip() in ("writing", "holding"), \
            process.communicate()[1]
        yield process
    finally:
        process.kill()
        process.communicate()


def test_a_reader_while_training_sees_whole_epochs_and_is_told(run_copy, data, npz_path, capsys,
                                                               notebook_words):
    with live_writer(WRITE_EPOCHS, run_copy) as writer:
        for _ in range(10):  # notebook 04's load cell, again and again
            run = nb.require_run(run_copy)
            time.sleep(0.05)  # the cell loads the data in between: epochs go by meanwhile
            results = predictions.load_test_results(run, data)
            assert results.epoch == run.final["epoch"] == len(run.history) >= 3
        shown = capsys.readouterr().out
        assert f"{run_copy}: training in progress (pid {writer.pid}), epoch " in shown
        assert "saved so far: the analysis shows the last epoch saved; run this cell again " \
               "later for a newer one" in shown
        advice.use_notebook_words(False)
        code, _, err = call(["gradcam", "--data", npz_path, "--out", run_copy], capsys)
        assert code == 0 and f"training in progress (pid {writer.pid})" in err
        assert "run the command again later" in err
        assert writer.poll() is None  # nobody stopped the writer


HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time
    from eraskit import run_lock
    with run_lock.writing(sys.argv[1]):
        print("holding", flush=True)
        time.sleep(600)
""")


def test_a_torn_set_is_reported_only_when_no_writer_is_alive(run_copy, data, monkeypatch,
                                                             notebook_words):
    paths = RunPaths(run_copy)
    history = runs.read_json(paths.history)
    safe_write.save_json(paths.history, history + [dict(history[-1], epoch=4)])
    monkeypatch.setattr(runs, "READ_TRIES", 3)
    run = runs.load_run(run_copy)
    with live_writer(HOLD_THE_LOCK, run_copy):  # a writer between two renames, for a while
        with pytest.raises(EraskitError) as caught:
            predictions.load_test_results(run, data)
    assert str(caught.value) == (f"{run_copy}: training in progress, epoch 4 of 3 is being "
                                 f"saved: run this cell again in a moment")
    with pytest.raises(EraskitError) as caught:  # the writer is gone: the set stays torn
        predictions.load_test_results(run, data)
    assert str(caught.value) == (
        f"{run_copy} holds files of different epochs (history.json of epoch 4, predictions.npz "
        f"of epoch 3, checkpoint.pt of epoch 3), as a stop while saving leaves them: run the "
        f"training cell of notebooks/03_train_resnet.ipynb again (RUN_DIR = '{run_copy}') to "
        f"make them one set again")


def test_a_run_training_its_first_epoch_is_said_to_be(tmp_path, notebook_words):
    paths = RunPaths(tmp_path / "run")
    paths.root.mkdir()
    safe_write.save_json(paths.meta, {"started": "now", "data_source": "npz: a.npz",
                                      "max_lr_source": "config"})
    safe_write.save_json(paths.config, tiny_config().to_dict())
    with live_writer(HOLD_THE_LOCK, paths.root) as writer, pytest.raises(EraskitError) as caught:
        nb.require_run(paths.root)
    assert str(caught.value) == (f"{paths.root}: training in progress (pid {writer.pid}), no "
                                 f"epoch saved yet: run this cell again once "
                                 f"notebooks/03_train_resnet.ipynb has saved the first")


def test_files_drawn_from_the_model_record_their_epoch_and_are_redone_when_stale(
        tmp_path, data, npz_path, monkeypatch, capsys):
    out = interrupted_run(load_npz(npz_path), tmp_path / "run")
    results = predictions.load_test_results(runs.load_run(out), data)
    paths = RunPaths(out)
    assert run_figures.save_trust(results, {"mean_spearman": 0.1}) == paths.trust
    run_figures.write_figures(results, only=("history",))
    assert runs.derived_epoch(paths.trust) == runs.derived_epoch(paths.figure("history")) == 1
    said = []
    monkeypatch.setattr(advice, "_in_notebook", True)
    training_run.fit(tiny_config(), data, out, resume=True, progress=False, log=said.append)
    assert said[-1] == (f"2 file(s) the analysis drew in {out} (trust.json, history.png) show "
                        f"epoch 1, the run is now at epoch 3: notebook 05 rewrites trust.json, "
                        f"and `python -m eraskit analyse --out {out}` redraws the figures")
    monkeypatch.setattr(advice, "_in_notebook", False)
    code, shown, err = call(["train", "--resume", "--quiet", "--data", npz_path, "--out", out],
                            capsys)
    assert code == 0, err
    assert "eraskit: redrawing 2 file(s) drawn from epoch 1, now that the run is at epoch 3" \
        in shown
    assert runs.stale_derived(paths, 3) == {}
    assert runs.derived_epoch(paths.trust) == runs.derived_epoch(paths.figure("history")) == 3


# --- 4. every data check before training ----------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_an_empty_set_is_refused_before_anything_is_written(tmp_path, data, split, capsys):
    empty = save_npz(tmp_path / "empty.npz", data, **{
        f"x_{split}": np.zeros((0, 32, 32, 3), np.uint8), f"y_{split}": np.zeros(0, np.int64)})
    message = f"x_{split} in {empty} holds no images: a run needs training and test images"
    with pytest.raises(EraskitError, match=f"^{message}$"):
        load_npz(empty)
    code, _, err = call(["train", *["--preset", "smoke", "--quiet", "--max-lr", "0.05"],
                         "--data", empty, "--out", tmp_path / "run"], capsys)
    assert code == 2 and one_line(err) == f"eraskit: error: {message}"
    assert not (tmp_path / "run").exists()


def test_a_damaged_deflate_stream_is_one_line(tmp_path, data, capsys):
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                        y_test=data.y_test)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("x_train.npy")
    with open(path, "r+b") as f:  # the first byte of the member's deflate stream
        f.seek(member.header_offset + 26)
        name_length, extra_length = np.frombuffer(f.read(4), "<u2")
        f.seek(member.header_offset + 30 + int(name_length) + int(extra_length))
        f.write(b"\xff")  # a final block of the reserved type 3
    with pytest.raises(zlib.error):  # what numpy alone raises, from inside the stream
        np.load(path)["x_train"]
    with pytest.raises(EraskitError, match=rf"^{path} is not a readable \.npz file \(Error -3 "
                                           r"while decompressing data: invalid block type\)$"):
        load_npz(path)
    code, _, err = call(["train", "--quiet", "--data", path, "--out", tmp_path / "run"], capsys)
    assert code == 2 and "is not a readable .npz file (Error -3" in one_line(err)


# --- 5. advice where the student is -------------------------------------------------------------

def test_a_full_disk_in_a_notebook_says_run_this_cell_again(tmp_path, data, monkeypatch,
                                                            notebook_words):
    fill_the_disk_at_epoch_2(monkeypatch, "checkpoint.pt")
    with pytest.raises(EraskitError) as caught:
        training_run.fit(tiny_config(), data, tmp_path / "run", **quiet)
    assert str(caught.value) == (f"the disk holding {tmp_path / 'run'} is full (writing "
                                 f"checkpoint.pt); epoch 2 was not saved and the files of epoch 1 "
                                 f"are intact: free some space, then run this cell again: it "
                                 f"continues after epoch 1")


def test_a_changed_setting_is_named_first_in_either_words(run_copy, data, monkeypatch):
    wider = tiny_config(width=16)
    for words, line in ((True, f"WIDTH = 16 here, but the run in {run_copy} was trained with "
                               f"WIDTH = 8: set it back in notebooks 02 and 03 alike, or use "
                               f"another RUN_DIR"),
                        (False, f"--width 16 here, but the run in {run_copy} was trained with "
                                f"--width 8: give the run's value, or use another run folder "
                                f"(--out)")):
        monkeypatch.setattr(advice, "_in_notebook", words)
        for step in (lambda: lr_choice.choose_max_lr(wider, data, run_copy, 4),  # notebook 03
                     lambda: lr_choice.find_lr(wider, data, run_copy, **quiet)):  # notebook 02
            with pytest.raises(EraskitError) as caught:
                step()
            assert str(caught.value) == line


def test_another_preset_is_named_as_the_run_s(monkeypatch):
    monkeypatch.setattr(advice, "_in_notebook", True)
    line = advice.other_settings("runs/x", preset("cpu"), preset("smoke"),
                                 ["subset", "test_subset", "width", "epochs", "batch_size"])
    assert line.startswith("SUBSET = 2000, TEST_SUBSET = 500, WIDTH = 8, EPOCHS = 3, "
                           "BATCH_SIZE = 64 here, but the run in runs/x was trained with "
                           "SUBSET = 10000, TEST_SUBSET = None,")
    assert line.endswith(': set them back in notebooks 02 and 03 alike (PRESET = "cpu" gives '
                         'the run\'s), or use another RUN_DIR')


# --- 6. a read-only finished run --------------------------------------------------------------

@pytest.fixture
def read_only(tmp_path):
    """read_only(folder): a view of `folder` that this process cannot write: a read-only bind
    mount (root ignores permissions), else the folder with its write permissions removed."""
    mounted, locked = [], []

    def make(folder: Path) -> Path:
        if os.name != "posix":
            pytest.skip("POSIX mounts and permissions only")
        if os.geteuid() != 0:
            locked.extend([folder, *folder.rglob("*")])
            for path in locked:
                path.chmod(path.stat().st_mode & ~0o222)
            return folder
        view = tmp_path / f"{folder.name}-read-only"
        view.mkdir()
        for argv in (["mount", "--bind", str(folder), str(view)],
                     ["mount", "-o", "remount,bind,ro", str(view)]):
            if subprocess.run(argv, capture_output=True).returncode != 0:
                pytest.skip(f"cannot {' '.join(argv[:3])} here")
            mounted.append(view)
        return view

    yield make
    for view in set(mounted):
        subprocess.run(["umount", str(view)], check=True)
    for path in locked:
        path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_finished_run_is_loaded_not_written(run_copy, tmp_path, data, npz_path,
                                                        monkeypatch, read_only, capsys,
                                                        notebook_words):
    stopped = read_only(interrupted_run(data, tmp_path / "stopped"))
    finished = read_only(run_copy)
    said = []
    run = training_run.fit(tiny_config(), data, finished, resume=True, progress=False,
                           log=said.append)
    assert len(run.history) == 3 and said[0].startswith(f"cannot write to {finished} (")
    assert said[0].endswith("): its finished run is only loaded, and nothing is saved there")
    results = predictions.load_test_results(run, data)
    assert run_figures.save_trust(results, {"mean_spearman": 0.1}, said.append) is None
    assert said[-1].startswith(f"not saved: cannot write {finished / 'trust.json'} (")
    with pytest.raises(EraskitError, match=rf"^cannot write to {stopped} \(.*\): its run stopped "
                                           r"after epoch 1 of 3, and continuing it needs "
                                           r"writing: make the folder writable, or copy it to "
                                           r"one you can write and point RUN_DIR at it$"):
        training_run.fit(tiny_config(), data, stopped, resume=True, **quiet)
    advice.use_notebook_words(False)
    code, _, err = call(["train", "--resume", "--quiet", "--data", npz_path, "--out", finished],
                        capsys)
    assert code == 0, err
    code, _, err = call(["gradcam", "--data", npz_path, "--out", finished], capsys)
    assert code == 2 and f"cannot write to {finished / 'figures'}" in one_line(err)


# --- the notebooks in kernels: 5, 6 and 7 -------------------------------------------------------

def notebook_cells(name: str) -> list[tuple[str, str]]:
    """(the section's heading, source) of each code cell of a notebook."""
    heading, found = "", []
    for cell in json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.startswith("#"):
            heading = source.splitlines()[0]
        elif cell["cell_type"] == "code":
            found.append((heading, source))
    return found


@contextmanager
def kernel(**parameters):
    """A notebook's kernel in notebooks/, with ERASKIT_<NAME> set to `parameters` and no other
    ERASKIT_ variable; yields run(source) -> (printed text, error content or None)."""
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in subprocess_env().items() if not k.startswith("ERASKIT_")}
    env.update({f"ERASKIT_{name}": str(value) for name, value in parameters.items()})
    env["MPLBACKEND"] = "Agg"  # nothing to look at here: no inline figures to render
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(NOTEBOOKS), env=env)

    def run(source: str) -> tuple[str, dict | None]:
        printed, errors = [], []

        def keep(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append(msg["content"])
        client.execute_interactive(source, timeout=300, output_hook=keep)
        return "".join(printed), (errors[0] if errors else None)
    try:
        yield run
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def shown_in_one_line(error: dict) -> str:
    """What a kernel showed of an error: one line, if colab.show_errors_briefly is at work."""
    import re
    return re.sub(r"\x1b\[[0-9;]*m", "", "".join(error["traceback"])).strip()


# Notebook 03's parameters for a run it can reproduce: the smoke preset, shrunk.
SMALL_03 = dict(PRESET="smoke", EPOCHS=2, WIDTH=8, SUBSET=64, TEST_SUBSET=32, BATCH_SIZE=16,
                MAX_LR=0.05)


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory, npz_path):
    """A finished run that notebook 03 with SMALL_03 takes as its own."""
    out = tmp_path_factory.mktemp("notebook-run") / "resnet18"
    config = preset("smoke", **{k.lower(): v for k, v in SMALL_03.items() if k != "PRESET"})
    training_run.fit(config, load_npz(npz_path), out, **quiet)
    return out


def test_notebook_03_on_a_read_only_run_loads_it_and_names_a_changed_width(
        notebook_run, npz_path, read_only):
    folder = read_only(notebook_run)
    cells = notebook_cells("03_train_resnet")
    with kernel(**SMALL_03, RUN_DIR=folder, DATA=npz_path, OPTIMIZER="adam", SEED=7,
                EPOHCS=1) as run:
        printed = []
        for heading, source in cells:
            text, error = run(source)
            assert error is None, (heading, source, shown_in_one_line(error))
            printed.append(text)
        assert printed[1].strip() == (  # the import cell, before the parameters
            "ignored: ERASKIT_EPOHCS (no setting of that name; check the spelling); "
            "ERASKIT_OPTIMIZER, ERASKIT_SEED (settings the notebooks do not take: only the "
            "command line does, as --optimizer, --seed)")
        assert (f"cannot write to {folder} (Read-only file system): its finished run is only "
                f"loaded, and nothing is saved there") in "".join(printed)
        # the student changes WIDTH and runs sections 1-3 again
        again = [source for heading, source in cells if heading[:5] in ("## 1.", "## 2.", "## 3.")]
        errors = [error for error in (run(s)[1] for s in ["WIDTH = 16", *again]) if error]
    message = (f"WIDTH = 16 here, but the run in {folder} was trained with WIDTH = 8: set it "
               f"back in notebooks 02 and 03 alike, or use another RUN_DIR")
    assert [e["evalue"] for e in errors] == [message]
    assert shown_in_one_line(errors[0]) == f"EraskitError: {message}"


def test_notebook_05_on_a_read_only_run_goes_on_past_trust_json(notebook_run, npz_path,
                                                                 read_only):
    folder = read_only(notebook_run)
    with kernel(RUN_DIR=folder, DATA=npz_path) as run:
        printed = []
        for heading, source in notebook_cells("05_gradcam_gallery"):
            text, error = run(source)
            assert error is None, (heading, source, shown_in_one_line(error))
            printed.append(text)
    lines = [line for text in printed for line in text.splitlines() if "not saved" in line]
    assert lines == [f"not saved: cannot write {folder / 'trust.json'} (Read-only file system); "
                     f"trust.json is as it was; the scores above are not kept"]
    assert "layer2_map: not answered yet" in printed[-1]  # the exercise ran: the lesson went on


# --- 7. ERASKIT_ variables that no notebook reads ------------------------------------------------

def test_a_setting_the_notebooks_do_not_take_is_reported(monkeypatch, capsys):
    for name in [v for v in os.environ if v.startswith("ERASKIT_")]:
        monkeypatch.delenv(name)
    for name, value in (("OPTIMIZER", "adam"), ("SEED", "7"), ("LABEL_SMOOTHING", "0"),
                        ("EPOCHS", "1"), ("CACHE", "/tmp")):
        monkeypatch.setenv(f"ERASKIT_{name}", value)
    assert nb.report_unknown_env() == ["ERASKIT_LABEL_SMOOTHING", "ERASKIT_OPTIMIZER",
                                       "ERASKIT_SEED"]
    assert capsys.readouterr().out == (
        "ignored: ERASKIT_LABEL_SMOOTHING, ERASKIT_OPTIMIZER, ERASKIT_SEED (settings the "
        "notebooks do not take: only the command line does, as --label-smoothing, --optimizer, "
        "--seed)\n")


def test_the_notebooks_read_exactly_the_parameters_the_kit_knows():
    import re
    names = {name for path in NOTEBOOKS.glob("*.py")
             for name in re.findall(r'nb\.from_env\("(\w+)"', path.read_text())}
    assert names == nb.NOTEBOOK_PARAMETERS
