"""The Grad-CAM explorer of notebook 05: one test image beside the maps of its predicted class
and of a chosen one, and the widget that picks the image, the class, the layer and the method.

The figure reaches the front end as PNG bytes in an `ipywidgets.Image`, redrawn by each
control's `observe`, with no Output widget: that way the same code runs under ipywidgets 7
(Colab's) and 8, and every call it makes exists in both. Where no widget can show (ipywidgets
missing, or a front end without widgets) the cell still shows the figure and one line saying
how to draw another.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from typing import NamedTuple, Optional, Union

import matplotlib.pyplot as plt
import numpy as np

from . import metrics, plots
from .captions import analysis_caption
from .config import CHOICES
from .gradcam import SCALE_NOTE, cam_methods, cam_title, compute_cams, overlay
from .predictions import TestResults

TRUE, PRED = "true", "pred"  # the explorer's targets besides the class indices
MISTAKES, ALL = "mistakes", "all"  # the selections of test images
# Each control's label on screen (its `description`): what a student, and a browser test, finds
# it by. Keys are the Choice fields.
LABELS = {"selection": "images", "number": "image #", "target": "target", "layer": "layer",
          "method": "method"}
DPI = 100  # the figure is 9 x 3.6 inches: 900 x 360 pixels before the caption
DRAWN = 64  # figures kept, so that going back to an earlier choice is instant (~100 kB each)
NO_WIDGETS = ("{why}: to draw another image, change selection, number, target, layer or method "
              "in gradcam_explorer(...) and run the cell again")


class Choice(NamedTuple):
    """One setting of the explorer's controls."""
    selection: str = MISTAKES  # MISTAKES (most confident first) or ALL test images
    number: int = 0  # position within the selection (past its end: the last one)
    target: Union[str, int] = TRUE  # TRUE, PRED or a class index
    layer: str = "layer3"  # "layer1" .. "layer4"
    method: str = "gradcam"  # a key of gradcam.cam_methods()


def plot_cam_choice(results: TestResults, position: int, target: Union[str, int] = TRUE,
                    layer: str = "layer3", method: str = "gradcam") -> plt.Figure:
    """One test image beside the CAM of its predicted class and the CAM of `target`:
    TRUE (its true class), PRED, or a class index. `position` indexes results.pixels."""
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
    return plots.add_caption(fig, analysis_caption(results))


def image_pools(results: TestResults) -> dict[str, np.ndarray]:
    """The test positions of each selection: MISTAKES, most confident first, and ALL."""
    everything = len(results.labels)
    return {MISTAKES: metrics.misclassified(results.labels, results.probs, count=everything),
            ALL: np.arange(everything)}


def choice_png(results: TestResults, choice: Choice) -> bytes:
    """The explorer's figure for one setting of its controls, as PNG bytes (about 900 x 400
    pixels). An empty selection gives a figure that says so."""
    pool = image_pools(results)[choice.selection]
    if len(pool) == 0:
        fig = plt.figure(figsize=(9, 0.6))
        fig.text(0.5, 0.5, "no test image in this selection: the model classified every one "
                 "correctly", ha="center", va="center")
    else:
        position = int(pool[min(choice.number, len(pool) - 1)])
        fig = plot_cam_choice(results, position, choice.target, choice.layer, choice.method)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)  # shown as bytes only: no second copy at the end of the cell
    return buffer.getvalue()


class Explorer:
    """What the explorer's cell shows. A front end that shows widgets draws `box`: the
    controls (`controls`, by Choice field) above the figure (`image`), which redraws after
    each change. Any other front end, or a kernel without ipywidgets (then `box` is None),
    shows the current figure and `note`, one line saying how to draw another without widgets."""

    def __init__(self, results: TestResults, choice: Choice):
        # the figures already drawn, by choice: going back to one is instant, and a change
        # that notifies twice (the selection, then the slider it shrinks) draws once
        self.draw = functools.lru_cache(maxsize=DRAWN)(functools.partial(choice_png, results))
        self._start = choice
        self.box = self.image = None
        self.controls: dict = {}
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            self.note = NO_WIDGETS.format(why="ipywidgets is not installed")
            return
        self.note = NO_WIDGETS.format(why="this front end shows no widgets")
        self._build(results, choice)

    @property
    def choice(self) -> Choice:
        """The controls' current setting (without widgets, the one it started at)."""
        if not self.controls:
            return self._start
        return Choice(**{name: control.value for name, control in self.controls.items()})

    @property
    def png(self) -> bytes:
        """The figure of the current setting, as PNG bytes."""
        return self.draw(self.choice)

    def _build(self, results: TestResults, choice: Choice) -> None:
        import ipywidgets as widgets

        size = {name: len(pool) for name, pool in image_pools(results).items()}
        selection = widgets.ToggleButtons(
            options=[(f"mistakes ({size[MISTAKES]})", MISTAKES), (f"all ({size[ALL]})", ALL)],
            value=choice.selection, description=LABELS["selection"])
        last = max(size[choice.selection] - 1, 0)
        # A figure takes about 2 s on a CPU: draw where the slider is let go, not at every
        # number it passes on the way.
        number = widgets.IntSlider(value=min(choice.number, last), min=0, max=last,
                                   continuous_update=False, description=LABELS["number"])
        target = widgets.Dropdown(
            options=[("true class", TRUE), ("predicted class", PRED)]
            + [(name, c) for c, name in enumerate(results.classes)],
            value=choice.target, description=LABELS["target"])
        layer = widgets.ToggleButtons(options=list(CHOICES["cam_layer"]), value=choice.layer,
                                      description=LABELS["layer"])
        method = widgets.Dropdown(options=list(cam_methods()), value=choice.method,
                                  description=LABELS["method"])
        self.controls = {"selection": selection, "number": number, "target": target,
                         "layer": layer, "method": method}
        self.image = widgets.Image(value=self.png, format="png")
        # Registered before the figure's observers, so the slider's range is right when they
        # redraw.
        selection.observe(lambda change: setattr(number, "max", max(size[change.new] - 1, 0)),
                          names="value")
        for control in self.controls.values():
            control.observe(self._redraw, names="value")
        self.box = widgets.VBox([widgets.HBox([selection, number]),
                                 widgets.HBox([target, method]), layer, self.image])

    def _redraw(self, change: Optional[dict] = None) -> None:
        self.image.value = self.png

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The widget where the front end can show it; else HTML (the figure, then the note);
        else the note alone."""
        picture = base64.b64encode(self.png).decode("ascii")
        bundle = {"text/plain": self.note,
                  "text/html": f'<img src="data:image/png;base64,{picture}"/>'
                               f"<pre>{html.escape(self.note)}</pre>"}
        if self.box is not None:
            bundle["application/vnd.jupyter.widget-view+json"] = self.box.get_view_spec()
        return bundle


def gradcam_explorer(results: TestResults, selection: str = MISTAKES, number: int = 0,
                     target: Union[str, int] = TRUE, layer: Optional[str] = None,
                     method: Optional[str] = None) -> Explorer:
    """The explorer, starting at test image `number` of `selection` (MISTAKES, most confident
    first, or ALL: a run without mistakes starts at ALL), with the CAMs of its predicted class
    and of `target` (TRUE, PRED or a class index) at `layer` with `method` (None: the run's own
    settings). Without widgets it shows that one figure."""
    config = results.run.config
    if selection == MISTAKES and len(image_pools(results)[MISTAKES]) == 0:
        selection = ALL
    return Explorer(results, Choice(selection, number, target, layer or config.cam_layer,
                                    method or config.cam_method))
