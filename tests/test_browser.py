"""Notebook 05 in headless Chromium (tools/browser_check.py): Run All, no error in any cell,
and every control of the Grad-CAM explorer redraws its picture.

Two front ends: JupyterLab 4 from this environment (the kit's `notebooks` extra, ipywidgets 8),
and the classic Notebook 6.5.7 with Colab's widget versions (ipywidgets 7.7.1) from the venv
that `.ci/colab-venv` makes, named by $ERASKIT_COLAB_PYTHON. Each takes about a minute, after a
one-minute smoke run on the real data, so they run only with ERASKIT_BROWSER_TESTS=1 (CI sets
it), and need Playwright (`pip install playwright`, never `playwright install`), Chromium
(Debian's `chromium`) and $ERASKIT_DATA. Screenshots go to $ERASKIT_BROWSER_SHOTS (default: the
test's temporary folder), named in any failure.

The tests above them check the tool's pieces and Colab's pins without a browser.
"""

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from helpers import ROOT

DATA = os.environ.get("ERASKIT_DATA")  # read now: tests/conftest.py hides it from each test
COLAB_PYTHON = os.environ.get("ERASKIT_COLAB_PYTHON")


def load_script():
    spec = importlib.util.spec_from_file_location("browser_check",
                                                  ROOT / "tools" / "browser_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


browser_check = load_script()


def pins(path: Path) -> dict[str, str]:
    """{name: version} of a file's `name==version` lines."""
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def test_colab_versions_satisfy_what_the_kit_asks_for():
    """The Colab cell's `pip install` keeps Colab's versions only if they already satisfy the
    kit's requirements (pip upgrades what does not); .ci/colab-venv checks it for real."""
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    colab = pins(ROOT / ".ci" / "colab-constraints.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    checked = 0
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in colab:
            assert requirement.specifier.contains(colab[name]), (line, colab[name])
            checked += 1
    assert checked >= 4  # albumentations, numpy, matplotlib, opencv at least


def test_errors_and_widgets_are_found_in_a_saved_notebook():
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# title"]},
        {"cell_type": "code", "source": ["x = 1\n", "y"], "outputs": [
            {"output_type": "stream", "name": "stderr", "text": "a warning"}]},
        {"cell_type": "code", "source": ["boom()"], "outputs": [
            {"output_type": "error", "ename": "NameError", "evalue": "boom", "traceback": []}]},
        {"cell_type": "code", "source": ["explorer"], "outputs": [
            {"output_type": "execute_result", "data": {
                "text/plain": "VBox()", browser_check.WIDGET_VIEW: {"model_id": "abc"}}}]},
    ]}
    assert browser_check.error_outputs(notebook) == ["code cell 2 ('boom()'): NameError: boom"]
    assert browser_check.cells_showing(notebook, browser_check.WIDGET_VIEW) == [2]
    assert browser_check.cells_showing(notebook, "error") == [1]


def test_the_server_listens_on_loopback_with_this_tree_first(tmp_path):
    for front_end in browser_check.FRONT_ENDS:
        command = " ".join(browser_check.server_command("py", front_end, 8765, tmp_path))
        assert "127.0.0.1" in command and "8765" in command and "token=" in command
    env = browser_check.kernel_env("/venv/bin/python", tmp_path / "run", tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert env["PATH"].startswith("/venv/bin") and env["ERASKIT_RUN_DIR"] == str(tmp_path / "run")
    assert all(env[name].startswith(str(tmp_path)) for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"))
    assert "MPLBACKEND" not in env  # the kernel draws inline, as for a student
    settings = tmp_path / "lab-settings/@jupyterlab/apputils-extension"
    assert json.loads((settings / "notification.jupyterlab-settings").read_text())[
        "fetchNews"] == "false"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.environ.get("ERASKIT_BROWSER_TESTS"):
        return "browser tests (2 minutes) run with ERASKIT_BROWSER_TESTS=1"
    if importlib.util.find_spec("playwright") is None:
        return "browser tests need Playwright: pip install playwright"
    if not Path(browser_check.CHROMIUM).exists():
        return f"browser tests need Chromium at {browser_check.CHROMIUM} (apt install chromium)"
    if not DATA:
        return "browser tests need ERASKIT_DATA (a CIFAR-10 .npz) for their smoke run"
    return None


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("browser") / "runs" / "resnet18"
    return browser_check.train_smoke_run(sys.executable, out, DATA)


@pytest.mark.parametrize("front_end", browser_check.FRONT_ENDS)
def test_notebook_05_runs_and_its_explorer_redraws_in_a_browser(front_end, smoke_run, tmp_path):
    if front_end == "lab":
        if importlib.util.find_spec("jupyterlab") is None:
            pytest.skip("JupyterLab is not installed: pip install -e '.[notebooks]'")
        python = sys.executable
    else:
        if not COLAB_PYTHON:
            pytest.skip("no Colab venv: bash .ci/colab-venv VENV, then "
                        "ERASKIT_COLAB_PYTHON=VENV/bin/python")
        python = COLAB_PYTHON
    shots = Path(os.environ.get("ERASKIT_BROWSER_SHOTS") or tmp_path / "shots")
    report = browser_check.check(front_end, python, smoke_run, shots)
    print("\n".join(report.controls))
    assert not report.problems, (f"{front_end} (screenshots in {shots}):\n"
                                 + "\n".join(report.problems))
