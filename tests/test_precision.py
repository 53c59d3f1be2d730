"""Choosing the precision: fp16 with loss scaling on a CPU, skipped steps, the scaler in the
checkpoint, and config.json files written before the `precision` field."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from eraskit import flags, hardware, lr_choice, records, runs, train, training_run
from eraskit.config import Config
from eraskit.hardware import Precision
from eraskit.model import ResNet18
from eraskit.train import lr_schedule
from helpers import ROOT, tiny_config, without_timing

CPU = torch.device("cpu")
FP16 = Precision("cpu", torch.float16)
quiet = dict(progress=False, log=lambda *_: None)


def test_config_files_from_before_precision_still_load():
    saved = sorted((ROOT / "results").glob("*/*/config.json"))
    assert saved, "no recorded runs found"
    for path in saved:
        values = json.loads(path.read_text())
        config = Config.from_dict(values)
        if "amp" in values:
            assert config.precision == ("auto" if values["amp"] else "fp32"), path
    assert Config.from_dict({"amp": False}).precision == "fp32"
    assert Config.from_dict({"gpu_augment": True}).gpu_augment == "on"
    assert Config.from_dict({"gpu_augment": False}).gpu_augment == "off"
    assert Config().precision == "auto" and Config().gpu_augment == "auto"


def test_the_command_line_takes_precision_and_gpu_augment_choices():
    args = flags.build_parser().parse_args(["train", "--precision", "bf16", "--gpu-augment", "on"])
    assert (args.precision, args.gpu_augment) == ("bf16", "on")
    with pytest.raises(SystemExit):
        flags.build_parser().parse_args(["train", "--precision", "fp8"])


def poisoned_grad(model: nn.Module, calls: set[int]):
    """Make the gradient of the last layer infinite on the backward passes numbered in `calls`."""
    count = [0]

    def hook(grad):
        count[0] += 1
        return torch.full_like(grad, float("inf")) if count[0] in calls else grad

    return model.linear.weight.register_hook(hook)


def fp16_epoch(model, batches: int, scaler, steps_per_epoch: int = 4):
    config = tiny_config(epochs=3)
    images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    state = train.make_train_state(model, config, 0.05, steps_per_epoch, CPU, FP16)
    state.scaler, state.channels_last = scaler, False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = train.train_epoch(state, [(images, labels)] * batches, 1, progress=False)
    return row, state.scheduler, [str(w.message) for w in caught]


def test_an_overflowing_first_step_is_skipped_and_the_schedule_goes_on_without_a_warning():
    torch.manual_seed(0)
    model = ResNet18(width=8)
    poisoned_grad(model, calls={1})
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    row, scheduler, caught = fp16_epoch(model, batches=4, scaler=scaler)
    assert scaler.get_scale() == 512.0  # one skipped step halves the scale; the others kept it
    assert scheduler.last_epoch == 4  # the skipped step still advanced OneCycle
    assert row["lr"] == pytest.approx(lr_schedule(tiny_config(epochs=3), 0.05, 4)[3])
    assert np.isfinite(row["train_loss"])
    assert not [m for m in caught if "lr_scheduler.step()" in m], caught
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_skipped_step_leaves_the_weights_untouched():
    torch.manual_seed(0)
    model = ResNet18(width=8)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    poisoned_grad(model, calls={1})
    _, scheduler, _ = fp16_epoch(model, batches=1, scaler=torch.amp.GradScaler("cpu"))
    after = model.state_dict()
    weights = [k for k in before if "running" not in k]  # BatchNorm statistics do move
    assert all(torch.equal(before[k], after[k]) for k in weights)
    assert scheduler.last_epoch == 1


class Interrupted(Exception):
    pass


@pytest.fixture
def eager_scaler(monkeypatch):
    """A loss scale that doubles after every good step, so that it overflows within the tiny
    run and backs off: the scaler's state then differs from a fresh one's at every epoch."""
    def grad_scaler(self):
        return torch.amp.GradScaler(self.device_type, init_scale=2.0**8, growth_interval=1,
                                    enabled=self.dtype == torch.float16)
    monkeypatch.setattr(Precision, "grad_scaler", grad_scaler)


def test_an_fp16_run_trains_on_a_cpu_and_resumes_to_the_same_numbers(
        tmp_path, data, monkeypatch, eager_scaler):
    config = tiny_config(precision="fp16")
    reference = training_run.fit(config, data, tmp_path / "reference", **quiet)
    assert [row["epoch"] for row in reference.history] == [1, 2, 3]
    assert reference.meta.precision == "float16 autocast"
    assert all(np.isfinite(row["train_loss"]) for row in reference.history)
    final = records.load_checkpoint(reference.paths.checkpoint).scaler
    assert final["scale"] < 2.0**(8 + 12)  # at least one of the 12 steps overflowed

    real = train.train_epoch

    def stop_at_epoch_2(state, loader, epoch, progress=True):
        if epoch == 2:
            raise Interrupted
        return real(state, loader, epoch, progress)

    out = tmp_path / "resumed"
    monkeypatch.setattr(train, "train_epoch", stop_at_epoch_2)
    with pytest.raises(Interrupted):
        training_run.fit(config, data, out, **quiet)
    saved = records.load_checkpoint(out / "checkpoint.pt").scaler
    assert saved["scale"] > 2.0**8  # the scale grew in epoch 1: there is state to restore
    monkeypatch.setattr(train, "train_epoch", real)
    resumed = training_run.fit(config, data, out, resume=True, **quiet)

    assert without_timing(resumed.history) == without_timing(reference.history)
    np.testing.assert_array_equal(resumed.predictions().logits, reference.predictions().logits)
    assert records.load_checkpoint(out / "checkpoint.pt").scaler == final
    model = records.load_checkpoint(out / "checkpoint.pt").model
    expected = records.load_checkpoint(reference.paths.checkpoint).model
    assert all(torch.equal(model[k], expected[k]) for k in expected)


def test_forcing_emulated_bf16_says_so_in_one_line(tmp_path, data, monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(train, "train_epoch", lambda *a, **k: (_ for _ in ()).throw(Interrupted))
    messages = []
    with pytest.raises(Interrupted):
        training_run.fit(tiny_config(precision="bf16"), data, tmp_path / "run", progress=False,
                     log=messages.append)
    notes = [m for m in messages if "without native bf16" in m]
    assert len(notes) == 1 and "9x slower" in notes[0]
    assert runs.read_json(Path(tmp_path / "run" / "meta.json"))["precision"] == "bfloat16 autocast"


def test_the_range_test_runs_in_fp16_on_a_cpu(tmp_path, data):
    result = lr_choice.find_lr(tiny_config(precision="fp16", max_lr=None, lr_iters=20), data,
                              tmp_path / "run", **quiet)
    assert len(result["lrs"]) > 5 and np.isfinite(result["max_lr"])
