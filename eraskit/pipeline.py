"""The assignment's steps wired to a run directory: LR range test, training with checkpoints
after every epoch, and resuming an interrupted run on the same schedule."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from . import augment, records, run_lock, runs, safe_write
from .config import RANGE_TEST_IGNORES, RUNTIME_FIELDS, Config, check_warm_up, differences
from .data import Cifar10, take_subset
from .errors import EraskitError
from .health import collapse_note
from .gpu_augment import DeviceLoader
from .hardware import (Precision, batch_augment_reason, describe_device, peak_memory_mb,
                       resolve_device, use_channels_last)
from .lr_finder import (MIN_POINTS, SWEEP_CAP, SWEEP_FLOOR, range_test, rescore, safe_peak,
                        sweep_range, sweep_steps, warm_up_steps)
from .model import ResNet18
from .records import Checkpoint, Meta
from .runs import RunPaths
from .train import evaluate, make_train_state, predict, train_epoch


def build_model(config: Config, num_classes: int, device: torch.device) -> ResNet18:
    """A freshly initialised ResNet-18 of the config's width, on `device` (NHWC where used)."""
    torch.manual_seed(config.seed)  # same seed, same initial weights
    model = ResNet18(config.width, num_classes).to(device)
    nhwc = use_channels_last(config, device)
    return model.to(memory_format=torch.channels_last) if nhwc else model


def make_train_loader(pixels: np.ndarray, labels: np.ndarray, config: Config,
                      device: torch.device, log: Optional[Callable] = None):
    """Augmented training batches: the albumentations DataLoader, or the same augmentations
    done on whole batches on the device (gpu_augment on, or auto on a GPU that the CPU cores
    cannot feed: hardware.batch_augment_reason). `log` hears why auto chose the latter."""
    reason = batch_augment_reason(config, device)
    if reason and config.gpu_augment == "auto" and log:
        log(reason)
    if reason:
        return DeviceLoader(pixels, labels, config, device)
    return augment.train_loader(pixels, labels, config, device)


def describe_augment(loader) -> str:
    """Where a training loader augments, for meta.json."""
    if isinstance(loader, DeviceLoader):
        return "whole batches on the device"
    workers = loader.num_workers
    return f"albumentations, {workers} DataLoader worker{'s' * (workers != 1)}"


@run_lock.holds_lock  # one writer per run folder
def find_lr(config: Config, data: Cifar10, out: str | Path, progress: bool = True,
            log: Callable = print) -> dict:
    """Run the LR range test on the run's data and model; save it as lr_finder.json."""
    paths = RunPaths(Path(out))
    safe_write.check_writable(paths.root)
    if paths.checkpoint.is_file():
        raise EraskitError(f"{paths.root} already holds a trained run; its range test stays as "
                           f"it was: use another run folder (--out; RUN_DIR in the notebooks)")
    device = resolve_device(config.device)
    data, _ = take_subset(config, data)
    model = build_model(config, len(data.classes), device)
    loader = augment.train_loader(data.x_train, data.y_train, config, device)
    check_warm_up(config, len(loader))  # a run that cannot train needs no range test
    steps = sweep_steps(config, len(loader))
    if steps < MIN_POINTS:
        raise EraskitError(too_short(config, len(loader)) + ": pass --max-lr (MAX_LR in the "
                           "notebooks), or --lr-iters to force a range test")
    start, end = sweep_range(config)
    share = f" ({sweep_size_reason(config, len(loader), steps)})"
    log(f"LR range test: {steps} steps{share} from {start:g} to {end:g} on {device}, "
        f"{steps / (config.epochs * len(loader)):.0%} of the training's "
        f"{config.epochs * len(loader)} steps")
    result = {**range_test(model, loader, config, device, progress), "config": config.to_dict()}
    safe_write.save_json(paths.lr_finder, result)
    log(f"{describe_suggestion(result)}; saved {paths.lr_finder}")
    return result


def sweep_size_reason(config: Config, steps_per_epoch: int, steps: int) -> str:
    """Which part of the sizing rule set the sweep's length, in words."""
    total = config.epochs * steps_per_epoch
    if config.lr_iters:
        return "as set by lr_iters"
    if steps == total // 2 and steps < SWEEP_FLOOR:
        return "half of the run's steps, the most it may cost"
    if steps == SWEEP_FLOOR:
        return "the minimum of 20"
    if steps == SWEEP_CAP:
        return "the maximum of 100"
    return "a quarter of the run's steps"


