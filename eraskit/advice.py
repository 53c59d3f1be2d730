"""Advice worded for where the student is. On the command line (the default) a message names
flags and commands: `--width 16`, `--out`, "continue with --resume". In a notebook it names the
parameters of the notebook's first cell and the cell to run: `WIDTH = 16`, `RUN_DIR`, "run
this cell again". colab.show_errors_briefly, which every notebook calls first, switches a
kernel to the notebook's words."""

from __future__ import annotations

from typing import Any, Optional

from .config import PRESETS, Config, preset
from .flags import flag, shown

TRAIN_NOTEBOOK = "notebooks/03_train_resnet.ipynb"  # the notebook that writes the run
# The Config fields that notebooks 02 and 03 take as parameters (EPOCHS, WIDTH, ...).
NOTEBOOK_SETTINGS = ("epochs", "width", "subset", "test_subset", "batch_size", "max_lr",
                     "lr_iters")

_in_notebook = False


def use_notebook_words(on: bool = True) -> None:
    """Word advice for a notebook (`on`) or for the command line from now on."""
    global _in_notebook
    _in_notebook = on


def in_notebook() -> bool:
    """Whether advice is worded for a notebook."""
    return _in_notebook


def setting(name: str) -> str:
    """How the student names the Config field `name`: WIDTH in a notebook, --width on the
    command line. A setting the notebooks do not take is named by its flag in both."""
    return name.upper() if _in_notebook and name in NOTEBOOK_SETTINGS else flag(name)


def give(name: str) -> str:
    """Giving a setting: "set MAX_LR" in a notebook, "pass --max-lr" on the command line."""
    return f"{'set' if _in_notebook else 'pass'} {setting(name)}"


def set_to(name: str, value: Any) -> str:
    """A setting given a value: `MAX_LR = 0.005` in a notebook, `--max-lr 0.005` on the
    command line."""
    if _in_notebook and name in NOTEBOOK_SETTINGS:
        return f"{name.upper()} = {value!r}"
    return f"{flag(name)} {shown(name, value)}"


def preset_named(name: str) -> str:
    """A preset chosen: PRESET = "cpu" in a notebook, --preset cpu on the command line."""
    return f'PRESET = "{name}"' if _in_notebook else f"--preset {name}"


def folder_setting() -> str:
    """Where the run folder is set: RUN_DIR in a notebook, --out on the command line."""
    return "RUN_DIR" if _in_notebook else "--out"


def data_setting() -> str:
    """Where the data file is given: DATA in a notebook, --data on the command line."""
    return "DATA" if _in_notebook else "--data"


def another_folder() -> str:
    """The way out of a folder that cannot take this run."""
    return "use another RUN_DIR" if _in_notebook else "use another run folder (--out)"


def use_data(path: Optional[str]) -> str:
    """How to train or analyse on the .npz at `path` (None: the official download)."""
    if _in_notebook:  # ERASKIT_DATA, when set, wins over the cell's DATA
        return (f"set DATA (or ERASKIT_DATA) to {path!r}" if path else
                "set DATA to None and unset ERASKIT_DATA (the official download)")
    return (f"pass --data {path}" if path else
            "drop --data and unset ERASKIT_DATA (the official download)")


def again() -> str:
    """Doing the same once more: "run this cell again", or the command."""
    return "run this cell again" if _in_notebook else "run the command again"


def continue_here(epoch: int) -> str:
    """How to continue a run whose last saved epoch is `epoch`, from where it stopped."""
    if _in_notebook:
        return f"run this cell again: it continues after epoch {epoch}"
    return "continue with --resume"


def continue_run(root: object) -> str:
    """How to continue (or make whole again) the run in `root`, from elsewhere."""
    if _in_notebook:
        return f"run the training cell of {TRAIN_NOTEBOOK} again (RUN_DIR = {str(root)!r})"
    return f"run `python -m eraskit train --resume --out {root}`"


def no_folder(root: str) -> str:
    """The refusal of an empty run folder name, which would be the working folder."""
    if _in_notebook:
        return f'RUN_DIR = {root!r} names no folder: set it to one, e.g. "runs/resnet18"'
    return f"--out {root!r} names no folder: give one, e.g. --out runs/smoke"


def analyse_run(root: object) -> str:
    """How to look at the finished run in `root`."""
    if _in_notebook:
        return "analyse it in notebooks 04 and 05"
    return f"analyse it (python -m eraskit analyse --out {root})"


def train_first(root: object) -> str:
    """How to train a run into `root`, which holds none."""
    if _in_notebook:
        return f"run {TRAIN_NOTEBOOK} first"
    return f"train one first, e.g. `python -m eraskit run --preset smoke|cpu|full --out {root}`"


def other_settings(root: object, saved: Config, config: Config, changed: list[str]) -> str:
    """The refusal of `config` in a folder whose run was trained with `saved`, the settings
    `changed` named first: "WIDTH = 16 here, but the run in runs/x was trained with WIDTH = 8:
    set it back ..., or use another RUN_DIR" (flags on the command line)."""
    def listed(c: Config) -> str:
        return ", ".join(set_to(name, getattr(c, name)) for name in changed)

    them = "them" if len(changed) > 1 else "it"
    # several settings at once: most likely another preset, which one preset may undo
    match = len(changed) > 1 and next((name for name in PRESETS if all(
        getattr(preset(name), k) == getattr(saved, k) for k in changed)), None)
    hint = f" ({preset_named(match)} gives the run's)" if match else ""
    fix = (f"set {them} back in notebooks 02 and 03 alike" if _in_notebook else
           f"give the run's value{'s' * (len(changed) > 1)}")
    return (f"{listed(config)} here, but the run in {root} was trained with {listed(saved)}: "
            f"{fix}{hint}, or {another_folder()}")

