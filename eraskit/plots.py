"""Figures. Each function returns a matplotlib Figure; images are shown as RGB in [0, 1]."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import MEAN, STD
from .metrics import best_epoch, confusion_matrix, per_class_accuracy


def denormalize(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Normalised (N, 3, H, W) images -> rgb (N, H, W, 3) float in [0, 1]."""
    x = images.detach().cpu().float().numpy() if isinstance(images, torch.Tensor) else images
    rgb = x.transpose(0, 2, 3, 1) * np.array(STD) + np.array(MEAN)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def add_caption(fig: plt.Figure, caption: Optional[str]) -> plt.Figure:
    """Write where the figure came from along its bottom edge."""
    if caption:
        fig.text(0.5, 0.002, caption, ha="center", va="bottom", fontsize=8, color="0.35")
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.35 / fig.get_figheight()))
    return fig


def plot_history(history: list[dict], caption: Optional[str] = None) -> plt.Figure:
    """Loss and accuracy per epoch, train against test."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for split, style in (("train", "-o"), ("test", "-s")):
        ax_loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, ms=3, label=split)
        ax_acc.plot(epochs, [100 * r[f"{split}_acc"] for r in history], style, ms=3, label=split)
    # the training criterion: cross-entropy with the run's label smoothing; the test loss is
    # taken on the logits the test accuracy uses (flip-averaged when flip TTA is on)
    ax_loss.set(title="Loss (mean per image)", xlabel="epoch", ylabel="training criterion")
    if max(r["test_loss"] for r in history) > 20 * min(r["test_loss"] for r in history):
        ax_loss.set_yscale("log")  # an early blow-up would flatten every other point
    best = best_epoch(history)
    ax_acc.set(title=f"Accuracy (final test {100 * history[-1]['test_acc']:.2f}%, best "
                     f"{100 * best['test_acc']:.2f}% at epoch {best['epoch']})",
               xlabel="epoch", ylabel="%")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_lr_schedule(rates: np.ndarray, steps_per_epoch: int,
                     caption: Optional[str] = None) -> plt.Figure:
    """The rate used at each training step, on an epoch axis."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(np.arange(len(rates)) / steps_per_epoch, rates)
    ax.set(title=f"OneCycle learning rate (peak {max(rates):.3g})", xlabel="epoch",
           ylabel="learning rate")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_lr_finder(result: dict, caption: Optional[str] = None) -> plt.Figure:
    """The range test's smoothed loss against the rate, with the suggestion marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(result["lrs"], result["losses"])
    ax.set_xscale("log")
    marks = (("suggested_lr", "suggested max LR", "tab:red"),
             ("min_loss_lr", "loss minimum", "tab:orange"),
             ("steepest_lr", "steepest descent", "tab:gray"))
    for key, label, color in marks:
        if result.get(key):
            ax.axvline(result[key], color=color, ls="--", label=f"{label}: {result[key]:.3g}")
    ax.set(title="LR range test", xlabel="learning rate (log scale)", ylabel="smoothed loss")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_image_grid(rgb: np.ndarray, titles: Sequence[str], columns: int = 5,
                    caption: Optional[str] = None, size: float = 2.0) -> plt.Figure:
    """rgb (N, H, W, 3) in [0, 1] as a grid, one title per image."""
    rows = int(np.ceil(len(rgb) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * 1.3 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, rgb, titles):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_misclassified(rgb: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                       classes: Sequence[str], caption: Optional[str] = None) -> plt.Figure:
    """Wrongly classified images with true class, predicted class and its probability."""
    preds = probs.argmax(axis=1)
    titles = [f"true: {classes[t]}\npred: {classes[p]} ({probs[i, p]:.0%})"
              for i, (t, p) in enumerate(zip(labels, preds))]
    return plot_image_grid(rgb, titles, caption=caption)


def plot_confusion(labels: np.ndarray, preds: np.ndarray, classes: Sequence[str],
                   caption: Optional[str] = None) -> plt.Figure:
    """Counts of true class (rows) against predicted class (columns)."""
    cm = confusion_matrix(labels, preds, len(classes))
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), n in np.ndenumerate(cm):
        ax.text(j, i, n, ha="center", va="center", fontsize=8,
                color="white" if n > cm.max() / 2 else "black")
    ax.set(title="Confusion matrix (test set)", xlabel="predicted class", ylabel="true class")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_per_class_accuracy(labels: np.ndarray, preds: np.ndarray, classes: Sequence[str],
                            caption: Optional[str] = None) -> plt.Figure:
    """Test accuracy of each class, with the overall accuracy as a line."""
    acc = 100 * per_class_accuracy(labels, preds, len(classes))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bars = ax.bar(classes, acc, color="tab:blue")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    overall = 100 * float((labels == preds).mean())
    ax.axhline(overall, color="tab:red", ls="--", label=f"overall {overall:.2f}%")
    # headroom above 100% for the bar labels; the legend sits outside, clear of every bar
    ax.set(title="Test accuracy per class", ylabel="%", ylim=(max(0, acc.min() - 15), 108))
    ax.tick_params(axis="x", rotation=30)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_class_balance(labels: np.ndarray, classes: Sequence[str], title: str,
                       caption: Optional[str] = None) -> plt.Figure:
    """Images per class."""
    counts = np.bincount(labels, minlength=len(classes))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar_label(ax.bar(classes, counts), fontsize=8)
    ax.set(title=title, ylabel="images")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_samples_per_class(images: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                           per_class: int = 8, seed: int = 0,
                           caption: Optional[str] = None) -> plt.Figure:
    """A row of random uint8 images for each class, the class name on the left (a class with
    fewer images than `per_class` leaves the rest of its row blank)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 1.1, len(classes) * 1.1),
                             squeeze=False)
    for c, row in enumerate(axes):
        members = np.flatnonzero(labels == c)
        chosen = rng.choice(members, min(per_class, len(members)), replace=False)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax, i in zip(row, chosen):
            ax.imshow(images[i])
        for ax in row[len(chosen):]:
            ax.spines[:].set_visible(False)
        row[0].set_ylabel(classes[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return add_caption(fig, caption)