def too_short(config: Config, steps_per_epoch: int) -> str:
    """Why a run gets no range test: its steps, and the sweep they would allow."""
    total = config.epochs * steps_per_epoch
    return (f"a run of {total} training steps is too short for a range test (half of it, "
            f"{total // 2} steps, is below the {MIN_POINTS} a curve needs)")


def describe_suggestion(result: dict) -> str:
    """The range test's suggestion in one line: the rate, and the rule or fallback behind it."""
    if result["note"]:
        return f"max LR {result['suggested_lr']:.3g}: {result['note']}"
    reading = (f"{result['factor']:.3g} x {result['floor_lr']:.3g}, the rate where the range "
               f"test's loss reached its floor (factor for a {result['warm_up_steps']}-step "
               f"warm-up, or --lr-factor)")
    if result.get("capped"):
        return (f"max LR {result['suggested_lr']:.3g}, the last rate the range test survived "
                f"(the rule's {reading} lies above it)")
    return f"max LR {result['suggested_lr']:.3g} = {reading}"


def resolve_max_lr(config: Config, data: Cifar10, out: str | Path, steps_per_epoch: int,
                   progress: bool = True, log: Callable = print) -> float:
    """OneCycle's peak (see resolve_peak), without where it came from."""
    return resolve_peak(config, data, out, steps_per_epoch, progress, log)[0]


def resolve_peak(config: Config, data: Cifar10, out: str | Path, steps_per_epoch: int,
                 progress: bool = True, log: Callable = print) -> tuple[float, str]:
    """OneCycle's peak and where it came from: config.max_lr if set, else the suggestion of
    the run folder's LR range test, scored with this config's rule (running the test first if
    the folder has none, or one made for another model, data or optimizer), or the safe peak
    when the sweep gave no evidence or the run is too short for one."""
    if config.max_lr is not None:
        return config.max_lr, "config"
    paths = RunPaths(Path(out))
    found = runs.read_json(paths.lr_finder) if paths.lr_finder.is_file() else None
    if found and "config" in found:
        changed = differences(Config.from_dict(found["config"]), config, "the range test",
                              "this run", ignore=RUNTIME_FIELDS + RANGE_TEST_IGNORES)
        if changed:
            log(f"{paths.lr_finder} was made with other settings ({changed}): running the "
                f"range test again")
            found = None
    if found:
        found = rescore(found, config, steps_per_epoch)
        log(describe_suggestion(found))
    elif sweep_steps(config, steps_per_epoch) < MIN_POINTS:
        safe = safe_peak(config.optimizer, config.batch_size,
                         warm_up_steps(config, steps_per_epoch))
        log(f"max LR {safe:.3g}: {too_short(config, steps_per_epoch)}: using the safe "
            f"{config.optimizer} peak; pass --max-lr to choose another")
        return safe, "safe peak: run too short for a range test"
    else:
        found = find_lr(config, data, paths.root, progress, log)
    if found["evidence"] != "ok":
        return found["suggested_lr"], f"safe peak: range test {found['evidence']}"
    return found["suggested_lr"], "LR range test"


def check_same_run(paths: RunPaths, config: Config) -> None:
    """Refuse to continue a run with settings other than those it was trained with."""
    if not paths.config.is_file():
        return
    changed = differences(runs.load_run(paths.root).config, config, "config.json", "the request")
    if changed:
        raise EraskitError(f"{paths.root} was trained with other settings ({changed}): use "
                           f"another run folder (--out; RUN_DIR in the notebooks) or the saved "
                           f"settings")


def check_checkpoint_config(paths: RunPaths, checkpoint: Checkpoint) -> None:
    """Refuse a run whose config.json no longer says what its checkpoint was trained with
    (the checkpoint carries its own config): resuming would follow neither."""
    trained = checkpoint.config
    saved = runs.load_run(paths.root).config if paths.config.is_file() else trained
    changed = differences(trained, saved, "the checkpoint", "config.json")
    if changed:
        raise EraskitError(f"{paths.config} differs from the run's checkpoint ({changed}): put "
                           f"the checkpoint's settings back, or start a new run in another folder")


