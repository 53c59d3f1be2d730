"""exercises.check on the answers students hand in: right ones pass in any numeric type, and
every wrong one (a neighbouring rate, 0 for a tiny rate, NaN, a string, a dict, a tensor numpy
cannot read...) gets one line saying what is wrong, never a traceback. The rates come from the
presets' own sweeps and schedules, at their real lengths."""

import re

import numpy as np
import pytest
import torch

from eraskit import exercises, lr_finder, train
from eraskit.config import CIFAR10_SIZES, preset, steps_per_epoch
from eraskit.data import MEAN, STD

# The settings notebooks/conftest.py runs the notebooks with (a 20-step sweep).
NOTEBOOKS = dict(epochs=1, width=8, subset=1000, test_subset=500, batch_size=128, lr_iters=20)
# (preset, overrides, the range test's length that lr_finder.sweep_steps gives it)
SWEEPS = {"full": ("full", {}, 100), "cpu": ("cpu", {}, 100), "smoke": ("smoke", {}, 23),
          "notebooks": ("full", NOTEBOOKS, 20)}
PEAK = 0.2  # a typical peak rate: OneCycle then ends at 0.2 / 25 / 1000 = 8e-6


def config_of(case: str):
    name, overrides, _ = SWEEPS[case]
    config = preset(name, **overrides)
    return config, steps_per_epoch(config, config.subset or CIFAR10_SIZES[0])


def sweep(case: str) -> list[float]:
    """The rates of the case's LR range test, as torch-lr-finder's scheduler sets them."""
    from torch_lr_finder.lr_finder import ExponentialLR

    config, per_epoch = config_of(case)
    start, end = lr_finder.sweep_range(config)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=start)
    scheduler = ExponentialLR(optimizer, end, lr_finder.sweep_steps(config, per_epoch))
    lrs = []
    for _ in range(scheduler.num_iter):
        lrs.append(scheduler.get_lr()[0])  # what LRFinder.range_test records
        optimizer.step()
        scheduler.step()
    return lrs


def one_line(capsys) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return out.rstrip("\n")


# Ways to hand in a right number (a rate, or two): a float, float32, tensors, an object array.
RIGHT_FORMS = {"float": lambda x: x, "float32": np.float32, "tensor": torch.tensor,
               "float32 tensor": lambda x: torch.tensor(x, dtype=torch.float32),
               "object array": lambda x: np.array(x, dtype=object),
               "list": lambda x: np.asarray(x).tolist()}
# Wrong answers of any exercise made from the right one, with the line each must get after
# "name: " ({wanted} is what the exercise asks for).
WRONG_FORMS = {
    "NaN": (lambda x: np.full(np.shape(x), np.nan), r"not yet: ANSWER(\[0\])? is NaN: not a rate"),
    "inf": (lambda x: np.full(np.shape(x), np.inf), r"not yet: ANSWER(\[0\])? is inf: not a rate"),
    "string": (lambda x: str(x), r"expected {wanted}, got a string \('.*'\): write the number, "
                                 r"without quotes"),
    "dict": (lambda x: {"answer": x}, r"expected {wanted}, got a dict"),
    "nested list": (lambda x: [[x]], r"expected {wanted}, got a list of shape \(1, 1(, 2)?\)"),
    "ragged list": (lambda x: [[x], [x, x]], r"expected {wanted}, got a list that is not a grid "
                                             r"of numbers"),
    "int64 tensor": (lambda x: torch.tensor(x).long(),
                     r"not yet: ANSWER(\[0\])? is 0: a rate is above 0; your answer is int64: "
                     r"compute in float64"),
    "meta tensor": (lambda x: torch.tensor(x, device="meta"),
                    r"expected {wanted}, got a tensor on the meta device, which holds no numbers"),
    "object array of strings": (lambda x: np.array(np.asarray(x).astype(str), dtype=object),
                                r"expected {wanted}, got a numpy array holding a string"),
    "bool tensor": (lambda x: torch.tensor(x) > 0, r"expected {wanted}, got a bool tensor"),
}


@pytest.mark.parametrize("case", SWEEPS)
def test_the_presets_sweeps_have_their_real_lengths(case):
    assert len(sweep(case)) == SWEEPS[case][2]


@pytest.mark.parametrize("form", RIGHT_FORMS)
@pytest.mark.parametrize("case", SWEEPS)
def test_the_rate_computed_from_the_sweeps_ends_is_right(case, form, capsys):
    lrs = sweep(case)
    right = lrs[0] * (lrs[-1] / lrs[0]) ** (9 / (len(lrs) - 1))
    assert exercises.check("sweep_rate", RIGHT_FORMS[form](right), lrs, 9) is True
    assert one_line(capsys) == "sweep_rate: right"


@pytest.mark.parametrize("step, direction", [(8, "low"), (10, "high")])
@pytest.mark.parametrize("case", SWEEPS)
def test_a_neighbouring_sweep_rate_is_wrong_by_one_steps_factor(case, step, direction, capsys):
    lrs = sweep(case)
    assert exercises.check("sweep_rate", lrs[step], lrs, 9) is False
    factor = (lrs[-1] / lrs[0]) ** (1 / (len(lrs) - 1))  # 1.12 for 100 steps, 1.83 for 20
    assert one_line(capsys) == f"sweep_rate: not yet: ANSWER is {factor:.3g}x too {direction}"


@pytest.mark.parametrize("form", WRONG_FORMS)
@pytest.mark.parametrize("case", SWEEPS)
def test_a_wrong_kind_of_rate_gets_one_line(case, form, capsys):
    lrs = sweep(case)
    make, line = WRONG_FORMS[form]
    assert exercises.check("sweep_rate", make(lrs[9]), lrs, 9) is False
    assert re.fullmatch("sweep_rate: " + line.format(wanted="one rate"), one_line(capsys))


