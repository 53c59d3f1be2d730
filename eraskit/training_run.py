"""A run being trained in its folder: `start` sets it up (or resumes it after its last saved
epoch) and holds the folder's lock; the epoch loop, which notebook 03 writes out in the open
and `fit` runs for the command line, trains and evaluates with train.py and hands each epoch
to `TrainingRun.save_epoch`.

    with start(config, data, out, resume=True) as training:
        for epoch in training.epochs_left():
            training.train_loader.sampler.set_epoch(epoch)
            row = train.train_epoch(training.state, training.train_loader, epoch)
            test_row, logits, labels = train.evaluate_epoch(training.state, training.test_loader)
            training.save_epoch(epoch, {**row, **test_row}, logits, labels)
"""

from __future__ import annotations

import dataclasses
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from . import advice, augment, run_lock, runs, safe_write, train
from .config import Config, check_warm_up
from .data import Cifar10, take_subset
from .errors import EraskitError
from .estimate import Estimate, estimate_run, format_duration
from .gpu_augment import describe_augment, make_train_loader
from .hardware import Precision, describe_device, peak_memory_mb, resolve_device
from .health import collapse_note
from .lr_choice import choose_max_lr, needs_range_test
from .model import build_model
from .records import Checkpoint, Meta
from .resume import (checkpoint_to_resume, outputs_match, previous_max_lr_source, restore,
                     start_meta)
from .runs import RunPaths
from .train import TrainState, make_train_state