def checkpoint_to_resume(paths: RunPaths, config: Config,
                         resume: bool) -> Optional[Checkpoint]:
    """The run folder's checkpoint when resuming it (None for a new run), after checking that
    the folder is writable and that a resumed run keeps its settings."""
    safe_write.check_writable(paths.root)
    if not paths.checkpoint.is_file():
        return None
    if not resume:
        raise EraskitError(f"{paths.root} already holds a trained run: continue it with --resume, "
                           f"or use another run folder (--out; RUN_DIR in the notebooks)")
    checkpoint = records.load_checkpoint(paths.checkpoint)
    check_checkpoint_config(paths, checkpoint)  # before check_same_run, which reads config.json
    check_same_run(paths, config)
    return checkpoint


@run_lock.holds_lock  # one writer per run folder; a failed start leaves no folder it made
def fit(config: Config, data: Cifar10, out: str | Path, resume: bool = False,
        progress: bool = True, log: Callable = print) -> runs.Run:
    """Train (or resume) the run in `out`; returns the loaded run when all epochs are done."""
    paths = RunPaths(Path(out))
    checkpoint = checkpoint_to_resume(paths, config, resume)
    if checkpoint and checkpoint.epoch >= config.epochs:  # finished: only lost outputs are redone
        restore_outputs(paths, config, data, checkpoint, log)
        log(f"{paths.root} has finished all {config.epochs} epochs: analyse it (python -m "
            f"eraskit analyse --out {paths.root}), or train another run in a new folder")
        return runs.load_run(paths.root)
    for stale in paths.temporary_files():  # left by a kill during a write: with the lock
        stale.unlink(missing_ok=True)      # held, no live process is writing them
    device = resolve_device(config.device)
    torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
    precision = Precision.choose(device, config.precision)
    if precision.note:
        log(precision.note)
    data, test_indices = take_subset(config, data)
    model = build_model(config, len(data.classes), device)
    train_loader = make_train_loader(data.x_train, data.y_train, config, device, log)
    test_loader = augment.eval_loader(data.x_test, data.y_test, config, device)
    check_warm_up(config, len(train_loader))  # before the range test, not after it

    # A resumed run keeps the peak it started with, whatever lr_finder.json now says.
    if checkpoint:
        max_lr, max_lr_source = checkpoint.max_lr, previous_max_lr_source(paths)
    else:
        max_lr, max_lr_source = resolve_peak(config, data, paths.root, len(train_loader),
                                             progress, log)
    train_state = make_train_state(model, config, max_lr, len(train_loader), device, precision)
    history: list[dict] = []
    if checkpoint:
        history = restore(checkpoint, model, train_state.optimizer, train_state.scheduler,
                          train_state.scaler)
        log(f"resuming {paths.root} after epoch {checkpoint.epoch} of {config.epochs}")
    else:  # nothing is written before this point, so a command that fails leaves no settings
        safe_write.save_json(paths.config, config.to_dict())
    meta = dataclasses.replace(
        start_meta(paths, resumed=checkpoint is not None), data_source=data.source,
        device=describe_device(device), precision=str(precision),
        augment=describe_augment(train_loader), max_lr=max_lr, max_lr_source=max_lr_source,
        train_images=len(data.x_train), test_images=len(data.x_test),
        steps_per_epoch=len(train_loader), torch=torch.__version__,
        python=sys.version.split()[0])
    runs.save_meta(paths, meta)

    if len(history) < config.epochs:
        log(f"training epochs {len(history) + 1}-{config.epochs} on {meta.device} ({precision}), "
            f"max LR {max_lr:.3g}; run folder {paths.root}")
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        train_loader.sampler.set_epoch(epoch)
        row = {"epoch": epoch}
        row.update(train_epoch(train_state, train_loader, epoch, progress))
        train_seconds = time.perf_counter() - start
        logits, labels = predict(train_state.model, test_loader, precision, device,
                                 train_state.channels_last, config.flip_tta)
        row.update(evaluate(logits, labels, train_state.criterion))
        warning = collapse_note(row["train_loss"], logits.argmax(axis=1), labels, data.classes,
                                max_lr)
        row["collapsed"] = warning is not None
        row.update(seconds=time.perf_counter() - start,
                   train_img_per_s=len(train_loader) * train_loader.batch_size / train_seconds,
                   peak_memory_mb=peak_memory_mb(device))
        history.append(row)
        # The epoch's files as one set, the checkpoint (the truth) renamed into place last:
        # after a failed write or a kill, --resume redoes the epoch.
        runs.save_epoch(paths, Checkpoint(
            model=model.state_dict(), epoch=epoch, config=config, history=history,
            optimizer=train_state.optimizer.state_dict(),
            scheduler=train_state.scheduler.state_dict(),
            scaler=train_state.scaler.state_dict(), max_lr=max_lr),
            logits, labels, test_indices)
        log(f"epoch {epoch:>2}/{config.epochs}  train loss {row['train_loss']:.3f} "
            f"acc {row['train_acc']:.2%}  test loss {row['test_loss']:.3f} "
            f"acc {row['test_acc']:.2%}  lr {row['lr']:.2e}  {row['seconds']:.1f}s")
        if warning:
            log(f"warning, epoch {epoch}: {warning}")
    runs.save_meta(paths, dataclasses.replace(meta, finished=time.strftime("%Y-%m-%d %H:%M:%S")))
    return runs.load_run(paths.root)


