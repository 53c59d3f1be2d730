"""The figures of a trained run, each with its caption, and writing them to <run>/figures:
drawn from the run folder and its test results, never by retraining. Each file drawn from the
model (the figures, trust.json) records its epoch, so that a stale one can be told and redone
(runs.stale_derived)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import matplotlib.pyplot as plt

from . import plots, sanity
from .captions import analysis_caption, caption, setup_caption
from .config import CIFAR10_SIZES, Config, steps_per_epoch
from .data import Cifar10
from .errors import EraskitError
from .gradcam import CLASS_FREE_METHODS, compute_cams, plot_gradcam_gallery
from .lr_finder import rescore
from .predictions import TestResults, mistakes
from .runs import Run, RunPaths, read_json
from .safe_write import atomic_write, save_json
from .train import lr_schedule


def gradcam_gallery(results: TestResults, count: int = 10, layer: Optional[str] = None,
                    method: Optional[str] = None) -> plt.Figure:
    """The `count` most confident mistakes: image, CAM of the predicted and of the true class.
    The predictions are the run's stored ones (flip-averaged under flip TTA); the maps are of
    each image as shown."""
    config = results.run.config
    layer, method = layer or config.cam_layer, method or config.cam_method
    chosen = mistakes(results, count)
    images = results.normalized(chosen)
    cams_pred = compute_cams(results.model, images, results.preds[chosen], layer, method)
    cams_true = compute_cams(results.model, images, results.labels[chosen], layer, method)
    what = ("the main component of the activations (the same for every class)"
            if method in CLASS_FREE_METHODS else "where the evidence for each class lies")
    return plot_gradcam_gallery(plots.denormalize(images), cams_pred, cams_true,
                                results.labels[chosen], results.probs[chosen], results.classes,
                                caption=analysis_caption(results),
                                title=f"{method} at {layer}: {what}", method=method)


def trust_check(results: TestResults, count: int = 10, layer: Optional[str] = None,
                method: Optional[str] = None) -> tuple[plt.Figure, dict]:
    """The gallery's images: the randomisation check (figure) and faithfulness scores (dict,
    what the run's trust.json holds; write_figures saves it there)."""
    config = results.run.config
    layer, method = layer or config.cam_layer, method or config.cam_method
    chosen = mistakes(results, count)
    images, preds = results.normalized(chosen), results.preds[chosen]
    check = sanity.randomization_check(results.model, images, preds, layer, method,
                                       seed=config.seed)
    scores = sanity.faithfulness(results.model, images, preds, method=method, seed=config.seed)
    # ROAD scores every layer it names; the randomisation check maps the configured one only
    scores.update(target="predicted class of the gallery's images", randomisation_layer=layer,
                  spearman_trained_vs_random=[round(float(r), 4) for r in check["spearman"]],
                  mean_spearman=check["mean_spearman"])
    titles = [f"pred {results.classes[p]}" for p in preds]
    fig = sanity.plot_randomization(plots.denormalize(images), check, titles,
                                    caption=caption(results.run))
    return fig, scores


def misclassified_gallery(results: TestResults, count: int = 10) -> plt.Figure:
    """The `count` most confident mistakes, denormalised, with class names and confidences."""
    chosen = mistakes(results, count)
    rgb = plots.denormalize(results.normalized(chosen))
    return plots.plot_misclassified(rgb, results.labels[chosen], results.probs[chosen],
                                    results.classes, caption=analysis_caption(results),
                                    title=f"The {len(chosen)} most confident mistakes "
                                          f"(test set), surest first")


def schedule_figure(run: Run) -> plt.Figure:
    """The OneCycle rate of every step the run took, recomputed from its config and meta."""
    steps, max_lr = run.meta.steps_per_epoch, run.meta.max_lr
    if not steps or max_lr is None:
        raise EraskitError(f"{run.paths.meta} lacks the schedule (train the run first)")
    return plots.plot_lr_schedule(lr_schedule(run.config, max_lr, steps), steps,
                                  caption=caption(run), max_lr=max_lr)


