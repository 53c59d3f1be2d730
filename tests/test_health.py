import math

import numpy as np

from eraskit.data import CLASSES
from eraskit.health import collapse_note

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
