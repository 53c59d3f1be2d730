"""Training throughput, end to end (augmentation included): the kit's loop against the
original submission's loop, timed in one process on the same model, width and batch.

The reference does what the original did: fp32, contiguous (NCHW) memory, albumentations
called image by image in the main process, and every step's loss tensor kept in a list.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from . import augment
from .config import Config
from .data import Cifar10
from .errors import EraskitError
from .gpu_augment import describe_augment, make_train_loader
from .hardware import Precision, resolve_device, use_channels_last
from .model import ResNet18, build_model
from .train import make_train_state, train_epoch


def _pixels(data: Cifar10, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` training pixels (uint8) and labels, the data repeated as often as needed."""
    reps = -(-count // len(data.x_train))
    return np.tile(data.x_train, (reps, 1, 1, 1))[:count], np.tile(data.y_train, reps)[:count]


def time_kit(config: Config, pixels: np.ndarray, labels: np.ndarray, device: torch.device,
             steps: int) -> tuple[float, str]:
    """Images per second of the kit's train_epoch over `steps` batches, after one warm-up
    pass, and where it augmented (see gpu_augment.describe_augment)."""
    model = build_model(config, 10, device)
    loader = make_train_loader(pixels, labels, config, device)
    state = make_train_state(model, config, max_lr=0.01 * config.div_factor,  # a rate of 0.01
                             steps_per_epoch=len(loader), device=device, constant_lr=True)
    loader.sampler.set_epoch(1)
    train_epoch(state, loader, epoch=1, progress=False)  # warm-up: workers, kernels, allocator
    _sync(device)
    start = time.perf_counter()
    loader.sampler.set_epoch(2)
    train_epoch(state, loader, epoch=2, progress=False)
    _sync(device)
    return steps * config.batch_size / (time.perf_counter() - start), describe_augment(loader)


def time_reference(config: Config, pixels: np.ndarray, labels: np.ndarray,
                   device: torch.device, steps: int) -> float:
    """Images per second of the original loop over `steps` batches, after one warm-up step."""
    torch.manual_seed(config.seed)
    model = ResNet18(config.width).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss()
    transform = augment.train_transform(config)
    losses = []  # the original kept every loss tensor alive for the whole run
    batch = config.batch_size
    order = np.random.default_rng(config.seed).permutation(len(pixels))

    def step(k: int) -> None:
        idx = order[(k * batch) % len(pixels):][:batch]
        x = torch.stack([transform(image=pixels[i])["image"] for i in idx]).to(device)
        y = torch.as_tensor(labels[idx]).to(device)
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss)

    model.train()
    step(0)
    _sync(device)
    start = time.perf_counter()
    for k in range(1, steps + 1):
        step(k)
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(config: Config, data: Cifar10, steps: int = 3) -> str:
    """One JSON line: width, batch_size, kit_img_per_s, reference_img_per_s, ratio, ..."""
    if steps < 1:
        raise EraskitError(f"steps must be at least 1, got {steps}")
    device = resolve_device(config.device)
    pixels, labels = _pixels(data, steps * config.batch_size)
    reference = time_reference(config, pixels, labels, device, steps)
    kit, augmented = time_kit(config, pixels, labels, device, steps)
    return json.dumps({
        "width": config.width, "batch_size": config.batch_size, "steps": steps,
        "device": str(device), "kit_precision": str(Precision.choose(device, config.precision)),
        "kit_channels_last": use_channels_last(config, device), "kit_compile": config.compile,
        "kit_augment": augmented,
        "kit_img_per_s": round(kit, 1), "reference_img_per_s": round(reference, 1),
        "ratio": round(kit / reference, 3), "torch": torch.__version__,
        "threads": torch.get_num_threads()})
