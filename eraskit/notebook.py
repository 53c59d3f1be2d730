"""What the notebooks share: the Colab set-up, parameters read from the environment, the
check that notebook 03 has trained a run, small tables, and the Grad-CAM explorer widget.

The notebooks stay a few lines a cell because the logic lives here, where tests can reach it.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import augment, metrics, pipeline, plots, report
from .config import CHOICES, Config, field_type
from .data import Cifar10, load_cifar10, npz_path
from .errors import EraskitError
from .gradcam import SCALE_NOTE, cam_methods, cam_title, compute_cams, overlay
from .runs import Run, RunPaths, load_run

# The one place the repository's address is written in the kit. The notebooks' badges and
# install lines cannot import it (they run before the kit is installed), so
# tests/test_notebooks.py checks that they spell exactly this.
REPOSITORY = "https://github.com/eraskit/eraskit"
ENV_PREFIX = "ERASKIT_"  # EPOCHS is read from $ERASKIT_EPOCHS, and so on
TRAIN_NOTEBOOK = "notebooks/03_train_resnet.ipynb"  # the notebook that writes the run
DRIVE_MOUNT = "/content/drive"  # where Colab mounts Google Drive
TRUE, PRED = "true", "pred"  # the explorer's targets besides the class names
# What else the notebooks (and data.py) read from ERASKIT_<NAME>, besides the Config fields.
OTHER_PARAMETERS = {"PRESET", "DATA", "CACHE", "RUN_DIR", "DRIVE", "IMAGE"}


def on_colab() -> bool:
    """Whether this kernel runs in Google Colab."""
    return "google.colab" in sys.modules


def colab_url(notebook: str) -> str:
    """The address that opens notebooks/<notebook>.ipynb of the main branch in Colab."""
    owner_and_name = REPOSITORY.removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{owner_and_name}/blob/main/"
            f"notebooks/{notebook}.ipynb")


def pip_requirement() -> str:
    """What the notebooks' setup cell installs on Colab: the kit, with grad-cam,
    torch-lr-finder and albumentations (a plain install, not an editable one)."""
    return f"eraskit @ git+{REPOSITORY}"


def _parameter_type(name: str, default: Any) -> tuple[type, bool]:
    """(type, whether None is allowed) of a parameter: its Config field's, else its default's."""
    if name.lower() in {f.name for f in fields(Config)}:
        return field_type(name.lower())
    return (str if default is None else type(default)), default is None


def _parse_bool(text: str) -> bool:
    words = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}
    if text.strip().lower() not in words:
        raise ValueError(text)
    return words[text.strip().lower()]


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
    if optional and text.strip().lower() in ("", "none"):
        value = None
    else:
        try:
            value = _parse_bool(text) if kind is bool else kind(text.strip())
        except ValueError:
            raise EraskitError(f"{variable}={text!r} is not a valid {kind.__name__}") from None
    cell = "the same as the cell's" if value == default else f"overrides the cell's {default!r}"
    print(f"{name} = {value!r} from {variable} ({cell})")
    return value


def known_parameters() -> set[str]:
    """Every NAME the kit reads from $ERASKIT_<NAME>: the Config fields, the notebooks' other
    parameters, and the data and cache locations."""
    return {f.name.upper() for f in fields(Config)} | OTHER_PARAMETERS


def report_unknown_env() -> list[str]:
    """Print one line naming the ERASKIT_* variables the kit does not read (a misspelt
    ERASKIT_EPOHCS would otherwise change nothing, silently); returns their names."""
    unknown = sorted(v for v in os.environ if v.startswith(ENV_PREFIX)
                     and v[len(ENV_PREFIX):] not in known_parameters())
    if unknown:
        print(f"ignored: {', '.join(unknown)} (no setting of that name; check the spelling)")
    return unknown


def analysis_data(run: Run, data: Optional[str] = None) -> Cifar10:
    """The data to analyse `run` on: `data` if given, else the local .npz the run was trained
    on (its meta.json's data_source) while it is still there, else the default source of
    load_cifar10 (ERASKIT_DATA, or the official download). The command line does the same."""
    if data is None:
        recorded = npz_path(run.meta.get("data_source", ""))
        if recorded and Path(recorded).is_file():
            print(f"data: {recorded}, the file this run was trained on (from its meta.json)")
            data = recorded
        elif recorded:
            print(f"the run was trained on {recorded}, which is gone: set DATA to a copy")
    return load_cifar10(data)


def _show_one_line(shell, etype, value, tb, tb_offset=None) -> None:
    # The public showtraceback(exception_only=True) adds a line about %tb; this sends only ours.
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def show_errors_briefly() -> None:
    """In IPython (Jupyter, Colab), show an EraskitError as one line, as the CLI does.

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


def run_folder(run_dir: str, drive: bool = True) -> str:
    """Where the run lives: `run_dir` itself, except on Colab with `drive`, where it is the
    same path inside Google Drive (mounted on first use, which asks for permission).

    Each Colab notebook runs on its own machine, whose disk is wiped when the runtime ends;
    only Drive is shared by notebooks 02-05 and survives a disconnect, so that notebook 03
    can resume and notebooks 04-05 can load its run.
    """
    if not (drive and on_colab()) or Path(run_dir).is_absolute():
        return run_dir
    from google.colab import drive as google_drive

    google_drive.mount(DRIVE_MOUNT)
    return str(Path(DRIVE_MOUNT, "MyDrive", "eraskit", run_dir))


def require_run(run_dir: str | os.PathLike) -> Run:
    """The trained run in `run_dir`; if there is none, an EraskitError naming the notebook
    to run first (shown as one line after show_errors_briefly)."""
    paths = RunPaths(Path(run_dir))
    if not (paths.config.is_file() and paths.checkpoint.is_file()
            and paths.predictions.is_file()):
        raise EraskitError(f"no trained run in {run_dir}: run {TRAIN_NOTEBOOK} first")
    return load_run(run_dir)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 4):
    """A Markdown table to show in a notebook; floats to `digits` significant figures."""
    from IPython.display import Markdown

    def text(value: Any) -> str:
        return f"{value:.{digits}g}" if isinstance(value, (float, np.floating)) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(text(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def steps_per_epoch(config: Config, data: Cifar10) -> int:
    """Training steps in one epoch: the length of the training loader this config builds."""
    kept, _ = pipeline.prepare(config, data)
    return len(augment.train_loader(kept.x_train, kept.y_train, config, torch.device("cpu")))


def peak_lr(config: Config, data: Cifar10, run_dir: str | os.PathLike) -> float:
    """The max LR pipeline.fit will give OneCycle: config.max_lr if set, else the suggestion
    notebook 02 saved in the run folder (running the LR range test now if it is missing)."""
    return pipeline.resolve_max_lr(config, data, run_dir, steps_per_epoch(config, data))


def plot_cam_choice(results: report.TestResults, position: int, target: Union[str, int] = TRUE,
                    layer: str = "layer3", method: str = "gradcam") -> plt.Figure:
    """One test image beside the CAM of its predicted class and the CAM of `target`:
    TRUE (its true class), PRED, or a class index. `position` indexes results.images."""
    pred, true = int(results.preds[position]), int(results.labels[position])
    chosen = {TRUE: true, PRED: pred}.get(target, target)
    images = results.normalized([position, position])
    cams = compute_cams(results.model, images, [pred, chosen], layer, method)
    rgb = plots.denormalize(images[:1])[0]
    probs, names = results.probs[position], results.classes
    role = "true, " if chosen == true else ""
    pictures = (rgb, overlay(rgb, cams[0]), overlay(rgb, cams[1]))
    titles = (f"test image {position}\ntrue {names[true]}, pred {names[pred]}",
              cam_title(method, names[pred], probs[pred], cams[0], "predicted, "),
              cam_title(method, names[chosen], probs[chosen], cams[1], role))
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.6))
    for ax, picture, title in zip(axes, pictures, titles):
        ax.imshow(picture)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{method} at {layer} ({SCALE_NOTE})", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # leave the top strip to the title
    return plots.add_caption(fig, report.analysis_caption(results))


