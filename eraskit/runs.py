"""The run directory: the hand-off between training and analysis. Every path is built here.

runs/<name>/
  config.json      the Config the run was trained with
  meta.json        data source, device, library versions, start/finish times (see Meta)
  lr_finder.json   the LR range test: rates, losses, suggestion
  history.json     one object per completed epoch
  checkpoint.pt    model, optimizer, scheduler, epoch, history, config (see Checkpoint)
  predictions.npz  test logits, labels and test-set indices of the model of `epoch`
  trust.json       Grad-CAM sanity check and faithfulness scores (written by the analysis)
  figures/*.png
  .lock            while a process trains in the folder: its PID (see `writing`)

Every file is written atomically (a temporary file renamed into place); history.json,
predictions.npz and checkpoint.pt are written as one set after each epoch (see `save_epoch`).
"""

from __future__ import annotations

import errno
import functools
import inspect
import io
import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from .config import Config
from .errors import EraskitError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


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

    def figure(self, name: str) -> Path:
        return self.figures / f"{name}.png"

    def temporary_files(self) -> list[Path]:
        """Temporary files of the files a training process writes, left by a kill during a
        write (never the analysis's, which takes no lock)."""
        names = (self.config, self.meta, self.lr_finder, self.history, self.checkpoint,
                 self.predictions)
        return [p for path in names for p in self.root.glob(f".{path.name}.*.tmp")]


# --- the records: checkpoint.pt and meta.json ------------------------------------------------

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


# --- writing -------------------------------------------------------------------------------

def write_error(path: Path, err: OSError, kept: str = "") -> EraskitError:
    """An OSError while writing `path` as one line; a full disk is said in so many words.
    `kept` says what is intact; "{fix}" in it becomes what to do about the error."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        reason, fix = f"the disk holding {path.parent} is full (writing {path.name})", \
            "free some space"
    else:
        reason, fix = f"cannot write {path} ({err.strerror or err})", "make it writable"
    return EraskitError(f"{reason}; {(kept or f'{path.name} is as it was').format(fix=fix)}")


def make_temporary(folder: Path, name: str) -> tuple[int, str]:
    """A new hidden file .NAME.XXXX.tmp in `folder`, with the umask's permissions."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from others
    return fd, tmp


def _stage(path: Path, write: Callable) -> str:
    """Call write(file_object) on a temporary file beside `path`, synced to disk; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temporary(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_together(files: list[tuple[Path, Callable]], kept: str = "") -> None:
    """Write each (path, write) to a temporary file first, then rename them into place in
    order: a failed write (a full disk) leaves every one of the old files as it was. An OSError
    is a one-line EraskitError that ends with `kept` (what is intact)."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, write in files:
            staged.append((_stage(path, write), path))
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise write_error(path, err, kept) from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)  # all gone once renamed


def atomic_write(path: Path, write: Callable, kept: str = "") -> None:
    """Call write(file_object) on a temporary file beside `path`, then rename it into place."""
    write_together([(path, write)], kept)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(data: bytes) -> Callable:
    """A writer for atomic_write that writes `data`."""
    return lambda f: f.write(data)


def save_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write(path, write_bytes(json.dumps(obj, indent=2).encode()))


def save_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8), atomically."""
    atomic_write(path, write_bytes(text.encode()))


def read_json(path: Path) -> Any:
    """Read a JSON file; a damaged one is a one-line error naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EraskitError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EraskitError(f"{path} is not valid JSON ({err})") from None


def write_checkpoint(checkpoint: Checkpoint) -> Callable:
    """A writer of a checkpoint. torch.save goes to memory first: a write error on the disk
    then surfaces as the OSError it is, not as torch's "unexpected pos"."""
    import torch  # here, not above: the command line reads run folders without loading torch

    buffer = io.BytesIO()
    torch.save(checkpoint.to_state(), buffer)
    return lambda f: f.write(buffer.getbuffer())


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    atomic_write(path, write_checkpoint(checkpoint))


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
    """A writer of predictions.npz; `epoch` is that of the model that made them."""
    arrays = dict(logits=logits.astype(np.float32), labels=labels.astype(np.int64),
                  indices=indices.astype(np.int64))
    if epoch is not None:
        arrays["epoch"] = np.int64(epoch)
    return lambda f: np.savez(f, **arrays)


def save_predictions(path: Path, logits: np.ndarray, labels: np.ndarray,
                     indices: np.ndarray, epoch: Optional[int] = None) -> None:
    """logits (N, C) float32, labels (N,) int64, indices (N,) into the full test set."""
    atomic_write(path, write_predictions(logits, labels, indices, epoch))


def save_epoch(paths: RunPaths, checkpoint: Checkpoint, logits: np.ndarray,
               labels: np.ndarray, indices: np.ndarray) -> None:
    """An epoch's history.json, predictions.npz and checkpoint.pt as one set: all
    three go to temporary files, then are renamed into place, the checkpoint last. A failed
    write (a full disk) leaves the previous epoch's set whole; a kill between the renames
    leaves files that say their epoch (see check_epochs), and --resume redoes the epoch."""
    epoch = checkpoint.epoch
    kept = (f"epoch {epoch} was not saved and the files of epoch {epoch - 1} are intact: "
            f"{{fix}}, then continue with --resume" if epoch > 1 else
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
                           f"saving leaves them: `python -m eraskit train --resume --out {root}`"
                           f" makes them one set again")


