import math

import numpy as np

from eraskit.data import CLASSES
from eraskit.health import NEAR_CHANCE_FACTOR, collapse_note, near_chance

LABELS = np.arange(100) % 10


def test_predictions_collapsed_onto_one_class_are_named_with_what_to_try():
    note = collapse_note(1.9, np.full(100, 3), LABELS, CLASSES, max_lr=10.0)
    assert "'cat' for 100% of the test images" in note and "--max-lr 1" in note
    assert "\n" not in note


def test_a_loss_at_chance_with_chance_accuracy_is_reported():
    preds = (LABELS + 1) % 10  # every prediction wrong, spread over the classes
    note = collapse_note(math.log(10), preds, LABELS, CLASSES, max_lr=0.4)
    assert "sits at chance (ln 10 = 2.303)" in note


def test_a_first_epoch_that_learns_is_not_a_collapse():
    preds = np.where(np.arange(100) < 30, LABELS, (LABELS + 1) % 10)  # 30% right
    assert collapse_note(2.27, preds, LABELS, CLASSES, max_lr=0.025) is None
    assert collapse_note(1.5, LABELS, LABELS, CLASSES, max_lr=0.4) is None


def test_near_chance_is_one_and_a_half_times_guessing():
    assert near_chance(0.149, 10) and not near_chance(0.15, 10) and not near_chance(0.9, 10)
    assert near_chance(0.74, 2) and not near_chance(0.75, 2)
    assert NEAR_CHANCE_FACTOR / 100 == 0.015 and near_chance(0.01, 100)


def test_a_loss_at_chance_counts_only_while_the_accuracy_is_near_chance():
    """The collapse check's accuracy test is health.near_chance, the analysis' warning's too."""
    right = np.arange(100) < 15  # 15% right: just not near chance
    preds = np.where(right, LABELS, (LABELS + 1) % 10)
    assert collapse_note(math.log(10), preds, LABELS, CLASSES, max_lr=0.4) is None
    preds[14] = (LABELS[14] + 1) % 10  # 14% right
    assert "sits at chance" in collapse_note(math.log(10), preds, LABELS, CLASSES, max_lr=0.4)
