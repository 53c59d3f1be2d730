"""The run directory: the hand-off between training and analysis. Every path is built here.

runs/<name>/
  config.json      the Config the run was trained with
  meta.json        data source, device, library versions, start/finish times
  lr_finder.json   the LR range test: rates, losses, suggestion
  history.json     one object per completed epoch
  checkpoint.pt    model, optimizer, scheduler, epoch, history, config (written atomically)
  predictions.npz  test logits, labels and test-set indices of the final model
  trust.json       Grad-CAM sanity check and faithfulness scores (written by the analysis)
  figures/*.png
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from .config import Config
from .errors import EraskitError


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

    def figure(self, name: str) -> Path:
        return self.figures / f"{name}.png"


def atomic_write(path: Path, write) -> None:
    """Call write(file_object) on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from others
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def read_json(path: Path) -> Any:
    """Read a JSON file; a damaged one is a one-line error naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EraskitError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EraskitError(f"{path} is not valid JSON ({err})") from None


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint without executing code from it (weights_only)."""
    if not path.is_file():
        raise EraskitError(f"no checkpoint at {path}: train the run first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle that asks for code, foreign file
        first_line = next(iter(str(err).splitlines()), "")  # an empty file's error has no text
        raise EraskitError(f"{path} is not a readable eraskit checkpoint "
                           f"({type(err).__name__}: {first_line[:200]})") from None
    if not isinstance(state, dict) or not {"model", "epoch", "config"} <= set(state):
        raise EraskitError(f"{path} is not an eraskit checkpoint (missing model/epoch/config)")
    return state


def save_predictions(path: Path, logits: np.ndarray, labels: np.ndarray,
                     indices: np.ndarray) -> None:
    """logits (N, C) float32, labels (N,) int64, indices (N,) into the full test set."""
    atomic_write(path, lambda f: np.savez(f, logits=logits.astype(np.float32),
                                          labels=labels.astype(np.int64),
                                          indices=indices.astype(np.int64)))


@dataclass
class Predictions:
    """Test-set outputs of the final model. probs (N, C) in [0, 1]; preds = argmax."""

    logits: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def preds(self) -> np.ndarray:
        return self.logits.argmax(axis=1)


def load_predictions(path: Path) -> Predictions:
    """Read predictions.npz (logits, labels, test indices); a damaged file is a clear error."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return Predictions(npz["logits"], npz["labels"], npz["indices"])
    except FileNotFoundError:
        raise EraskitError(f"no predictions at {path}: train the run first") from None
    except Exception as err:
        raise EraskitError(f"{path} is not readable ({err})") from None


@dataclass
class Run:
    """What a finished (or interrupted) run left behind; loaded without retraining."""

    paths: RunPaths
    config: Config
    history: list[dict]
    meta: dict = field(default_factory=dict)
    lr_finder: Optional[dict] = None

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}

    def predictions(self) -> Predictions:
        return load_predictions(self.paths.predictions)


def load_run(root: str | os.PathLike) -> Run:
    """Read a run directory's config, history, meta and LR-finder result."""
    paths = RunPaths(Path(root))
    if not paths.config.is_file():
        raise EraskitError(f"{paths.root} holds no run (no config.json): train one first, e.g. "
                           f"`python -m eraskit run --preset smoke|cpu|full --out {paths.root}`")
    config = Config.from_dict(read_json(paths.config))
    history = read_json(paths.history) if paths.history.is_file() else []
    meta = read_json(paths.meta) if paths.meta.is_file() else {}
    lr = read_json(paths.lr_finder) if paths.lr_finder.is_file() else None
    return Run(paths, config, history, meta, lr)


def check_writable(root: Path) -> None:
    """Fail early, before any training, when the run directory cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe."):
            pass
    except OSError as err:
        raise EraskitError(f"cannot write to {root} ({err.strerror or err})") from None
