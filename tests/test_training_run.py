"""fit(): what a run folder holds, refusing to overwrite, resuming on the same schedule."""

import numpy as np
import pytest
import torch

from eraskit import estimate, lr_choice, records, runs, safe_write, train, training_run
from eraskit import model as model_module
from eraskit.errors import EraskitError
from eraskit.lr_finder import safe_peak, suggest, warm_up_steps
from eraskit.runs import RunPaths
from eraskit.train import TrainingDiverged
from helpers import interrupt_at, snapshot, tiny_config, without_timing

HISTORY_KEYS = {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
quiet = dict(progress=False, log=lambda *_: None)


def test_fit_writes_the_run_folder(trained_run):
    paths = trained_run.paths
    for path in (paths.config, paths.meta, paths.history, paths.checkpoint, paths.predictions):
        assert path.is_file(), path.name
    assert not paths.lr_finder.exists()  # max_lr was given: no range test
    assert not [p.name for p in paths.root.iterdir() if p.name.startswith(".")]  # no temp files
    history = runs.read_json(paths.history)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for row in history:
        assert HISTORY_KEYS <= set(row)
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
        assert np.isfinite(row["train_loss"]) and np.isfinite(row["test_loss"])
        assert row["seconds"] > 0 and 0 < row["lr"] <= 0.05
    meta = runs.read_json(paths.meta)
    assert meta["max_lr"] == 0.05 and meta["max_lr_source"] == "config"
    assert (meta["train_images"], meta["test_images"], meta["steps_per_epoch"]) == (64, 32, 4)
    assert meta["precision"] == "fp32" and "finished" in meta and meta["data_source"] == "synthetic"


def test_load_run_round_trip(trained_run):
    again = runs.load_run(trained_run.paths.root)
    assert again.config == tiny_config()
    assert again.history == runs.read_json(trained_run.paths.history) == trained_run.history
    assert again.meta == trained_run.meta and again.final["epoch"] == 3


def test_checkpoint_loads_with_weights_only(trained_run):
    state = torch.load(trained_run.paths.checkpoint, map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "scheduler", "scaler", "epoch", "history", "config",
            "max_lr"} <= set(state)
    assert state["epoch"] == 3 and state["history"] == trained_run.history
    assert state["config"] == tiny_config().to_dict() and state["max_lr"] == 0.05


def test_predictions_are_those_of_the_final_model(trained_run, data):
    predictions = trained_run.predictions()
    assert predictions.logits.shape == (32, 10)
    np.testing.assert_array_equal(predictions.indices, np.arange(32))  # test_subset 32 of 32
    np.testing.assert_array_equal(predictions.labels, data.y_test[predictions.indices])
    accuracy = float((predictions.preds == predictions.labels).mean())
    assert accuracy == trained_run.final["test_acc"]

    from eraskit.augment import eval_loader
    model = runs.load_model(trained_run)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    images = torch.stack([eval_loader(data.x_test, data.y_test, tiny_config(),
                                           torch.device("cpu")).dataset[i][0] for i in range(32)])
    with torch.no_grad():  # flip TTA is on in the smoke preset
        logits = (model(images) + model(images.flip(dims=[3]))) / 2
    np.testing.assert_allclose(logits.numpy(), predictions.logits, rtol=1e-4, atol=1e-4)


def test_load_model_of_a_checkpoint_that_does_not_fit_the_config(run_copy):
    paths = RunPaths(run_copy)
    config = runs.read_json(paths.config)
    safe_write.save_json(paths.config, {**config, "width": 16})
    with pytest.raises(EraskitError, match="does not fit a width-16 ResNet-18"):
        runs.load_model(runs.load_run(run_copy))


def test_fit_refuses_an_existing_run_without_resume_and_changes_nothing(run_copy, data):
    before = snapshot(run_copy)
    with pytest.raises(EraskitError, match="already holds a trained run.*--resume"):
        training_run.fit(tiny_config(), data, run_copy, **quiet)
    assert snapshot(run_copy) == before


def test_resume_with_other_settings_is_refused_and_changes_nothing(run_copy, data):
    before = snapshot(run_copy)
    with pytest.raises(EraskitError, match="^--epochs 5 here, but the run in .* was trained "
                                           "with --epochs 3: give the run's value, or use "
                                           r"another run folder \(--out\)$"):
        training_run.fit(tiny_config(epochs=5), data, run_copy, resume=True, **quiet)
    assert snapshot(run_copy) == before


def test_fit_fails_early_on_an_unwritable_folder(tmp_path, data):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(EraskitError, match="cannot write to"):
        training_run.fit(tiny_config(), data, blocker / "run", **quiet)


class Interrupted(Exception):
    pass


def test_resume_continues_from_the_last_epoch_and_matches_an_uninterrupted_run(
        tmp_path, data, trained_run, monkeypatch):
    out = tmp_path / "run"
    interrupt_at(monkeypatch, stop_epoch=2, error=Interrupted)
    with pytest.raises(Interrupted):
        training_run.fit(tiny_config(), data, out, **quiet)
    assert records.load_checkpoint(out / "checkpoint.pt").epoch == 1
    assert [r["epoch"] for r in runs.read_json(out / "history.json")] == [1]
    monkeypatch.undo()

    messages = []
    run = training_run.fit(tiny_config(), data, out, resume=True, progress=False, log=messages.append)
    assert any("resuming" in m and "after epoch 1" in m for m in messages)
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    # Augmentation and shuffling are functions of (seed, epoch, index): the same numbers.
    assert without_timing(run.history) == without_timing(trained_run.history)
    np.testing.assert_array_equal(run.predictions().logits, trained_run.predictions().logits)
    resumed = records.load_checkpoint(out / "checkpoint.pt").model
    reference = records.load_checkpoint(trained_run.paths.checkpoint).model
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)


