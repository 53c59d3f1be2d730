"""Augmentation on whole batches on the training device: the GPU path.

On a fast GPU the albumentations path runs out of CPU cores first: an H100 fed by 15 workers
waited for augmentation at 12,000 images a second (results/README.md). This path keeps the
uint8 training set on the device and does the same pad + random crop, horizontal flip and
mean-filled hole on whole batches, so the CPU only launches kernels. Its draws follow the same
distributions as the albumentations pipeline (tests/test_gpu_augment.py), not the same
numbers: a run is reproducible within one path.

When the kit uses it (config.gpu_augment = auto; see `batch_augment_reason`): on a CUDA device
whose CPU cores are too few to feed it. The rule comes from two measurements
(results/cpu-2026-12-01/augment-throughput.txt): albumentations delivers about 3,800 images a
second per core (2-core AMD EPYC, one DataLoader worker or the main process alike), and the
kit's loop trained at 12,000 images a second on an H100 at width 64 (bench-cuda.jsonl). Every
core but the main process's can be a worker, so at most 4 cores (3 workers, about 11,400 img/s)
cannot feed a recent GPU, and Colab's 2 cannot feed even a T4 at width 16 (a T4 trains width 64
at roughly 1,200-1,500 img/s in fp16: an estimate from public figures, not measured here;
narrower networks train several times faster). The CPU and notebook 01 keep albumentations.
"""

from __future__ import annotations

import os
from typing import Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .augment import CUTOUT_P, FLIP_P, MEAN_UINT8, epoch_seed
from .config import Config
from .data import MEAN, STD

ALBUMENTATIONS_IMG_PER_S = 3_800  # per CPU core, measured (see the module docstring)
GPU_IMG_PER_S = 12_000  # the kit's loop on an H100 at width 64, measured: what to feed


def cpu_cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def batch_augment_reason(config: Config, device: torch.device,
                         cores: Optional[int] = None) -> str:
    """Why training augments whole batches on the device, or "" when it uses albumentations.

    on and off are followed as given; auto turns it on for a CUDA device when the DataLoader
    workers (at most one per core but the main process's) deliver fewer images a second than
    a recent GPU trains, which is the case with 4 cores or fewer (see the module docstring)."""
    if config.gpu_augment == "on":
        return "gpu_augment on"
    if config.gpu_augment == "off" or device.type != "cuda":
        return ""
    cores = cores or cpu_cores()
    workers = config.workers if config.workers >= 0 else cores - 1  # as resolve_workers does
    feeders = max(1, min(workers, cores - 1))
    supply = feeders * ALBUMENTATIONS_IMG_PER_S
    if supply >= GPU_IMG_PER_S:
        return ""
    return (f"augmenting whole batches on the GPU: {cores} CPU core{'s' * (cores > 1)} "
            f"augment about {supply:,} images/s with albumentations, too few to feed it "
            f"(--gpu-augment off to keep albumentations)")


class BatchAugment:
    """uint8 (B, 32, 32, 3) images on any device -> augmented, normalised (B, 3, 32, 32)."""

    def __init__(self, config: Config, device: torch.device):
        self.pad, self.cutout = config.pad, config.cutout
        self.fill = torch.tensor(MEAN_UINT8, device=device).view(1, 3, 1, 1) / 255.0
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
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
        flip = torch.rand(n, device=dev, generator=generator) < FLIP_P
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if self.cutout:
            s = self.cutout
            top, left = draw(h - s + 1), draw(w - s + 1)
            apply = torch.rand(n, device=dev, generator=generator) < CUTOUT_P
            ys, xs = torch.arange(h, device=dev), torch.arange(w, device=dev)
            inside_y = (ys >= top[:, None]) & (ys < top[:, None] + s)
            inside_x = (xs >= left[:, None]) & (xs < left[:, None] + s)
            hole = inside_y[:, :, None] & inside_x[:, None, :] & apply[:, None, None]
            x = torch.where(hole[:, None], self.fill, x)
        return (x - self.mean) / self.std


class DeviceLoader:
    """Training batches cut from a uint8 copy of the data kept on `device`.

    Iterating gives (images (B, 3, 32, 32) normalised, labels (B,)) with the last partial
    batch dropped; the shuffle and the augmentation depend on (seed, epoch) only."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, config: Config,
                 device: torch.device, batch_size: int | None = None):
        self.images = torch.from_numpy(images).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.batch_size = batch_size or config.batch_size
        self.augment = BatchAugment(config, device)
        self.seed, self.device, self.epoch = config.seed, device, 0
        self.sampler = self  # the training loop calls loader.sampler.set_epoch(e), as for a DataLoader

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, len(self.images) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(epoch_seed(self.seed, self.epoch))
        order = torch.randperm(len(self.images), device=self.device, generator=generator)
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            yield self.augment(self.images[idx], generator), self.labels[idx]
