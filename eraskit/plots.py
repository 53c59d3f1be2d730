"""Figures. Each function returns a matplotlib Figure; images are shown as RGB in [0, 1]."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import MEAN, STD
from .lr_finder import TENTH_RULE
from .metrics import best_epoch, confusion_matrix, per_class_accuracy


def denormalize(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Normalised (N, 3, H, W) images -> rgb (N, H, W, 3) float in [0, 1]."""
    x = images.detach().cpu().float().numpy() if isinstance(images, torch.Tensor) else images
    rgb = x.transpose(0, 2, 3, 1) * np.array(STD) + np.array(MEAN)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def add_caption(fig: plt.Figure, caption: Optional[str]) -> plt.Figure:
    """Write where the figure came from along its bottom edge (a warning may follow on a
    line of its own)."""
    if caption:
        lines = caption.count("\n") + 1
        fig.text(0.5, 0.002, caption, ha="center", va="bottom", fontsize=8, color="0.35")
        # lay the panels out again above the caption's strip, rather than squeezing them
        # upwards, which made the titles of a grid's second row run into the first row
        fig.tight_layout(rect=(0, (0.05 + 0.15 * lines) / fig.get_figheight(), 1, 1))
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
        if len(epochs) <= 10:  # a tick on every epoch (with one epoch, the locator alone
            ax.set_xticks(epochs)  # would invent fractional ones)
            ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_lr_schedule(rates: np.ndarray, steps_per_epoch: int, caption: Optional[str] = None,
                     max_lr: Optional[float] = None) -> plt.Figure:
    """The rate used at each training step, on an epoch axis; `max_lr`, when given, is drawn
    as a dotted line (the steps may fall between the schedule's peak and miss it a little)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(np.arange(len(rates)) / steps_per_epoch, rates)
    if max_lr is None:
        title = f"OneCycle learning rate (peak {max(rates):.3g})"
    else:
        ax.axhline(max_lr, color="tab:red", ls=":", lw=1)
        title = f"OneCycle learning rate (max LR {max_lr:.3g}, dotted)"
    ax.set(title=title, xlabel="epoch", ylabel="learning rate",
           xlim=(0, len(rates) / steps_per_epoch))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole epochs, even for 1 or 2
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_lr_finder(result: dict, caption: Optional[str] = None) -> plt.Figure:
    """The range test read as the rule reads it: each step's raw loss, the smoothed curve,
    the descent shaded up to its floor, and the peak it gives (a fallback says so), drawn
    thick; beside it, thin, where two rules common elsewhere read the same curve: the
    steepest descent (torch-lr-finder's, `steepest_lr`) and a tenth of the rate at the
    lowest loss (fastai's "minimum / 10"). `result` is lr_finder.suggest's, with "lrs" and
    "raw_losses"."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    lrs, losses = np.asarray(result["lrs"]), np.asarray(result["losses"])
    if result.get("raw_losses"):
        ax.plot(lrs[:len(result["raw_losses"])], result["raw_losses"][:len(lrs)], color="0.75",
                lw=0.8, label="loss of each step")
    ax.plot(lrs[:len(losses)], losses, color="tab:blue", label="smoothed (centred average)")
    ax.set_xscale("log")
    floor, peak = result.get("floor_lr"), result["max_lr"]
    tenth = result.get("rule") == TENTH_RULE  # a sweep that fell, then diverged early
    read = floor and result.get("evidence", "ok") == "ok"
    if read:
        label = f"max LR = {result['factor']:.3g} x floor = {peak:.3g}"
        if result.get("capped"):
            label = f"max LR = the last rate the sweep survived: {peak:.3g}"
    elif tenth:  # diverged early, after a fall
        label = f"max LR = a tenth of the lowest loss's rate: {peak:.3g}"
    else:
        label = f"max LR (safe fallback): {peak:.3g}"
    # the rate the run uses: thick and on top, the first of the rates in the legend
    ax.axvline(peak, color="tab:red", lw=2.5, zorder=4, label=label)
    if read:
        start = result.get("descent_start_lr", lrs[0])
        ax.axvline(floor, color="tab:orange", ls="--", label=f"floor reached at {floor:.3g}")
        ax.axvspan(start, floor, color="tab:green", alpha=0.12, label="the loss falls")
    if result.get("steepest_lr"):
        ax.axvline(result["steepest_lr"], color="tab:purple", ls="-.", lw=1,
                   label=f"steepest descent (torch-lr-finder): {result['steepest_lr']:.3g}")
    if result.get("min_loss_lr"):
        lowest = result["min_loss_lr"]
        if not tenth:  # there the kit's own pick is this rate
            ax.axvline(lowest / 10, color="tab:brown", ls=":", lw=1.2,
                       label=f"lowest loss's rate / 10 (fastai): {lowest / 10:.3g}")
        smoothed = "smoothed " if result.get("evidence", "ok") != "diverged early" else ""
        ax.plot([lowest], [losses.min()], "v", color="0.3", ms=7, zorder=5,
                label=f"lowest {smoothed}loss at {lowest:.3g}")
    title = "LR range test"
    if result.get("warm_up_steps") and result.get("evidence", "ok") == "ok":
        title += f": factor {result['factor']:.3g} for a {result['warm_up_steps']}-step warm-up"
    elif result.get("evidence") not in (None, "ok"):
        why = {"flat": "the loss never fell clearly", "still falling": "the loss still fell at "
               "the end", "diverged early": "it diverged too early"}.get(result["evidence"])
        then = "a tenth of its lowest loss's rate" if tenth else "a safe peak"
        title += f": {why or result['evidence']}, so {then}"
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="training loss")
    # outside the axes, clear of the curve, which fills the panel from edge to edge
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_range_tests(curves: dict[str, tuple[Sequence[float], Sequence[float]]],
                     caption: Optional[str] = None) -> plt.Figure:
    """Several range tests' loss against the rate (log scale): {label: (lrs, losses)}."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (lrs, losses) in curves.items():
        ax.plot(lrs, losses, label=label)
    ax.set_xscale("log")
    ax.set(title="LR range tests compared", xlabel="learning rate (log scale)", ylabel="loss")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_image_grid(rgb: np.ndarray, titles: Sequence[str], columns: int = 5,
                    caption: Optional[str] = None, size: float = 2.0,
                    title: Optional[str] = None) -> plt.Figure:
    """rgb (N, H, W, 3) in [0, 1] as a grid, one title per image, `title` above them all."""
    rows = int(np.ceil(len(rgb) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * 1.45 * rows + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, text in zip(axes.flat, rgb, titles):
        ax.imshow(image)
        ax.set_title(text, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return add_caption(fig, caption)


def plot_misclassified(rgb: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                       classes: Sequence[str], caption: Optional[str] = None,
                       title: str = "Misclassified test images") -> plt.Figure:
    """Wrongly classified images with true class, predicted class and its probability."""
    preds = probs.argmax(axis=1)
    titles = [f"true: {classes[t]}\npred: {classes[p]} ({probs[i, p]:.0%})"
              for i, (t, p) in enumerate(zip(labels, preds))]
    return plot_image_grid(rgb, titles, caption=caption, title=title)


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
    overall = 100 * float((labels == preds).mean())
    ax.axhline(overall, color="tab:red", ls="--", label=f"overall {overall:.2f}%", zorder=1)
    # on a white patch above the dashed line, so a bar ending near it keeps a readable label
    labels_ = ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2, zorder=3,
                           bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    for text in labels_:
        text.set_zorder(3)
    # bars from 0, so their heights compare; headroom above 100% for the labels; the legend
    # sits outside, clear of every bar
    ax.set(title="Test accuracy per class", ylabel="%", ylim=(0, 110))
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


def plot_samples_per_class(pixels: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                           per_class: int = 8, seed: int = 0,
                           caption: Optional[str] = None) -> plt.Figure:
    """A row of random images for each class from uint8 pixels (N, H, W, 3), the class name on
    the left (a class with fewer images than `per_class` leaves the rest of its row blank)."""
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
            ax.imshow(pixels[i])
        for ax in row[len(chosen):]:
            ax.spines[:].set_visible(False)
        row[0].set_ylabel(classes[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{per_class} random training images per class", fontsize=11)
    fig.tight_layout()
    return add_caption(fig, caption)
