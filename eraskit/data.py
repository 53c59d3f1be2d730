"""CIFAR-10 as uint8 pixels: the official download or a local .npz, checked and subset."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from .errors import EraskitError

if TYPE_CHECKING:
    from .config import Config

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel statistics of the official training set, pixel values scaled to [0, 1].
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
DATA_ENV = "ERASKIT_DATA"  # path of a local .npz used when --data is not given
CACHE_ENV = "ERASKIT_CACHE"  # where the official download is kept
REQUIRED = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Cifar10:
    """Pixels as uint8 (N, 32, 32, 3) RGB, labels as int64 (N,), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str  # "official CIFAR-10" or "npz: <path>"


def npz_path(source: str) -> Optional[str]:
    """The file a `Cifar10.source` names when it came from a local .npz, else None."""
    return source[len("npz:"):].strip() if source.startswith("npz:") else None


def cache_dir() -> Path:
    """Where downloads are kept: $ERASKIT_CACHE, else ~/.cache/eraskit."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "eraskit"))


def missing_data() -> Optional[str]:
    """Why load_cifar10() would need the network (None when it would not): no $ERASKIT_DATA
    file and no earlier download in the cache."""
    path = os.environ.get(DATA_ENV)
    if path:
        return None if Path(path).expanduser().is_file() else f"{DATA_ENV}={path} is not a file"
    if (cache_dir() / "cifar-10-batches-py").is_dir():  # torchvision's download
        return None
    return f"no local CIFAR-10: {DATA_ENV} is unset and {cache_dir()} holds no download"


def load_cifar10(path: Optional[str | os.PathLike] = None) -> Cifar10:
    """Load CIFAR-10 from `path`, else from $ERASKIT_DATA, else download the official files."""
    path = path or os.environ.get(DATA_ENV) or None
    return load_npz(path) if path else download_official()


def load_npz(path: str | os.PathLike) -> Cifar10:
    """Read a .npz holding x_train, y_train, x_test, y_test (and optionally classes)."""
    path = Path(path).expanduser().absolute()  # absolute: meta.json records where it was
    if path.is_dir():
        raise EraskitError(f"{path} is a folder; --data (and {DATA_ENV}) take a .npz file")
    if not path.is_file():
        raise EraskitError(f"data file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise EraskitError(f"{path} is not a readable .npz file: not a zip archive (numpy.savez "
                           f"writes one; it must hold x_train, y_train, x_test, y_test)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in REQUIRED if k not in npz.files]
            if missing:
                raise EraskitError(f"{path} lacks the array(s) {', '.join(missing)}")
            arrays = {k: npz[k] for k in REQUIRED}
            classes = tuple(str(c) for c in npz["classes"]) if "classes" in npz.files else CLASSES
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        if isinstance(err, EraskitError):
            raise
        raise EraskitError(f"{path} is not a readable .npz file ({err})") from None
    data = Cifar10(**{k: arrays[k] for k in REQUIRED}, classes=classes, source=f"npz: {path}")
    return check(data, str(path))


def download_official() -> Cifar10:
    """Download (once) the official CIFAR-10 through torchvision into the cache folder."""
    from torchvision.datasets import CIFAR10

    root = cache_dir()
    try:
        train = CIFAR10(root, train=True, download=True)
        test = CIFAR10(root, train=False, download=True)
    except Exception as err:  # urllib, ssl and md5 failures all end here
        raise EraskitError(
            f"could not download CIFAR-10 into {root} ({type(err).__name__}: {err}). "
            f"Connect to the internet, or pass --data PATH (or set {DATA_ENV}) to a .npz "
            f"holding x_train, y_train, x_test, y_test") from None
    data = Cifar10(train.data, np.asarray(train.targets), test.data, np.asarray(test.targets),
                   tuple(train.classes), "official CIFAR-10")
    return check(data, "the official download")


def check(data: Cifar10, where: str) -> Cifar10:
    """Validate shapes, dtypes and label range; return the data with int64 labels."""
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
            raise EraskitError(f"x_{split} in {where} must be uint8 (N, 32, 32, 3), "
                               f"got {x.dtype} {x.shape}")
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise EraskitError(f"y_{split} in {where} must be {len(x)} integer labels, "
                               f"got {y.dtype} {y.shape}")
        if len(y) and (y.min() < 0 or y.max() >= len(data.classes)):
            raise EraskitError(f"y_{split} in {where} has labels outside 0..{len(data.classes) - 1}")
    return Cifar10(data.x_train, data.y_train.astype(np.int64), data.x_test,
                   data.y_test.astype(np.int64), data.classes, data.source)


def stratified_subset(labels: np.ndarray, size: Optional[int], seed: int) -> np.ndarray:
    """Sorted indices of `size` items with classes as balanced as possible; all if size is None."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    order = np.random.default_rng(seed).permutation(len(labels))
    # Rank each item within its class, then take ranks 0, 1, 2, ... across all classes in turn.
    rank = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = order[labels[order] == c]
        rank[members] = np.arange(len(members))
    chosen = order[np.argsort(rank[order], kind="stable")[:size]]
    return np.sort(chosen)


def subset(data: Cifar10, train_size: Optional[int], test_size: Optional[int],
           seed: int) -> tuple[Cifar10, np.ndarray]:
    """A reproducible, class-balanced subset; also returns the kept test indices."""
    train_idx = stratified_subset(data.y_train, train_size, seed)
    test_idx = stratified_subset(data.y_test, test_size, seed)
    kept = Cifar10(data.x_train[train_idx], data.y_train[train_idx], data.x_test[test_idx],
                   data.y_test[test_idx], data.classes, data.source)
    return kept, test_idx


def take_subset(config: Config, data: Cifar10) -> tuple[Cifar10, np.ndarray]:
    """The config's subset of the data (config.subset, config.test_subset, config.seed), after
    check_train_size; also returns the indices of the kept test images."""
    check_train_size(config, len(data.x_train), len(data.classes))
    return subset(data, config.subset, config.test_subset, config.seed)


def check_train_size(config: Config, available: int, num_classes: int) -> None:
    """Refuse a training set that cannot train: fewer images than classes, or than one batch."""
    n = available if config.subset is None else min(config.subset, available)
    if n < num_classes:
        raise EraskitError(f"{n:,} training images for {num_classes} classes: the subset "
                           f"(--subset) needs at least one image per class")
    if n < config.batch_size:
        raise EraskitError(f"{n:,} training images, fewer than one batch of "
                           f"{config.batch_size}: lower the batch size (--batch-size) or use "
                           f"more images (--subset)")


def channel_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 pixels (N, H, W, 3), in [0, 1] units."""
    # Counting the 256 values of each channel is exact and avoids a float copy of the data.
    counts = np.stack([np.bincount(pixels[..., c].ravel(), minlength=256) for c in range(3)])
    values = np.arange(256) / 255.0
    total = counts.sum(axis=1)
    mean = counts @ values / total
    return mean, np.sqrt(np.maximum(counts @ values**2 / total - mean**2, 0.0))
