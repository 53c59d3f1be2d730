import json

import numpy as np

from eraskit import bench, config
from eraskit.data import CLASSES, Cifar10


def tiny_data(count: int = 32) -> Cifar10:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, count)
    return Cifar10(pixels, labels, pixels[:8], labels[:8], CLASSES, "synthetic")


def test_benchmark_prints_one_json_line_with_the_agreed_keys():
    cfg = config.Config(width=4, batch_size=8, workers=0, device="cpu")
    line = bench.benchmark(cfg, tiny_data(), steps=2)
    result = json.loads(line)
    assert "\n" not in line
    for key in ("width", "batch_size", "kit_img_per_s", "reference_img_per_s", "ratio"):
        assert key in result
    assert result["width"] == 4 and result["batch_size"] == 8
    assert result["kit_img_per_s"] > 0 and result["reference_img_per_s"] > 0
    assert result["steps"] == 2 and result["device"] == "cpu"


def test_the_ratio_is_the_kits_throughput_over_the_references(monkeypatch):
    """Timings made up, so that the ratio has one right value."""
    monkeypatch.setattr(bench, "time_reference", lambda *args: 80.0)
    monkeypatch.setattr(bench, "time_kit", lambda *args: (200.0, "albumentations, 0 workers"))
    cfg = config.Config(width=4, batch_size=8, workers=0, device="cpu")
    result = json.loads(bench.benchmark(cfg, tiny_data(), steps=2))
    assert (result["kit_img_per_s"], result["reference_img_per_s"], result["ratio"]) == (
        200.0, 80.0, 2.5)
    assert result["kit_augment"] == "albumentations, 0 workers"


def test_benchmark_tiles_a_small_data_set_to_fill_the_timed_steps():
    pixels, labels = bench._pixels(tiny_data(5), 12)
    assert pixels.shape == (12, 32, 32, 3) and labels.shape == (12,)