# --- reading -------------------------------------------------------------------------------

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
        if (path.parent / "checkpoint.pt").is_file():
            raise EraskitError(f"no predictions at {path}: recompute them from the checkpoint "
                               f"with `python -m eraskit train --resume --out {path.parent}`"
                               ) from None
        raise EraskitError(f"no predictions at {path}: train the run first") from None
    except Exception as err:
        raise EraskitError(f"{path} is not readable ({err})") from None


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
        predictions = load_predictions(self.paths.predictions)
        check_epochs(self.paths.root, history_json=self.final.get("epoch"),
                     predictions_npz=predictions.epoch)
        return predictions


def load_run(root: str | os.PathLike) -> Run:
    """Read a run directory's config, history, meta and LR-finder result."""
    paths = RunPaths(Path(root))
    if not paths.config.is_file():
        raise EraskitError(f"{paths.root} holds no run (no config.json): train one first, e.g. "
                           f"`python -m eraskit run --preset smoke|cpu|full --out {paths.root}`")
    config = Config.from_dict(read_json(paths.config))
    history = read_json(paths.history) if paths.history.is_file() else []
    lr = read_json(paths.lr_finder) if paths.lr_finder.is_file() else None
    return Run(paths, config, history, load_meta(paths), lr)


def check_writable(root: Path) -> None:
    """Fail early, before any training, when the run directory cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = make_temporary(root, "probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise EraskitError(f"cannot write to {root} ({err.strerror or err})") from None


# --- one writer at a time --------------------------------------------------------------------

# The run folders whose lock this process holds. A POSIX lock belongs to the process and goes
# when it closes any descriptor of the file: nothing but _lock and _unlock may open a .lock.
_held: set[str] = set()


@contextmanager
def writing(root: str | os.PathLike) -> Iterator[None]:
    """Hold the run folder's lock: another process that wants to write there is refused,
    naming this one. The lock is the OS's (fcntl, which DataLoader workers do not inherit), so
    it dies with its process: the .lock file a killed run leaves blocks nobody. Re-entrant
    within a process. On the way out the lock file goes, and so do the folders this call made
    if nothing was written to them: a failed start leaves no empty run folder."""
    root = Path(root)
    key = os.path.realpath(root)
    if key in _held:
        yield
        return
    made = [p for p in (root, *root.parents) if not p.exists()]  # the deepest first
    lock = RunPaths(root).lock
    try:
        check_writable(root)
        fd = _lock(lock, root)
    except BaseException:
        _remove_empty(made)
        raise
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        _unlock(fd, lock)
        _remove_empty(made)


def _remove_empty(folders: list[Path]) -> None:
    """Remove these folders, the deepest first, up to the first that holds something."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def holds_lock(function: Callable) -> Callable:
    """Decorate a function of a run folder `out`: each call holds its lock (see `writing`)."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def locked(*args, **kwargs):
        with writing(signature.bind(*args, **kwargs).arguments["out"]):
            return function(*args, **kwargs)
    return locked


def _lock(path: Path, root: Path) -> int:
    """Open and lock `path` without waiting, and write this process's PID into it."""
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise EraskitError(f"cannot lock {root} ({err.strerror or err})") from None
        if not _try_lock(fd, path):
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EraskitError(f"{root} is in use by another eraskit process (pid {holder}): "
                               f"wait for it to end, or use another run folder (--out; RUN_DIR "
                               f"in the notebooks)")
        try:
            current = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            current = False
        if current:
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:  # a full disk: the lock holds all the same, the PID goes unsaid
                pass
            return fd
        os.close(fd)  # its holder removed this file as we locked it: lock the one there now
    raise EraskitError(f"cannot lock {path}: it keeps changing")


def _try_lock(fd: int, path: Path) -> bool:
    """Lock an open file without waiting; False when another process holds it."""
    try:
        if fcntl:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # a byte far past the PID, which stays readable to the refused
            os.lseek(fd, 1 << 20, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            os.lseek(fd, 0, os.SEEK_SET)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EAGAIN) or not fcntl:
            return False
        os.close(fd)
        raise EraskitError(f"cannot lock {path} ({err.strerror or err})") from None
    return True


def _unlock(fd: int, path: Path) -> None:
    """Remove the lock file, then release it: a process that opened the file meanwhile finds
    it gone once it holds it, and locks a new one (see _lock)."""
    if fcntl:
        path.unlink(missing_ok=True)
        os.close(fd)
        return
    os.lseek(fd, 1 << 20, os.SEEK_SET)  # Windows removes no open file: release, close, remove
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    os.close(fd)
    try:
        path.unlink(missing_ok=True)
    except OSError:  # opened by another process meanwhile: it is theirs now
        pass
