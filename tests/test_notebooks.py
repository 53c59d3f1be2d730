"""The five notebooks as files, and the helpers they call: parameters (eraskit.notebook),
Colab set-up (eraskit.colab), tables and the Grad-CAM explorer.

Every .ipynb has a py:percent twin that jupytext regenerates exactly; committed notebooks hold
no outputs; each has one parameters cell and no `def` or `class`; their Colab badge and install
line spell helpers.REPOSITORY. Running the notebooks themselves is
`pytest --nbval-lax notebooks` (see notebooks/conftest.py).
"""

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from eraskit import colab, metrics, predictions, tables
from eraskit import gradcam_explorer as explorer
from eraskit import notebook as nb
from eraskit.config import CHOICES, Config
from eraskit.errors import EraskitError
from eraskit.gradcam import cam_methods
from eraskit.model import ResNet18
from eraskit.runs import Run, RunPaths
from helpers import REPOSITORY, colab_url, pip_requirement

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_explore_data", "02_find_lr", "03_train_resnet", "04_analyse_errors",
         "05_gradcam_gallery"]
# Parameters that are not Config fields (those are checked against Config itself).
OTHER_PARAMETERS = {"PRESET", "DATA", "RUN_DIR", "DRIVE", "IMAGE"}
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def read(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def code_cells(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def as_python(source: str) -> str:
    """A cell's source as IPython runs it (magics such as %pip become function calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def parameters_cell(notebook: dict) -> str:
    return next("".join(c["source"]) for c in notebook["cells"]
                if "parameters" in c["metadata"].get("tags", []))


def config_expression(notebook: dict) -> str:
    """The expression a notebook assigns to `config`."""
    for source in code_cells(notebook):
        for node in ast.parse(as_python(source)).body:
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "config":
                return ast.unparse(node.value)
    raise AssertionError("no `config = ...` in the notebook")


def jupytext_py(ipynb: Path) -> str:
    """What `jupytext --to py:percent -o - NAME.ipynb` prints: the .py the pair must hold."""
    done = subprocess.run([sys.executable, "-m", "jupytext", "--to", "py:percent", "-o", "-",
                           str(ipynb)], capture_output=True, text=True, cwd=ipynb.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_five_notebooks_and_nothing_else_are_paired():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py") if p.name != "conftest.py") == NAMES
    config = (ROOT / "jupytext.toml").read_text()
    assert re.search(r'^formats = "ipynb,py:percent"$', config, re.M)


@pytest.mark.parametrize("name", NAMES)
def test_py_twin_is_in_sync(name):
    twin = NOTEBOOKS / f"{name}.py"
    assert jupytext_py(NOTEBOOKS / f"{name}.ipynb") == twin.read_text(), (
        f"notebooks/{name}.py and .ipynb differ: edit the .py, then run "
        f"`jupytext --sync notebooks/{name}.py`")


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    notebook = read(name)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{name}.ipynb holds outputs: clear them (Kernel > Restart & Clear Output), "
                f"or regenerate it with `jupytext --to ipynb notebooks/{name}.py`")
    assert "widgets" not in notebook["metadata"], "saved widget state"


@pytest.mark.parametrize("name", NAMES)
def test_one_parameters_cell_near_the_top(name):
    cells = read(name)["cells"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert cells[tagged[0]]["cell_type"] == "code" and tagged[0] <= 6


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_known_names(name):
    """A typo in a parameter name would silently ignore its environment variable."""
    source = "".join(code_cells(read(name)))
    names = re.findall(r'nb\.from_env\("(\w+)"', source)
    assert names
    fields = {f.upper() for f in Config.__dataclass_fields__}
    assert set(names) <= fields | OTHER_PARAMETERS


def test_find_lr_and_train_build_the_same_config():
    """Notebook 02 starts the run folder that notebook 03 trains in, and a folder keeps the
    settings it was started with: both must build the same Config from the same parameters."""
    find, train = read("02_find_lr"), read("03_train_resnet")
    assert parameters_cell(find) == parameters_cell(train)
    assert config_expression(find) == config_expression(train)


@pytest.mark.parametrize("name", NAMES)
def test_no_function_or_class_defined_in_a_cell(name):
    for source in code_cells(read(name)):
        tree = ast.parse(as_python(source))
        defined = [n for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"{name}: move this into eraskit, with a test:\n{source}"


@pytest.mark.parametrize("name", NAMES)
def test_badge_and_install_line_use_the_repository(name):
    notebook = read(name)
    title = "".join(notebook["cells"][0]["source"])
    assert notebook["cells"][0]["cell_type"] == "markdown"
    assert BADGE.format(url=colab_url(name)) in title
    setup = code_cells(notebook)[0]
    assert f'"{pip_requirement()}"], check=True)' in setup
    # On Colab only; elsewhere the cell does nothing. Plain Python, so the .py twin runs too.
    assert re.search(r'^if "google\.colab" in sys\.modules:.*\n    subprocess\.run\(\[sys\.executable, '
                     r'"-m", "pip", "install"', setup, re.M)
    # No other spelling of the address anywhere in the notebook.
    text = json.dumps(notebook)
    owner_and_name = REPOSITORY.removeprefix("https://github.com/")
    assert text.count(REPOSITORY) == text.count(colab_url(name)) == 1
    assert text.count(owner_and_name) == 2
    # Links to other projects on GitHub are welcome; one to the kit's owner is the address.
    assert set(re.findall(r"github\.com/eraskit[\w./-]*", text)) == {
        REPOSITORY.removeprefix("https://")}


def test_the_readme_spells_the_same_repository_and_the_package_none():
    readme = (ROOT / "README.md").read_text()
    assert f'pip install "{pip_requirement()}"' in readme
    for name in NAMES:
        assert BADGE.format(url=colab_url(name)) in readme
    holders = [p.name for p in (ROOT / "eraskit").glob("*.py")
               if "github.com/eraskit" in p.read_text()]
    assert holders == []


def test_editing_the_py_twin_and_syncing_updates_the_notebook(tmp_path):
    """What a student does: edit NAME.py, `jupytext --sync NAME.py`, rerun the .ipynb."""
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    (tmp_path / "notebooks").mkdir()
    for suffix in (".py", ".ipynb"):
        shutil.copy(NOTEBOOKS / f"03_train_resnet{suffix}", tmp_path / "notebooks")
    py = tmp_path / "notebooks" / "03_train_resnet.py"
    ipynb = py.with_suffix(".ipynb")
    original = 'EPOCHS = nb.from_env("EPOCHS", None)'
    assert original in py.read_text()
    py.write_text(py.read_text().replace(original, 'EPOCHS = nb.from_env("EPOCHS", 3)'))
    done = subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(py)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    notebook = json.loads(ipynb.read_text())
    parameters = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert 'EPOCHS = nb.from_env("EPOCHS", 3)' in "".join(parameters[0]["source"])
    assert jupytext_py(ipynb) == py.read_text()
    assert all(c.get("outputs", []) == [] for c in notebook["cells"])


# --- eraskit.notebook, eraskit.colab, eraskit.tables ----------------------------------------


def test_from_env_reads_config_types(monkeypatch):
    for name in ("EPOCHS", "SUBSET", "MAX_LR", "RUN_DIR", "DRIVE", "DATA"):
        monkeypatch.delenv(f"ERASKIT_{name}", raising=False)
    assert nb.from_env("EPOCHS", 20) == 20
    monkeypatch.setenv("ERASKIT_EPOCHS", "3")
    monkeypatch.setenv("ERASKIT_SUBSET", "1000")
    monkeypatch.setenv("ERASKIT_MAX_LR", "0.4")
    monkeypatch.setenv("ERASKIT_RUN_DIR", "/tmp/run")
    monkeypatch.setenv("ERASKIT_DRIVE", "no")
    assert nb.from_env("EPOCHS", 20) == 3
    assert nb.from_env("SUBSET", None) == 1000  # int, from Config, though the default is None
    assert nb.from_env("MAX_LR", None) == 0.4
    assert nb.from_env("RUN_DIR", "runs/resnet18") == "/tmp/run"
    assert nb.from_env("DRIVE", True) is False
    monkeypatch.setenv("ERASKIT_SUBSET", "none")
    assert nb.from_env("SUBSET", 5) is None


@pytest.mark.parametrize("name, default, text, kind", [
    ("EPOCHS", 20, "three", "int"), ("EPOCHS", 20, "2.5", "int"), ("WIDTH", 64, "none", "int"),
    ("DRIVE", True, "maybe", "bool"), ("MAX_LR", None, "fast", "float")])
def test_from_env_rejects_bad_values_in_one_line(monkeypatch, name, default, text, kind):
    monkeypatch.setenv(f"ERASKIT_{name}", text)
    with pytest.raises(EraskitError) as caught:
        nb.from_env(name, default)
    assert str(caught.value) == f"ERASKIT_{name}='{text}' is not a valid {kind}"


def test_a_value_from_the_environment_is_announced(monkeypatch, capsys):
    monkeypatch.setenv("ERASKIT_EPOCHS", "1")
    monkeypatch.setenv("ERASKIT_WIDTH", "64")
    monkeypatch.delenv("ERASKIT_SUBSET", raising=False)
    assert nb.from_env("EPOCHS", 20) == 1
    assert nb.from_env("WIDTH", 64) == 64
    assert nb.from_env("SUBSET", None) is None
    assert capsys.readouterr().out.splitlines() == [
        "EPOCHS = 1 from ERASKIT_EPOCHS (overrides the cell's 20)",
        "WIDTH = 64 from ERASKIT_WIDTH (the same as the cell's)"]


def test_unknown_environment_names_are_reported_in_one_line(monkeypatch, capsys):
    for name in [v for v in os.environ if v.startswith("ERASKIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ERASKIT_EPOCHS", "1")
    monkeypatch.setenv("ERASKIT_PRESET", "cpu")
    assert nb.report_unknown_env() == [] and capsys.readouterr().out == ""
    monkeypatch.setenv("ERASKIT_EPOHCS", "1")
    monkeypatch.setenv("ERASKIT_WIDHT", "8")
    assert nb.report_unknown_env() == ["ERASKIT_EPOHCS", "ERASKIT_WIDHT"]
    assert capsys.readouterr().out == ("ignored: ERASKIT_EPOHCS, ERASKIT_WIDHT (no setting of "
                                       "that name; check the spelling)\n")


@pytest.mark.parametrize("name", ["02_find_lr", "03_train_resnet"])
def test_one_word_picks_the_preset(name):
    """PRESET maps to the command line's presets; a setting left at None keeps its value."""
    from eraskit.config import preset

    assert 'PRESET = nb.from_env("PRESET", "full")' in parameters_cell(read(name))
    assert config_expression(read(name)).startswith("preset(PRESET, ")
    settings = dict(epochs=None, width=None, subset=None, test_subset=None, batch_size=None,
                    max_lr=None, lr_iters=None)
    assert preset("cpu", **settings) == preset("cpu")


def test_analysis_falls_back_to_the_data_the_run_was_trained_on(trained_run, npz_path,
                                                                 monkeypatch, capsys):
    from dataclasses import replace

    from eraskit.data import load_npz

    run = Run(trained_run.paths, trained_run.config, trained_run.history,
              meta=replace(trained_run.meta, data_source=str(load_npz(npz_path).source)))
    data = nb.analysis_data(run)
    assert len(data.x_train) == 64 and "the file this run was trained on" in capsys.readouterr().out
    np.testing.assert_array_equal(nb.analysis_data(run, str(npz_path)).y_test, data.y_test)


def test_colab_address_and_install_requirement():
    assert colab_url("01_explore_data") == (
        "https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/"
        "01_explore_data.ipynb")
    assert pip_requirement() == "eraskit @ git+https://github.com/eraskit/eraskit"


def test_the_run_folder_moves_to_drive_only_on_colab(monkeypatch):
    assert colab.on_colab() is False
    assert colab.run_folder("runs/resnet18") == "runs/resnet18"
    mounted = []
    drive = type(sys)("google.colab.drive")
    drive.mount = mounted.append
    google, colab_module = type(sys)("google"), type(sys)("google.colab")
    colab_module.drive, google.colab = drive, colab_module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    assert colab.on_colab() is True
    assert colab.run_folder("runs/resnet18") == "/content/drive/MyDrive/eraskit/runs/resnet18"
    assert mounted == ["/content/drive"]
    assert colab.run_folder("runs/resnet18", drive=False) == "runs/resnet18"
    assert colab.run_folder("/tmp/run") == "/tmp/run"  # an absolute path is kept


def test_require_run_names_the_notebook_to_run_first(tmp_path):
    with pytest.raises(EraskitError) as caught:
        nb.require_run(tmp_path / "resnet18")
    assert str(caught.value) == (f"no trained run in {tmp_path / 'resnet18'}: "
                                 f"run notebooks/03_train_resnet.ipynb first")
    paths = RunPaths(tmp_path / "resnet18")
    paths.root.mkdir()
    paths.config.write_text(Config().to_json())  # notebook 02 or an interrupted 03: no predictions
    with pytest.raises(EraskitError, match="run notebooks/03_train_resnet.ipynb first"):
        nb.require_run(paths.root)


def test_require_run_names_the_folder_in_full_and_the_run_one_folder_up(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)  # as a notebook runs: in notebooks/
    with pytest.raises(EraskitError) as caught:
        nb.require_run("runs/smoke")
    assert str(caught.value) == (f"no trained run in runs/smoke ({notebooks / 'runs' / 'smoke'}): "
                                 f"run notebooks/03_train_resnet.ipynb first")
    paths = RunPaths(tmp_path / "runs" / "smoke")  # trained from the repository's root
    paths.root.mkdir(parents=True)
    paths.config.write_text(Config().to_json())
    for path in (paths.checkpoint, paths.predictions):
        path.write_bytes(b"")
    with pytest.raises(EraskitError) as caught:
        nb.require_run("runs/smoke")
    assert str(caught.value).endswith("first; did you mean ../runs/smoke?")


def test_table_rounds_floats():
    table = tables.table(["channel", "mean"], [("R", 0.491312345), ("G", np.float64(0.48))])
    assert table.data.splitlines() == ["| channel | mean |", "| --- | --- |", "| R | 0.4913 |",
                                       "| G | 0.48 |"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small only lose time to threading (10x when busy)
    yield make_results(tmp_path_factory.mktemp("run"))
    torch.set_num_threads(threads)


def make_results(run_dir: Path) -> predictions.TestResults:
    """Test results of an untrained width-4 network on 12 random images, 9 of them wrong."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = ResNet18(width=4).eval()
    config = Config(width=4)
    run = Run(RunPaths(run_dir), config, history=[])
    probs = rng.dirichlet(np.ones(10), size=12).astype(np.float32)
    labels = rng.integers(0, 10, size=12)
    labels[:3] = probs[:3].argmax(axis=1)
    labels[3:] = (probs[3:].argmax(axis=1) + 1) % 10
    pixels = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    classes = tuple(f"class {c}" for c in range(10))
    return predictions.TestResults(run, model, pixels, labels, probs, classes)


@pytest.mark.parametrize("target, layer", [(explorer.TRUE, "layer1"), (explorer.PRED, "layer2"),
                                           (7, "layer3"), (explorer.TRUE, "layer4")])
def test_plot_cam_choice_draws_three_panels(results, layer, target):
    fig = explorer.plot_cam_choice(results, 5, target, layer, "gradcam")
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 3 and titles[0].startswith("test image 5")
    expected = {explorer.TRUE: results.labels[5], explorer.PRED: results.preds[5]}.get(target, target)
    # "evidence for class 7\n(...)", or "no positive evidence\nfor class 7 (...)" for an
    # empty map (common for an untrained network)
    assert re.match(rf"(evidence for|no positive evidence\nfor) class {expected}\b", titles[2])
    plt.close(fig)


def test_an_eigencam_choice_claims_no_class(results):
    fig = explorer.plot_cam_choice(results, 5, 7, "layer3", "eigencam")
    assert not any("evidence for" in ax.get_title() for ax in fig.axes)
    assert "ignores the class" in fig.axes[2].get_title()
    plt.close(fig)


def test_gradcam_explorer_redraws_for_every_choice(results, monkeypatch):
    drawn = []  # (test image, target, layer, method) of each figure the explorer drew
    real = explorer.plot_cam_choice

    def record(results, index, target, layer, method):
        drawn.append((index, target, layer, method))
        return real(results, index, target, layer, method)

    monkeypatch.setattr(explorer, "plot_cam_choice", record)
    shown = explorer.gradcam_explorer(results)
    controls, image = shown.controls, shown.image
    selection, number, target, method, layer = (controls[name] for name in (
        "selection", "number", "target", "method", "layer"))
    mistakes = list(metrics.misclassified(results.labels, results.probs, count=12))
    assert selection.value == "mistakes" and number.max == 9 - 1
    assert drawn == [(mistakes[0], explorer.TRUE, "layer3", "gradcam")]  # the first figure
    assert image.value == shown.png and bytes(image.value).startswith(b"\x89PNG")
    selection.value = "all"
    assert number.max == len(results.labels) - 1
    number.value = number.max
    assert drawn[-1][0] == len(results.labels) - 1
    target.value = 3
    assert drawn[-1][1] == 3
    for name in cam_methods():
        method.value = name
        assert drawn[-1][1:] == (3, "layer3", name)
    for name in CHOICES["cam_layer"]:
        layer.value = name  # layer3 with eigencam was drawn above: it comes back, not redrawn
        assert (number.max, 3, name, "eigencam") in drawn
        assert image.value == explorer.choice_png(results, shown.choice)
    before = len(drawn)
    selection.value = "mistakes"  # the slider shrinks back, its value with it: one figure
    assert number.max == number.value == 9 - 1
    assert drawn[-1][0] == mistakes[8] and len(drawn) == before + 1
    assert image.value == shown.png == explorer.choice_png(results, shown.choice)


def test_changing_any_control_changes_the_figure(results):
    """choice_png, the explorer's figure for given control values, differs whenever one of
    them changes; so does the picture in the widget."""
    start = explorer.Choice("mistakes", 0, explorer.TRUE, "layer3", "gradcam")
    # in this order each change matters in the widget too: image 1 is classified right, so
    # after `number` its predicted class would be its true one
    changes = {"target": explorer.PRED, "layer": "layer4", "method": "layercam", "number": 1,
               "selection": "all"}
    first = explorer.choice_png(results, start)
    assert first.startswith(b"\x89PNG") and explorer.choice_png(results, start) == first
    for name, value in changes.items():
        assert explorer.choice_png(results, start._replace(**{name: value})) != first, name
    shown = explorer.gradcam_explorer(results, *start)
    for name, value in changes.items():
        before = shown.image.value
        shown.controls[name].value = value
        assert shown.image.value != before, name


def test_explorer_widgets_under_the_installed_ipywidgets(results):
    """The box holds the five controls, labelled with LABELS, and the figure as a PNG Image
    (no Output widget: Colab's ipywidgets 7 front end fails on it); the cell's output is that
    widget, with the figure and one line for front ends that show no widgets."""
    import ipywidgets as widgets

    shown = explorer.gradcam_explorer(results, number=2, target=4, layer="layer2",
                                      method="gradcam++")
    assert shown.choice == ("mistakes", 2, 4, "layer2", "gradcam++")
    assert {name: c.description for name, c in shown.controls.items()} == explorer.LABELS

    def leaves(widget):
        children = getattr(widget, "children", ())
        return [widget] if not children else [leaf for c in children for leaf in leaves(c)]

    assert isinstance(shown.box, widgets.Box) and isinstance(shown.image, widgets.Image)
    assert leaves(shown.box) == [*(shown.controls[name] for name in (
        "selection", "number", "target", "method", "layer")), shown.image]
    assert not any(isinstance(w, widgets.Output) for w in leaves(shown.box))
    assert shown.image.format == "png" and shown.controls["number"].continuous_update is False
    bundle = shown._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == shown.box.model_id
    assert bundle["text/plain"] == shown.note and "\n" not in shown.note
    assert "data:image/png;base64," in bundle["text/html"] and "number" in shown.note


def test_without_ipywidgets_the_explorer_shows_one_figure_and_one_line(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets fails
    shown = explorer.gradcam_explorer(results, number=1, layer="layer4")
    assert shown.box is None and shown.controls == {}
    assert shown.png == explorer.choice_png(results, explorer.Choice(number=1, layer="layer4"))
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"].startswith("ipywidgets is not installed: to draw another image")
    assert "\n" not in bundle["text/plain"] and "gradcam_explorer(" in bundle["text/plain"]


def test_a_run_without_mistakes_starts_the_explorer_at_all_images(results):
    perfect = dataclasses.replace(results, labels=results.preds.copy())
    shown = explorer.gradcam_explorer(perfect)
    assert shown.choice.selection == "all"
    empty = explorer.choice_png(perfect, explorer.Choice("mistakes"))
    assert empty.startswith(b"\x89PNG")  # a figure saying there is nothing to show


@pytest.mark.parametrize("name", ["04_analyse_errors", "05_gradcam_gallery"])
def test_analysis_notebook_without_a_run_says_what_to_run_first(tmp_path, name):
    """Opened on their own, notebooks 04 and 05 stop with one line, not a traceback."""
    from jupyter_client.manager import start_new_kernel

    run_dir = tmp_path / "resnet18"
    env = {**os.environ, "ERASKIT_RUN_DIR": str(run_dir)}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(NOTEBOOKS), env=env)
    errors = []
    try:
        for source in code_cells(read(name)):
            reply = client.execute_interactive(
                source, timeout=120,
                output_hook=lambda msg: errors.append(msg["content"])
                if msg["msg_type"] == "error" else None)
            if reply["content"]["status"] != "ok":
                break
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert len(errors) == 1
    message = f"no trained run in {run_dir}: run notebooks/03_train_resnet.ipynb first"
    assert errors[0]["ename"] == "EraskitError" and errors[0]["evalue"] == message
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "".join(errors[0]["traceback"]))
    assert shown.strip() == f"EraskitError: {message}"


@pytest.mark.parametrize("name", NAMES)
def test_the_py_twin_is_plain_python(name):
    """Students may run the .py twin as a script or in an editor: no magics, no syntax errors."""
    ast.parse((NOTEBOOKS / f"{name}.py").read_text())


def test_without_data_the_notebooks_are_skipped_for_one_reason(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ERASKIT_DATA"}
    env["ERASKIT_CACHE"] = str(tmp_path)  # no download there
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p",
                           "no:cacheprovider", str(NOTEBOOKS)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped == [f"SKIPPED [1] notebooks/01_explore_data.ipynb: 5 notebook(s) not run: no "
                       f"local CIFAR-10: ERASKIT_DATA is unset and {tmp_path} holds no download "
                       f"(set ERASKIT_DATA to a .npz, or download CIFAR-10 once: python -c "
                       f"\"import eraskit.data as d; d.load_cifar10()\")"], done.stdout
    assert "failed" not in done.stdout and "error" not in done.stdout.lower()
