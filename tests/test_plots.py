import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from eraskit import plots
from eraskit.augment import test_transform as make_test_transform  # renamed: not a test
from eraskit.data import CLASSES


def test_denormalize_undoes_the_test_transform():
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    normalised = torch.stack([make_test_transform()(image=x)["image"] for x in images])
    for given in (normalised, normalised.numpy()):
        rgb = plots.denormalize(given)
        assert rgb.shape == (5, 32, 32, 3) and rgb.dtype == np.float32
        np.testing.assert_allclose(rgb, images / 255.0, atol=1e-5)
        np.testing.assert_array_equal(np.round(rgb * 255).astype(np.uint8), images)


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


def test_plot_lr_schedule_and_lr_finder():
    fig = plots.plot_lr_schedule(np.array([0.1, 0.4, 0.2, 0.01]), steps_per_epoch=2)
    assert "peak 0.4" in fig.axes[0].get_title()
    result = {"lrs": [1e-3, 1e-2, 1e-1], "losses": [2.3, 2.0, 2.5], "suggested_lr": 0.1,
              "min_loss_lr": 0.01, "steepest_lr": 0.005}
    fig = plots.plot_lr_finder(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["suggested max LR: 0.1", "loss minimum: 0.01", "steepest descent: 0.005"]


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


def test_samples_per_class_leaves_blanks_for_a_class_with_few_images():
    labels = np.array([0] * 8 + [1] * 3)  # class 2 has none
    images = np.zeros((len(labels), 32, 32, 3), np.uint8)
    fig = plots.plot_samples_per_class(images, labels, ("a", "b", "c"), per_class=8)
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