def run_steps_per_epoch(run: Run) -> int:
    """Training steps per epoch of a run (older runs' meta.json lacks the count: it is then
    that of the images they trained on, or of all of CIFAR-10)."""
    images = run.meta.train_images or CIFAR10_SIZES[0]
    return run.meta.steps_per_epoch or steps_per_epoch(run.config, images)


def save_figure(fig: plt.Figure, path: Path, epoch: Optional[int] = None) -> Path:
    """Write `fig` as a PNG, atomically: a stop while saving keeps the previous file whole.
    `epoch`, that of the model it shows, goes into the PNG's text ("Epoch")."""
    metadata = {"Epoch": str(epoch)} if epoch is not None else {}
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight",
                                                 metadata=metadata))
    finally:
        plt.close(fig)
    return path


def trust_record(results: TestResults, scores: dict) -> dict:
    """What trust.json holds: trust_check's scores and the epoch of the model they score."""
    return {"epoch": results.epoch, **scores}


def save_trust(results: TestResults, scores: dict, log: Callable = print) -> Optional[Path]:
    """Keep trust_check's scores as the run's trust.json (with their epoch). A folder that
    cannot be written (a shared, read-only one) is said in one line, and the lesson goes on:
    returns None then."""
    path = results.run.paths.trust
    try:
        save_json(path, trust_record(results, scores))
    except EraskitError as err:
        log(f"not saved: {err}; the scores above are not kept")
        return None
    return path


def write_lr_finder_figure(run_dir: str | Path, config: Config, data: Cifar10) -> Path:
    """Draw the run folder's saved range test (made with `config` on `data`) to its figures."""
    paths = RunPaths.of(run_dir)
    sweep = read_json(paths.lr_finder)
    device = sweep.get("device", "device not recorded")  # recorded since the range test says
    fig = plots.plot_lr_finder(sweep, setup_caption(config, data, device))
    return save_figure(fig, paths.figure("lr_finder"))


def cam_suffix(trained: Config, asked: Config) -> str:
    """"" for the run's own Grad-CAM settings, "-METHOD-LAYER" for others: the Grad-CAM figures
    of another method or layer get their own files and leave the run's in place."""
    if (asked.cam_method, asked.cam_layer) == (trained.cam_method, trained.cam_layer):
        return ""
    return f"-{asked.cam_method}-{asked.cam_layer}"


def sanity_figure(results: TestResults, config: Config) -> plt.Figure:
    """trust_check's figure for `config`'s Grad-CAM settings; with the run's own settings, its
    scores are saved to the run's trust.json as well (other settings leave that file alone)."""
    fig, scores = trust_check(results, layer=config.cam_layer, method=config.cam_method)
    if not cam_suffix(results.run.config, config):
        save_json(results.run.paths.trust, trust_record(results, scores))
    return fig


def write_figures(results: TestResults, config: Optional[Config] = None,
                  only: Optional[tuple[str, ...]] = None) -> list[Path]:
    """Write every figure of a trained run (`only` those named) to <run>/figures; `config`
    may ask for other Grad-CAM settings than the run's own."""
    run = results.run
    config = config or run.config
    labels, preds, classes = results.labels, results.preds, results.classes
    other = cam_suffix(run.config, config)
    makers = {
        "history": lambda: plots.plot_history(run.history, caption(run)),
        "lr_schedule": lambda: schedule_figure(run),
        # the saved sweep read with today's rule for this run's settings (lr_finder.rescore)
        "lr_finder": lambda: plots.plot_lr_finder(
            rescore(run.lr_finder, run.config, run_steps_per_epoch(run)), caption(run)),
        "misclassified": lambda: misclassified_gallery(results),
        "confusion": lambda: plots.plot_confusion(labels, preds, classes, caption(run)),
        "per_class_accuracy": lambda: plots.plot_per_class_accuracy(labels, preds, classes,
                                                                    caption(run)),
        f"gradcam{other}": lambda: gradcam_gallery(results, layer=config.cam_layer,
                                                   method=config.cam_method),
        f"gradcam_sanity{other}": lambda: sanity_figure(results, config),
    }
    if run.lr_finder is None:
        makers.pop("lr_finder")
    return [save_figure(make(), run.paths.figure(name), results.epoch)
            for name, make in makers.items() if only is None or name.split("-")[0] in only]
