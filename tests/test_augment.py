"""The augmentation's EFFECT on pixels (albumentations 2.x silently ignores 1.x argument names,
so a test of the call alone would pass with augmentation switched off), and its determinism."""

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from eraskit.augment import MEAN_UINT8, AugmentedImages, EpochSampler, resolve_workers
from eraskit.augment import eval_transform, train_loader, train_transform
from eraskit.config import Config
from eraskit.data import MEAN, STD

CPU = torch.device("cpu")


def no_mean_pixel_images(count: int, seed: int = 0) -> np.ndarray:
    """uint8 (N, 32, 32, 3) with values below 100: no pixel can equal the mean (125, 123, 114)."""
    return np.random.default_rng(seed).integers(0, 100, (count, 32, 32, 3), dtype=np.uint8)


def forced(config: Config, flip: float = 0.0, cutout: float = 1.0) -> A.Compose:
    """The training pipeline without normalisation, with the flip and cutout probabilities set."""
    transform = train_transform(config, normalize=False)
    for step in transform.transforms:
        if isinstance(step, A.HorizontalFlip):
            step.p = flip
        if isinstance(step, A.CoarseDropout):
            step.p = cutout
    return transform


def seeded(transform: A.Compose, image: np.ndarray, seed: int) -> np.ndarray:
    return AugmentedImages(image[None], np.zeros(1, dtype=np.int64), transform, seed)[0][0]


@pytest.mark.parametrize("size", [8, 16])
def test_cutout_makes_one_mean_filled_square_of_the_configured_size(size):
    transform = forced(Config(cutout=size))
    for seed, image in enumerate(no_mean_pixel_images(30)):
        out = seeded(transform, image, seed)
        hole = np.all(out == np.array(MEAN_UINT8, dtype=np.uint8), axis=-1)
        ys, xs = np.nonzero(hole)
        assert hole.sum() == size * size
        assert ys.max() - ys.min() + 1 == size and xs.max() - xs.min() + 1 == size


def test_cutout_zero_leaves_no_hole():
    transform = train_transform(Config(cutout=0), normalize=False)
    assert not any(isinstance(t, A.CoarseDropout) for t in transform.transforms)
    for seed, image in enumerate(no_mean_pixel_images(10)):
        out = seeded(transform, image, seed)
        assert not np.all(out == np.array(MEAN_UINT8, dtype=np.uint8), axis=-1).any()


def test_cutout_happens_about_half_the_time():
    transform = train_transform(Config(), normalize=False)
    pixels = no_mean_pixel_images(200)
    holes = sum(np.all(seeded(transform, image, s) == np.array(MEAN_UINT8, np.uint8), -1).any()
                for s, image in enumerate(pixels))
    assert 100 - 4.5 * 7.1 < holes < 100 + 4.5 * 7.1  # binomial(200, 0.5): 4.5 standard deviations


def crop_offset(out: np.ndarray, image: np.ndarray, pad: int) -> tuple[int, int]:
    """Where `out` lies in the reflect-padded image, as (dy, dx) from the centre."""
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    found = [(y - pad, x - pad) for y in range(2 * pad + 1) for x in range(2 * pad + 1)
             if np.array_equal(padded[y:y + 32, x:x + 32], out)]
    assert len(found) == 1, "the output is not a crop of the padded image"
    return found[0]


@pytest.mark.parametrize("pad", [2, 4])
def test_pad_and_crop_shift_by_at_most_pad_pixels(pad):
    transform = forced(Config(pad=pad, cutout=0))
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    offsets = {crop_offset(seeded(transform, image, seed), image, pad) for seed in range(60)}
    assert all(abs(dy) <= pad and abs(dx) <= pad for dy, dx in offsets)
    assert len(offsets) > 10, "the crop hardly moves"
    assert max(abs(dy) for dy, _ in offsets) == pad or max(abs(dx) for _, dx in offsets) == pad


def test_horizontal_flip_happens_about_half_the_time():
    transform = forced(Config(pad=0, cutout=0), flip=0.5)
    image = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    flips = 0
    for seed in range(400):
        out = seeded(transform, image, seed)
        flipped = np.array_equal(out, image[:, ::-1])
        assert flipped or np.array_equal(out, image)
        flips += flipped
    assert 200 - 4.5 * 10 < flips < 200 + 4.5 * 10  # binomial(400, 0.5): 4.5 standard deviations


