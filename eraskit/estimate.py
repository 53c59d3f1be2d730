"""How long a run will take on this machine, from a few training steps timed before it starts
(no table of machines: the same code runs on a laptop, a CPU with bf16 and a GPU).

A step is timed with its data (augmentation, transfer) on a throwaway copy of the model, after
one warm-up step. Evaluation is counted as a third of a training step per image (a forward
pass without the backward). The first epoch then measures the real thing, and the run says
how long the rest will take.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from itertools import islice

import torch

from . import advice, augment
from .config import Config, preset, steps_per_epoch
from .data import Cifar10
from .hardware import Precision
from .model import build_model
from .train import make_train_state, train_epoch

TIMED_STEPS = 3  # after one warm-up step; more buys little precision and costs a step each
EVAL_SHARE = 1 / 3  # an evaluated image costs about a third of a trained one
LONG_RUN_S = 2 * 3600  # above this, the estimate names the cpu preset's cost too
TIMING_LR = 0.01  # a moderate constant rate: the timing run must not diverge


def format_duration(seconds: float) -> str:
    """A duration as a person says it: "40 s", "12 min", "2 h 10 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def seconds_per_step(model: torch.nn.Module, loader, config: Config, device: torch.device,
                     precision: Precision, steps: int = TIMED_STEPS) -> float:
    """Seconds one training step of `loader`'s batches takes here, data included: timed on a
    copy of `model` (left untouched) after a warm-up step."""
    trial = copy.deepcopy(model)
    state = make_train_state(trial, config.replace(compile=False),
                             max_lr=TIMING_LR * config.div_factor, steps_per_epoch=len(loader),
                             device=device, precision=precision, constant_lr=True)
    batches = iter(loader)
    started = time.perf_counter()
    train_epoch(state, islice(batches, 1), epoch=0, progress=False)  # workers, kernels, allocator
    warm_up = time.perf_counter() - started
    steps = min(steps, len(loader) - 1)
    if steps < 1:
        return warm_up
    started = time.perf_counter()
    train_epoch(state, islice(batches, steps), epoch=0, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / steps


@dataclass(frozen=True)
class Estimate:
    """A run's expected duration on this machine, in seconds."""

    first_epoch: int  # the first epoch still to train (1 for a new run)
    epochs: int
    steps_per_epoch: int
    step_s: float  # one training step, data included
    epoch_s: float  # an epoch: its steps and the evaluation on the test set
    range_test_s: float  # 0 when the run needs none
    img_per_s: float
    precision: str
    cpu_preset_s: float | None = None  # the cpu preset's whole run, when this one is long

    @property
    def total_s(self) -> float:
        """The epochs still to train, with the range test."""
        return (self.epochs - self.first_epoch + 1) * self.epoch_s + self.range_test_s

    def __str__(self) -> str:
        epochs = (f"{self.epochs} epochs" if self.first_epoch == 1 else
                  f"epochs {self.first_epoch}-{self.epochs}")
        text = (f"{epochs} of {self.steps_per_epoch} steps: about "
                f"{format_duration(self.total_s - self.range_test_s)} here ({self.precision}, "
                f"{self.img_per_s:,.0f} img/s)")
        if self.range_test_s:
            text += f"; range test about {format_duration(self.range_test_s)}"
        if self.cpu_preset_s is not None:
            text += (f"; the cpu preset (a narrower network on a fifth of the data: "
                     f"{advice.preset_named('cpu')}) would take about "
                     f"{format_duration(self.cpu_preset_s)}")
        return text


def estimate_run(config: Config, data: Cifar10, model: torch.nn.Module, loader,
                 device: torch.device, precision: Precision, first_epoch: int = 1,
                 range_test_steps: int = 0) -> Estimate:
    """The duration of the run of `config` from `first_epoch` on, and of its range test
    (`range_test_steps` steps, 0 for none), from steps timed here; `data` is the run's
    subset and `loader` its training loader."""
    step_s = seconds_per_step(model, loader, config, device, precision)
    batch = loader.batch_size
    epoch_s = len(loader) * step_s + len(data.x_test) * EVAL_SHARE * step_s / batch
    found = Estimate(first_epoch, config.epochs, len(loader), step_s, epoch_s,
                     range_test_steps * step_s, batch / step_s, str(precision))
    if found.total_s > LONG_RUN_S:
        found = dataclasses.replace(found, cpu_preset_s=cpu_preset_seconds(config, data, device,
                                                                           precision))
    return found


def cpu_preset_seconds(config: Config, data: Cifar10, device: torch.device,
                       precision: Precision) -> float:
    """The cpu preset's whole run (its range test included) here, from steps of its own
    width and batch, on this run's device and precision."""
    from .lr_finder import sweep_steps

    cpu = preset("cpu").replace(device=config.device, precision=config.precision)
    batch = cpu.batch_size
    count = min(len(data.x_train), (TIMED_STEPS + 1) * batch)
    loader = augment.train_loader(data.x_train[:count], data.y_train[:count], cpu, device)
    model = build_model(cpu, len(data.classes), device)
    step_s = seconds_per_step(model, loader, cpu, device, precision)
    steps = steps_per_epoch(cpu, min(cpu.subset or len(data.x_train), len(data.x_train)))
    tests = min(cpu.test_subset or len(data.x_test), len(data.x_test))
    epoch_s = steps * step_s + tests * EVAL_SHARE * step_s / batch
    return cpu.epochs * epoch_s + sweep_steps(cpu, steps) * step_s
