"""The figures of a trained tiny run: every figure written, titles that match the predictions,
other Grad-CAM settings in files of their own."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from eraskit import metrics, predictions, run_figures, runs, safe_write
from eraskit.lr_finder import suggest
from eraskit.runs import RunPaths

FIGURES = {"history", "lr_schedule", "lr_finder", "misclassified", "confusion",
           "per_class_accuracy", "gradcam"}
PNG = b"\x89PNG\r\n\x1a\n"


def load_results(run_dir: Path, data) -> predictions.TestResults:
    """The test results of the run in `run_dir`, its model loaded as the command line does."""
    run = runs.load_run(run_dir)
    return predictions.load_test_results(run, data)


@pytest.fixture(scope="module")
def results(trained_run, data):
    return load_results(trained_run.paths.root, data)


def test_misclassified_gallery_titles_show_class_names_and_the_stored_argmax(results):
    chosen = metrics.misclassified(results.labels, results.probs, 10)
    assert len(chosen) > 0
    fig = run_figures.misclassified_gallery(results)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == len(chosen)
    logits = results.run.predictions().logits
    for title, i in zip(titles, chosen):
        true_line, pred_line = title.splitlines()
        assert true_line == f"true: {results.classes[results.labels[i]]}"
        assert pred_line.startswith(f"pred: {results.classes[logits[i].argmax()]} (")
        assert results.classes[logits[i].argmax()] != results.classes[results.labels[i]]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 about pytorch-grad-cam's ROAD
@pytest.mark.filterwarnings("ignore:An input array is constant")  # a flat CAM of the tiny model
def test_write_figures_writes_every_png(run_copy, data):
    lrs = np.logspace(-4, 1, 30)
    losses = 2.3 - 0.5 * np.exp(-((np.arange(30) - 20) / 6.0) ** 2)
    safe_write.save_json(RunPaths(run_copy).lr_finder,
                   {"lrs": lrs.tolist(), "raw_losses": losses.tolist(), **suggest(lrs, losses)})
    written = run_figures.write_figures(load_results(run_copy, data))
    assert {p.stem for p in written} == FIGURES | {"gradcam_sanity"}
    assert all(p.parent == RunPaths(run_copy).figures for p in written)
    for path in written:
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000, path.name
    assert RunPaths(run_copy).trust.is_file()  # the run's own settings: their scores are kept


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 about pytorch-grad-cam's ROAD
@pytest.mark.filterwarnings("ignore:An input array is constant")  # a flat CAM of the tiny model
def test_another_cam_method_gets_its_own_files_and_leaves_trust_json(run_copy, data):
    results = load_results(run_copy, data)
    run = results.run
    run_figures.write_figures(results, run.config, only=("gradcam_sanity",))
    trust = run.paths.trust.read_bytes()
    asked = run.config.replace(cam_method="layercam", cam_layer="layer4")
    written = run_figures.write_figures(results, asked, only=("gradcam", "gradcam_sanity"))
    assert [p.name for p in written] == ["gradcam-layercam-layer4.png",
                                         "gradcam_sanity-layercam-layer4.png"]
    assert run.paths.trust.read_bytes() == trust
    written = run_figures.write_figures(results, run.config, only=("gradcam",))
    assert [p.name for p in written] == ["gradcam.png"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 about pytorch-grad-cam's ROAD
@pytest.mark.filterwarnings("ignore:An input array is constant")  # a flat CAM of the tiny model
def test_the_trust_check_returns_its_scores_and_writes_nothing(run_copy, data):
    results = load_results(run_copy, data)
    fig, scores = run_figures.trust_check(results, count=2)
    assert {"mean_spearman", "layer3", "layer4", "random_maps"} <= set(scores)
    assert not results.run.paths.trust.exists() and not results.run.paths.figures.exists()
    plt.close(fig)


def test_steps_per_epoch_of_a_run_whose_meta_lacks_them(trained_run):
    from dataclasses import replace

    meta = trained_run.meta
    assert run_figures.run_steps_per_epoch(trained_run) == meta.steps_per_epoch == 4
    older = replace(trained_run, meta=replace(meta, steps_per_epoch=None))
    assert run_figures.run_steps_per_epoch(older) == 64 // 16  # from the images it trained on
    oldest = replace(older, meta=replace(older.meta, train_images=None))
    assert run_figures.run_steps_per_epoch(oldest) == 50_000 // 16  # all of CIFAR-10
