import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from eraskit import plots
from eraskit.augment import eval_transform
from eraskit.data import CLASSES
from eraskit.lr_finder import suggest


def test_denormalize_undoes_the_eval_transform():
    pixels = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    normalised = torch.stack([eval_transform()(image=x)["image"] for x in pixels])
    for given in (normalised, normalised.numpy()):
        rgb = plots.denormalize(given)
        assert rgb.shape == (5, 32, 32, 3) and rgb.dtype == np.float32
        np.testing.assert_allclose(rgb, pixels / 255.0, atol=1e-5)
        np.testing.assert_array_equal(np.round(rgb * 255).astype(np.uint8), pixels)


def test_denormalize_clips_to_the_unit_range():
    rgb = plots.denormalize(torch.tensor([[[[10.0]], [[-10.0]], [[0.0]]]]))
    assert rgb.min() >= 0 and rgb.max() <= 1 and rgb[0, 0, 0, 0] == 1 and rgb[0, 0, 0, 1] == 0


def test_misclassified_titles_use_class_names_and_the_argmax():
    probs = np.full((3, 10), 0.02)
    probs[0, 5], probs[1, 9], probs[2, 0] = 0.82, 0.82, 0.82
    labels = np.array([3, 1, 2])
    rgb = np.zeros((3, 32, 32, 3), dtype=np.float32)
    fig = plots.plot_misclassified(rgb, labels, probs, CLASSES, caption="synthetic, 1 epoch")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true: cat\npred: dog (82%)", "true: automobile\npred: truck (82%)",
                      "true: bird\npred: airplane (82%)"]
    assert any("synthetic, 1 epoch" in t.get_text() for t in fig.texts)
    assert fig._suptitle.get_text() == "Misclassified test images"


def test_a_caption_with_a_warning_gets_room_for_its_second_line():
    one = plots.plot_class_balance(np.arange(10), CLASSES, "t", "one line")
    two = plots.plot_class_balance(np.arange(10), CLASSES, "t", "one line\nwarning: ...")
    assert two.subplotpars.bottom > one.subplotpars.bottom


def test_image_grid_has_one_titled_panel_per_image_and_hides_the_rest():
    fig = plots.plot_image_grid(np.zeros((7, 8, 8, 3)), [f"t{i}" for i in range(7)], columns=5)
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes[:7]] == [f"t{i}" for i in range(7)]
    assert all(not ax.axison for ax in fig.axes)


HISTORY = [{"epoch": e, "train_loss": 2.0 / e, "test_loss": 2.2 / e, "train_acc": 0.2 * e,
            "test_acc": acc, "lr": 0.1, "seconds": 1.0}
           for e, acc in ((1, 0.3), (2, 0.5), (3, 0.4))]


def test_plot_history_marks_final_and_best_accuracy():
    fig = plots.plot_history(HISTORY, caption="where it came from")
    ax_loss, ax_acc = fig.axes
    title = ax_acc.get_title()
    assert "final test 40.00%" in title and "best 50.00% at epoch 2" in title
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [30, 50, 40])  # percent
    assert [line.get_label() for line in ax_loss.lines] == ["train", "test"]
    assert any(t.get_text() == "where it came from" for t in fig.texts)
    assert list(ax_acc.get_xticks()) == [1, 2, 3]


def test_a_one_epoch_history_has_one_whole_epoch_tick():
    fig = plots.plot_history(HISTORY[:1])
    assert [list(ax.get_xticks()) for ax in fig.axes] == [[1], [1]]