@dataclass
class TrainingRun:
    """Everything the epoch loop works with, built once per run: the device and precision,
    the (subset of the) data, the loaders, the model with its optimizer, OneCycle schedule,
    loss scaler and loss (`state`), the peak rate, and the history so far."""

    config: Config
    paths: RunPaths
    data: Cifar10  # the config's subset of the data
    test_indices: np.ndarray  # (test images,) positions in the full test set
    device: torch.device
    precision: Precision
    model: torch.nn.Module  # as saved in checkpoints (state.model may be its compiled form)
    train_loader: object  # augment.train_loader or gpu_augment.DeviceLoader
    test_loader: torch.utils.data.DataLoader
    state: TrainState
    max_lr: float
    history: list[dict]
    meta: Meta
    estimate: Estimate | None = None  # None for a finished run
    log: Callable = print
    trained: int = 0  # epochs trained since `start`
    _epoch_started: float = 0.0

    def epochs_left(self) -> Iterator[int]:
        """The epochs still to train, 1-based: after a resume, those after the last saved."""
        for epoch in range(len(self.history) + 1, self.config.epochs + 1):
            self._epoch_started = time.perf_counter()
            yield epoch

    def save_epoch(self, epoch: int, row: dict, logits: np.ndarray, labels: np.ndarray) -> dict:
        """Record an epoch: its history row (`row`: train_epoch's and evaluate_epoch's figures,
        plus the epoch's time, peak memory and a collapse check), the checkpoint and the test
        predictions (logits (N, C), labels (N,)), written as one set. Prints one line (and a
        warning if the network collapsed onto one class) and returns the row."""
        warning = collapse_note(row["train_loss"], logits.argmax(axis=1), labels,
                                self.data.classes, self.max_lr)
        row = {"epoch": epoch, **row, "collapsed": warning is not None,
               "seconds": time.perf_counter() - self._epoch_started,
               "peak_memory_mb": peak_memory_mb(self.device)}
        self.history.append(row)
        state = self.state
        # The checkpoint (the truth) is renamed into place last: after a failed write or a
        # kill, resuming redoes the epoch.
        runs.save_epoch(self.paths, Checkpoint(
            model=self.model.state_dict(), epoch=epoch, config=self.config, history=self.history,
            optimizer=state.optimizer.state_dict(), scheduler=state.scheduler.state_dict(),
            scaler=state.scaler.state_dict(), max_lr=self.max_lr), logits, labels,
            self.test_indices)
        self.trained += 1
        self.log(f"epoch {epoch:>2}/{self.config.epochs}  train loss {row['train_loss']:.3f} "
                 f"acc {row['train_acc']:.2%}  test loss {row['test_loss']:.3f} "
                 f"acc {row['test_acc']:.2%}  lr {row['lr']:.2e}  {row['seconds']:.1f}s")
        if warning:
            self.log(f"warning, epoch {epoch}: {warning}")
        left = self.config.epochs - epoch
        if self.trained == 1 and left:  # the estimate, measured on a whole epoch
            self.log(f"epoch {epoch} took {format_duration(row['seconds'])}: the remaining "
                     f"{left} epoch{'s' * (left > 1)} about {format_duration(left * row['seconds'])}")
        return row

    def finish(self) -> None:
        """Note in meta.json when the run trained its last epoch. In a notebook, say which
        files drawn by the analysis now show an earlier epoch (the command line redraws
        them)."""
        if self.trained and len(self.history) == self.config.epochs:
            self.meta = dataclasses.replace(self.meta, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
            runs.save_meta(self.paths, self.meta)
        stale = runs.stale_derived(self.paths, len(self.history)) if self.trained else {}
        if stale and advice.in_notebook():
            names = ", ".join(p.name for p in list(stale)[:3]) + ", ..." * (len(stale) > 3)
            self.log(f"{len(stale)} file(s) the analysis drew in {self.paths.root} ({names}) "
                     f"show epoch {min(stale.values())}, the run is now at epoch "
                     f"{len(self.history)}: notebook 05 rewrites trust.json, and `python -m "
                     f"eraskit analyse --out {self.paths.root}` redraws the figures")


@contextmanager
def start(config: Config, data: Cifar10, out: str | Path, resume: bool = False,
          progress: bool = True, log: Callable = print) -> Iterator[TrainingRun]:
    """Set up the run in `out`, or with `resume` continue it after its last saved epoch, and
    hold the folder's lock until the block ends (one writer per folder). A finished run is
    only loaded (its lost outputs redone) and has no epochs left; in a folder that cannot be
    written (a shared, read-only one) it is loaded without the lock, and nothing is saved. A
    start that fails leaves no settings behind: config.json is written only once everything
    is ready. A folder of files the kit did not write is refused (run_lock.writing)."""
    paths = RunPaths.of(out)
    read_only = ""
    if resume and paths.checkpoint.is_file():  # looking at a finished run needs no write
        read_only = safe_write.why_not_writable(paths.root)
    if read_only:
        yield set_up(config, data, paths, resume, progress, log, read_only)
        return
    with run_lock.writing(out):
        training = set_up(config, data, paths, resume, progress, log)
        yield training
        training.finish()


def set_up(config: Config, data: Cifar10, paths: RunPaths, resume: bool, progress: bool,
           log: Callable, read_only: str = "") -> TrainingRun:
    """The TrainingRun of `start`: the device and precision resolved once, data, loaders,
    model, peak rate and training state built, a checkpoint's state restored. `read_only`
    says why the folder cannot be written: then only a finished run is taken."""
    checkpoint = checkpoint_to_resume(paths, config, data, resume, read_only=bool(read_only))
    if read_only:
        check_finished(paths, checkpoint, config, read_only)
        log(f"cannot write to {paths.root} ({read_only}): its finished run is only loaded, "
            f"and nothing is saved there")
    for stale in paths.temporary_files() if not read_only else []:  # left by a kill during a
        stale.unlink(missing_ok=True)  # write: with the lock held, no live process writes them
    device = resolve_device(config.device)
    torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
    precision = Precision.choose(device, config.precision)
    if precision.note:
        log(precision.note)
    everything = data  # the range test takes the config's subset itself, as in notebook 02
    fingerprint = data.fingerprint  # of all the data: the subset follows from the config
    data, test_indices = take_subset(config, data)
    model = build_model(config, len(data.classes), device)
    train_loader = make_train_loader(data.x_train, data.y_train, config, device, log)
    test_loader = augment.eval_loader(data.x_test, data.y_test, config, device)
    check_warm_up(config, len(train_loader))  # before the range test, not after it
    finished = checkpoint is not None and checkpoint.epoch >= config.epochs
    estimate = None if finished else estimate_run(
        config, data, model, train_loader, device, precision,
        first_epoch=checkpoint.epoch + 1 if checkpoint else 1,
        range_test_steps=0 if checkpoint else needs_range_test(config, paths, len(train_loader)))
    if estimate:
        log(str(estimate))
    if checkpoint:  # a resumed run keeps the peak it started with, whatever lr_finder.json says
        max_lr, source = checkpoint.max_lr, previous_max_lr_source(paths)
    else:
        max_lr, source = choose_max_lr(config, everything, paths.root, len(train_loader),
                                       progress, log, device, precision)
    state = make_train_state(model, config, max_lr, len(train_loader), device, precision)
    history = restore(checkpoint, model, state.optimizer, state.scheduler,
                      state.scaler) if checkpoint else []
    meta = describe_run(start_meta(paths, resumed=checkpoint is not None), data, fingerprint,
                        device, precision, train_loader, max_lr, source)
    training = TrainingRun(config, paths, data, test_indices, device, precision, model,
                           train_loader, test_loader, state, max_lr, list(history), meta,
                           estimate, log)
    if finished:
        if not read_only:
            repair_outputs(training, checkpoint)
        elif not outputs_match(paths, checkpoint):
            log(f"{paths.history.name} or {paths.predictions.name} in {paths.root} is not of "
                f"its checkpoint, and cannot be recomputed there ({read_only})")
        training.meta = runs.load_meta(paths)  # a finished run's record stays as it was
        log(f"{paths.root} has finished all {config.epochs} epochs: "
            f"{advice.analyse_run(paths.root)}, or {advice.another_folder()} to train another")
        return training
    # Nothing is written before this point, so a start that fails leaves no settings; meta.json
    # first: it marks the folder as the kit's (run_identity.written_by_kit) from the first write.
    runs.save_meta(paths, meta)
    if checkpoint:
        log(f"resuming {paths.root} after epoch {checkpoint.epoch} of {config.epochs}")
    else:
        safe_write.save_json(paths.config, config.to_dict())
    log(f"training epochs {len(history) + 1}-{config.epochs} on {meta.device} ({precision}), "
        f"max LR {max_lr:.3g}; run folder {paths.root}")
    return training


def describe_run(meta: Meta, data: Cifar10, fingerprint: str, device: torch.device,
                 precision: Precision, train_loader, max_lr: float, source: str) -> Meta:
    """meta.json's record of how the run trains: data (and its arrays' fingerprint), device,
    precision, peak and its source, augmentation, sizes and versions."""
    return dataclasses.replace(
        meta, data_source=data.source, data_fingerprint=fingerprint,
        device=describe_device(device), precision=str(precision), max_lr=max_lr,
        max_lr_source=source, augment=describe_augment(train_loader),
        train_images=len(data.x_train), test_images=len(data.x_test),
        steps_per_epoch=len(train_loader), torch=torch.__version__,
        python=sys.version.split()[0])


def check_finished(paths: RunPaths, checkpoint: Checkpoint | None, config: Config,
                   reason: str) -> None:
    """Refuse to continue a run in a folder that cannot be written (`reason`): only a finished
    run can be looked at there."""
    if checkpoint is None or checkpoint.epoch >= config.epochs:
        return
    raise EraskitError(f"cannot write to {paths.root} ({reason}): its run stopped after epoch "
                       f"{checkpoint.epoch} of {config.epochs}, and continuing it needs writing: "
                       f"make the folder writable, or copy it to one you can write and point "
                       f"{advice.folder_setting()} at it")


def repair_outputs(training: TrainingRun, checkpoint: Checkpoint) -> None:
    """A finished run's history.json and predictions.npz rewritten from its checkpoint when
    they are missing, damaged or of another epoch (deleted, or a stop while saving)."""
    if outputs_match(training.paths, checkpoint):
        return
    _, logits, labels = train.evaluate_epoch(training.state, training.test_loader,
                                         training.config.flip_tta)
    runs.save_outputs(training.paths, checkpoint, logits, labels, training.test_indices)
    training.log(f"recomputed {training.paths.predictions.name} and "
                 f"{training.paths.history.name} from the checkpoint of epoch {checkpoint.epoch}")


def fit(config: Config, data: Cifar10, out: str | Path, resume: bool = False,
        progress: bool = True, log: Callable = print) -> runs.Run:
    """Train (or resume) the run in `out` with the epoch loop of notebook 03; returns the
    run as saved once all epochs are done."""
    with start(config, data, out, resume, progress, log) as training:
        for epoch in training.epochs_left():
            training.train_loader.sampler.set_epoch(epoch)  # the epoch's shuffle and augmentation
            row = train.train_epoch(training.state, training.train_loader, epoch, progress)
            test_row, logits, labels = train.evaluate_epoch(training.state, training.test_loader,
                                                        config.flip_tta)
            training.save_epoch(epoch, {**row, **test_row}, logits, labels)
    return runs.load_run(out)
