"""What the notebooks show in the open does what they say: the cells of the lessons are run
here on tiny synthetic data (the same source as the notebooks, not a copy), and the
self-checking exercises answer in one line, right or wrong.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from eraskit import exercises, lr_finder, metrics, runs, train, training_run
from eraskit import model as model_module
from eraskit.gradcam import compute_cams
from helpers import interrupt_at, tiny_config, without_timing
from test_gradcam import cam_by_hand
from test_notebooks import make_results

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]


def section(name: str, heading: str) -> list[str]:
    """The code cells after the markdown cell that starts with `heading`, up to the next
    markdown heading ("## ...")."""
    found, code = False, []
    for cell in cells(name):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if found and source.startswith("## "):
                break
            found = found or source.startswith(heading)
        elif found:
            code.append(source)
    assert found, f"{name} has no section {heading!r}"
    return code


def imports(name: str) -> dict:
    """A namespace holding what the notebook's import cell defines."""
    namespace: dict = {}
    exec(next(c for c in (("".join(x["source"])) for x in cells(name) if x["cell_type"] == "code")
              if "from eraskit import" in c), namespace)
    return namespace


def run_section(name: str, heading: str, namespace: dict) -> dict:
    for source in section(name, heading):
        exec(source, namespace)
    return namespace


@pytest.fixture
def lesson03(data, tmp_path):
    """Notebook 03's sections 2-4 run on the tiny config and synthetic data."""
    torch.manual_seed(0)
    namespace = {**imports("03_train_resnet"), "config": tiny_config(), "data": data,
                 "RUN_DIR": str(tmp_path / "run")}
    for heading in ("## 2.", "## 3.", "## 4."):
        run_section("03_train_resnet", heading, namespace)
    return namespace


def test_the_steps_by_hand_train_the_model_on_the_schedule(capsys, lesson03, data):
    ns = lesson03
    config = ns["config"]
    fresh = model_module.build_model(config, len(data.classes), torch.device("cpu"))
    changed = [name for name, p in ns["model"].state_dict().items()
               if p.is_floating_point() and not torch.equal(p, fresh.state_dict()[name])]
    assert changed, "the visible steps left every weight as it was"
    steps = min(5, len(ns["loader"]))
    planned = train.lr_schedule(config, ns["max_lr"], len(ns["loader"]))
    np.testing.assert_allclose(ns["used_lrs"], planned[:steps], rtol=1e-12)
    assert ns["scheduler"].last_epoch == steps  # one scheduler step per training step
    shown = capsys.readouterr().out
    assert len(re.findall(r"step \d: images \(16, 3, 32, 32\), loss \d\.\d+, lr ", shown)) == steps


def test_the_one_batch_check_overfits(lesson03, capsys):
    ns = run_section("03_train_resnet", "## 5.", lesson03)
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", capsys.readouterr().out)][-5:]
    assert losses[0] > 1.5 and losses[-1] < 0.1, losses
    assert ns["plain_loss"].label_smoothing == 0.0


def test_the_epoch_shown_is_the_installed_one():
    shown = "".join(section("03_train_resnet", "## 6."))
    for function in ("train_epoch", "evaluate_epoch", "predict"):
        assert f"inspect.getsource(train.{function})" in shown


def test_the_notebooks_loop_trains_what_fit_trains_and_resumes(data, tmp_path, monkeypatch):
    """Notebook 03's training cell, interrupted in epoch 2 and run again, ends with the
    history that the command line's fit gives in one go, with the same seed."""
    config = tiny_config()
    reference = training_run.fit(config, data, tmp_path / "fit", progress=False,
                                 log=lambda *_: None)
    namespace = {**imports("03_train_resnet"), "config": config, "data": data,
                 "RUN_DIR": str(tmp_path / "notebook")}
    interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_section("03_train_resnet", "## 7.", namespace)
    assert [row["epoch"] for row in runs.load_run(tmp_path / "notebook").history] == [1]
    monkeypatch.undo()
    run_section("03_train_resnet", "## 7.", namespace)
    assert len(reference.history) == config.epochs
    assert without_timing(namespace["run"].history) == without_timing(reference.history)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("run"))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # a class absent from the 12
def test_the_numpy_counts_equal_the_kits_metrics(results):
    ns = run_section("04_analyse_errors", "## 3.", {**imports("04_analyse_errors"),
                                                     "results": results})
    c = len(results.classes)
    np.testing.assert_array_equal(ns["counts"],
                                  metrics.confusion_matrix(results.labels, results.preds, c))
    np.testing.assert_allclose(ns["per_class"],
                               metrics.per_class_accuracy(results.labels, results.preds, c))