def restore(checkpoint: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler,
            scaler: torch.amp.GradScaler) -> list[dict]:
    """Load a checkpoint's training state into fresh objects; returns its history."""
    model.load_state_dict(checkpoint.model)
    optimizer.load_state_dict(checkpoint.optimizer)
    scheduler.load_state_dict(checkpoint.scheduler)
    if checkpoint.scaler and scaler.is_enabled():  # empty when saved without loss scaling
        scaler.load_state_dict(checkpoint.scaler)
    return checkpoint.history


def outputs_match(paths: RunPaths, checkpoint: Checkpoint) -> bool:
    """Whether history.json and predictions.npz are there and of `checkpoint`."""
    try:
        history = runs.read_json(paths.history)
        predictions = records.load_predictions(paths.predictions)
    except EraskitError:
        return False
    epochs = [row.get("epoch") for row in history] if isinstance(history, list) else None
    return (epochs == [row["epoch"] for row in checkpoint.history]
            and predictions.epoch in (None, checkpoint.epoch))  # None: an older kit's file


def restore_outputs(paths: RunPaths, config: Config, data: Cifar10, checkpoint: Checkpoint,
                    log: Callable = print) -> None:
    """A finished run's history.json and predictions.npz rewritten from its checkpoint when
    they are missing, damaged or of another epoch (deleted, or a stop while saving)."""
    if outputs_match(paths, checkpoint):
        return
    device = resolve_device(config.device)
    data, test_indices = take_subset(config, data)
    model = build_model(config, len(data.classes), device)
    model.load_state_dict(checkpoint.model)
    test_loader = augment.eval_loader(data.x_test, data.y_test, config, device)
    logits, labels = predict(model, test_loader, Precision.choose(device, config.precision),
                             device, use_channels_last(config, device), config.flip_tta)
    runs.save_outputs(paths, checkpoint, logits, labels, test_indices)
    log(f"recomputed {paths.predictions.name} and {paths.history.name} from the checkpoint of "
        f"epoch {checkpoint.epoch}")


def previous_max_lr_source(paths: RunPaths) -> str:
    """Where a resumed run's peak came from, as its meta.json recorded it (kits that did not
    record it took it from the range test)."""
    source = runs.load_meta(paths).max_lr_source
    return "LR range test" if source == records.UNKNOWN else source


def start_meta(paths: RunPaths, resumed: bool) -> Meta:
    """meta.json's record of when the run started (and, if so, was last resumed)."""
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    if not resumed:
        return Meta(started=now)
    meta = runs.load_meta(paths)
    return dataclasses.replace(meta, started=meta.started or now, resumed=now)


def load_model(run: runs.Run, device: Optional[torch.device] = None) -> ResNet18:
    """The run's trained model in eval mode, fp32, on `device` (CPU by default)."""
    checkpoint = records.load_checkpoint(run.paths.checkpoint)
    runs.check_epochs(run.paths.root, history_json=run.final.get("epoch"),
                      checkpoint_pt=checkpoint.epoch)
    num_classes = checkpoint.model["linear.weight"].shape[0]
    model = ResNet18(run.config.width, num_classes)
    try:
        model.load_state_dict(checkpoint.model)
    except RuntimeError as err:
        raise EraskitError(f"{run.paths.checkpoint} does not fit a width-{run.config.width} "
                           f"ResNet-18 ({str(err).splitlines()[0]})") from None
    return model.to(device or torch.device("cpu")).eval()
