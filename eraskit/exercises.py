"""The notebooks' self-checking exercises: a student computes something, and one call says
whether it matches what the kit computes, in one line, right or wrong, never a traceback.

Each exercise is a function of the lesson's objects that returns the expected answer; the
expected value is computed here, so the notebook does not give it away.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

from .augment import eval_transform
from .data import Cifar10
from .lr_finder import steepest_lr
from .metrics import confusion_matrix

# Relative error allowed: float32 rounding is 6e-8, one step of a 100-step sweep over five
# decades 12%, OneCycle's last rate 1/25,000 of its peak; an absolute tolerance would pass 0
# for that last rate. A map or an image is judged against its largest value instead (a pixel
# near 0 is not a quantity of its own); ZERO_ATOL only matters for an all-zero answer.
RTOL, ZERO_ATOL = 1e-3, 1e-12


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


class Exercise(NamedTuple):
    wanted: str  # what the answer is, in the exercise's words
    expected: Callable[..., Any]  # the answer, from the objects the notebook's cell passes
    rates: bool = False  # each number judged against itself (rates span decades)


EXERCISES: dict[str, Exercise] = {
    "brightness_per_class": Exercise("10 numbers in [0, 1], one per class", _brightness_per_class),
    "normalized_image": Exercise("a (3, 32, 32) array", _normalized_image),
    "sweep_rate": Exercise("one rate", _sweep_rate, rates=True),
    "first_and_last_rate": Exercise("two rates: [first, last]", _first_and_last_rate, rates=True),
    "steepest_lr": Exercise("one rate", steepest_lr, rates=True),
    "precision_per_class": Exercise("10 numbers in [0, 1], one per class", _precision_per_class),
    "layer2_map": Exercise("a (32, 32) map in [0, 1]", _layer2_map),
}


class _NotNumbers(Exception):
    """What an answer is instead of numbers, in words ("a dict")."""


def _a(thing: Any) -> str:
    if thing is None:
        return "None"
    kind = {np.ndarray: "numpy array", torch.Tensor: "tensor", str: "string"}.get(
        type(thing), type(thing).__name__)
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _numbers(answer: Any) -> np.ndarray:
    """The answer as float64 numbers of its own shape, or _NotNumbers saying what it is."""
    if isinstance(answer, torch.Tensor):
        if answer.is_meta:
            raise _NotNumbers("a tensor on the meta device, which holds no numbers")
        if answer.dtype == torch.bool or answer.dtype.is_complex:
            raise _NotNumbers(f"a {str(answer.dtype).removeprefix('torch.')} tensor")
        return answer.detach().to("cpu", torch.float64).numpy()
    if isinstance(answer, (str, bytes)):
        shown = f"{str(answer)[:24]!r}{'...' if len(answer) > 24 else ''}"
        raise _NotNumbers(f"a string ({shown}): write the number, without quotes")
    try:
        array = np.asarray(answer)
    except Exception:  # rows of different lengths, tensors numpy cannot read...
        raise _NotNumbers(f"{_a(answer)} that is not a grid of numbers") from None
    kind = array.dtype.kind
    if kind == "O":  # float64 would read "1e-3" and None too: numbers (and tensors) only
        odd = [x for x in array.flat
               if isinstance(x, bool) or not isinstance(x, (numbers.Real, torch.Tensor))]
        if odd:
            raise _NotNumbers(_a(answer) if odd[0] is answer
                              else f"{_a(answer)} holding {_a(odd[0])}")
    elif kind not in "iuf":
        inside = {"b": "True/False values", "U": "strings", "S": "strings",
                  "c": "complex numbers"}.get(kind, array.dtype.name)
        raise _NotNumbers(_a(answer) if array.ndim == 0 and array is not answer
                          else f"{_a(answer)} of {inside}")
    try:
        return array.astype(np.float64)
    except Exception:  # a tensor inside that cannot be read
        raise _NotNumbers(f"{_a(answer)} holding numbers that cannot be read") from None


def _count(given: np.ndarray, answer: Any) -> str:
    if given.ndim == 0:
        return "one number"
    if given.ndim == 1:
        return f"{given.size} number{'s' * (given.size != 1)}"
    return f"{_a(answer)} of shape {given.shape}"


def _where(index: tuple) -> str:
    """An element as the student indexes it: ANSWER, ANSWER[1], ANSWER[0, 4, 7]."""
    return "ANSWER" + (f"[{', '.join(map(str, index))}]" if index else "")


def _first(mask: np.ndarray) -> tuple | None:
    return tuple(np.argwhere(mask)[0]) if mask.any() else None


def _fault(given: np.ndarray, expected: np.ndarray, rates: bool, rtol: float) -> str:
    """What is wrong with `given` (of expected's shape), in words, at its worst element; ""
    when it is right. Rates: the ratio to the kit's; other numbers: the gap, as a share of the
    largest expected value."""
    if (i := _first(np.isnan(expected) & ~np.isnan(given))) is not None:
        return f"{_where(i)} should be NaN (0 / 0: undefined), not {given[i]:.3g}"
    if (i := _first(~np.isfinite(given) & ~np.isnan(expected))) is not None:
        value = "NaN" if np.isnan(given[i]) else given[i]
        return f"{_where(i)} is {value}: not a {'rate' if rates else 'number'}"
    if rates and (i := _first(given <= 0)) is not None:
        return f"{_where(i)} is {given[i]:.3g}: a rate is above 0"
    scale = np.abs(expected) if rates else np.nanmax(np.abs(expected), initial=0)
    off = np.abs(given - expected) > rtol * scale + ZERO_ATOL  # False where both are NaN
    if not off.any():
        return ""
    how_many = f" ({off.sum()} of {off.size} off)" if off.size > 1 else ""
    if rates:
        ratio = given / expected
        i = np.unravel_index(np.argmax(np.abs(np.log(ratio))), ratio.shape)
        times = max(ratio[i], 1 / ratio[i])
        how = (f"{times:.0f}x" if times >= 10 else f"{times:.3g}x" if times >= 1.1
               else f"{times - 1:.2%}")
        return f"{_where(i)} is {how} too {'high' if ratio[i] > 1 else 'low'}{how_many}"
    gap = np.where(np.isnan(expected), 0, np.abs(given - expected))
    i = np.unravel_index(np.argmax(gap), gap.shape)
    share = f", {gap[i] / scale:.1%} of the largest value" if scale else ""
    return f"{_where(i)} is off by {gap[i]:.3g}{share}{how_many}"


def check(name: str, answer: Any, *context: Any, rtol: float = RTOL) -> bool:
    """Print whether `answer` to exercise `name` matches the kit's value (given the lesson's
    objects in `context`), in one line, whatever `answer` is (None: not answered yet); True
    when it does. A rate must be within `rtol` of the kit's, relatively; any other number
    within `rtol` x the largest of the answer's expected values."""
    if name not in EXERCISES:
        print(f"{name}: no such exercise; choose from {', '.join(EXERCISES)}")
        return False
    exercise = EXERCISES[name]
    if answer is None:
        print(f"{name}: not answered yet (replace None with your answer: {exercise.wanted})")
        return False
    try:
        expected = np.asarray(exercise.expected(*context), dtype=np.float64)
    except Exception as err:  # the objects the cell passes were changed: say so, in one line
        print(f"{name}: cannot check with these objects ({type(err).__name__}: {err}); run "
              f"the lesson's cells again")
        return False
    try:
        given = _numbers(answer)
    except _NotNumbers as what:
        print(f"{name}: expected {exercise.wanted}, got {what}")
        return False
    if given.shape != expected.shape:
        print(f"{name}: expected {exercise.wanted}, got {_count(given, answer)}")
        return False
    fault = _fault(given, expected, exercise.rates, rtol)
    dtype = str(getattr(answer, "dtype", "")).removeprefix("torch.")
    if fault and (dtype in ("float16", "bfloat16") or dtype.startswith(("int", "uint"))):
        fault += f"; your answer is {dtype}: compute in float64"
    print(f"{name}: " + (f"not yet: {fault}" if fault else "right"))
    return not fault
