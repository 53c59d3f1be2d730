"""Grad-CAM (and its relatives) through pytorch-grad-cam, the gallery of test mistakes, and
the hook that records a layer for computing Grad-CAM by hand (notebook 05)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .errors import EraskitError
from .plots import add_caption


CLASS_FREE_METHODS = ("eigencam",)  # their map is the activations' main component: no class
EMPTY = 0.5  # a map scaled to [0, 1] peaks at 1 unless it had no positive value at all
SCALE_NOTE = "each map is scaled to its own maximum: compare where, not how strongly"


def cam_methods() -> dict:
    """Name -> pytorch-grad-cam class, for the methods the kit offers."""
    from pytorch_grad_cam import (EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM,
                                  XGradCAM)
    return {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM,
            "xgradcam": XGradCAM, "layercam": LayerCAM, "eigencam": EigenCAM}


def target_layer(model: nn.Module, layer: str) -> nn.Module:
    """The last block of a ResNet stage ("layer1" .. "layer4")."""
    stage = getattr(model, layer, None)
    if not isinstance(stage, nn.Sequential):
        raise EraskitError(f"the model has no stage {layer!r}; use layer1 .. layer4")
    return stage[-1]


@dataclass
class LayerRecord:
    """What `record_layer` saw of one layer; None until a pass has filled it in."""

    activations: Optional[torch.Tensor] = None  # (N, C, h, w): the output of the last forward
    gradients: Optional[torch.Tensor] = None  # (N, C, h, w): d score / d activations, by backward


@contextmanager
def record_layer(layer: nn.Module) -> Iterator[LayerRecord]:
    """Within the block, record `layer`'s output on each forward pass and, once `.backward()`
    has run, the gradient of the score on that output; the hook comes off on exit, even after
    an error. Both are detached copies, of the output's shape (N, C, h, w)."""
    record = LayerRecord()

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        record.activations = output.detach()
        # A hook on the output tensor rather than a module backward hook: it receives exactly
        # d score / d output (pytorch-grad-cam records its gradients the same way).
        if output.requires_grad:  # under no_grad there will be no backward pass to record
            output.register_hook(lambda grad: setattr(record, "gradients", grad.detach()))

    handle = layer.register_forward_hook(keep)
    try:
        yield record
    finally:
        handle.remove()


def compute_cams(model: nn.Module, images: torch.Tensor, target_classes: Sequence[int],
                 layer: str = "layer3", method: str = "gradcam") -> np.ndarray:
    """Class activation maps: images (N, 3, 32, 32) normalised -> cam (N, 32, 32) in [0, 1].

    target_classes[i] is the class whose evidence map is drawn for image i.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    methods = cam_methods()
    if method not in methods:
        raise EraskitError(f"unknown CAM method {method!r}; choose from {', '.join(methods)}")
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, 32, 32):
        raise EraskitError(f"Grad-CAM needs normalised (N, 3, 32, 32) images, "
                           f"got {tuple(images.shape)}")
    if len(target_classes) != len(images):
        raise EraskitError("give one target class per image")
    num_classes = getattr(model, "num_classes", None)
    wrong = [int(c) for c in target_classes if num_classes and not 0 <= int(c) < num_classes]
    if wrong:
        raise EraskitError(f"target class {wrong[0]} is not one of the model's {num_classes} "
                           f"classes (0 .. {num_classes - 1})")
    model.eval()
    device = next(model.parameters()).device
    maps = None
    # Gradients are the method, even in an inference notebook. enable_grad alone does not
    # leave inference_mode, and images made under it cannot be saved for backward: clone.
    with (torch.inference_mode(False), torch.enable_grad(),
          methods[method](model=model, target_layers=[target_layer(model, layer)]) as cam):
        maps = cam(input_tensor=images.to(device).clone(),
                   targets=[ClassifierOutputTarget(int(c)) for c in target_classes])
    if maps is None:  # the library's `with` prints an IndexError and swallows it
        raise EraskitError(f"{method} failed with the IndexError printed above")
    return np.asarray(maps, dtype=np.float32)


def is_empty(cam: np.ndarray) -> bool:
    """Whether a map (H, W) in [0, 1] is all zero: nothing in the layer raised the class score
    ("no positive evidence"), which the heat map would show as plain blue."""
    return float(np.max(cam)) < EMPTY


def cam_title(method: str, class_name: str, prob: float, cam: np.ndarray,
              role: str = "") -> str:
    """A map's panel title: "evidence for cat (pred, 71%)"; methods that ignore the target
    class say so instead, and an all-zero map says "no positive evidence"."""
    if method in CLASS_FREE_METHODS:
        return f"{method}: main component\n(ignores the class)"
    if is_empty(cam):
        return f"no positive evidence\nfor {class_name} ({role}{prob:.0%})"
    return f"evidence for {class_name}\n({role}{prob:.0%})"


def overlay(rgb: np.ndarray, cam: np.ndarray, image_weight: float = 0.5) -> np.ndarray:
    """rgb (H, W, 3) in [0, 1] with the cam (H, W) drawn over it as a heat map, in [0, 1]."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    return show_cam_on_image(rgb.astype(np.float32), cam, use_rgb=True,
                             image_weight=image_weight).astype(np.float32) / 255.0


def plot_gradcam_gallery(rgb: np.ndarray, cams_pred: np.ndarray, cams_true: np.ndarray,
                         labels: np.ndarray, probs: np.ndarray, classes: Sequence[str],
                         per_row: int = 2, caption: Optional[str] = None,
                         title: Optional[str] = None, method: str = "gradcam") -> plt.Figure:
    """Each example as three panels: the image, the CAM of the predicted class, the CAM of
    the true class. rgb (N, H, W, 3), cams (N, H, W), labels (N,), probs (N, C). Each map is
    scaled to its own maximum (the title says so); `method` names what the maps show."""
    preds = probs.argmax(axis=1)
    rows = int(np.ceil(len(rgb) / per_row))
    fig, axes = plt.subplots(rows, 3 * per_row, figsize=(2.1 * 3 * per_row, 2.75 * rows + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(len(rgb)):
        r, c = divmod(i, per_row)
        p, t = preds[i], labels[i]
        panels = ((rgb[i], f"true {classes[t]}\npred {classes[p]}"),
                  (overlay(rgb[i], cams_pred[i]),
                   cam_title(method, classes[p], probs[i, p], cams_pred[i], "pred, ")),
                  (overlay(rgb[i], cams_true[i]),
                   cam_title(method, classes[t], probs[i, t], cams_true[i], "true, ")))
        for k, (image, text) in enumerate(panels):
            axes[r, 3 * c + k].imshow(image)
            axes[r, 3 * c + k].set_title(text, fontsize=9)
    fig.suptitle(f"{title}\n{SCALE_NOTE}" if title else SCALE_NOTE, fontsize=10)
    fig.tight_layout()
    return add_caption(fig, caption)