def test_plot_lr_schedule_and_lr_finder():
    fig = plots.plot_lr_schedule(np.array([0.1, 0.4, 0.2, 0.01]), steps_per_epoch=2)
    assert "peak 0.4" in fig.axes[0].get_title()
    lrs = np.logspace(-4, 1, 60)
    raw = 2.3 - 0.8 / (1 + np.exp(-(np.arange(60) - 22) / 2.5))
    result = {"lrs": lrs.tolist(), "raw_losses": raw.tolist(),
              **suggest(lrs, raw, warm_up=100, factor=4.0)}
    fig = plots.plot_lr_finder(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    floor, peak = result["floor_lr"], result["max_lr"]
    assert f"floor reached at {floor:.3g}" in labels
    assert f"max LR = 4 x floor = {peak:.3g}" in labels and "the loss falls" in labels
    assert "factor 4 for a 100-step warm-up" in ax.get_title()
    steepest, lowest = result["steepest_lr"], result["min_loss_lr"]
    assert steepest < floor < lowest  # mid-descent, its end, and (a flat tail) the far right
    assert f"steepest descent (torch-lr-finder): {steepest:.3g}" in labels
    assert f"lowest loss's rate / 10 (fastai): {lowest / 10:.3g}" in labels
    assert f"lowest smoothed loss at {lowest:.3g}" in labels


def test_the_lr_finder_plot_marks_three_rules_with_the_kits_pick_first_and_thickest():
    lrs = np.logspace(-4, 1, 60)
    raw = 2.3 - 0.8 / (1 + np.exp(-(np.arange(60) - 22) / 2.5))
    result = {"lrs": lrs.tolist(), "raw_losses": raw.tolist(), **suggest(lrs, raw, warm_up=100)}
    ax = plots.plot_lr_finder(result).axes[0]
    at = {line.get_label().split(":")[0].split(" =")[0]: line for line in ax.lines}
    rates = {name: at[name].get_xdata()[0] for name in
             ("max LR", "steepest descent (torch-lr-finder)", "lowest loss's rate / 10 (fastai)")}
    assert rates == pytest.approx({"max LR": result["max_lr"],
                                   "steepest descent (torch-lr-finder)": result["steepest_lr"],
                                   "lowest loss's rate / 10 (fastai)": result["min_loss_lr"] / 10})
    kit = at["max LR"]
    assert kit.get_linestyle() == "-" and kit.get_color() == "tab:red"
    others = [line for line in ax.lines if line is not kit]
    assert all(kit.get_linewidth() > line.get_linewidth() for line in others)
    assert all(kit.get_zorder() > line.get_zorder() for line in others
               if line.get_label().startswith(("steepest", "lowest loss's", "floor")))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    rules = [i for i, label in enumerate(labels) if label.startswith(("max LR", "steepest",
                                                                       "lowest loss's"))]
    assert labels[rules[0]].startswith("max LR")  # the rate the run uses comes first
    flat = {"lrs": lrs.tolist(), "raw_losses": [2.3] * 60,
            **suggest(lrs, [2.3] * 60, batch_size=128)}
    fig = plots.plot_lr_finder(flat)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "max LR (safe fallback): 0.05" in labels
    assert "the loss never fell clearly, so a safe peak" in fig.axes[0].get_title()


def test_the_lr_finder_plot_of_a_sweep_that_fell_then_diverged_names_its_rule():
    lrs = np.logspace(-4, 1, 10)[:9]
    raw = [2.35, 2.35, 2.35, 2.33, 2.24, 1.96, 1.59, 2.75, 35.9]
    result = {"lrs": lrs.tolist(), "raw_losses": raw, **suggest(lrs, raw, warm_up=5)}
    fig = plots.plot_lr_finder(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"max LR = a tenth of the lowest loss's rate: {lrs[6] / 10:.3g}" in labels
    assert f"lowest loss at {lrs[6]:.3g}" in labels
    assert not any("(fastai)" in label for label in labels)  # here the kit's own pick
    assert f"steepest descent (torch-lr-finder): {result['steepest_lr']:.3g}" in labels
    assert "diverged too early, so a tenth of its lowest loss's rate" in fig.axes[0].get_title()


def test_the_schedule_plot_peaks_at_max_lr_on_whole_epochs():
    from eraskit.config import Config
    from eraskit.train import lr_schedule

    config = Config(epochs=2, max_lr=0.3)
    rates = lr_schedule(config, 0.3, steps_per_epoch=8)  # warm-up ends on step 4 exactly
    assert rates.max() == pytest.approx(0.3)
    fig = plots.plot_lr_schedule(rates, 8, max_lr=0.3)
    ax = fig.axes[0]
    assert "max LR 0.3" in ax.get_title()
    assert [line.get_ydata()[0] for line in ax.lines[1:]] == [0.3]  # the dotted max LR
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 2]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlim() == (0, 2)


def test_range_tests_are_drawn_on_one_log_axis():
    fig = plots.plot_range_tests({"kit": ([1e-3, 1e-2], [2.3, 2.0]),
                                  "library": ([1e-3, 1e-2], [2.3, 2.1])})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kit", "library"]


def test_plot_confusion_and_per_class_accuracy():
    labels = np.arange(20) % 10
    preds = labels.copy()
    preds[:4] = 0
    fig = plots.plot_confusion(labels, preds, CLASSES)
    counts = [int(t.get_text()) for t in fig.axes[0].texts]
    assert len(counts) == 100 and sum(counts) == 20
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(CLASSES)
    fig = plots.plot_per_class_accuracy(labels, preds, CLASSES)
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == pytest.approx([100, 50, 50, 50] + [100] * 6)
    assert "overall 85.00%" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert fig.axes[0].get_ylim()[0] == 0  # bars start at 0, so their heights compare
    values = [t for t in fig.axes[0].texts if t.get_text() in ("100.0", "50.0")]
    assert len(values) == 10 and all(t.get_bbox_patch() is not None for t in values)


def test_samples_per_class_leaves_blanks_for_a_class_with_few_images():
    labels = np.array([0] * 8 + [1] * 3)  # class 2 has none
    pixels = np.zeros((len(labels), 32, 32, 3), np.uint8)
    fig = plots.plot_samples_per_class(pixels, labels, ("a", "b", "c"), per_class=8)
    shown = [len(ax.images) for ax in fig.axes]
    assert shown == [1] * 8 + [1] * 3 + [0] * 5 + [0] * 8
    assert [fig.axes[k].get_ylabel() for k in (0, 8, 16)] == ["a", "b", "c"]
    plt.close(fig)


def test_class_balance_and_samples_per_class():
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10
    fig = plots.plot_class_balance(labels, CLASSES, "training images")
    assert [p.get_height() for p in fig.axes[0].patches] == [4] * 10
    fig = plots.plot_samples_per_class(rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8),
                                       labels, CLASSES, per_class=3)
    assert len(fig.axes) == 30
    assert [fig.axes[3 * c].get_ylabel() for c in range(10)] == list(CLASSES)
    assert fig._suptitle.get_text() == "3 random training images per class"