def test_resume_of_a_finished_run_trains_nothing(run_copy, data, trained_run, monkeypatch):
    monkeypatch.setattr(train, "train_epoch", lambda *a, **k: pytest.fail("trained again"))
    run = training_run.fit(tiny_config(), data, run_copy, resume=True, **quiet)
    assert run.history == trained_run.history


def test_a_diverging_run_keeps_the_last_good_checkpoint(tmp_path, data, monkeypatch):
    """NaN from epoch 2 on: TrainingDiverged names epoch and batch, epoch 1's files stay."""
    class NaNFromEpoch2(torch.nn.Module):
        calls = 0

        def forward(self, logits, labels):
            loss = torch.nn.functional.cross_entropy(logits, labels)
            if logits.requires_grad:  # a training step, not the evaluation
                NaNFromEpoch2.calls += 1
                # the estimate's warm-up and timed steps, then 4 steps an epoch
                if NaNFromEpoch2.calls > 1 + estimate.TIMED_STEPS + 4:
                    return loss * float("nan")
            return loss

    monkeypatch.setattr(train, "make_criterion", lambda config: NaNFromEpoch2())
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="epoch 2, batch 1"):
        training_run.fit(tiny_config(), data, out, **quiet)
    assert records.load_checkpoint(out / "checkpoint.pt").epoch == 1
    assert [r["epoch"] for r in runs.load_run(out).history] == [1]


def test_another_seed_gives_another_run(tmp_path, data, trained_run):
    """The exact-equality checks of resumed runs are not vacuous: the seed matters."""
    run = training_run.fit(tiny_config(seed=2), data, tmp_path / "run", **quiet)
    assert without_timing(run.history) != without_timing(trained_run.history)


def test_fit_uses_a_saved_range_test_scored_with_the_current_rule(tmp_path, data):
    out = tmp_path / "run"
    lrs = np.logspace(-4, 0, 30)
    raw = 2.3 - 0.6 * np.sin(np.linspace(0, np.pi, 30))  # lowest in the middle
    saved_rule = {"lrs": lrs.tolist(), "raw_losses": raw.tolist(), "max_lr": 123.0}
    safe_write.save_json(RunPaths(out).lr_finder, saved_rule)
    config = tiny_config(max_lr=None, epochs=2, lr_factor=3.0)
    expected = suggest(lrs, raw, factor=3.0)["max_lr"]
    messages = []
    run = training_run.fit(config, data, out, progress=False, log=messages.append)
    assert run.meta.max_lr == pytest.approx(expected) != 123.0
    assert run.meta.max_lr_source == "LR range test"
    assert max(r["lr"] for r in run.history) <= expected
    assert any(f"max LR {expected:.3g} = 3 x" in m for m in messages)


def test_a_run_on_a_subset_takes_the_range_test_saved_before_it(tmp_path):
    """Notebook 02's range test, then notebook 03's run: the run reads the saved sweep of its
    own data and subset instead of sweeping again."""
    from helpers import synthetic_cifar
    data = synthetic_cifar(n_train=128)
    config = tiny_config(max_lr=None, lr_iters=12, subset=64)
    saved = lr_choice.find_lr(config, data, tmp_path / "run", **quiet)
    messages = []
    run = training_run.fit(config, data, tmp_path / "run", progress=False, log=messages.append)
    assert not any("LR range test:" in m or "again" in m for m in messages), messages
    assert run.meta.max_lr == pytest.approx(saved["max_lr"])


def test_a_range_test_made_with_other_settings_is_run_again(tmp_path, data):
    out = tmp_path / "run"
    lr_choice.find_lr(tiny_config(max_lr=None, width=16, lr_iters=17), data, out, **quiet)
    messages = []
    lr_choice.choose_max_lr(tiny_config(max_lr=None, lr_iters=17), data, out, 4,
                            progress=False, log=messages.append)
    assert any("other settings" in m for m in messages)
    assert runs.read_json(RunPaths(out).lr_finder)["config"]["width"] == 8


