"""The analysis of a trained tiny run: every figure written, titles that match the predictions."""

import dataclasses

import numpy as np
import pytest

from eraskit import metrics, report, runs
from eraskit.errors import EraskitError
from eraskit.lr_finder import suggest
from eraskit.runs import RunPaths

FIGURES = {"history", "lr_schedule", "lr_finder", "misclassified", "confusion",
           "per_class_accuracy", "gradcam"}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(trained_run, data):
    return report.load_test_results(trained_run.paths.root, data)


def test_test_results_join_predictions_with_their_images(results, trained_run, data):
    stored = trained_run.predictions()
    np.testing.assert_array_equal(results.images, data.x_test[stored.indices])
    np.testing.assert_array_equal(results.preds, stored.logits.argmax(axis=1))
    np.testing.assert_allclose(results.probs.sum(axis=1), 1, rtol=1e-5)
    assert results.normalized([0, 5]).shape == (2, 3, 32, 32)


def test_other_data_is_refused(trained_run, data):
    shuffled = dataclasses.replace(data, y_test=np.roll(data.y_test, 1))
    with pytest.raises(EraskitError, match="test labels of this data differ"):
        report.load_test_results(trained_run.paths.root, shuffled)
    fewer = dataclasses.replace(data, x_test=data.x_test[:5], y_test=data.y_test[:5])
    with pytest.raises(EraskitError, match="refers to test images this data set lacks"):
        report.load_test_results(trained_run.paths.root, fewer)


def test_misclassified_gallery_titles_show_class_names_and_the_stored_argmax(results):
    chosen = metrics.misclassified(results.labels, results.probs, 10)
    assert len(chosen) > 0
    fig = report.misclassified_gallery(results)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == len(chosen)
    logits = results.run.predictions().logits
    for title, i in zip(titles, chosen):
        true_line, pred_line = title.splitlines()
        assert true_line == f"true: {results.classes[results.labels[i]]}"
        assert pred_line.startswith(f"pred: {results.classes[logits[i].argmax()]} (")
        assert results.classes[logits[i].argmax()] != results.classes[results.labels[i]]


def test_caption_says_data_epochs_width_and_device(trained_run):
    text = report.caption(trained_run)
    assert "synthetic" in text and "3/3 epochs" in text and "width 8" in text
    assert "fp32" in text and f"{trained_run.final['test_acc']:.2%}" in text


def test_results_table_has_one_row_per_epoch(trained_run):
    table = report.results_table(trained_run)
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 1 + 3  # the summary row and one per epoch


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 about pytorch-grad-cam's ROAD
@pytest.mark.filterwarnings("ignore:An input array is constant")  # a flat CAM of the tiny model
def test_write_figures_writes_every_png(run_copy, data, tmp_path):
    lrs = np.logspace(-4, 1, 30)
    losses = 2.3 - 0.5 * np.exp(-((np.arange(30) - 20) / 6.0) ** 2)
    runs.save_json(RunPaths(run_copy).lr_finder,
                   {"lrs": lrs.tolist(), "raw_losses": losses.tolist(), **suggest(lrs, losses)})
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold\n<!-- results:end -->\nend\n")
    written = report.write_figures(run_copy, data, images=tmp_path / "images")
    figures = {p.stem for p in written if p.parent == RunPaths(run_copy).figures}
    assert FIGURES <= figures
    for path in written:
        assert path.is_file(), path
    for name in figures:
        png = RunPaths(run_copy).figure(name)
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000, name
        assert (tmp_path / "images" / f"{name}.png").read_bytes() == png.read_bytes()
    text = readme.read_text()
    assert "old" not in text and "| epoch | lr |" in text and text.endswith("end\n")
    assert readme in written  # the command line lists it: no silent edit of the README


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 about pytorch-grad-cam's ROAD
@pytest.mark.filterwarnings("ignore:An input array is constant")  # a flat CAM of the tiny model
def test_another_cam_method_gets_its_own_files_and_leaves_trust_json(run_copy, data):
    run = runs.load_run(run_copy)
    report.write_figures(run_copy, data, run.config, only=("gradcam_sanity",))
    trust = run.paths.trust.read_bytes()
    asked = run.config.replace(cam_method="layercam", cam_layer="layer4")
    written = report.write_figures(run_copy, data, asked, only=("gradcam", "gradcam_sanity"))
    assert [p.name for p in written] == ["gradcam-layercam-layer4.png",
                                         "gradcam_sanity-layercam-layer4.png"]
    assert run.paths.trust.read_bytes() == trust
    written = report.write_figures(run_copy, data, run.config, only=("gradcam",))
    assert [p.name for p in written] == ["gradcam.png"]
