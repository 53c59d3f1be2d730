"""The training loop's pieces, in plain PyTorch: optimizer, OneCycle schedule, loss, one
training epoch (`train_epoch`) and one evaluation on the test set (`evaluate_epoch`). The loop
over epochs is training_run.py's; which device and precision it runs with, hardware.py's."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import advice
from .config import Config, check_warm_up
from .errors import EraskitError
from .hardware import Precision, use_channels_last


class TrainingDiverged(EraskitError):
    """The loss became NaN or infinite."""


def make_optimizer(model: nn.Module, config: Config, lr: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum (or Adam); weight decay on conv/linear weights only.

    Decaying BatchNorm scales and biases only fights the normalisation, so they get none
    (unless `decay_norm_and_bias` asks for the original recipe's decay on everything).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if config.decay_norm_and_bias:
        groups = [{"params": params, "weight_decay": config.weight_decay}]
    else:
        groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
                  {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(config.momentum, 0.999))
    return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=config.momentum > 0)


def make_scheduler(optimizer: torch.optim.Optimizer, config: Config, max_lr: float,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.OneCycleLR:
    """OneCycle, stepped once per batch: warm up from max_lr / div_factor to max_lr over
    pct_start of the steps while momentum falls from config.momentum to config.base_momentum
    (or stays put when config.momentum is lower), then anneal to a near-zero rate while
    momentum climbs back."""
    check_warm_up(config, steps_per_epoch)
    total = config.epochs * steps_per_epoch
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total,
        pct_start=config.pct_start, anneal_strategy=config.anneal, div_factor=config.div_factor,
        final_div_factor=config.final_div_factor,
        base_momentum=min(config.base_momentum, config.momentum), max_momentum=config.momentum)


def lr_schedule(config: Config, max_lr: float, steps_per_epoch: int) -> np.ndarray:
    """The rate each training step will use, (epochs * steps_per_epoch,)."""
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr, momentum=0.9)
    scheduler = make_scheduler(dummy, config, max_lr, steps_per_epoch)
    rates = []
    for _ in range(config.epochs * steps_per_epoch):
        rates.append(dummy.param_groups[0]["lr"])  # the rate used, read before stepping
        dummy.step()
        scheduler.step()
    return np.array(rates)


def make_criterion(config: Config) -> nn.Module:
    """Cross-entropy with the config's label smoothing, averaged over the batch."""
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)


def to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """A batch moved to `device` (asynchronously from pinned memory), NHWC if asked."""
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def step_schedule(scheduler, scaler: torch.amp.GradScaler) -> None:
    """Advance the schedule by one step, even after a step the loss scaler skipped: the rate
    stays a function of the step number, so the run keeps its OneCycle curve (and a resumed
    run its numbers). PyTorch warns when the very first optimizer step was skipped, as happens
    while fp16's loss scale settles; that skip is intended, so the warning is dropped."""
    if not scaler.is_enabled():
        scheduler.step()
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` "
                                                  r"before `optimizer\.step\(\)`")
        scheduler.step()


@dataclass
class TrainState:
    """What a training step works with, built by make_train_state: the model (compiled, if
    asked), its optimizer and OneCycle schedule, the loss, and how and where it runs."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler  # loss scaling; a no-op except with fp16
    criterion: nn.Module
    precision: Precision
    device: torch.device
    channels_last: bool  # batches in NHWC memory, as the model is


def make_train_state(model: nn.Module, config: Config, max_lr: float, steps_per_epoch: int,
                     device: torch.device, precision: Optional[Precision] = None,
                     constant_lr: bool = False) -> TrainState:
    """The config's optimizer, OneCycle schedule (peak `max_lr`), loss and precision for
    `model`, which is on `device`; torch.compile'd when config.compile asks. `constant_lr`
    keeps OneCycle's starting rate throughout instead (for timing runs)."""
    precision = precision or Precision.choose(device, config.precision)
    optimizer = make_optimizer(model, config, lr=max_lr / config.div_factor)
    scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0) if constant_lr
                 else make_scheduler(optimizer, config, max_lr, steps_per_epoch))
    return TrainState(
        model=torch.compile(model) if config.compile else model, optimizer=optimizer,
        scheduler=scheduler,
        scaler=precision.grad_scaler(), criterion=make_criterion(config), precision=precision,
        device=device, channels_last=use_channels_last(config, device))


def train_epoch(state: TrainState, loader, epoch: int, progress: bool = True) -> dict:
    """One pass over `loader`. Returns mean train_loss, train_acc in [0, 1], the last lr used
    and train_img_per_s, the images trained per second."""
    model, optimizer, scaler = state.model, state.optimizer, state.scaler
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    started = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress)
    for batch, (images, labels) in enumerate(bar, start=1):
        images = to_device(images, state.device, state.channels_last)
        labels = labels.to(state.device, non_blocking=True)
        lr = optimizer.param_groups[0]["lr"]  # the rate this step uses
        with state.precision.autocast():
            logits = model(images)
            loss = state.criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # with fp16, skipped when a gradient overflowed
        scaler.update()  # ... and the loss scale halved
        step_schedule(state.scheduler, scaler)

        # Python numbers only from here on: no tensor (or its graph) outlives the step.
        batch_loss = loss.item()
        if not math.isfinite(batch_loss):
            raise TrainingDiverged(f"loss became {batch_loss} in epoch {epoch}, batch {batch}; "
                                   f"the last good checkpoint is kept: try a lower "
                                   f"{advice.setting('max_lr')}")
        loss_sum += batch_loss * len(labels)
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += len(labels)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", lr=f"{lr:.2e}")
    if seen == 0:
        raise EraskitError("the training loader yielded no batch: is the batch size larger "
                           "than the training set?")
    return {"train_loss": loss_sum / seen, "train_acc": correct / seen, "lr": lr,
            "train_img_per_s": seen / (time.perf_counter() - started)}


def evaluate_epoch(state: TrainState, loader, flip_tta: bool = False
               ) -> tuple[dict, np.ndarray, np.ndarray]:
    """Evaluate the model on every test batch: ({"test_loss", "test_acc" in [0, 1]},
    logits (N, C), labels (N,))."""
    logits, labels = predict(state.model, loader, state.precision, state.device,
                             state.channels_last, flip_tta)
    return evaluate(logits, labels, state.criterion), logits, labels


@torch.inference_mode()
def predict(model: nn.Module, loader, precision: Precision, device: torch.device,
            channels_last: bool, flip_tta: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, C) float32 and labels (N,) for every batch of `loader`, in order.

    With flip_tta, each image's logits are averaged with those of its mirror image."""
    model.eval()
    all_logits, all_labels = [], []
    for images, labels in loader:
        images = to_device(images, device, channels_last)
        with precision.autocast():
            logits = model(images).float()
            if flip_tta:
                logits = (logits + model(images.flip(dims=[3])).float()) / 2
        all_logits.append(logits.cpu())
        all_labels.append(labels)
    return torch.cat(all_logits).numpy(), torch.cat(all_labels).numpy()


def evaluate(logits: np.ndarray, labels: np.ndarray, criterion: nn.Module) -> dict:
    """Mean loss per image and accuracy in [0, 1] of stored logits."""
    loss = criterion(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    return {"test_loss": loss, "test_acc": float((logits.argmax(axis=1) == labels).mean())}