def _draw_choice(results: report.TestResults, pools: dict, selection: str, number: int,
                 target: Union[str, int], layer: str, method: str) -> None:
    from IPython.display import display

    pool = pools[selection]
    if len(pool) == 0:
        print("no test image in this selection: the model classified every one correctly")
        return
    fig = plot_cam_choice(results, int(pool[min(number, len(pool) - 1)]), target, layer, method)
    display(fig)
    plt.close(fig)  # shown once, by display; no second copy at the end of the cell


def gradcam_explorer(results: report.TestResults):
    """A widget to pick a test image (mistakes, most confident first, or all), the target
    class, the layer and the CAM method; the figure below it redraws after each change."""
    import ipywidgets as widgets

    mistakes = metrics.misclassified(results.labels, results.probs, count=len(results.labels))
    pools = {"mistakes": mistakes, "all": np.arange(len(results.labels))}
    config = results.run.config
    selection = widgets.ToggleButtons(
        options=[(f"mistakes ({len(mistakes)})", "mistakes"),
                 (f"all ({len(results.labels)})", "all")],
        value="mistakes" if len(mistakes) else "all", description="images")
    number = widgets.IntSlider(value=0, min=0, max=max(len(pools[selection.value]) - 1, 0),
                               description="image #")
    target = widgets.Dropdown(
        options=[("true class", TRUE), ("predicted class", PRED)]
        + [(name, c) for c, name in enumerate(results.classes)], value=TRUE, description="target")
    layer = widgets.ToggleButtons(options=CHOICES["cam_layer"], value=config.cam_layer,
                                  description="layer")
    method = widgets.Dropdown(options=list(cam_methods()), value=config.cam_method,
                              description="method")
    # Registered before the figure's observer, so the slider's range is right when it redraws.
    selection.observe(lambda change: setattr(number, "max", max(len(pools[change.new]) - 1, 0)),
                      names="value")
    controls = {"selection": selection, "number": number, "target": target, "layer": layer,
                "method": method}
    figure = widgets.interactive_output(functools.partial(_draw_choice, results, pools), controls)
    return widgets.VBox([widgets.HBox([selection, number]), widgets.HBox([target, method]), layer,
                         figure])
