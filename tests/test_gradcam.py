import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from eraskit.errors import EraskitError
from eraskit.gradcam import (SCALE_NOTE, cam_methods, cam_title, compute_cams, is_empty,
                             overlay, plot_gradcam_gallery, record_layer, target_layer)
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
    """What notebook 05 does with the library: GradCAM on the stage itself, not its last
    block, through its public context manager."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=model, target_layers=[model.layer3]) as cam:
        direct = cam(input_tensor=images[:1].clone(), targets=[ClassifierOutputTarget(4)])
    np.testing.assert_allclose(direct, compute_cams(model, images[:1], [4]), atol=1e-6)
    assert all(not m._forward_hooks for m in model.modules())


def cam_by_hand(model, layer, image, class_idx):
    """Notebook 05's section 2, line for line: image (1, 3, 32, 32) -> cam (32, 32) in [0, 1]."""
    with record_layer(layer) as record:
        logits = model(image)
        logits[0, class_idx].backward()
    activations, gradients = record.activations[0], record.gradients[0]
    weights = gradients.mean(dim=(1, 2))
    cam = torch.relu((weights[:, None, None] * activations).sum(dim=0))
    cam = F.interpolate(cam[None, None], size=(32, 32), mode="bilinear",
                        align_corners=False)[0, 0]
    cam = cam - cam.min()
    return (cam / cam.max() if cam.max() > 0 else cam).numpy()


def cam_from_library(model, layer, image, class_idx):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=image, targets=[ClassifierOutputTarget(class_idx)])[0]


@pytest.mark.parametrize("index", range(3))
def test_grad_cam_by_hand_equals_the_library(model, images, index):
    """The library min-max scales at 8x8 and again after cv2.resize, adding 1e-7 to each
    divisor; bilinear upsampling commutes with that scaling, so one scaling after
    F.interpolate gives the same map, up to rounding."""
    peaks = []
    for class_idx in range(10):
        by_hand = cam_by_hand(model, model.layer3, images[index:index + 1], class_idx)
        library = cam_from_library(model, model.layer3, images[index:index + 1], class_idx)
        assert by_hand.shape == (32, 32) and by_hand.min() == 0
        np.testing.assert_allclose(by_hand, library, atol=1e-5, rtol=0)
        peaks.append(float(by_hand.max()))
    assert set(peaks) <= {0.0, 1.0} and peaks.count(1.0) >= 5  # most maps hold some evidence
    assert all(not m._forward_hooks for m in model.modules())


def test_an_all_zero_map_stays_zero_by_hand_as_in_the_library(model, images):
    blind = copy.deepcopy(model)
    with torch.no_grad():
        blind.linear.weight[3] = 0  # class 3's score no longer depends on any activation
    by_hand = cam_by_hand(blind, blind.layer3, images[:1], 3)
    assert not np.isnan(by_hand).any() and (by_hand == 0).all()
    np.testing.assert_array_equal(by_hand, cam_from_library(blind, blind.layer3, images[:1], 3))


def test_record_layer_keeps_the_output_and_its_gradient(model, images):
    with record_layer(model.layer3) as record:
        logits = model(images[:2])
        assert record.gradients is None  # until the backward pass
        logits[:, 5].sum().backward()
    assert record.activations.shape == record.gradients.shape == (2, 32, 8, 8)
    assert not record.activations.requires_grad and not record.gradients.requires_grad
    # layer3 feeds layer4 alone: the gradient it receives is the one that passes through layer4
    out = model.layer3(model.layer2(model.layer1(F.relu(model.bn1(model.conv1(images[:2]))))))
    np.testing.assert_allclose(record.activations, out.detach(), atol=1e-6)
    assert not model.layer3._forward_hooks


def test_record_layer_takes_its_hook_off_after_an_error_and_under_no_grad(model, images):
    with pytest.raises(IndexError), record_layer(model.layer3):
        model(images[:1])[0, 12].backward()
    assert not model.layer3._forward_hooks
    with torch.no_grad(), record_layer(model.layer3) as record:
        model(images[:1])
    assert record.activations.shape == (1, 32, 8, 8) and record.gradients is None
    assert not model.layer3._forward_hooks


def test_a_class_out_of_range_is_refused_not_swallowed(model, images, capsys):
    with pytest.raises(EraskitError, match=r"target class 12 is not one of the model's 10 "
                                           r"classes \(0 \.\. 9\)"):
        compute_cams(model, images[:1], [12])
    anonymous = copy.deepcopy(model)
    anonymous.num_classes = None  # a model that does not say how many classes it has
    with pytest.raises(EraskitError, match="gradcam failed with the IndexError printed above"):
        compute_cams(anonymous, images[:1], [12])
    assert "IndexError" in capsys.readouterr().out  # printed by the library's `with` block
    assert all(not m._forward_hooks for m in anonymous.modules())
