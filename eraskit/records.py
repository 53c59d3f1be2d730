"""A run's records as typed objects: checkpoint.pt (Checkpoint), meta.json (Meta) and
predictions.npz (Predictions), each with its writer and its safe loader."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .config import Config
from .errors import EraskitError


@dataclass
class Checkpoint:
    """checkpoint.pt: the training state after `epoch` and what it was trained with. The
    run's truth: history.json and predictions.npz are redone from it when they are lost."""

    model: dict  # the model's state_dict
    epoch: int  # epochs done
    config: Config  # the settings it was trained with (saved as config.json's dict)
    history: list[dict] = field(default_factory=list)  # one row per epoch done
    optimizer: dict = field(default_factory=dict)  # state_dicts, to continue the run
    scheduler: dict = field(default_factory=dict)
    scaler: dict = field(default_factory=dict)  # empty when trained without loss scaling
    max_lr: Optional[float] = None  # OneCycle's peak, kept when the run is resumed

    def to_state(self) -> dict:
        """The dict torch.save writes: tensors, numbers, strings and lists only (so that
        torch.load(weights_only=True) reads it back)."""
        return {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "scaler": self.scaler, "epoch": self.epoch, "history": self.history,
                "config": self.config.to_dict(), "max_lr": self.max_lr}

    @classmethod
    def from_state(cls, state: Any, path: Path) -> "Checkpoint":
        """The record of a loaded checkpoint.pt at `path`; anything else is a one-line error."""
        if not isinstance(state, dict) or not {"model", "epoch", "config"} <= set(state):
            raise EraskitError(f"{path} is not an eraskit checkpoint (missing "
                               f"model/epoch/config)")
        try:
            config = Config.from_dict(state["config"])
        except EraskitError as err:
            raise EraskitError(f"{path} holds settings this kit cannot use ({err})") from None
        known = {name: state[name] for name in ("history", "optimizer", "scheduler", "scaler",
                                                "max_lr") if name in state}
        return cls(state["model"], state["epoch"], config, **known)


UNKNOWN = "?"  # what a run's record says where its meta.json does not


@dataclass
class Meta:
    """meta.json: where, when and how a run was trained. A field the file lacks (an older kit,
    a run not trained yet) keeps its default: UNKNOWN, or None for numbers and times."""

    started: Optional[str] = None  # "%Y-%m-%d %H:%M:%S", local time
    resumed: Optional[str] = None  # the last --resume, if any
    finished: Optional[str] = None
    data_source: str = ""  # Cifar10.source: "official CIFAR-10" or "npz: <path>"
    data_fingerprint: str = ""  # Cifar10.fingerprint: what the arrays were ("": an older kit)
    device: str = UNKNOWN  # in words: a GPU's name, or the CPU and its threads
    precision: str = UNKNOWN
    augment: str = UNKNOWN  # where the training images were augmented
    max_lr: Optional[float] = None  # OneCycle's peak
    max_lr_source: str = UNKNOWN  # "config", "LR range test" or "safe peak: <why>"
    train_images: Optional[int] = None
    test_images: Optional[int] = None
    steps_per_epoch: Optional[int] = None
    torch: str = UNKNOWN  # versions
    python: str = UNKNOWN
    others: dict = field(default_factory=dict)  # keys this kit does not know: kept as they were

    @property
    def max_lr_shown(self) -> str:
        """The peak as captions and tables give it: "0.4", or UNKNOWN."""
        return UNKNOWN if self.max_lr is None else f"{self.max_lr:.3g}"

    def to_dict(self) -> dict:
        """The JSON meta.json holds: the fields known (those at their defaults left out), then
        the others."""
        known = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name != "others" and getattr(self, f.name) != f.default}
        return {**known, **self.others}

    @classmethod
    def from_dict(cls, values: dict) -> "Meta":
        """The record of meta.json's dict: the keys it knows as fields, the rest in others."""
        names = {f.name for f in fields(cls)} - {"others"}
        return cls(**{k: v for k, v in values.items() if k in names},
                   others={k: v for k, v in values.items() if k not in names})


def write_checkpoint(checkpoint: Checkpoint) -> Callable:
    """A writer of a checkpoint. torch.save goes to memory first: a write error on the disk
    then surfaces as the OSError it is, not as torch's "unexpected pos"."""
    import torch  # here, not above: the command line reads run folders without loading torch

    buffer = io.BytesIO()
    torch.save(checkpoint.to_state(), buffer)
    return lambda f: f.write(buffer.getbuffer())


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a checkpoint without executing code from it (weights_only)."""
    if not path.is_file():
        raise EraskitError(f"no checkpoint at {path}: train the run first")
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign file, pickle that asks for code
        text = str(err)
        if "Weights only load failed" in text:  # torch's hint to retry unsafely is left out
            wants = re.search(r"GLOBAL (\S+)", text)  # the code the file asks to run
            found = re.search(r"WeightsUnpickler error:\s*([^.\n]+)", text)
            detail = (f" (it asks to run {wants.group(1)})" if wants else
                      f" ({found.group(1).strip()[:120]})" if found else "")
            raise EraskitError(f"{path} is not an eraskit checkpoint{detail}: do not load it "
                               f"with pickle (weights_only=False), which could run code from "
                               f"the file") from None
        first_line = next(iter(text.splitlines()), "")  # an empty file's error has no text
        raise EraskitError(f"{path} is not a readable eraskit checkpoint "
                           f"({type(err).__name__}: {first_line[:200]})") from None
    return Checkpoint.from_state(state, path)


def write_predictions(logits: np.ndarray, labels: np.ndarray, indices: np.ndarray,
                      epoch: Optional[int] = None) -> Callable:
    """A writer of predictions.npz: logits (N, C) float32, labels (N,) and indices (N,) into
    the full test set, int64; `epoch` is that of the model that made them."""
    arrays = dict(logits=logits.astype(np.float32), labels=labels.astype(np.int64),
                  indices=indices.astype(np.int64))
    if epoch is not None:
        arrays["epoch"] = np.int64(epoch)
    return lambda f: np.savez(f, **arrays)


@dataclass
class Predictions:
    """Test-set outputs of the model of `epoch`. probs (N, C) in [0, 1]; preds = argmax."""

    logits: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    epoch: Optional[int] = None  # None in the files of older kits

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
            epoch = int(npz["epoch"]) if "epoch" in npz.files else None
            return Predictions(npz["logits"], npz["labels"], npz["indices"], epoch)
    except FileNotFoundError:
        raise EraskitError(f"no predictions at {path}: train the run first") from None
    except Exception as err:
        raise EraskitError(f"{path} is not readable ({err})") from None