def test_the_map_by_hand_equals_the_librarys_and_the_kits(results):
    ns = run_section("05_gradcam_gallery", "## 2.", {**imports("05_gradcam_gallery"),
                                                      "results": results})
    kit = compute_cams(results.model, ns["input_tensor"], [ns["class_idx"]], "layer3",
                       "gradcam")[0]
    assert ns["cam_by_hand"].shape == (32, 32) and ns["cam_by_hand"].dtype == np.float32
    np.testing.assert_allclose(ns["cam_by_hand"], ns["cam_from_library"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(ns["cam_from_library"], kit, atol=1e-6)
    # the same lines as tests/test_gradcam.py checks against the library on more images
    np.testing.assert_array_equal(ns["cam_by_hand"], cam_by_hand(
        results.model, results.model.layer3, ns["input_tensor"], ns["class_idx"]))
    assert [p.shape for p in ns["pictures"]] == [(32, 32, 3)] * 2
    assert all(0 <= p.min() and p.max() <= 1 for p in ns["pictures"])
    assert not any(m._forward_hooks for m in results.model.modules())


@pytest.mark.parametrize("name", NAMES)
def test_every_lesson_ends_with_exercises_that_check_themselves(name):
    sources = ["".join(c["source"]) for c in cells(name)]
    start = next(i for i, s in enumerate(sources) if s.startswith("## Exercises"))
    text = "\n".join(sources[start:])
    assert 2 <= len(re.findall(r"^\d\. \*\*", text, re.M)) <= 4
    checks = [s for s in sources[start:] if "exercises.check(" in s]
    assert checks and all(s.startswith("ANSWER = None") for s in checks)


def test_check_says_not_answered_right_and_wrong_in_one_line(data, capsys):
    assert exercises.check("brightness_per_class", None, data) is False
    right = np.array([data.x_train[data.y_train == c].mean() / 255 for c in range(10)])
    assert exercises.check("brightness_per_class", right, data) is True
    assert exercises.check("brightness_per_class", right + 0.1, data) is False
    assert exercises.check("brightness_per_class", right[:3], data) is False
    assert exercises.check("brightness_per_class", "bright", data) is False
    assert exercises.check("no_such_exercise", 1) is False
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines] == [
        "not", "right", "not", "expected", "expected", "no"]
    assert lines[0].startswith("brightness_per_class: not answered yet")


def test_the_intended_answers_are_right(data, results, capsys):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from eraskit.data import MEAN, STD

    image = data.x_train[3]
    normalised = ((image / 255 - np.array(MEAN)) / np.array(STD)).transpose(2, 0, 1)
    assert exercises.check("normalized_image", normalised, data, 3)
    lrs = list(1e-4 * (10 / 1e-4) ** (np.arange(20) / 19))
    assert exercises.check("sweep_rate", 1e-4 * (10 / 1e-4) ** (9 / 19), lrs, 9)
    config = tiny_config()
    rates = train.lr_schedule(config, 0.05, 4)
    first = 0.05 / config.div_factor
    assert exercises.check("first_and_last_rate", [first, first / config.final_div_factor],
                           rates)
    counts = metrics.confusion_matrix(results.labels, results.preds, 10)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = counts.diagonal() / counts.sum(axis=0)
    assert exercises.check("precision_per_class", precision, results.labels, results.preds, 10)
    images = results.normalized([4])
    with GradCAM(model=results.model, target_layers=[results.model.layer2]) as cam:
        layer2 = cam(input_tensor=images, targets=[ClassifierOutputTarget(2)])[0]
    assert exercises.check("layer2_map", layer2, results.model, images, 2)
    by_hand = cam_by_hand(results.model, results.model.layer2, images, 2)
    assert exercises.check("layer2_map", by_hand, results.model, images, 2)
    assert capsys.readouterr().out.count(": right") == 6


def sweep_with_a_bump(points=100, start=1e-4, end=10.0, diverged=True):
    """A range test: a descent, a blow-up and a fall back past the lowest point, a rise, and
    (diverged) a last step that blew up, as torch-lr-finder records it."""
    x = np.arange(points, dtype=float)
    raw = (2.3 - 0.5 / (1 + np.exp(-(x - 0.35 * points) / 4))
           + 0.6 * np.exp(-((x - 0.58 * points) / 3) ** 2) + 0.01 * np.maximum(x - 0.7 * points, 0)
           + np.random.default_rng(0).normal(0, 0.02, points))
    if diverged:
        raw[-1] = 50.0
    return np.geomspace(start, end, points).tolist(), raw.tolist()


@pytest.mark.parametrize("points", [100, 20, 8])  # a full sweep, the tests' own, one cut short
def test_the_three_rules_by_hand_equal_the_kits(points, capsys):
    lrs, raw = sweep_with_a_bump(points)
    result = {"lrs": lrs, "raw_losses": raw, **lr_finder.suggest(lrs, raw, warm_up=485)}
    ns = run_section("02_find_lr", "## 3.", {**imports("02_find_lr"), "result": result,
                                              "config": tiny_config()})
    assert ns["steepest"] == result["steepest_lr"]
    assert ns["tenth"] == result["min_loss_lr"] / 10
    if result["evidence"] == "ok" and not result["capped"]:  # else a fallback or the cap decides
        assert ns["factor"] * ns["floor"] == pytest.approx(result["max_lr"])
    shown = capsys.readouterr().out
    assert f"steepest descent (torch-lr-finder): {result['steepest_lr']:.3g}" in shown
    assert "floor x factor (this kit): " in shown


def test_the_steepest_point_exercise_wants_the_rate_to_one_sweep_step(capsys):
    for start, end in ((1e-4, 10.0), (1e-6, 1.0)):  # SGD's and Adam's sweeps
        lrs, raw = sweep_with_a_bump(start=start, end=end, diverged=False)
        ema = [raw[0]]  # torch-lr-finder's running average (smooth_f=0.05)
        for value in raw[1:]:
            ema.append(0.05 * value + 0.95 * ema[-1])
        losses = np.array(ema)
        by_hand = np.array(lrs)[np.argmin(np.gradient(losses)[:np.argmin(losses) + 1])]
        step = lrs.index(by_hand)
        assert exercises.check("steepest_lr", by_hand, lrs, ema)
        for wrong in (lrs[step - 1], lrs[step + 1]):
            assert not exercises.check("steepest_lr", wrong, lrs, ema)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == ["right", "not", "not"] * 2