def test_test_images_are_only_normalised():
    pixels = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    for image in pixels:
        out = eval_transform()(image=image)["image"]
        assert isinstance(out, torch.Tensor) and out.shape == (3, 32, 32)
        expected = ((image / 255.0 - np.array(MEAN)) / np.array(STD)).transpose(2, 0, 1)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_training_images_come_out_normalised_chw():
    dataset = AugmentedImages(no_mean_pixel_images(2), np.array([3, 5]), train_transform(Config()))
    image, label = dataset[1]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32) and label == 5


def test_same_seed_epoch_and_index_give_the_same_image_and_others_differ():
    pixels = no_mean_pixel_images(4)
    dataset = AugmentedImages(pixels, np.zeros(4, dtype=np.int64), train_transform(Config()), 7)
    other_seed = AugmentedImages(pixels, np.zeros(4, dtype=np.int64), train_transform(Config()), 8)
    key = 2 * 4 + 1  # epoch 2, image 1
    assert torch.equal(dataset[key][0], dataset[key][0])
    assert not torch.equal(dataset[key][0], dataset[key + 4][0])  # the same image in epoch 3
    assert not torch.equal(dataset[key][0], other_seed[key][0])


def test_augmentations_differ_between_epochs_for_the_same_index():
    pixels = no_mean_pixel_images(8)
    dataset = AugmentedImages(pixels, np.zeros(8, dtype=np.int64), train_transform(Config()), 1)
    for index in range(8):
        per_epoch = [dataset[epoch * 8 + index][0] for epoch in range(4)]
        assert all(not torch.equal(a, b) for i, a in enumerate(per_epoch)
                   for b in per_epoch[i + 1:])


def test_sampler_shuffles_per_epoch_and_carries_the_epoch():
    sampler = EpochSampler(10, seed=1)
    sampler.set_epoch(3)
    keys = list(sampler)
    assert sorted(keys) == list(range(30, 40)) and keys != sorted(keys)
    assert keys == list(sampler)  # the same epoch, the same order
    sampler.set_epoch(4)
    assert [k - 40 for k in sampler] != [k - 30 for k in keys]
    assert list(EpochSampler(10, seed=1, shuffle=False)) == list(range(10))


def epoch_batches(pixels: np.ndarray, config: Config, epoch: int) -> list[torch.Tensor]:
    loader = train_loader(pixels, np.zeros(len(pixels), dtype=np.int64), config, CPU)
    loader.sampler.set_epoch(epoch)
    return [batch for batch, _ in loader]


@pytest.fixture(scope="module")
def worker_batches():
    """One epoch of 64 copies of one image, loaded with 0 and with 2 worker processes."""
    pixels = np.repeat(no_mean_pixel_images(1), 64, axis=0)
    config = Config(batch_size=8, workers=0, seed=5)
    return (epoch_batches(pixels, config, epoch=2),
            epoch_batches(pixels, config.replace(workers=2), epoch=2))


def test_workers_do_not_repeat_each_others_randomness(worker_batches):
    _, with_workers = worker_batches
    flat = torch.cat(with_workers).flatten(1)
    distinct = len(torch.unique(flat, dim=0))
    assert distinct >= 60, f"only {distinct} different augmentations of 64 copies of one image"
    # Batches alternate between the two workers: none is a copy of another.
    for i in range(len(with_workers) - 1):
        assert not torch.equal(with_workers[i], with_workers[i + 1])


def test_augmentation_does_not_depend_on_the_number_of_workers(worker_batches):
    without_workers, with_workers = worker_batches
    assert len(without_workers) == len(with_workers) == 8
    for a, b in zip(without_workers, with_workers):
        assert torch.equal(a, b)


def test_resolve_workers():
    assert resolve_workers(3, CPU) == 3 and resolve_workers(0, CPU) == 0
    assert resolve_workers(-1, CPU) == 1
    assert resolve_workers(-1, torch.device("cuda")) >= 1


def test_train_loader_drops_a_ragged_last_batch_only_when_it_has_a_full_one():
    pixels = no_mean_pixel_images(20)
    labels = np.zeros(20, dtype=np.int64)
    config = Config(batch_size=8, workers=0)
    assert [len(b) for b, _ in train_loader(pixels, labels, config, CPU)] == [8, 8]
    assert [len(b) for b, _ in train_loader(pixels[:5], labels[:5], config, CPU)] == [5]
