"""Markdown tables: a run's results by epoch, runs side by side, and a notebook's small tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .captions import caption
from .metrics import best_epoch, median_seconds
from .runs import Run, load_run


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 4) -> str:
    """A Markdown table, floats to `digits` significant figures."""
    def text(value: Any) -> str:
        return f"{value:.{digits}g}" if isinstance(value, (float, np.floating)) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(text(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 4):
    """markdown_table as a notebook shows it (an IPython Markdown object)."""
    from IPython.display import Markdown

    return Markdown(markdown_table(headers, rows, digits))


def results_table(run: Run) -> str:
    """A Markdown summary of the run and its per-epoch history, generated from history.json."""
    h, c, meta = run.history, run.config, run.meta
    best = best_epoch(h)
    lines = [f"Generated from `history.json` of a run: {caption(run)}.", "",
             "| epochs | width | device | max LR | final test acc | best test acc | "
             "median s/epoch |",
             "|---|---|---|---|---|---|---|",
             f"| {len(h)} | {c.width} | {meta.device} | {meta.max_lr_shown} | "
             f"{h[-1]['test_acc']:.2%} | {best['test_acc']:.2%} (epoch {best['epoch']}) | "
             f"{median_seconds(h):.1f} |", "",
             "| epoch | lr | train loss | train acc | test loss | test acc | seconds |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['epoch']} | {r['lr']:.2e} | {r['train_loss']:.3f} | {r['train_acc']:.2%} | "
              f"{r['test_loss']:.3f} | {r['test_acc']:.2%} | {r['seconds']:.1f} |" for r in h]
    return "\n".join(lines) + "\n"


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
            f"{c.optimizer} | {m.max_lr_shown} "
            f"({m.max_lr_source}) | {c.label_smoothing:g} | {c.cutout or 'off'} | "
            f"{'yes' if c.flip_tta else 'no'} | {m.precision} | "
            f"{h[-1]['test_acc']:.2%} | {best:.2%} | "
            f"{median_seconds(h):.1f} |")
    return "\n".join(lines) + "\n"
