"""Continuing a run: the checks before resuming it (its settings and its data), its saved
training state restored into fresh objects, meta.json's record of its starts, and whether a
finished run's outputs are still those of its checkpoint."""

from __future__ import annotations

import dataclasses
import time
from typing import Optional

import torch
from torch import nn

from . import advice, records, runs, safe_write
from .config import Config, changed_fields, differences
from .data import Cifar10
from .errors import EraskitError
from .records import Checkpoint, Meta
from .run_identity import check_trained_on
from .runs import RunPaths


def check_same_run(paths: RunPaths, config: Config) -> None:
    """Refuse to continue a run with settings other than those it was trained with, naming
    the settings that differ first."""
    if not paths.holds_run():
        return
    saved = runs.load_run(paths.root).config
    changed = changed_fields(saved, config)
    if changed:
        raise EraskitError(advice.other_settings(paths.root, saved, config, changed))


def check_checkpoint_config(paths: RunPaths, checkpoint: Checkpoint) -> None:
    """Refuse a run whose config.json no longer says what its checkpoint was trained with
    (the checkpoint carries its own config): resuming would follow neither."""
    trained = checkpoint.config
    saved = runs.load_run(paths.root).config if paths.holds_run() else trained
    changed = differences(trained, saved, "the checkpoint", "config.json")
    if changed:
        raise EraskitError(f"{paths.config} differs from the run's checkpoint ({changed}): put "
                           f"the checkpoint's settings back, or {advice.another_folder()}")


def check_resumable(paths: RunPaths, config: Config, data: Cifar10) -> Checkpoint:
    """The checkpoint of the run in `paths`, once config.json is known to say what it was
    trained with, and `config` and `data` to be the run's: settings, then data, each refused
    in one line."""
    checkpoint = records.load_checkpoint(paths.checkpoint)
    check_checkpoint_config(paths, checkpoint)  # before check_same_run, which reads config.json
    check_same_run(paths, config)
    check_trained_on(paths.root, runs.load_meta(paths), data)
    return checkpoint


def checkpoint_to_resume(paths: RunPaths, config: Config, data: Cifar10, resume: bool,
                         read_only: bool = False) -> Optional[Checkpoint]:
    """The run folder's checkpoint when resuming it (None for a new run), after checking that
    the folder is writable (unless `read_only`: a finished run only looked at) and that a
    resumed run keeps its settings and its data."""
    if not read_only:
        safe_write.check_writable(paths.root)
    if not paths.checkpoint.is_file():
        return None
    if not resume:
        how = "resume=True" if advice.in_notebook() else "--resume"
        raise EraskitError(f"{paths.root} already holds a trained run: continue it with {how}, "
                           f"or {advice.another_folder()}")
    return check_resumable(paths, config, data)


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
