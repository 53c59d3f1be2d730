import errno
import json
import os
import pickle

import numpy as np
import pytest
import torch

from eraskit import records, runs, safe_write
from eraskit.config import Config
from eraskit.errors import EraskitError
from eraskit.records import Checkpoint
from eraskit.runs import RunPaths

from helpers import save_checkpoint, save_predictions


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "a.json"
    safe_write.save_json(path, {"x": 1})
    safe_write.save_json(path, {"x": 2})
    assert runs.read_json(path) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]  # no temporary file left


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_atomic_write_leaves_the_old_file_intact_when_the_writer_fails(tmp_path, error):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, Checkpoint({"w": torch.ones(3)}, 1, Config()))
    before = path.read_bytes()

    def half_then_fail(f):
        f.write(before[: len(before) // 2])
        raise error

    with pytest.raises(type(error)):
        safe_write.atomic_write(path, half_then_fail)
    assert path.read_bytes() == before
    assert records.load_checkpoint(path).epoch == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_atomic_write_keeps_the_umask_permissions(tmp_path):
    path = tmp_path / "a.json"
    safe_write.save_json(path, [])
    mask = safe_write._umask()
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(EraskitError, match="nothing.json not found"):
        runs.read_json(tmp_path / "nothing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(EraskitError, match="bad.json is not valid JSON"):
        runs.read_json(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EraskitError, match="bad.json"):
        runs.read_json(bad)


def test_checkpoint_round_trip_loads_with_weights_only(tmp_path):
    path = tmp_path / "checkpoint.pt"
    saved = Checkpoint({"w": torch.arange(4.0)}, 2, Config(width=8),
                       history=[{"epoch": 1, "test_acc": 0.5}], max_lr=0.3)
    save_checkpoint(path, saved)
    loaded = records.load_checkpoint(path)
    assert torch.equal(loaded.model["w"], saved.model["w"])
    assert (loaded.epoch, loaded.history, loaded.config, loaded.max_lr) == (
        2, saved.history, Config(width=8), 0.3)
    state = torch.load(path, weights_only=True)  # plain data: config.json's dict, not a Config
    assert state["epoch"] == 2 and state["config"] == Config(width=8).to_dict()


def test_a_checkpoint_of_the_current_layout_loads_as_a_record(tmp_path):
    """What fit has written (a dict of these keys) reads back; a config of an older kit
    (amp, no base_momentum) is upgraded; an unusable one names the file."""
    path = tmp_path / "checkpoint.pt"
    old_config = {k: v for k, v in Config().to_dict().items() if k not in ("precision",
                                                                           "base_momentum")}
    torch.save({"model": {"w": torch.ones(2)}, "optimizer": {"state": {}}, "scheduler": {},
                "scaler": {}, "epoch": 4, "history": [{"epoch": e} for e in range(1, 5)],
                "config": {**old_config, "amp": False}, "max_lr": 0.2}, path)
    loaded = records.load_checkpoint(path)
    assert loaded.config == Config(precision="fp32") and loaded.optimizer == {"state": {}}
    assert loaded.to_state()["config"] == Config(precision="fp32").to_dict()
    torch.save({"model": {}, "epoch": 1, "config": {"epochs": 0}}, path)
    with pytest.raises(EraskitError, match="checkpoint.pt holds settings this kit cannot use "
                                           r"\(epochs must be positive"):
        records.load_checkpoint(path)


class Foreign:
    """An object whose unpickling would run code: weights_only must refuse it."""

    def __reduce__(self):
        return (print, ("this should never run",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "list", "no_epoch", "code"])
def test_unreadable_checkpoints_name_the_file(tmp_path, kind, capsys):
    path = tmp_path / "checkpoint.pt"
    good = Checkpoint({"w": torch.ones(100)}, 1, Config())
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(2000))
    elif kind == "truncated":
        save_checkpoint(path, good)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "list":
        torch.save([1, 2, 3], path)
    elif kind == "no_epoch":
        torch.save({"model": {}}, path)
    elif kind == "code":
        with open(path, "wb") as f:
            pickle.dump({"model": Foreign(), "epoch": 1, "config": {}}, f)
    with pytest.raises(EraskitError) as caught:
        records.load_checkpoint(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert "should never run" not in capsys.readouterr().out
    assert "likely succeed" not in str(caught.value)  # torch's hint to load it unsafely


def test_missing_checkpoint_says_to_train_first(tmp_path):
    with pytest.raises(EraskitError, match="no checkpoint at .*train the run first"):
        records.load_checkpoint(tmp_path / "checkpoint.pt")


def test_predictions_round_trip(tmp_path):
    path = tmp_path / "predictions.npz"
    logits = np.random.default_rng(0).normal(size=(6, 10)).astype(np.float64)
    save_predictions(path, logits, np.arange(6), np.array([9, 3, 4, 0, 1, 2]))
    p = records.load_predictions(path)
    assert p.logits.dtype == np.float32 and p.labels.dtype == np.int64
    np.testing.assert_allclose(p.logits, logits, rtol=1e-6)
    np.testing.assert_array_equal(p.indices, [9, 3, 4, 0, 1, 2])
    np.testing.assert_allclose(p.probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(p.preds, logits.argmax(axis=1))


def test_probs_do_not_overflow_on_large_logits():
    p = records.Predictions(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.zeros(2), np.arange(2))
    np.testing.assert_allclose(p.probs, [[1.0, 0.0], [1.0, 0.0]])


def test_unreadable_predictions(tmp_path):
    with pytest.raises(EraskitError, match="no predictions"):
        records.load_predictions(tmp_path / "predictions.npz")
    (tmp_path / "predictions.npz").write_bytes(b"junk")
    with pytest.raises(EraskitError, match="predictions.npz is not readable"):
        records.load_predictions(tmp_path / "predictions.npz")


def test_load_run_round_trip(tmp_path):
    paths = RunPaths(tmp_path)
    config = Config(epochs=3, width=8)
    safe_write.save_json(paths.config, config.to_dict())
    safe_write.save_json(paths.history,
                         [{"epoch": 1, "test_acc": 0.3}, {"epoch": 2, "test_acc": 0.4}])
    safe_write.save_json(paths.meta, {"device": "cpu", "max_lr": 0.1, "note": "kept"})
    run = runs.load_run(tmp_path)
    assert run.config == config and run.lr_finder is None
    assert run.meta == records.Meta(device="cpu", max_lr=0.1, others={"note": "kept"})
    assert run.meta.to_dict() == {"device": "cpu", "max_lr": 0.1, "note": "kept"}
    assert run.final == {"epoch": 2, "test_acc": 0.4}


def test_meta_fields_a_file_lacks_say_unknown(tmp_path):
    paths = RunPaths(tmp_path)
    assert runs.load_meta(paths) == records.Meta()  # no meta.json yet
    safe_write.save_json(paths.meta, {"started": "2024-05-01 10:00:00"})  # an older kit's
    meta = runs.load_meta(paths)
    assert (meta.device, meta.precision, meta.max_lr_source, meta.max_lr_shown) == ("?",) * 4
    assert (meta.train_images, meta.steps_per_epoch, meta.data_source) == (None, None, "")
    runs.save_meta(paths, meta)
    assert runs.read_json(paths.meta) == {"started": "2024-05-01 10:00:00"}  # no "?" written


def test_a_meta_json_that_is_no_object_is_one_line(tmp_path):
    paths = RunPaths(tmp_path)
    safe_write.save_json(paths.meta, ["not", "a", "record"])
    with pytest.raises(EraskitError, match="meta.json is not a JSON object: restore it"):
        runs.load_meta(paths)


def test_load_run_of_a_folder_without_a_run_says_what_to_do(tmp_path):
    with pytest.raises(EraskitError, match="holds no run.*eraskit run --preset"):
        runs.load_run(tmp_path / "empty")


def test_load_run_rejects_a_config_with_unknown_or_bad_fields(tmp_path):
    paths = RunPaths(tmp_path)
    paths.config.write_text(json.dumps({"epochs": 3, "speed": 9}))
    with pytest.raises(EraskitError, match="speed"):
        runs.load_run(tmp_path)
    paths.config.write_text(json.dumps({"epochs": 0}))
    with pytest.raises(EraskitError, match="epochs"):
        runs.load_run(tmp_path)


def test_check_writable_fails_early_under_a_regular_file(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(EraskitError, match="cannot write to .*a_file/run"):
        safe_write.check_writable(blocker / "run")
    with pytest.raises(EraskitError, match="cannot write to"):
        safe_write.check_writable(blocker)
    safe_write.check_writable(tmp_path / "new" / "run")  # made on the way
    assert (tmp_path / "new" / "run").is_dir() and not any((tmp_path / "new" / "run").iterdir())


def test_predictions_carry_the_epoch_of_their_model(tmp_path):
    path = tmp_path / "predictions.npz"
    save_predictions(path, np.zeros((2, 10)), np.arange(2), np.arange(2), epoch=7)
    assert records.load_predictions(path).epoch == 7
    save_predictions(path, np.zeros((2, 10)), np.arange(2), np.arange(2))  # older kits
    assert records.load_predictions(path).epoch is None


def epoch_state(epoch: int) -> Checkpoint:
    return Checkpoint({"w": torch.full((3,), float(epoch))}, epoch, Config(),
                      history=[{"epoch": e} for e in range(1, epoch + 1)])


def save_epoch(paths: RunPaths, epoch: int) -> None:
    runs.save_epoch(paths, epoch_state(epoch), np.full((2, 10), epoch), np.arange(2),
                    np.arange(2))


@pytest.mark.parametrize("failing", ["history.json", "predictions.npz", "checkpoint.pt"])
def test_save_epoch_is_all_or_nothing(tmp_path, monkeypatch, failing):
    paths = RunPaths(tmp_path)
    save_epoch(paths, 1)
    stage = safe_write._stage

    def full_disk(path, write):
        if path.name == failing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return stage(path, write)
    monkeypatch.setattr(safe_write, "_stage", full_disk)
    with pytest.raises(EraskitError, match=f"disk holding {tmp_path} is full .writing {failing}.;"
                                           " epoch 2 was not saved and the files of epoch 1 are "
                                           "intact"):
        save_epoch(paths, 2)
    assert records.load_checkpoint(paths.checkpoint).epoch == 1
    assert runs.read_json(paths.history) == [{"epoch": 1}]
    assert records.load_predictions(paths.predictions).epoch == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "history.json",
                                                          "predictions.npz"]
    monkeypatch.undo()
    save_epoch(paths, 2)
    assert records.load_checkpoint(paths.checkpoint).epoch == 2


def test_files_of_different_epochs_are_named(tmp_path):
    runs.check_epochs(tmp_path, history_json=3, predictions_npz=3, checkpoint_pt=None)
    with pytest.raises(EraskitError, match=r"different epochs \(history.json of epoch 3, "
                                           r"checkpoint.pt of epoch 2\).*train --resume"):
        runs.check_epochs(tmp_path, history_json=3, checkpoint_pt=2)


def test_write_errors_are_one_line(tmp_path):
    full = safe_write.write_error(tmp_path / "a.json", OSError(errno.ENOSPC, "No space left"))
    assert str(full) == (f"the disk holding {tmp_path} is full (writing a.json); "
                         f"a.json is as it was")
    denied = safe_write.write_error(tmp_path / "a.json", PermissionError(errno.EACCES, "Denied"))
    assert str(denied) == f"cannot write {tmp_path / 'a.json'} (Denied); a.json is as it was"


def test_the_run_lock_names_only_the_run_files_temporaries(tmp_path):
    paths = RunPaths(tmp_path)
    for name in (".checkpoint.pt.x1.tmp", ".history.json.x2.tmp", ".trust.json.x3.tmp",
                 ".probe.x4.tmp"):
        (tmp_path / name).write_text("")
    assert sorted(p.name for p in paths.temporary_files()) == [".checkpoint.pt.x1.tmp",
                                                               ".history.json.x2.tmp"]
