"""What the tests share besides fixtures: tiny synthetic data, the tiny run's settings, tools
to compare run folders, and the repository address the notebooks spell. (Not in conftest.py:
notebooks/ has a conftest module too, and `from conftest import ...` would find whichever of
the two pytest loaded last.)"""

import os
import sys
from pathlib import Path

import numpy as np

from eraskit.flags import COMMAND_SETTINGS, flag
from eraskit.config import Config, preset
from eraskit.data import CLASSES, Cifar10

ROOT = Path(__file__).resolve().parents[1]
ERASKIT = [sys.executable, "-m", "eraskit"]
TIMING_KEYS = ("seconds", "train_img_per_s", "peak_memory_mb")
# The repository's address, as the notebooks' Colab badges and install lines and the README
# spell it. The notebooks cannot import it (they run before the kit is installed), so the
# tests check that they spell exactly this.
REPOSITORY = "https://github.com/eraskit/eraskit"


def colab_url(notebook: str) -> str:
    """The address that opens notebooks/<notebook>.ipynb of the main branch in Colab."""
    owner_and_name = REPOSITORY.removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{owner_and_name}/blob/main/"
            f"notebooks/{notebook}.ipynb")


def pip_requirement() -> str:
    """What the notebooks' setup cell installs on Colab: the kit, with grad-cam,
    torch-lr-finder and albumentations (a plain install, not an editable one)."""
    return f"eraskit @ git+{REPOSITORY}"


def as_flags(settings: dict) -> list[str]:
    """Config fields as the command line's flags: {"batch_size": 16} -> ["--batch-size", "16"],
    {"max_lr": None} -> ["--max-lr", "none"]."""
    argv = []
    for name, value in settings.items():
        if isinstance(value, bool):
            argv.append(flag(name) if value else "--no-" + flag(name)[2:])
        else:
            argv += [flag(name), "none" if value is None else str(value)]
    return argv


# The tiny run, as the smoke preset's changes: width 8, 64 training images in batches of 16
# (4 steps an epoch), 32 test images, 3 epochs.
TINY = dict(width=8, subset=64, test_subset=32, batch_size=16, epochs=3, max_lr=0.05, workers=0,
            device="cpu", precision="fp32", eval_batch_size=64)


def tiny_config(**changes) -> Config:
    """The smoke preset shrunk to seconds (see TINY)."""
    return preset("smoke", **{**TINY, **changes})


def tiny_flags(command: str = "train", **changes) -> list[str]:
    """tiny_config(**changes) on the command line: --preset smoke, then a flag for each setting
    of `command` in which the tiny config differs from the smoke preset, then --quiet."""
    tiny, smoke = tiny_config(**changes).to_dict(), preset("smoke").to_dict()
    differ = {name: value for name, value in tiny.items()
              if value != smoke[name] and name in COMMAND_SETTINGS[command]}
    return ["--preset", "smoke", *as_flags(differ), "--quiet"]


TINY_FLAGS = tiny_flags()


def synthetic_cifar(n_train: int = 64, n_test: int = 32, seed: int = 0) -> Cifar10:
    """Learnable CIFAR-shaped data: uint8 (N, 32, 32, 3), each class a blocky random colour
    template plus noise; labels balanced over the 10 classes, shuffled."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, (10, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % 10)
        noise = rng.integers(-40, 41, (n, 32, 32, 3))
        pixels = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
        return pixels, labels.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    return Cifar10(x_train, y_train, x_test, y_test, CLASSES, "synthetic")


def save_npz(path: Path, data: Cifar10, **replace) -> Path:
    """Write `data` as the .npz the kit reads; `replace` swaps or adds arrays."""
    arrays = dict(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                  y_test=data.y_test)
    np.savez(path, **{**arrays, **replace})
    return path


def snapshot(folder: Path) -> dict:
    """Every file under `folder` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def without_timing(history: list[dict]) -> list[dict]:
    """History rows without the keys that measure time or memory."""
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in history]


def subprocess_env() -> dict:
    """The environment for `python -m eraskit` in a subprocess: no real data, this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "ERASKIT_DATA"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def interrupt_at(monkeypatch, stop_epoch: int, error: type = KeyboardInterrupt) -> None:
    """Make training raise `error` (a Ctrl-C by default) when epoch `stop_epoch` starts."""
    from eraskit import train
    real = train.train_epoch

    def train_epoch(state, loader, epoch, progress=True):
        if epoch == stop_epoch:
            raise error
        return real(state, loader, epoch, progress)

    monkeypatch.setattr(train, "train_epoch", train_epoch)


def save_checkpoint(path, checkpoint) -> None:
    """Write a checkpoint file on its own, as a run's epoch writes it."""
    from eraskit.records import write_checkpoint
    from eraskit.safe_write import atomic_write
    atomic_write(path, write_checkpoint(checkpoint))


def save_predictions(path, logits, labels, indices, epoch=None) -> None:
    """Write a predictions.npz on its own, as a run's epoch writes it."""
    from eraskit.records import write_predictions
    from eraskit.safe_write import atomic_write
    atomic_write(path, write_predictions(logits, labels, indices, epoch))
