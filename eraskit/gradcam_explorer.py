"""The Grad-CAM explorer of notebook 05: one test image beside the maps of its predicted class
and of a chosen one, and the widget that picks the image, the class, the layer and the method."""

from __future__ import annotations

import functools
from typing import Union

import matplotlib.pyplot as plt
import numpy as np

from . import metrics, plots
from .captions import analysis_caption
from .config import CHOICES
from .gradcam import SCALE_NOTE, cam_methods, cam_title, compute_cams, overlay
from .predictions import TestResults

TRUE, PRED = "true", "pred"  # the explorer's targets besides the class indices


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


def _draw_choice(results: TestResults, pools: dict, selection: str, number: int,
                 target: Union[str, int], layer: str, method: str) -> None:
    from IPython.display import display

    pool = pools[selection]
    if len(pool) == 0:
        print("no test image in this selection: the model classified every one correctly")
        return
    fig = plot_cam_choice(results, int(pool[min(number, len(pool) - 1)]), target, layer, method)
    display(fig)
    plt.close(fig)  # shown once, by display; no second copy at the end of the cell


def gradcam_explorer(results: TestResults):
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
