"""The machine a run uses: device, precision, its description, and whether the CPU cores can
feed a GPU augmentation."""

import math

import pytest
import torch

from eraskit import hardware
from eraskit.config import Config
from eraskit.errors import EraskitError
from eraskit.hardware import Precision

CPU = torch.device("cpu")


def test_precision_falls_back_to_fp32_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: False)
    chosen = Precision.choose(CPU, "auto")
    assert chosen.dtype is None and str(chosen) == "fp32" and not chosen.note
    assert not chosen.grad_scaler().is_enabled()


def test_precision_uses_bf16_on_a_cpu_that_has_it_and_fp32_when_asked(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: True)
    assert Precision.choose(CPU, "auto").dtype == torch.bfloat16
    assert Precision.choose(CPU, "fp32").dtype is None
    assert Precision.choose(torch.device("mps"), "auto").dtype is None


def test_forced_precisions_are_kept_and_emulated_bf16_says_it_is_slow(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: False)
    bf16 = Precision.choose(CPU, "bf16")
    assert bf16.dtype == torch.bfloat16 and "9x slower" in bf16.note and "\n" not in bf16.note
    fp16 = Precision.choose(CPU, "fp16")
    assert fp16.dtype == torch.float16 and str(fp16) == "float16 autocast" and not fp16.note
    assert fp16.grad_scaler().is_enabled() and not bf16.grad_scaler().is_enabled()
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: True)
    assert not Precision.choose(CPU, "bf16").note
    with pytest.raises(EraskitError, match="precision must be"):
        Precision.choose(CPU, "fp8")


def test_resolve_device():
    assert hardware.resolve_device("cpu") == CPU
    assert hardware.resolve_device("auto").type in ("cpu", "cuda", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_an_unavailable_device_is_a_clear_error():
    with pytest.raises(EraskitError, match="device 'cuda' is not available.*--device"):
        hardware.resolve_device("cuda")


CUDA = torch.device("cuda")


@pytest.mark.parametrize("cores, expected", [(2, True), (4, True), (5, False), (16, False)])
def test_auto_augments_on_a_gpu_only_when_the_cores_are_too_few(cores, expected):
    reason = hardware.batch_augment_reason(Config(), CUDA, cores=cores)
    assert bool(reason) is expected
    if expected:
        assert f"{cores} CPU cores" in reason and "--gpu-augment off" in reason
    assert hardware.batch_augment_reason(Config(), CPU, cores=cores) == ""


def test_on_and_off_are_followed_on_any_device():
    for device in (CPU, CUDA):
        assert hardware.batch_augment_reason(Config(gpu_augment="on"), device, cores=16)
        assert not hardware.batch_augment_reason(Config(gpu_augment="off"), device, cores=2)
    # one configured worker cannot feed a GPU, however many cores there are
    assert hardware.batch_augment_reason(Config(workers=1), CUDA, cores=16)


def test_the_threshold_follows_the_measured_rates():
    """3 workers at the measured per-core rate fall short of the measured GPU rate, 4 do not."""
    rate, need = hardware.ALBUMENTATIONS_IMG_PER_S, hardware.GPU_IMG_PER_S
    assert 3 * rate < need <= 4 * rate


def test_the_device_is_described_in_words():
    described = hardware.describe_device(CPU)
    threads = torch.get_num_threads()
    assert described.endswith(f"CPU, {threads} thread{'s' * (threads > 1)}")


def test_peak_memory_is_a_positive_number_of_megabytes_on_a_cpu():
    peak = hardware.peak_memory_mb(CPU)
    assert math.isnan(peak) or 1 < peak < 1e6


def test_channels_last_is_kept_off_for_tiny_widths_on_a_cpu():
    assert hardware.use_channels_last(Config(width=8, channels_last=True), CPU)
    assert not hardware.use_channels_last(Config(width=4, channels_last=True), CPU)
    assert hardware.use_channels_last(Config(width=4, channels_last=True), torch.device("cuda"))
    assert not hardware.use_channels_last(Config(width=64, channels_last=False), CPU)
