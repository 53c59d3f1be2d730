"""Run the notebooks small under `pytest --nbval-lax`: 1 epoch of a width-8 ResNet-18 on
1,000 training images, so all five finish in a couple of minutes on two CPU cores.

nbval starts each notebook's kernel with this process's environment, and the notebooks'
parameter cells read ERASKIT_<NAME> through eraskit.notebook.from_env. A variable that is
already set wins, so `ERASKIT_EPOCHS=3 pytest --nbval-lax notebooks` trains longer. The data
comes from ERASKIT_DATA (a local .npz), which CI sets.
"""

import os
import shutil
import tempfile

import pytest

SMALL = {
    "ERASKIT_EPOCHS": "1",
    "ERASKIT_WIDTH": "8",
    "ERASKIT_SUBSET": "1000",
    "ERASKIT_TEST_SUBSET": "500",
    "ERASKIT_BATCH_SIZE": "128",
    "ERASKIT_LR_ITERS": "20",
}
for name, value in SMALL.items():
    os.environ.setdefault(name, value)
# One thread per kernel: a width-8 network gains little from two, and when the two cores are
# also busy with the DataLoader worker (or anything else) two threads ran the LR range test
# 3x slower than one (41 s against 13 s, measured on this two-core machine).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# One fresh run folder for the whole session, shared by the notebooks in order: 02 writes the
# LR range test into it, 03 trains there, 04 and 05 load that run. A run left by an earlier
# session (or by a student in notebooks/runs) never gets in the way.
_scratch = None
if "ERASKIT_RUN_DIR" not in os.environ:
    _scratch = tempfile.mkdtemp(prefix="eraskit-notebooks-")
    os.environ["ERASKIT_RUN_DIR"] = os.path.join(_scratch, "resnet18")


_saved_backend = None


def pytest_runtest_setup(item):
    """Each notebook's kernel starts during its first cell's setup and inherits this process's
    environment. Without MPLBACKEND, ipykernel picks its inline backend and the figures show
    as they do for students; tests/conftest.py sets MPLBACKEND=Agg for the unit tests, so
    hide it from the kernels (it is put back after each cell)."""
    global _saved_backend
    _saved_backend = os.environ.pop("MPLBACKEND", None)


def pytest_runtest_teardown(item, nextitem):
    if _saved_backend is not None:
        os.environ["MPLBACKEND"] = _saved_backend


def pytest_collection_modifyitems(config, items):
    """Without data (and offline) every notebook would fail in its first data cell and each
    later cell after it: report one skip, with the reason, and deselect the other cells."""
    from eraskit.data import missing_data

    reason = missing_data()
    cells = [item for item in items if item.path.suffix == ".ipynb"]
    if reason is None or not cells:
        return
    notebooks = len({item.path for item in cells})
    cells[0].add_marker(pytest.mark.skip(reason=(
        f"{notebooks} notebook(s) not run: {reason} (set ERASKIT_DATA to a .npz, or download "
        f"CIFAR-10 once: python -c \"import eraskit.data as d; d.load_cifar10()\")")))
    config.hook.pytest_deselected(items=cells[1:])
    items[:] = [item for item in items if item not in cells[1:]]


def pytest_sessionfinish(session, exitstatus):
    if _scratch:
        shutil.rmtree(_scratch, ignore_errors=True)
