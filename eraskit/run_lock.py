"""One writer per run folder: the lock a training process holds on it (`writing`,
`holds_lock`), refusing another process that wants to write there, and a folder that holds no
run of the kit's; readers ask whether a live process holds it (`writer_pid`)."""

from __future__ import annotations

import errno
import functools
import inspect
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from . import advice
from .errors import EraskitError
from .run_identity import check_kit_folder
from .runs import RunPaths
from .safe_write import check_writable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


# The run folders whose lock this process holds. A POSIX lock belongs to the process and goes
# when it closes any descriptor of the file: nothing but _lock and _unlock may open a .lock.
_held: set[str] = set()


@contextmanager
def writing(root: str | os.PathLike) -> Iterator[None]:
    """Hold the run folder's lock: another process that wants to write there is refused,
    naming this one. The lock is the OS's (fcntl, which DataLoader workers do not inherit), so
    it dies with its process: the .lock file a killed run leaves blocks nobody. Re-entrant
    within a process. On the way out the lock file goes, and so do the folders this call made
    if nothing was written to them: a failed start leaves no empty run folder. A folder that
    holds files but no run of the kit's is refused before anything is written there."""
    paths = RunPaths.of(root)
    root = paths.root
    key = os.path.realpath(root)
    if key in _held:
        yield
        return
    check_kit_folder(paths)
    made = [p for p in (root, *root.parents) if not p.exists()]  # the deepest first
    lock = paths.lock
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


def writer_pid(root: str | os.PathLike) -> Optional[str]:
    """The PID (as its .lock says it) of another live process that holds the run folder's
    lock: a training is in progress there. None when none does, or when this process holds it.
    Takes nothing from the writer: a shared lock held for an instant, on a descriptor opened
    for reading (so a read-only folder is asked too)."""
    if os.path.realpath(root) in _held:
        return None
    try:  # msvcrt locks only what a descriptor may write
        fd = os.open(RunPaths(Path(root)).lock, os.O_RDONLY if fcntl else os.O_RDWR)
    except OSError:  # no lock file: nobody is writing
        return None
    try:
        if fcntl:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        else:
            os.lseek(fd, 1 << 20, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBRLCK, 1)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return None
    except OSError:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)  # releases the shared lock, if it was taken


# A reader's shared lock (writer_pid) lasts an instant: a writer that meets one tries again.
LOCK_TRIES, LOCK_WAIT_S = 5, 0.05


def _lock(path: Path, root: Path) -> int:
    """Open and lock `path` without waiting, and write this process's PID into it."""
    for attempt in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise EraskitError(f"cannot lock {root} ({err.strerror or err})") from None
        if not _try_lock(fd, path):
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if attempt < LOCK_TRIES:
                time.sleep(LOCK_WAIT_S)
                continue
            raise EraskitError(f"{root} is in use by another eraskit process (pid {holder}): "
                               f"wait for it to end, or {advice.another_folder()}")
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
