"""The captions under every figure: which data, epochs, width and device produced it, and a
warning when the run has learned too little for its figures to mean much."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .config import Config
from .data import Cifar10, npz_path
from .hardware import describe_device
from .health import near_chance
from .runs import Run

if TYPE_CHECKING:
    from .predictions import TestResults


def data_name(source: str) -> str:
    """A short name of a data source as the figures' captions give it."""
    path = npz_path(source)
    return f"local data {Path(path).name}" if path else source or "unknown data"


def setup_caption(config: Config, data: Cifar10, device: torch.device | str) -> str:
    """Data, training images, width, batch and device (a torch.device or its description) of
    a config: the caption of figures drawn before a run exists (the range test, the schedule);
    a run's own figures use caption()."""
    images = len(data.x_train) if config.subset is None else min(config.subset, len(data.x_train))
    device = device if isinstance(device, str) else describe_device(device)
    return (f"{data_name(data.source)}, {images:,} training images, width {config.width}, "
            f"batch {config.batch_size}, {device}")


def caption(run: Run) -> str:
    """Data, epochs, width, device and final test accuracy of the run."""
    meta, c = run.meta, run.config
    acc = f"final test accuracy {run.final['test_acc']:.2%}" if run.history else "not trained"
    return (f"{data_name(meta.data_source)}, {len(run.history)}/{c.epochs} epochs, "
            f"width {c.width}, {meta.device} ({meta.precision}), "
            f"max LR {meta.max_lr_shown} ({meta.max_lr_source}); {acc}")


def chance_warning(run: Run, num_classes: int = 10) -> str:
    """A one-line warning when the run's final test accuracy is near chance (health.near_chance:
    guessing, 1 in `num_classes`): its mistakes are then mostly noise and its Grad-CAM maps
    mean nothing. "" for a run that learned more (or has no history)."""
    if not run.history or not near_chance(run.final["test_acc"], num_classes):
        return ""
    acc, chance = run.final["test_acc"], 1 / num_classes
    return (f"warning: test accuracy {acc:.1%} is close to chance ({chance:.0%}): this run has "
            f"learned little, so its mistakes and maps say little; train longer")


def analysis_caption(results: TestResults) -> str:
    """caption() of the results' run, with the near-chance warning on a second line if due."""
    warning = chance_warning(results.run, len(results.classes))
    return caption(results.run) + (f"\n{warning}" if warning else "")
