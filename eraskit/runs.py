"""The run directory: the hand-off between training and analysis. Every path is built here.

runs/<name>/
  config.json      the Config the run was trained with
  meta.json        data source, device, library versions, start/finish times (see Meta)
  lr_finder.json   the LR range test: rates, losses, suggestion
  history.json     one object per completed epoch
  checkpoint.pt    model, optimizer, scheduler, epoch, history, config (see Checkpoint)
  predictions.npz  test logits, labels and test-set indices of the model of `epoch`
  trust.json       Grad-CAM sanity check and faithfulness scores (written by the analysis)
  figures/*.png    trust.json and the figures record the epoch of the model they show
  .lock            while a process trains in the folder: its PID (see run_lock.writing)

Every file is written atomically (a temporary file renamed into place: safe_write); history.json,
predictions.npz and checkpoint.pt are written as one set after each epoch (see `save_epoch`),
and a reader takes them as one set (`load_saved_epoch`). Whose folder it is and what the run
was trained on: run_identity.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import advice
from .config import Config
from .errors import EraskitError
from .records import (Checkpoint, Meta, Predictions, load_checkpoint, load_predictions,
                      write_checkpoint, write_predictions)
from .safe_write import save_json, write_bytes, write_together

if TYPE_CHECKING:  # torch loads only where a model does: the command line reads runs without it
    import torch

    from .model import ResNet18


@dataclass(frozen=True)
class RunPaths:
    root: Path

    config = property(lambda self: self.root / "config.json")
    meta = property(lambda self: self.root / "meta.json")
    lr_finder = property(lambda self: self.root / "lr_finder.json")
    history = property(lambda self: self.root / "history.json")
    checkpoint = property(lambda self: self.root / "checkpoint.pt")
    predictions = property(lambda self: self.root / "predictions.npz")
    trust = property(lambda self: self.root / "trust.json")
    figures = property(lambda self: self.root / "figures")
    lock = property(lambda self: self.root / ".lock")

    @classmethod
    def of(cls, root: str | os.PathLike) -> "RunPaths":
        """The paths of the run folder `root`; an empty name ("", which would be the working
        folder) is refused."""
        if not str(root).strip():
            raise EraskitError(advice.no_folder(str(root)))
        return cls(Path(root))

    def holds_run(self) -> bool:
        """Whether the folder holds a run's settings (config.json)."""
        return self.config.is_file()

    def figure(self, name: str) -> Path:
        return self.figures / f"{name}.png"

    def derived(self) -> list[Path]:
        """The files drawn from the run's model by the analysis: trust.json and the figures."""
        found = [self.trust] if self.trust.is_file() else []
        return found + (sorted(self.figures.glob("*.png")) if self.figures.is_dir() else [])

    def temporary_files(self) -> list[Path]:
        """Temporary files of the files a training process writes, left by a kill during a
        write (never the analysis's, which takes no lock)."""
        names = (self.config, self.meta, self.lr_finder, self.history, self.checkpoint,
                 self.predictions)
        return [p for path in names for p in self.root.glob(f".{path.name}.*.tmp")]


# --- the folder's files ----------------------------------------------------------------------

def load_meta(paths: RunPaths) -> Meta:
    """The run's meta.json as a Meta (all defaults when there is none yet)."""
    if not paths.meta.is_file():
        return Meta()
    values = read_json(paths.meta)
    if not isinstance(values, dict):
        raise EraskitError(f"{paths.meta} is not a JSON object: restore it, or delete it to "
                           f"load the run with its device, data and peak unknown")
    return Meta.from_dict(values)


def save_meta(paths: RunPaths, meta: Meta) -> None:
    """Write `meta` as the run's meta.json (atomically, as every file of the run)."""
    save_json(paths.meta, meta.to_dict())


