"""CIFAR-10 as uint8 pixels: the official download or a local .npz, checked and subset."""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from .advice import data_setting, setting
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
OFFICIAL = "official CIFAR-10"  # the source of the official download


@dataclass(frozen=True)
class Cifar10:
    """Pixels as uint8 (N, 32, 32, 3) RGB, labels as int64 (N,), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str  # "official CIFAR-10" or "npz: <path>"

    @cached_property
    def fingerprint(self) -> str:
        """What the data is, whatever its file is called: 16 hex digits of the SHA-256 of the
        four arrays (pixels as uint8, labels as int64) and the class names. Computed once
        per data set (0.4 s for all 60,000 images); a run records it in meta.json."""
        digest = hashlib.sha256()
        for pixels, labels in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            for array in (np.ascontiguousarray(pixels, dtype=np.uint8),
                          np.ascontiguousarray(labels, dtype=np.int64)):
                digest.update(str(array.shape).encode())
                digest.update(array.data)
        digest.update("\n".join(self.classes).encode())
        return digest.hexdigest()[:16]


def describe_data(source: str, fingerprint: str) -> str:
    """A data set in words, as the refusals name it: "/data/a.npz (arrays 1a2b3c4d)"."""
    path = npz_path(source)
    return f"{path or source or 'unknown data'} (arrays {fingerprint[:8]})"


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
        raise EraskitError(f"{path} is a folder; {data_setting()} (and {DATA_ENV}) take a .npz "
                           f"file")
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
    except EraskitError:
        raise
    except Exception as err:  # a bad CRC, a damaged deflate stream (zlib.error), a short file
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
            f"Connect to the internet, or set {data_setting()} (or {DATA_ENV}) to a .npz "
            f"holding x_train, y_train, x_test, y_test") from None
    data = Cifar10(train.data, np.asarray(train.targets), test.data, np.asarray(test.targets),
                   tuple(train.classes), OFFICIAL)
    return check(data, "the official download")


def check(data: Cifar10, where: str) -> Cifar10:
    """Validate shapes, dtypes, label range and that both sets hold images; return the data
    with int64 labels."""
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
        if len(x) == 0:  # else found only after a whole epoch of training, by the evaluation
            raise EraskitError(f"x_{split} in {where} holds no images: a run needs training "
                               f"and test images")
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
                           f"({setting('subset')}) needs at least one image per class")
    if n < config.batch_size:
        raise EraskitError(f"{n:,} training images, fewer than one batch of "
                           f"{config.batch_size}: lower the batch size ({setting('batch_size')}) "
                           f"or use more images ({setting('subset')})")


def channel_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 pixels (N, H, W, 3), in [0, 1] units."""
    # Counting the 256 values of each channel is exact and avoids a float copy of the data.
    counts = np.stack([np.bincount(pixels[..., c].ravel(), minlength=256) for c in range(3)])
    values = np.arange(256) / 255.0
    total = counts.sum(axis=1)
    mean = counts @ values / total
    return mean, np.sqrt(np.maximum(counts @ values**2 / total - mean**2, 0.0))
