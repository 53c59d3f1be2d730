"""What a notebook reads before it calls the kit: its parameters, from the cell or from the
environment ($ERASKIT_<NAME>, which the tests use to run the notebooks small), and the trained
run and data set that the analysis notebooks read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from .advice import NOTEBOOK_SETTINGS, TRAIN_NOTEBOOK
from .config import FIELDS, field_type, parse_text
from .data import Cifar10, load_cifar10, npz_path
from .errors import EraskitError
from .flags import flag
from .run_lock import writer_pid
from .runs import Run, RunPaths, load_run, training_note

ENV_PREFIX = "ERASKIT_"  # EPOCHS is read from $ERASKIT_EPOCHS, and so on
# The notebooks' parameters that are not Config fields; with NOTEBOOK_SETTINGS, every NAME a
# notebook reads from ERASKIT_<NAME> (tests/test_notebooks.py checks the notebooks against it).
OTHER_PARAMETERS = {"PRESET", "DATA", "RUN_DIR", "DRIVE", "IMAGE"}
NOTEBOOK_PARAMETERS = {name.upper() for name in NOTEBOOK_SETTINGS} | OTHER_PARAMETERS
KIT_VARIABLES = {"DATA", "CACHE"}  # what data.py reads, in a notebook and on the command line


def _parameter_type(name: str, default: Any) -> tuple[type, bool]:
    """(type, whether None is allowed) of a parameter: its Config field's, else its default's."""
    if name.lower() in FIELDS:
        return field_type(name.lower())
    return (str if default is None else type(default)), default is None


def from_env(name: str, default: Any) -> Any:
    """The value of $ERASKIT_<name> if it is set, else `default`.

    The text is read as the type of the Config field of that name (EPOCHS -> epochs: int,
    MAX_LR -> max_lr: float or None), or else as the type of `default`; "none" or an empty
    value gives None where None is allowed. The tests run the notebooks small this way.
    A value taken from the environment is announced in one line, so that an exported variable
    never silently beats the value written in the cell.
    """
    variable = ENV_PREFIX + name
    text = os.environ.get(variable)
    if text is None:
        return default
    kind, optional = _parameter_type(name, default)
    try:
        value = parse_text(text, kind, optional)  # as the command line reads its flags
    except ValueError:
        raise EraskitError(f"{variable}={text!r} is not a valid {kind.__name__}") from None
    cell = "the same as the cell's" if value == default else f"overrides the cell's {default!r}"
    print(f"{name} = {value!r} from {variable} ({cell})")
    return value


def known_parameters() -> set[str]:
    """Every NAME the notebooks read from $ERASKIT_<NAME>: their parameters, and the data and
    cache locations."""
    return NOTEBOOK_PARAMETERS | KIT_VARIABLES


def report_unknown_env() -> list[str]:
    """Print one line naming the ERASKIT_* variables no notebook reads, which would otherwise
    change nothing, silently: a misspelt name (ERASKIT_EPOHCS), or a setting that only the
    command line takes (ERASKIT_OPTIMIZER: --optimizer). Returns their names."""
    unknown = sorted(v for v in os.environ if v.startswith(ENV_PREFIX)
                     and v[len(ENV_PREFIX):] not in known_parameters())
    settings = [v for v in unknown if v[len(ENV_PREFIX):].lower() in FIELDS]
    misspelt = [v for v in unknown if v not in settings]
    said = []
    if misspelt:
        said.append(f"{', '.join(misspelt)} (no setting of that name; check the spelling)")
    if settings:
        flags = ", ".join(flag(v[len(ENV_PREFIX):].lower()) for v in settings)
        said.append(f"{', '.join(settings)} (settings the notebooks do not take: only the "
                    f"command line does, as {flags})")
    if said:
        print(f"ignored: {'; '.join(said)}")
    return unknown


def analysis_data(run: Run, data: Optional[str] = None) -> Cifar10:
    """The data to analyse `run` on: `data` if given, else the local .npz the run was trained
    on (its meta.json's data_source) while it is still there, else the default source of
    load_cifar10 (ERASKIT_DATA, or the official download). The command line does the same."""
    if data is None:
        recorded = npz_path(run.meta.data_source)
        if recorded and Path(recorded).is_file():
            print(f"data: {recorded}, the file this run was trained on (from its meta.json)")
            data = recorded
        elif recorded:
            raise EraskitError(f"{run.paths.root} was trained on {recorded}, which is gone: "
                               f"set DATA to a copy of it")
    return load_cifar10(data)


def holds_trained_run(folder: Path) -> bool:
    """Whether `folder` holds a trained run: its settings, checkpoint and predictions."""
    paths = RunPaths(folder)
    return (paths.config.is_file() and paths.checkpoint.is_file()
            and paths.predictions.is_file())


def require_run(run_dir: str | os.PathLike) -> Run:
    """The trained run in `run_dir`; if there is none, an EraskitError naming the folder in
    full and the notebook to run first (shown as one line after colab.show_errors_briefly).
    A relative `run_dir` is relative to the notebook's folder (notebooks/): where the one
    above holds that run (trained from the repository's root), the error names it. While
    another process trains the run, one line says so."""
    folder = RunPaths.of(run_dir).root
    if holds_trained_run(folder):
        run = load_run(folder)
        note = training_note(run)
        if note:
            print(note)
        return run
    pid = writer_pid(folder)
    if pid is not None:
        raise EraskitError(f"{folder}: training in progress (pid {pid}), no epoch saved yet: run "
                           f"this cell again once {TRAIN_NOTEBOOK} has saved the first")
    above = Path(os.pardir) / folder
    hint = (f"; did you mean {above}?" if not folder.is_absolute() and holds_trained_run(above)
            else "")
    where = f"{run_dir}" if folder.is_absolute() else f"{run_dir} ({folder.resolve()})"
    raise EraskitError(f"no trained run in {where}: run {TRAIN_NOTEBOOK} first{hint}")
