"""Everything a trained run can show without retraining: its test results loaded once, each
figure with a caption saying where it came from, and the results table of the README."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import metrics, plots, sanity
from .augment import test_transform
from .config import Config
from .data import Cifar10, npz_path
from .errors import EraskitError
from .gradcam import CLASS_FREE_METHODS, compute_cams, plot_gradcam_gallery
from .lr_finder import rescore
from .metrics import best_epoch, median_seconds
from .model import ResNet18
from .pipeline import describe_device, load_model
from .runs import (Run, RunPaths, atomic_write, load_run, read_json, save_json, save_text,
                   write_bytes)
from .train import lr_schedule, resolve_device


def data_name(source: str) -> str:
    """A short name of a data source as the figures' captions give it."""
    path = npz_path(source)
    return f"local data {Path(path).name}" if path else source or "unknown data"


def setup_caption(config: Config, data: Cifar10) -> str:
    """Data, training images, width, batch and device of a config: the caption of figures drawn
    before a run exists (the range test, the schedule); a run's own figures use caption()."""
    images = len(data.x_train) if config.subset is None else min(config.subset, len(data.x_train))
    device = describe_device(resolve_device(config.device))
    return (f"{data_name(data.source)}, {images:,} training images, width {config.width}, "
            f"batch {config.batch_size}, {device}")


def caption(run: Run) -> str:
    """Data, epochs, width, device and final test accuracy of the run."""
    meta, c = run.meta, run.config
    acc = f"final test accuracy {run.final['test_acc']:.2%}" if run.history else "not trained"
    return (f"{data_name(meta.get('data_source', ''))}, {len(run.history)}/{c.epochs} epochs, "
            f"width {c.width}, {meta.get('device', '?')} ({meta.get('precision', '?')}), "
            f"max LR {meta.get('max_lr', float('nan')):.3g} ({meta.get('max_lr_source', '?')}); "
            f"{acc}")


NEAR_CHANCE = 0.1  # within 10 points of chance (10% for 10 classes), a run has learned little


def chance_warning(run: Run, num_classes: int = 10) -> str:
    """A one-line warning when the run's final test accuracy is close to chance (guessing, 1 in
    `num_classes`): its mistakes are then mostly noise and its Grad-CAM maps mean nothing.
    "" for a run that learned more (or has no history)."""
    if not run.history:
        return ""
    acc, chance = run.final["test_acc"], 1 / num_classes
    if acc >= chance + NEAR_CHANCE:
        return ""
    return (f"warning: test accuracy {acc:.1%} is close to chance ({chance:.0%}): this run has "
            f"learned little, so its mistakes and maps say little; train longer")


def analysis_caption(results: "TestResults") -> str:
    """caption() of the results' run, with the near-chance warning on a second line if due."""
    warning = chance_warning(results.run, len(results.classes))
    return caption(results.run) + (f"\n{warning}" if warning else "")


@dataclass
class TestResults:
    """A run's final predictions joined with the test images they were made on."""

    run: Run
    model: ResNet18
    images: np.ndarray  # uint8 (N, 32, 32, 3), in the order of the predictions
    labels: np.ndarray  # (N,)
    probs: np.ndarray  # (N, C) in [0, 1]
    classes: tuple[str, ...]

    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    def normalized(self, positions: Iterable[int]) -> torch.Tensor:
        """The model's input for these positions: (K, 3, 32, 32) normalised."""
        transform = test_transform()
        return torch.stack([transform(image=self.images[i])["image"] for i in positions])


def load_test_results(run_dir: str | Path, data: Cifar10) -> TestResults:
    """Load a trained run's model and predictions and the matching test images."""
    run = load_run(run_dir)
    predictions = run.predictions()
    if predictions.indices.max(initial=-1) >= len(data.x_test):
        raise EraskitError(f"{run.paths.predictions} refers to test images this data set lacks")
    if not np.array_equal(data.y_test[predictions.indices], predictions.labels):
        raise EraskitError(f"the test labels of this data differ from those {run_dir} was "
                           f"evaluated on: is it the same data set?")
    model = load_model(run)
    if model.num_classes != len(data.classes):
        raise EraskitError(f"{run_dir} has {model.num_classes} classes, the data "
                           f"{len(data.classes)}")
    return TestResults(run, model, data.x_test[predictions.indices], predictions.labels,
                       predictions.probs, data.classes)


def mistakes(results: TestResults, count: int) -> np.ndarray:
    """Positions of the `count` most confident mistakes; an error if there are none."""
    chosen = metrics.misclassified(results.labels, results.probs, count)
    if len(chosen) == 0:
        raise EraskitError(f"the run classifies all {len(results.labels)} test images correctly: "
                           f"no mistakes to show")
    return chosen


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
                method: Optional[str] = None, save: bool = True) -> tuple[plt.Figure, dict]:
    """The gallery's images: the randomisation check (figure) and faithfulness scores (dict).

    With `save`, the scores go to the run's trust.json as well."""
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
    if save:
        save_json(results.run.paths.trust, scores)
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
    steps = run.meta.get("steps_per_epoch")
    if not steps or "max_lr" not in run.meta:
        raise EraskitError(f"{run.paths.meta} lacks the schedule (train the run first)")
    max_lr = run.meta["max_lr"]
    return plots.plot_lr_schedule(lr_schedule(run.config, max_lr, steps), steps,
                                  caption=caption(run), max_lr=max_lr)


