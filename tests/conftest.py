"""Fixtures: tiny synthetic data, one trained tiny run, and an isolated environment.

Unit tests never touch the real data set: every image is made up (see helpers.py), and
ERASKIT_DATA is removed from the environment of each test (CI sets it for the notebooks).
"""

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no PyPI check when albumentations loads
os.environ.setdefault("MPLBACKEND", "Agg")
# One thread, here and in the subprocesses the tests start: a width-8 network gains nothing
# from two, and when the two cores are busy (a DataLoader worker, another test run) two OpenMP
# threads made a training step 50x slower than one (3.5 s against 0.06 s, measured here).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from eraskit import training_run  # noqa: E402
from helpers import save_npz, synthetic_cifar, tiny_config  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _isolated(request, monkeypatch, tmp_path_factory):
    """No test reads the real data or downloads into the home folder; figures are closed."""
    if request.path.name != "test_notebooks.py":  # that module belongs to the notebooks
        monkeypatch.delenv("ERASKIT_DATA", raising=False)
        monkeypatch.setenv("ERASKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def data():
    """64 training and 32 test images (see helpers.synthetic_cifar)."""
    return synthetic_cifar()


@pytest.fixture(scope="session")
def npz_path(tmp_path_factory, data) -> Path:
    return save_npz(tmp_path_factory.mktemp("data") / "tiny.npz", data)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data):
    """A finished tiny run (helpers.TINY, 3 epochs). Read-only: use `run_copy` to change it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    return training_run.fit(tiny_config(), data, out, progress=False, log=lambda *_: None)


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A private copy of the trained run's folder."""
    return Path(shutil.copytree(trained_run.paths.root, tmp_path / "run"))
