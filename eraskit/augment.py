"""Albumentations pipelines and the DataLoaders that feed them.

Each training image's augmentation is a pure function of (seed, epoch, index): the sampler
hands every worker keys that carry the epoch, and the dataset reseeds the pipeline per image.
So workers never repeat each other, epochs differ, and a resumed run sees the same images as
an uninterrupted one, whatever the number of workers.
"""

from __future__ import annotations

import os
import random
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no PyPI check on import
import albumentations as A  # noqa: E402
import cv2  # noqa: E402
from albumentations.pytorch import ToTensorV2  # noqa: E402

from .config import Config  # noqa: E402
from .data import MEAN, STD  # noqa: E402
from .hardware import cpu_cores  # noqa: E402

MEAN_UINT8 = tuple(round(255 * m) for m in MEAN)  # cutout fill, in pixel units


def train_transform(config: Config, normalize: bool = True) -> A.Compose:
    """Pad + random crop, horizontal flip, one mean-filled square hole, then normalise."""
    steps = [
        A.PadIfNeeded(32 + 2 * config.pad, 32 + 2 * config.pad, border_mode=cv2.BORDER_REFLECT_101),
        A.RandomCrop(32, 32),
        A.HorizontalFlip(p=config.flip_p),
    ]
    if config.cutout:
        size = (config.cutout, config.cutout)
        steps.append(A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=size,
                                     hole_width_range=size, fill=MEAN_UINT8, p=config.cutout_p))
    if normalize:
        steps += [A.Normalize(mean=MEAN, std=STD, max_pixel_value=255.0), ToTensorV2()]
    return A.Compose(steps)


def eval_transform() -> A.Compose:
    """Normalise only: the transform of the images the model is evaluated on."""
    return A.Compose([A.Normalize(mean=MEAN, std=STD, max_pixel_value=255.0), ToTensorV2()])


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's randomness: distinct for every (seed, epoch) pair in use."""
    return seed * 1_000_003 + epoch


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one image's augmentation in one epoch."""
    return epoch_seed(seed, epoch) * 2**32 + index


class AugmentedImages(Dataset):
    """pixels uint8 (N, 32, 32, 3) and labels; item `key` = epoch * N + index (see module doc)."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, transform: A.Compose, seed: int = 0):
        self.pixels, self.labels, self.transform, self.seed = pixels, labels, transform, seed

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, int]:
        epoch, index = divmod(int(key), len(self.pixels))
        s = sample_seed(self.seed, epoch, index)
        self.transform.set_random_state(np.random.Generator(np.random.PCG64(s)), random.Random(s))
        return self.transform(image=self.pixels[index])["image"], int(self.labels[index])


class EpochSampler(Sampler[int]):
    """A seeded shuffle per epoch; yields epoch * N + index so workers know the epoch."""

    def __init__(self, size: int, seed: int, shuffle: bool = True):
        self.size, self.seed, self.shuffle, self.epoch = size, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        return iter((order + self.epoch * self.size).tolist())


def resolve_workers(workers: int, device: torch.device) -> int:
    """-1 picks for the device: a GPU wants every spare core augmenting (about 0.2 ms of CPU
    an image), while CPU training needs the cores for the model and one worker keeps up."""
    if workers >= 0:
        return workers
    return max(1, cpu_cores() - 1) if device.type == "cuda" else 1


def _quiet_worker(_: int) -> None:
    torch.set_num_threads(1)  # workers share the cores with the training process


def train_loader(pixels: np.ndarray, labels: np.ndarray, config: Config,
                 device: torch.device, batch_size: int | None = None) -> DataLoader:
    """Shuffled, augmented batches of normalised (B, 3, 32, 32) images made from uint8
    `pixels` (N, 32, 32, 3); call `loader.sampler.set_epoch(e)` before each epoch."""
    dataset = AugmentedImages(pixels, labels, train_transform(config), config.seed)
    return _loader(dataset, EpochSampler(len(dataset), config.seed), batch_size or config.batch_size,
                   config, device, drop_last=len(dataset) > (batch_size or config.batch_size))


def eval_loader(pixels: np.ndarray, labels: np.ndarray, config: Config,
                device: torch.device) -> DataLoader:
    """Normalised test batches of uint8 `pixels` (N, 32, 32, 3), in dataset order."""
    dataset = AugmentedImages(pixels, labels, eval_transform(), config.seed)
    return _loader(dataset, EpochSampler(len(dataset), config.seed, shuffle=False),
                   config.eval_batch_size, config, device, drop_last=False)


def _loader(dataset: Dataset, sampler: Sampler, batch_size: int, config: Config,
            device: torch.device, drop_last: bool) -> DataLoader:
    workers = resolve_workers(config.workers, device)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=workers, persistent_workers=workers > 0,
                      worker_init_fn=_quiet_worker if workers else None,
                      pin_memory=device.type == "cuda", prefetch_factor=4 if workers else None)
