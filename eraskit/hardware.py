"""The machine a run uses, in one place: which device, which precision runs fast on it, its
name and peak memory for meta.json, and whether its CPU cores can feed a GPU augmentation.

Why augmentation moves to the GPU (config.gpu_augment = auto, `batch_augment_reason`): two
measurements (results/cpu-2026-12-01/augment-throughput.txt). Albumentations delivers about
3,800 images a second per core (2-core AMD EPYC, one DataLoader worker or the main process
alike), and the kit's loop trained at 12,000 images a second on an H100 at width 64
(bench-cuda.jsonl). Every core but the main process's can be a worker, so at most 4 cores
(3 workers, about 11,400 img/s) cannot feed a recent GPU, and Colab's 2 cannot feed even a T4
at width 16 (a T4 trains width 64 at roughly 1,200-1,500 img/s in fp16: an estimate from
public figures, not measured here; narrower networks train several times faster).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Optional

import torch

from .config import Config
from .errors import EraskitError

ALBUMENTATIONS_IMG_PER_S = 3_800  # per CPU core, measured (see the module docstring)
GPU_IMG_PER_S = 12_000  # the kit's loop on an H100 at width 64, measured: what to feed
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    """"auto" picks CUDA, then Apple's MPS, then the CPU; an unavailable device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if not available.get(name, False):
        raise EraskitError(f"device {name!r} is not available here; use --device auto or cpu")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """The device in words, for meta.json and the captions: a GPU's name, or the CPU's threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} CPU, {threads} thread{'s' * (threads > 1)}"


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated, or the process's peak resident memory (nan if unknown)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource  # Unix only
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KiB


def cpu_cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX). Without it, autocast
    emulates bf16 and runs about 9x slower than fp32 (measured on an AVX2 EPYC)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _before_ampere(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] < 8


@dataclass(frozen=True)
class Precision:
    """How the forward pass runs: fp32, bf16 autocast, or fp16 autocast with loss scaling."""

    device_type: str
    dtype: Optional[torch.dtype]  # None = fp32
    note: str = field(default="", compare=False)  # a warning worth one log line, if any

    @classmethod
    def choose(cls, device: torch.device, precision: str = "auto") -> "Precision":
        """The config's precision ("auto", "fp32", "bf16" or "fp16") on `device`.

        auto takes bf16 where the hardware computes it natively (CUDA since Ampere, CPUs with
        AVX512-BF16 or AMX), fp16 on older CUDA cards (a T4), fp32 on MPS and other CPUs. A
        forced choice is kept even where it is slow, with a note saying so."""
        if precision == "auto":
            if device.type == "mps" or (device.type == "cpu" and not cpu_has_bf16()):
                return cls(device.type, None)
            if _before_ampere(device):
                return cls("cuda", torch.float16)  # no native bf16; fp16 needs loss scaling
            return cls(device.type, torch.bfloat16)
        if precision not in DTYPES:
            raise EraskitError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
        note = ""
        if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
            note = ("bf16 forced on a CPU without native bf16 (no AVX512-BF16 or AMX): it is "
                    "emulated, about 9x slower than fp32")
        elif precision == "bf16" and _before_ampere(device):
            note = "bf16 forced on a CUDA card before Ampere: it is emulated and slow"
        return cls(device.type, DTYPES[precision], note)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for fp16, whose gradients would underflow without it; a no-op otherwise."""
        return torch.amp.GradScaler(self.device_type, enabled=self.dtype == torch.float16)

    def __str__(self) -> str:
        return "fp32" if self.dtype is None else f"{str(self.dtype).split('.')[-1]} autocast"


def use_channels_last(config: Config, device: torch.device) -> bool:
    """Whether to train in NHWC memory: as configured, except on a CPU below width 8. There
    oneDNN's weight gradient of the strided 1x1 shortcut with fewer than 8 input channels
    corrupts the heap and kills the process (torch 2.14, AVX2); such tiny widths gain nothing."""
    return config.channels_last and (device.type != "cpu" or config.width >= 8)


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
