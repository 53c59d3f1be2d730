"""Numbers about a run: its history's best epoch and pace; its test predictions' confusion,
per-class accuracy and worst mistakes."""

from __future__ import annotations

import statistics

import numpy as np


def best_epoch(history: list[dict]) -> dict:
    """The history row with the highest test accuracy (the first of equals)."""
    return max(history, key=lambda row: row["test_acc"])


def median_seconds(history: list[dict]) -> float:
    """Median seconds per epoch: a first epoch's warm-up or one slow epoch barely moves it."""
    return statistics.median(row["seconds"] for row in history)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts; row = true class, column = predicted class."""
    return np.bincount(labels * num_classes + preds, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def per_class_accuracy(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(C,) share of each true class predicted correctly, in [0, 1] (nan for an absent class)."""
    cm = confusion_matrix(labels, preds, num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / cm.sum(axis=1)


def confused_pairs(labels: np.ndarray, preds: np.ndarray, classes: tuple[str, ...],
                   top: int = 5) -> list[tuple[str, str, int]]:
    """The `top` most frequent (true class, predicted class, count) mistakes."""
    cm = confusion_matrix(labels, preds, len(classes))
    np.fill_diagonal(cm, 0)
    order = np.argsort(cm, axis=None)[::-1][:top]
    pairs = [(classes[i // len(classes)], classes[i % len(classes)], int(cm.flat[i]))
             for i in order]
    return [p for p in pairs if p[2] > 0]


def misclassified(labels: np.ndarray, probs: np.ndarray, count: int = 10) -> np.ndarray:
    """Positions of up to `count` wrong predictions, most confident mistakes first."""
    preds = probs.argmax(axis=1)
    wrong = np.flatnonzero(preds != labels)
    confidence = probs[wrong, preds[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]
