"""The notebooks' self-checking exercises: a student computes something, and one call says
whether it matches what the kit computes, in one line, right or wrong, never a traceback.

Each exercise is a function of the lesson's objects that returns the expected answer; the
expected value is computed here, so the notebook does not give it away.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .augment import eval_transform
from .data import Cifar10
from .lr_finder import steepest_lr
from .metrics import confusion_matrix


def _brightness_per_class(data: Cifar10) -> np.ndarray:
    return np.array([data.x_train[data.y_train == c].mean() / 255
                     for c in range(len(data.classes))])


def _normalized_image(data: Cifar10, index: int) -> np.ndarray:
    return eval_transform()(image=data.x_train[index])["image"].numpy()


def _sweep_rate(lrs: list[float], step: int) -> float:
    return lrs[step]


def _first_and_last_rate(rates: np.ndarray) -> np.ndarray:
    return np.array([rates[0], rates[-1]])


def _precision_per_class(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    cm = confusion_matrix(labels, preds, num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / cm.sum(axis=0)


def _layer2_map(model, images, target_class: int) -> np.ndarray:
    from .gradcam import compute_cams

    return compute_cams(model, images, [target_class], "layer2", "gradcam")[0]


# name -> (what the answer is, the function computing it from the objects the cell passes)
EXERCISES: dict[str, tuple[str, Callable[..., Any]]] = {
    "brightness_per_class": ("10 numbers in [0, 1], one per class", _brightness_per_class),
    "normalized_image": ("a (3, 32, 32) array", _normalized_image),
    "sweep_rate": ("one rate", _sweep_rate),
    "first_and_last_rate": ("two rates: [first, last]", _first_and_last_rate),
    "steepest_lr": ("one rate", steepest_lr),
    "precision_per_class": ("10 numbers in [0, 1], one per class", _precision_per_class),
    "layer2_map": ("a (32, 32) map in [0, 1]", _layer2_map),
}


def check(name: str, answer: Any, *context: Any, rtol: float = 1e-3,
          atol: float = 1e-4) -> bool:
    """Print whether `answer` to exercise `name` matches the kit's value (given the lesson's
    objects in `context`), in one line; True when it does. None means not answered yet."""
    if name not in EXERCISES:
        print(f"{name}: no such exercise; choose from {', '.join(EXERCISES)}")
        return False
    wanted, expected_of = EXERCISES[name]
    if answer is None:
        print(f"{name}: not answered yet (replace None with your answer: {wanted})")
        return False
    try:
        expected = np.asarray(expected_of(*context), dtype=np.float64)
    except (IndexError, KeyError) as err:
        print(f"{name}: cannot check here: the lesson's objects lack {err}")
        return False
    try:
        given = np.asarray(answer.detach().cpu() if hasattr(answer, "detach") else answer,
                           dtype=np.float64)
    except (TypeError, ValueError):
        print(f"{name}: expected {wanted}, got {type(answer).__name__}")
        return False
    if given.shape != expected.shape:
        print(f"{name}: expected {wanted} (shape {expected.shape}), got shape {given.shape}")
        return False
    if np.allclose(given, expected, rtol=rtol, atol=atol, equal_nan=True):
        print(f"{name}: right")
        return True
    worst = np.nanmax(np.abs(given - expected)) if np.isfinite(given).any() else float("nan")
    print(f"{name}: not yet; your answer is off by up to {worst:.3g}: look at it again")
    return False