def run_steps_per_epoch(run: runs.Run) -> int:
    """Training steps per epoch of a run (older runs' meta.json lacks the count)."""
    return run.meta.get("steps_per_epoch") or max(1, run.meta.get("train_images", 50000)
                                                  // run.config.batch_size)


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write `fig` as a PNG, atomically: a stop while saving keeps the previous file whole."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return path


def write_lr_finder_figure(run_dir: str | Path, config: Config, data: Cifar10) -> Path:
    """Draw the run folder's saved range test (made with `config` on `data`) to its figures."""
    paths = RunPaths(Path(run_dir))
    fig = plots.plot_lr_finder(read_json(paths.lr_finder), setup_caption(config, data))
    return _save(fig, paths.figure("lr_finder"))


def write_figures(run_dir: str | Path, data: Cifar10, config: Optional[Config] = None,
                  images: Optional[str | Path] = None,
                  only: Optional[tuple[str, ...]] = None) -> list[Path]:
    """Write every figure of a trained run to <run>/figures (and copy them to `images`)."""
    results = load_test_results(run_dir, data)
    run = results.run
    config = config or run.config
    labels, preds = results.labels, results.preds
    other = cam_suffix(run.config, config)
    makers = {
        "history": lambda: plots.plot_history(run.history, caption(run)),
        "lr_schedule": lambda: schedule_figure(run),
        # the saved sweep read with today's rule for this run's settings (lr_finder.rescore)
        "lr_finder": lambda: plots.plot_lr_finder(
            rescore(run.lr_finder, run.config, run_steps_per_epoch(run)), caption(run)),
        "misclassified": lambda: misclassified_gallery(results),
        "confusion": lambda: plots.plot_confusion(labels, preds, results.classes, caption(run)),
        "per_class_accuracy": lambda: plots.plot_per_class_accuracy(labels, preds,
                                                                    results.classes, caption(run)),
        f"gradcam{other}": lambda: gradcam_gallery(results, layer=config.cam_layer,
                                                   method=config.cam_method),
        # trust.json keeps the scores of the run's own settings
        f"gradcam_sanity{other}": lambda: trust_check(results, layer=config.cam_layer,
                                                      method=config.cam_method,
                                                      save=not other)[0],
    }
    if run.lr_finder is None:
        makers.pop("lr_finder")
    written = [_save(make(), run.paths.figure(name)) for name, make in makers.items()
               if only is None or name.split("-")[0] in only]
    if images:
        written += copy_to_images(run, written, Path(images))
    return written


def cam_suffix(trained: Config, asked: Config) -> str:
    """"" for the run's own Grad-CAM settings, "-METHOD-LAYER" for others: the Grad-CAM figures
    of another method or layer get their own files and leave the run's in place."""
    if (asked.cam_method, asked.cam_layer) == (trained.cam_method, trained.cam_layer):
        return ""
    return f"-{asked.cam_method}-{asked.cam_layer}"


def copy_to_images(run: Run, figures: list[Path], images: Path) -> list[Path]:
    """Copy figures into `images`, with results.md; refresh README.md's table beside it.
    Returns every file written, the README included when its table was replaced."""
    copies = [images / f.name for f in figures]
    for figure, copy in zip(figures, copies):
        atomic_write(copy, write_bytes(figure.read_bytes()))
    table = results_table(run)
    save_text(images / "results.md", table)
    readme = images.parent / "README.md"
    updated = [readme] if readme.is_file() and update_readme(readme, table) else []
    return copies + [images / "results.md"] + updated


def results_table(run: Run) -> str:
    """A Markdown summary of the run and its per-epoch history, generated from history.json."""
    h, c, meta = run.history, run.config, run.meta
    best = best_epoch(h)
    lines = [f"Generated from `history.json` of a run: {caption(run)}.", "",
             "| epochs | width | device | max LR | final test acc | best test acc | "
             "median s/epoch |",
             "|---|---|---|---|---|---|---|",
             f"| {len(h)} | {c.width} | {meta.get('device', '?')} | {meta.get('max_lr', 0):.3g} | "
             f"{h[-1]['test_acc']:.2%} | {best['test_acc']:.2%} (epoch {best['epoch']}) | "
             f"{median_seconds(h):.1f} |", "",
             "| epoch | lr | train loss | train acc | test loss | test acc | seconds |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['epoch']} | {r['lr']:.2e} | {r['train_loss']:.3f} | {r['train_acc']:.2%} | "
              f"{r['test_loss']:.3f} | {r['test_acc']:.2%} | {r['seconds']:.1f} |" for r in h]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the README's results markers with `table`; False when the
    README has no such markers (and is left alone)."""
    text = readme.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        return False
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    save_text(readme, pattern.sub(lambda _: f"{begin}\n{table}{end}", text))
    return True


def comparison_table(run_dirs: Iterable[str | Path]) -> str:
    """A Markdown table comparing runs side by side, read from their run folders."""
    lines = ["| run | width | epochs | batch | optimizer | max LR (source) | label smoothing | "
             "cutout | flip TTA | precision | final test acc | best test acc | median s/epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run_dir in run_dirs:
        run = load_run(run_dir)
        c, m, h = run.config, run.meta, run.history
        if not h:
            continue
        best = best_epoch(h)["test_acc"]
        lines.append(
            f"| {Path(run_dir).name} | {c.width} | {len(h)}/{c.epochs} | {c.batch_size} | "
            f"{c.optimizer} | {m.get('max_lr', 0):.3g} "
            f"({m.get('max_lr_source', '?')}) | {c.label_smoothing:g} | {c.cutout or 'off'} | "
            f"{'yes' if c.flip_tta else 'no'} | {m.get('precision', '?')} | "
            f"{h[-1]['test_acc']:.2%} | {best:.2%} | "
            f"{median_seconds(h):.1f} |")
    return "\n".join(lines) + "\n"
