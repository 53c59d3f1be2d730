"""Augmentation on whole batches on the training device: the GPU path.

On a fast GPU the albumentations path runs out of CPU cores first: an H100 fed by 15 workers
waited for augmentation at 12,000 images a second (results/README.md). This path keeps the
uint8 training set on the device and does the same pad + random crop, horizontal flip and
mean-filled hole on whole batches, so the CPU only launches kernels. Its draws follow the same
distributions as the albumentations pipeline (tests/test_gpu_augment.py), not the same
numbers: a run is reproducible within one path.

When the kit uses it (config.gpu_augment = auto): on a CUDA device whose CPU cores are too few
to feed it, as `hardware.batch_augment_reason` decides (its module docstring gives the
measurements). The CPU and notebook 01 keep albumentations. `make_train_loader` makes that
choice for a run.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from . import augment
from .augment import MEAN_UINT8, epoch_seed
from .config import Config
from .data import MEAN, STD
from .hardware import batch_augment_reason


class BatchAugment:
    """pixels uint8 (B, 32, 32, 3) on any device -> augmented images (B, 3, 32, 32) normalised."""

    def __init__(self, config: Config, device: torch.device):
        self.pad, self.cutout = config.pad, config.cutout
        self.flip_p, self.cutout_p = config.flip_p, config.cutout_p
        self.fill = torch.tensor(MEAN_UINT8, device=device).view(1, 3, 1, 1) / 255.0
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)

    def __call__(self, pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 255.0
        n, _, h, w = x.shape
        dev = x.device

        def draw(high: int) -> torch.Tensor:  # n integers in [0, high)
            return torch.randint(0, high, (n,), device=dev, generator=generator)

        if self.pad:  # reflect padding is OpenCV's BORDER_REFLECT_101, as in the CPU path
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
            rows = draw(2 * self.pad + 1)[:, None] + torch.arange(h, device=dev)
            cols = draw(2 * self.pad + 1)[:, None] + torch.arange(w, device=dev)
            x = x.gather(2, rows[:, None, :, None].expand(n, 3, h, x.shape[3]))
            x = x.gather(3, cols[:, None, None, :].expand(n, 3, h, w))
        flip = torch.rand(n, device=dev, generator=generator) < self.flip_p
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if self.cutout:
            s = self.cutout
            top, left = draw(h - s + 1), draw(w - s + 1)
            apply = torch.rand(n, device=dev, generator=generator) < self.cutout_p
            ys, xs = torch.arange(h, device=dev), torch.arange(w, device=dev)
            inside_y = (ys >= top[:, None]) & (ys < top[:, None] + s)
            inside_x = (xs >= left[:, None]) & (xs < left[:, None] + s)
            hole = inside_y[:, :, None] & inside_x[:, None, :] & apply[:, None, None]
            x = torch.where(hole[:, None], self.fill, x)
        return (x - self.mean) / self.std


class DeviceLoader:
    """Training batches cut from a copy of the pixels (uint8) kept on `device`.

    Iterating gives (images (B, 3, 32, 32) normalised, labels (B,)) with the last partial
    batch dropped; the shuffle and the augmentation depend on (seed, epoch) only."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, config: Config,
                 device: torch.device, batch_size: int | None = None):
        self.pixels = torch.from_numpy(pixels).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.batch_size = batch_size or config.batch_size
        self.augment = BatchAugment(config, device)
        self.seed, self.device, self.epoch = config.seed, device, 0
        self.sampler = self  # the training loop calls loader.sampler.set_epoch(e), as for a DataLoader

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, len(self.pixels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(epoch_seed(self.seed, self.epoch))
        order = torch.randperm(len(self.pixels), device=self.device, generator=generator)
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            yield self.augment(self.pixels[idx], generator), self.labels[idx]


def make_train_loader(pixels: np.ndarray, labels: np.ndarray, config: Config,
                      device: torch.device, log: Optional[Callable] = None):
    """A run's augmented training batches: the albumentations DataLoader, or a DeviceLoader
    (gpu_augment on, or auto on a GPU that the CPU cores cannot feed). `log` hears why auto
    chose the latter. Either has .sampler.set_epoch(epoch) and yields (images, labels)."""
    reason = batch_augment_reason(config, device)
    if reason and config.gpu_augment == "auto" and log:
        log(reason)
    if reason:
        return DeviceLoader(pixels, labels, config, device)
    return augment.train_loader(pixels, labels, config, device)


def describe_augment(loader) -> str:
    """Where a training loader augments, for meta.json."""
    if isinstance(loader, DeviceLoader):
        return "whole batches on the device"
    workers = loader.num_workers
    return f"albumentations, {workers} DataLoader worker{'s' * (workers != 1)}"