def schedule_ends(case: str) -> tuple[np.ndarray, list[float]]:
    """The case's OneCycle schedule at PEAK, and its [first, last] rate from the config."""
    config, per_epoch = config_of(case)
    first = PEAK / config.div_factor
    return train.lr_schedule(config, PEAK, per_epoch), [first, first / config.final_div_factor]


@pytest.mark.parametrize("form", [*RIGHT_FORMS, "tuple"])
@pytest.mark.parametrize("case", SWEEPS)
def test_the_schedules_ends_worked_out_are_right(case, form, capsys):
    rates, ends = schedule_ends(case)
    answer = tuple(ends) if form == "tuple" else RIGHT_FORMS[form](ends)
    assert exercises.check("first_and_last_rate", answer, rates) is True
    assert one_line(capsys) == "first_and_last_rate: right"


WRONG_ENDS = {  # a mistake with the two rates, made from [first, last], and its line
    "last is 0": (lambda f, l: [f, 0.0], r"ANSWER\[1\] is 0: a rate is above 0"),
    "last is NaN": (lambda f, l: [f, np.nan], r"ANSWER\[1\] is NaN: not a rate"),
    "last is inf": (lambda f, l: [f, np.inf], r"ANSWER\[1\] is inf: not a rate"),
    "swapped": (lambda f, l: [l, f], r"ANSWER\[0\] is 1000x too low \(2 of 2 off\)"),
    "without div_factor": (lambda f, l: [f, l * 25], r"ANSWER\[1\] is 25x too high \(1 of 2 "
                                                     r"off\)"),
    "bfloat16": (lambda f, l: torch.tensor([f, l], dtype=torch.bfloat16),
                 r"ANSWER\[\d\] is 0\.\d\d% too (high|low) \(\d of 2 off\); your answer is "
                 r"bfloat16: compute in float64"),
}


@pytest.mark.parametrize("mistake", WRONG_ENDS)
@pytest.mark.parametrize("case", SWEEPS)
def test_wrong_ends_of_the_schedule_say_which_and_how_far(case, mistake, capsys):
    rates, ends = schedule_ends(case)
    make, line = WRONG_ENDS[mistake]
    assert exercises.check("first_and_last_rate", make(*ends), rates) is False
    assert re.fullmatch("first_and_last_rate: not yet: " + line, one_line(capsys))


@pytest.mark.parametrize("form", WRONG_FORMS)
def test_a_wrong_kind_of_pair_gets_one_line(form, capsys):
    rates, ends = schedule_ends("full")
    make, line = WRONG_FORMS[form]
    assert exercises.check("first_and_last_rate", make(ends), rates) is False
    wanted = re.escape("two rates: [first, last]")
    assert re.fullmatch("first_and_last_rate: " + line.format(wanted=wanted), one_line(capsys))


def test_an_image_is_judged_against_its_largest_value(data, capsys):
    image = data.x_train[3]
    normalised = ((image / 255 - np.array(MEAN)) / np.array(STD)).transpose(2, 0, 1)
    by_torch = ((torch.tensor(image, dtype=torch.float32) / 255 - torch.tensor(MEAN))
                / torch.tensor(STD)).permute(2, 0, 1)
    assert exercises.check("normalized_image", by_torch, data, 3) is True
    wrong = normalised.copy()
    wrong[1, 4, 5] += 0.05
    assert exercises.check("normalized_image", wrong, data, 3) is False
    nan = normalised.copy()
    nan[2, 0, 0] = np.nan
    assert exercises.check("normalized_image", nan, data, 3) is False
    assert exercises.check("normalized_image", normalised[None], data, 3) is False
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "normalized_image: right"
    assert re.fullmatch(r"normalized_image: not yet: ANSWER\[1, 4, 5\] is off by 0.05, "
                        r"\d\.\d% of the largest value \(1 of 3072 off\)", lines[1])
    assert lines[2] == "normalized_image: not yet: ANSWER[2, 0, 0] is NaN: not a number"
    assert lines[3] == ("normalized_image: expected a (3, 32, 32) array, got a numpy array of "
                        "shape (1, 3, 32, 32)")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_an_undefined_precision_must_be_nan(capsys):
    labels, preds = np.array([0, 1, 1, 2]), np.array([0, 1, 0, 0])  # class 2 never predicted
    precision = np.array([1 / 3, 1, np.nan] + [np.nan] * 7)
    assert exercises.check("precision_per_class", precision, labels, preds, 10) is True
    assert exercises.check("precision_per_class", np.nan_to_num(precision), labels, preds,
                           10) is False
    assert capsys.readouterr().out.splitlines() == [
        "precision_per_class: right",
        "precision_per_class: not yet: ANSWER[2] should be NaN (0 / 0: undefined), not 0"]


def test_check_says_not_answered_unknown_and_unusable_objects_in_one_line(data, capsys):
    assert exercises.check("brightness_per_class", None, data) is False
    assert exercises.check("no_such_exercise", 1) is False
    assert exercises.check("sweep_rate", 1e-3, [1e-4, 1e-3], 9) is False  # a list too short
    assert exercises.check("brightness_per_class", [0.5] * 3, data) is False
    assert capsys.readouterr().out.splitlines() == [
        "brightness_per_class: not answered yet (replace None with your answer: 10 numbers in "
        "[0, 1], one per class)",
        f"no_such_exercise: no such exercise; choose from {', '.join(exercises.EXERCISES)}",
        "sweep_rate: cannot check with these objects (IndexError: list index out of range); "
        "run the lesson's cells again",
        "brightness_per_class: expected 10 numbers in [0, 1], one per class, got 3 numbers"]
