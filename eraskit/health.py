"""Whether a run is learning: test predictions collapsed onto one class, or a training loss
stuck at chance (ln of the number of classes, the loss of a uniform guess) while the test
accuracy is near chance too."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from . import advice

# Most test images given one class although it holds at most half of them.
COLLAPSED_SHARE = 0.8
# Within 3% of ln(classes): the network is no better than a uniform guess.
CHANCE_LOSS_MARGIN = 0.03
# Below 1.5 x chance (15% for 10 classes), an accuracy says the network has learned little.
NEAR_CHANCE_FACTOR = 1.5


def near_chance(accuracy: float, num_classes: int) -> bool:
    """Whether an accuracy in [0, 1] is close to guessing (1 in `num_classes`): the one test
    of "near chance" behind the collapse check and the analysis' warning."""
    return accuracy < NEAR_CHANCE_FACTOR / num_classes


def collapse_note(train_loss: float, preds: np.ndarray, labels: np.ndarray,
                  classes: Sequence[str], max_lr: float) -> Optional[str]:
    """One line saying why the run looks collapsed and what to try, or None if it learns.

    preds and labels are (N,) class indices of the test images."""
    counts = np.bincount(preds, minlength=len(classes))
    top = int(np.argmax(counts))
    share, true_share = counts[top] / len(preds), float(np.mean(labels == top))
    chance = math.log(len(classes))
    reasons = []
    if share >= COLLAPSED_SHARE and true_share <= 0.5:
        reasons.append(f"it predicts {classes[top]!r} for {share:.0%} of the test images")
    # The loss alone misleads in a first epoch that starts at chance and then learns: it
    # counts only while the test predictions are no better than chance either.
    guessing = near_chance(float(np.mean(preds == labels)), len(classes))
    if train_loss >= (1 - CHANCE_LOSS_MARGIN) * chance and guessing:
        reasons.append(f"its training loss {train_loss:.3f} sits at chance "
                       f"(ln {len(classes)} = {chance:.3f})")
    if not reasons:
        return None
    lower = float(f"{max_lr / 10:.3g}")
    return (f"the network is not learning: {' and '.join(reasons)}; the peak rate "
            f"{max_lr:.3g} may be too high, or the run too short to learn: try "
            f"{advice.set_to('max_lr', lower)} or more epochs ({advice.setting('epochs')}), "
            f"and {advice.another_folder()}")
