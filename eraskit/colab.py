"""A notebook's set-up on Colab and in Jupyter: kit errors shown in one line and advice in the
notebook's words, and the run folder kept on Google Drive when the notebook runs in Colab."""

from __future__ import annotations

import sys
from pathlib import Path

from . import advice
from .errors import EraskitError
from .runs import RunPaths

DRIVE_MOUNT = "/content/drive"  # where Colab mounts Google Drive


def on_colab() -> bool:
    """Whether this kernel runs in Google Colab."""
    return "google.colab" in sys.modules


def run_folder(run_dir: str, drive: bool = True) -> str:
    """Where the run lives: `run_dir` itself, except on Colab with `drive`, where it is the
    same path inside Google Drive (mounted on first use, which asks for permission).

    Each Colab notebook runs on its own machine, whose disk is wiped when the runtime ends;
    only Drive is shared by notebooks 02-05 and survives a disconnect, so that notebook 03
    can resume and notebooks 04-05 can load its run. An empty `run_dir` is refused.
    """
    RunPaths.of(run_dir)  # "" would be the working folder, or Drive's eraskit folder itself
    if not (drive and on_colab()) or Path(run_dir).is_absolute():
        return run_dir
    from google.colab import drive as google_drive

    google_drive.mount(DRIVE_MOUNT)
    return str(Path(DRIVE_MOUNT, "MyDrive", "eraskit", run_dir))


def _show_one_line(shell, etype, value, tb, tb_offset=None) -> None:
    # The public showtraceback(exception_only=True) adds a line about %tb; this sends only ours.
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def show_errors_briefly() -> None:
    """In IPython (Jupyter, Colab), show an EraskitError as one line, as the CLI does, and
    word the kit's advice for a notebook (its parameters, "run this cell again": advice.py).

    Its message already says what to change; a traceback through the kit would bury it.
    Other exceptions keep their full traceback. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((EraskitError,), _show_one_line)
        advice.use_notebook_words()