def read_json(path: Path) -> Any:
    """Read a JSON file; a damaged one is a one-line error naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EraskitError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EraskitError(f"{path} is not valid JSON ({err})") from None


def read_json_object(path: Path) -> dict:
    """The JSON object in `path`; {} for a missing or unreadable file, or other JSON."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def save_epoch(paths: RunPaths, checkpoint: Checkpoint, logits: np.ndarray,
               labels: np.ndarray, indices: np.ndarray) -> None:
    """An epoch's history.json, predictions.npz and checkpoint.pt as one set: all
    three go to temporary files, then are renamed into place, the checkpoint last. A failed
    write (a full disk) leaves the previous epoch's set whole; a kill between the renames
    leaves files that say their epoch (see check_epochs), and --resume redoes the epoch."""
    epoch = checkpoint.epoch
    kept = (f"epoch {epoch} was not saved and the files of epoch {epoch - 1} are intact: "
            f"{{fix}}, then {advice.continue_here(epoch - 1)}" if epoch > 1 else
            "no epoch was saved: {fix}, then start the run again")
    write_together([
        (paths.history, write_bytes(json.dumps(checkpoint.history, indent=2).encode())),
        (paths.predictions, write_predictions(logits, labels, indices, epoch)),
        (paths.checkpoint, write_checkpoint(checkpoint))], kept)


def save_outputs(paths: RunPaths, checkpoint: Checkpoint, logits: np.ndarray,
                 labels: np.ndarray, indices: np.ndarray) -> None:
    """history.json and predictions.npz of `checkpoint`, which stays as it is."""
    write_together([
        (paths.history, write_bytes(json.dumps(checkpoint.history, indent=2).encode())),
        (paths.predictions, write_predictions(logits, labels, indices, checkpoint.epoch))])


def check_epochs(root: Path, **epochs: Optional[int]) -> None:
    """Refuse a run folder whose files (name=epoch, None where unknown) are of different
    epochs: a process stopped between the renames of an epoch's files."""
    known = {name: epoch for name, epoch in epochs.items() if epoch is not None}
    if len(set(known.values())) > 1:
        listed = ", ".join(f"{name.replace('_', '.')} of epoch {e}" for name, e in known.items())
        raise EraskitError(f"{root} holds files of different epochs ({listed}), as a stop while "
                           f"saving leaves them: {advice.continue_run(root)} to make them one "
                           f"set again")


# --- reading -------------------------------------------------------------------------------

@dataclass
class Run:
    """What a finished (or interrupted) run left behind; loaded without retraining."""

    paths: RunPaths
    config: Config
    history: list[dict]
    meta: Meta = field(default_factory=Meta)
    lr_finder: Optional[dict] = None

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}

    def predictions(self) -> Predictions:
        """The test predictions, checked to be of the epoch history.json ends with."""
        predictions = self._load_predictions()
        check_epochs(self.paths.root, history_json=self.final.get("epoch"),
                     predictions_npz=predictions.epoch)
        return predictions

    def _load_predictions(self) -> Predictions:
        if not self.paths.predictions.is_file() and self.paths.checkpoint.is_file():
            raise EraskitError(f"no predictions at {self.paths.predictions}: "
                               f"{advice.continue_run(self.paths.root)} to recompute them from "
                               f"the checkpoint")
        return load_predictions(self.paths.predictions)


def load_run(root: str | os.PathLike) -> Run:
    """Read a run directory's config, history, meta and LR-finder result."""
    paths = RunPaths.of(root)
    if not paths.holds_run():
        raise EraskitError(f"{paths.root} holds no run (no config.json): "
                           f"{advice.train_first(paths.root)}")
    config = Config.from_dict(read_json(paths.config))
    history = read_json(paths.history) if paths.history.is_file() else []
    lr = read_json(paths.lr_finder) if paths.lr_finder.is_file() else None
    return Run(paths, config, history, load_meta(paths), lr)