def test_find_lr_saves_the_range_test_and_says_what_it_costs(tmp_path, data):
    config = tiny_config(lr_iters=None, lr_end=1.0, max_lr=None, epochs=10)
    messages = []
    result = lr_choice.find_lr(config, data, tmp_path / "run", progress=False,
                              log=messages.append)
    saved = runs.read_json(tmp_path / "run" / "lr_finder.json")
    assert saved == result and len(saved["lrs"]) == 20  # the floor: the run has 40 steps
    assert messages[0].startswith("10 epochs of 4 steps: about ") and "; range test about" in messages[0]
    assert "LR range test: 20 steps" in messages[1] and "of the training's 40 steps" in messages[1]
    assert f"max LR {saved['max_lr']:.3g}" in messages[-1]


def test_a_run_too_short_for_a_range_test_gets_the_safe_peak_and_says_so(tmp_path, data):
    config = tiny_config(max_lr=None, lr_iters=None, epochs=3)  # 12 steps: a sweep of 6
    messages = []
    run = training_run.fit(config, data, tmp_path / "run", progress=False, log=messages.append)
    warm_up = warm_up_steps(config, run.meta.steps_per_epoch)
    assert run.meta.max_lr == safe_peak("sgd", config.batch_size, warm_up)
    assert run.meta.max_lr_source == "safe peak: run too short for a range test"
    assert any("too short for a range test" in m for m in messages)
    assert not (tmp_path / "run" / "lr_finder.json").exists()
    with pytest.raises(EraskitError, match="too short.*--max-lr"):
        lr_choice.find_lr(config, data, tmp_path / "other", progress=False)


def test_a_run_that_collapses_onto_one_class_says_so_each_epoch(tmp_path, data):
    messages = []
    run = training_run.fit(tiny_config(max_lr=50.0), data, tmp_path / "run", progress=False,
                       log=messages.append)
    warnings = [m for m in messages if m.startswith("warning, epoch")]
    assert run.history[-1]["collapsed"] and warnings
    assert "not learning" in warnings[-1] and "--max-lr 5" in warnings[-1]
    assert all("\n" not in m for m in warnings)


@pytest.mark.parametrize("width, expected", [(4, False), (8, True)])
def test_channels_last_is_skipped_for_tiny_widths_on_a_cpu(width, expected):
    """Width < 8 in NHWC corrupts the heap in oneDNN's backward on a CPU (see train.py)."""
    model = model_module.build_model(tiny_config(width=width), 10, torch.device("cpu"))
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last) == expected


def test_a_width_4_run_trains_on_a_cpu(tmp_path):
    """Trained in NHWC, this width killed the process with `double free or corruption`."""
    from helpers import synthetic_cifar
    small = synthetic_cifar(n_train=32, n_test=10)
    run = training_run.fit(tiny_config(width=4, subset=None, test_subset=None), small,
                       tmp_path / "run", **quiet)
    assert len(run.history) == 3


def test_resume_keeps_the_peak_rate_it_started_with(tmp_path, data, monkeypatch):
    out, config = tmp_path / "run", tiny_config(max_lr=None, lr_iters=17)  # a range test picks it
    interrupt_at(monkeypatch, stop_epoch=2, error=Interrupted)
    with pytest.raises(Interrupted):
        training_run.fit(config, data, out, **quiet)
    monkeypatch.undo()
    started_with = runs.read_json(out / "meta.json")["max_lr"]
    source_before = runs.read_json(out / "meta.json")["max_lr_source"]
    assert source_before == "LR range test" or source_before.startswith("safe peak: range test")
    found = runs.read_json(out / "lr_finder.json")
    safe_write.save_json(out / "lr_finder.json", {**found, "max_lr": 123.0})  # edited since

    run = training_run.fit(config, data, out, resume=True, **quiet)
    assert run.meta.max_lr == started_with == found["max_lr"]
    assert run.meta.max_lr_source == source_before and run.meta.resumed


def test_a_failed_start_leaves_no_settings_behind(tmp_path, data):
    out = tmp_path / "run"
    too_short = tiny_config(epochs=1, batch_size=64)  # one step: OneCycle has no warm-up
    with pytest.raises(EraskitError, match="no warm-up"):
        training_run.fit(too_short, data, out, **quiet)
    assert not (out / "config.json").exists()
    # refused before the range test too: a run without max_lr wastes no sweep on it
    with pytest.raises(EraskitError, match="no warm-up"):
        training_run.fit(too_short.replace(max_lr=None), data, out, **quiet)
    assert not out.exists()  # nor the folder it made
    run = training_run.fit(tiny_config(), data, out, **quiet)  # so the retry is not refused
    assert len(run.history) == 3

