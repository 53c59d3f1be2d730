"""Grad-CAM can be trusted on a task whose answer we know: the class is decided by a small
coloured patch at a random place, so a faithful map must peak on the patch."""

import numpy as np
import pytest
import torch

from eraskit.gradcam import compute_cams
from eraskit.model import ResNet18
from eraskit.sanity import faithfulness, randomization_check, spearman

PATCH = 6  # pixels


def patch_task(count: int, seed: int):
    """Noise images with one PATCH x PATCH square: red for class 0, blue for class 1.
    Returns images (N, 3, 32, 32), labels (N,), and each patch's top-left corner (N, 2)."""
    g = torch.Generator().manual_seed(seed)
    images = 0.5 * torch.randn(count, 3, 32, 32, generator=g)
    labels = torch.randint(0, 2, (count,), generator=g)
    corners = torch.randint(0, 32 - PATCH + 1, (count, 2), generator=g)
    for i, (y, x) in enumerate(corners.tolist()):
        channel = 0 if labels[i] == 0 else 2
        images[i, channel, y:y + PATCH, x:x + PATCH] += 3.0
    return images, labels, corners


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = ResNet18(width=4, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(60):
        images, labels, _ = patch_task(32, seed=step)
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    images, labels, corners = patch_task(64, seed=10_000)
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.95, "the patch task should be learned almost perfectly"
    return model, images, labels, corners


def test_cam_peaks_on_the_patch_far_more_often_than_chance(trained):
    model, images, labels, corners = trained
    cams = compute_cams(model, images, labels.tolist(), layer="layer3")
    margin = 2  # the 8x8 map is upsampled to 32x32: allow its blur a little room
    hits = 0
    for cam, (y, x) in zip(cams, corners.tolist()):
        py, px = np.unravel_index(cam.argmax(), cam.shape)
        hits += (y - margin <= py < y + PATCH + margin) and (x - margin <= px < x + PATCH + margin)
    chance = (PATCH + 2 * margin) ** 2 / 32**2  # about 10%
    assert hits / len(cams) > 3 * chance  # measured: 56% against 10% by chance


def test_trained_maps_differ_from_a_random_network(trained):
    model, images, labels, _ = trained
    check = randomization_check(model, images[:16], labels[:16].tolist(), layer="layer3")
    # rho = 1 would mean the maps ignore what was learned. A random network's maps follow
    # colour and texture, not the patch, so the two should be at most weakly related.
    assert check["mean_spearman"] < 0.5
    assert check["cams_trained"].shape == check["cams_random"].shape == (16, 32, 32)


def test_cams_are_more_faithful_than_random_maps(trained):
    model, images, labels, _ = trained
    scores = faithfulness(model, images[:8], labels[:8].tolist(), layers=("layer3",),
                          percentiles=(50,))
    assert scores["layer3"] > scores["random_maps"]


def test_spearman_of_identical_and_reversed_maps():
    a = np.arange(16.0).reshape(4, 4)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones_like(a)) == 0.0  # a constant map has no ranking
