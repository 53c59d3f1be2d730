"""Writing files that a kill or a full disk cannot leave half-written: each goes to a
temporary file beside it, synced, then renamed into place (`atomic_write`); several files go
as one set (`write_together`). Errors are one line that says what is intact."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import EraskitError


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


def why_not_writable(root: Path) -> str:
    """Why files cannot be written in the folder `root` (made if missing), in a few words
    ("Read-only file system"); "" when they can."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = make_temporary(root, "probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return str(err.strerror or err)
    return ""


def check_writable(root: Path) -> None:
    """Fail early, before any training, when the run directory cannot be written."""
    reason = why_not_writable(root)
    if reason:
        raise EraskitError(f"cannot write to {root} ({reason})")

