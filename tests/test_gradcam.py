import numpy as np
import pytest
import torch

from eraskit.errors import EraskitError
from eraskit.gradcam import (SCALE_NOTE, cam_methods, cam_title, compute_cams, is_empty,
                             overlay, plot_gradcam_gallery, target_layer)
from eraskit.model import ResNet18


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ResNet18(width=8).eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("layer", ["layer3", "layer4"])
@pytest.mark.parametrize("method", sorted(cam_methods()))
def test_cams_are_n_by_32_by_32_in_the_unit_range(model, images, method, layer):
    cams = compute_cams(model, images, [0, 3, 9], layer, method)
    assert cams.shape == (3, 32, 32) and cams.dtype == np.float32
    assert np.isfinite(cams).all() and cams.min() >= 0 and cams.max() <= 1 + 1e-6


def test_the_target_class_changes_the_map(model, images):
    a = compute_cams(model, images[:1], [0], "layer3", "gradcam")
    b = compute_cams(model, images[:1], [7], "layer3", "gradcam")
    assert not np.allclose(a, b)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_cams_work_inside_no_grad_and_inference_mode(model, images, context):
    expected = compute_cams(model, images, [1, 2, 3])
    with context():
        inside = compute_cams(model, images, [1, 2, 3])
        made_inside = images.clone()  # an inference tensor under inference_mode
        again = compute_cams(model, made_inside, [1, 2, 3])
    np.testing.assert_allclose(inside, expected, atol=1e-6)
    np.testing.assert_allclose(again, expected, atol=1e-6)


def test_no_hooks_or_gradients_are_left_behind(model, images):
    compute_cams(model, images, [0, 1, 2])
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    assert not model.training


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 1, 32, 32), (3, 32, 32)])
def test_images_of_another_shape_are_refused(model, shape):
    with pytest.raises(EraskitError, match=r"\(N, 3, 32, 32\)"):
        compute_cams(model, torch.zeros(shape), [0, 0])


def test_one_target_per_image(model, images):
    with pytest.raises(EraskitError, match="one target class per image"):
        compute_cams(model, images, [0, 1])


def test_unknown_method_and_layer(model, images):
    with pytest.raises(EraskitError, match="unknown CAM method 'scorecam'"):
        compute_cams(model, images, [0, 1, 2], method="scorecam")
    with pytest.raises(EraskitError, match="no stage 'layer5'"):
        target_layer(model, "layer5")
    assert target_layer(model, "layer4") is model.layer4[-1]


def test_overlay_is_rgb_in_the_unit_range():
    rgb = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    cam = np.zeros((32, 32), dtype=np.float32)
    cam[:8, :8] = 1
    out = overlay(rgb, cam)
    assert out.shape == (32, 32, 3) and out.min() >= 0 and out.max() <= 1


def test_gallery_titles_use_class_names_and_the_argmax():
    classes = [f"c{i}" for i in range(10)]
    probs = np.full((2, 10), 0.05)
    probs[0, 4], probs[1, 7] = 0.55, 0.55
    probs[0, 1] = 0.1
    labels = np.array([1, 2])
    cams = np.ones((2, 32, 32), dtype=np.float32)
    cams[1] = 0  # the second image's maps are empty
    fig = plot_gradcam_gallery(np.zeros((2, 32, 32, 3), np.float32), cams, cams, labels, probs,
                               classes, per_row=2, title="gradcam at layer3")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["true c1\npred c4", "evidence for c4\n(pred, 55%)",
                      "evidence for c1\n(true, 10%)", "true c2\npred c7",
                      "no positive evidence\nfor c7 (pred, 55%)",
                      "no positive evidence\nfor c2 (true, 5%)"]
    assert fig._suptitle.get_text() == f"gradcam at layer3\n{SCALE_NOTE}"
    assert "own maximum" in SCALE_NOTE


def test_eigencam_panels_do_not_claim_a_class():
    cam = np.ones((32, 32), np.float32)
    assert cam_title("eigencam", "cat", 0.7, cam) == "eigencam: main component\n(ignores the class)"
    assert cam_title("gradcam", "cat", 0.7, cam, "pred, ") == "evidence for cat\n(pred, 70%)"
    assert is_empty(np.zeros((32, 32))) and not is_empty(cam)
    fig = plot_gradcam_gallery(np.zeros((1, 32, 32, 3), np.float32), cam[None], cam[None],
                               np.array([0]), np.full((1, 10), 0.1), [f"c{i}" for i in range(10)],
                               method="eigencam")
    assert not any("evidence for" in ax.get_title() for ax in fig.axes)


def test_the_direct_library_call_equals_compute_cams(model, images):
    """What notebook 05 does by hand: GradCAM on the stage itself, not its last block."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(model=model, target_layers=[model.layer3])
    by_hand = cam(input_tensor=images[:1].clone(), targets=[ClassifierOutputTarget(4)])
    cam.activations_and_grads.release()
    np.testing.assert_allclose(by_hand, compute_cams(model, images[:1], [4]), atol=1e-6)