# While a writer saves an epoch, a reader that catches its files between their renames reads
# them again: the renames take milliseconds, so 3 s of tries only run out on a stuck writer.
READ_TRIES, READ_WAIT_S = 30, 0.1


def load_saved_epoch(run: Run) -> tuple[Predictions, Checkpoint]:
    """The predictions and checkpoint of the run's last saved epoch, read as one set, with
    run.history (read again) ending at that epoch. While a live process trains in the folder,
    a set caught between the renames of an epoch is read again until it is whole; with no
    writer alive, files of different epochs are refused (check_epochs)."""
    from .run_lock import writer_pid  # run_lock reads RunPaths from here

    for _ in range(READ_TRIES):
        history = read_json(run.paths.history) if run.paths.history.is_file() else []
        predictions = run._load_predictions()
        checkpoint = load_checkpoint(run.paths.checkpoint)
        rows = history if isinstance(history, list) else []
        last = rows[-1].get("epoch") if rows and isinstance(rows[-1], dict) else None
        epochs = dict(history_json=last, predictions_npz=predictions.epoch,
                      checkpoint_pt=checkpoint.epoch)
        if len({e for e in epochs.values() if e is not None}) == 1:
            run.history = history
            return predictions, checkpoint
        if writer_pid(run.paths.root) is None:
            check_epochs(run.paths.root, **epochs)
        time.sleep(READ_WAIT_S)
    raise EraskitError(f"{run.paths.root}: training in progress, epoch {checkpoint.epoch + 1} of "
                       f"{run.config.epochs} is being saved: {advice.again()} in a moment")


def training_note(run: Run) -> str:
    """A line saying that a live process is training the run, and which epoch a reader sees
    ("" when none is)."""
    from .run_lock import writer_pid

    pid = writer_pid(run.paths.root)
    if pid is None:
        return ""
    return (f"{run.paths.root}: training in progress (pid {pid}), epoch {len(run.history)} of "
            f"{run.config.epochs} saved so far: the analysis shows the last epoch saved; "
            f"{advice.again()} later for a newer one")


def derived_epoch(path: Path) -> Optional[int]:
    """The epoch of the model a derived file (trust.json, a figure) was drawn from; None when
    it records none (an older kit's) or cannot be read."""
    if path.suffix == ".json":
        epoch = read_json_object(path).get("epoch")
    else:
        from PIL import Image  # matplotlib's own dependency

        try:
            with Image.open(path) as image:
                epoch = getattr(image, "text", {}).get("Epoch")
        except OSError:
            return None
    try:
        return int(epoch) if epoch is not None else None
    except (TypeError, ValueError):
        return None


def stale_derived(paths: RunPaths, epoch: int) -> dict[Path, int]:
    """The derived files of the run drawn from another epoch's model than `epoch`, with
    theirs."""
    found = {path: derived_epoch(path) for path in paths.derived()}
    return {path: e for path, e in found.items() if e is not None and e != epoch}


def load_model(run: Run, device: Optional["torch.device"] = None,
               checkpoint: Optional[Checkpoint] = None) -> "ResNet18":
    """The run's trained model in eval mode, fp32, on `device` (CPU by default): that of
    `checkpoint` when given (one read with load_saved_epoch), else of checkpoint.pt."""
    import torch

    from .model import ResNet18

    if checkpoint is None:
        checkpoint = load_checkpoint(run.paths.checkpoint)
        check_epochs(run.paths.root, history_json=run.final.get("epoch"),
                     checkpoint_pt=checkpoint.epoch)
    num_classes = checkpoint.model["linear.weight"].shape[0]
    model = ResNet18(run.config.width, num_classes)
    try:
        model.load_state_dict(checkpoint.model)
    except RuntimeError as err:
        raise EraskitError(f"{run.paths.checkpoint} does not fit a width-{run.config.width} "
                           f"ResNet-18 ({str(err).splitlines()[0]})") from None
    return model.to(device or torch.device("cpu")).eval()
