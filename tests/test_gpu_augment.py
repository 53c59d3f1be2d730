"""The batch (GPU) augmentation path draws from the same distributions as albumentations."""

import numpy as np
import pytest
import torch

from eraskit import augment
from eraskit.config import Config
from eraskit.data import MEAN, STD
from eraskit.gpu_augment import DeviceLoader

N = 2000  # draws per path
CPU = torch.device("cpu")


def coded_image() -> np.ndarray:
    """Red encodes the row, green the column: a pixel says where it came from."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    return np.stack([rows * 6, cols * 6, np.full_like(rows, 100)], axis=-1).astype(np.uint8)


def albumentations_draws(image: np.ndarray, config: Config) -> np.ndarray:
    """N augmented uint8 (32, 32, 3) copies of `image` from the DataLoader path."""
    dataset = augment.AugmentedImages(np.repeat(image[None], N, axis=0), np.zeros(N, np.int64),
                                      augment.train_transform(config, normalize=False), seed=3)
    return np.stack([dataset[i][0] for i in range(N)])


def batch_draws(image: np.ndarray, config: Config) -> np.ndarray:
    """N augmented uint8 (32, 32, 3) copies of `image` from the batch path, denormalised."""
    loader = DeviceLoader(np.repeat(image[None], N, axis=0), np.zeros(N, np.int64), config, CPU,
                          batch_size=500)
    x = torch.cat([images for images, _ in loader])
    pixels = (x * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)) * 255
    return pixels.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def crop_offsets_and_flips(draws: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # The centre pixel is never reflected: its codes give the crop offset directly.
    flipped = draws[:, 16, 17, 1].astype(int) < draws[:, 16, 16, 1].astype(int)
    top = draws[:, 16, 16, 0] // 6 - 16 + pad
    left = draws[:, 16, 16, 1] // 6 - np.where(flipped, 15, 16) + pad
    return top, left, flipped


@pytest.mark.parametrize("draw", [albumentations_draws, batch_draws])
def test_crop_offsets_are_uniform_and_flips_happen_half_the_time(draw):
    config = Config(cutout=0, pad=4)
    top, left, flipped = crop_offsets_and_flips(draw(coded_image(), config), config.pad)
    for offsets in (top, left):
        counts = np.bincount(offsets, minlength=9)
        assert len(counts) == 9 and offsets.min() >= 0
        assert np.all(np.abs(counts - N / 9) < 0.3 * N / 9)  # about 5 standard deviations
    assert 0.45 < flipped.mean() < 0.55


def test_both_paths_draw_the_same_crop_distribution():
    config = Config(cutout=0, pad=4)
    hist = [np.bincount(crop_offsets_and_flips(draw(coded_image(), config), 4)[0], minlength=9) / N
            for draw in (albumentations_draws, batch_draws)]
    assert 0.5 * np.abs(hist[0] - hist[1]).sum() < 0.06  # total variation distance


@pytest.mark.parametrize("draw", [albumentations_draws, batch_draws])
def test_one_square_hole_of_the_mean_colour_half_the_time(draw):
    config = Config(pad=0, cutout=16)
    image = np.full((32, 32, 3), 200, np.uint8)
    draws = draw(image, config)
    holes = np.all(np.abs(draws.astype(int) - augment.MEAN_UINT8) <= 1, axis=-1)
    sizes = holes.sum(axis=(1, 2))
    assert set(np.unique(sizes)) <= {0, 16 * 16}
    assert 0.45 < (sizes > 0).mean() < 0.55
    tops = [np.flatnonzero(h.any(axis=1))[0] for h in holes if h.any()]
    assert min(tops) == 0 and max(tops) == 16  # anywhere fully inside the image


def test_device_loader_is_reproducible_per_epoch_and_differs_between_epochs():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    loader = DeviceLoader(pixels, np.arange(64) % 10, Config(), CPU, batch_size=16)
    assert len(loader) == 4

    def epoch(e):
        loader.sampler.set_epoch(e)
        return torch.cat([x for x, _ in loader])

    assert torch.equal(epoch(1), epoch(1))
    assert not torch.equal(epoch(1), epoch(2))


def test_a_run_trains_with_the_batch_path(tmp_path):
    from eraskit import training_run
    from helpers import synthetic_cifar, tiny_config

    config = tiny_config(gpu_augment="on")
    run = training_run.fit(config, synthetic_cifar(), tmp_path / "run", progress=False,
                       log=lambda *_: None)
    assert [row["epoch"] for row in run.history] == [1, 2, 3]
    assert run.config.gpu_augment == "on" and run.paths.predictions.is_file()
    assert run.meta.augment == "whole batches on the device"
