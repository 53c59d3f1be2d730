"""Markdown tables: a run's results, runs side by side, and a notebook's small tables."""

import numpy as np

from eraskit import tables


def test_results_table_has_one_row_per_epoch(trained_run):
    table = tables.results_table(trained_run)
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 1 + 3  # the summary row and one per epoch


def test_comparison_table_has_one_row_per_trained_run(trained_run):
    table = tables.comparison_table([trained_run.paths.root, trained_run.paths.root])
    rows = table.splitlines()[2:]
    assert len(rows) == 2 and rows[0].startswith(f"| {trained_run.paths.root.name} | 8 | 3/3 |")


def test_markdown_table_rounds_floats():
    text = tables.markdown_table(["channel", "mean"], [("R", 0.491312345),
                                                       ("G", np.float64(0.48)), ("B", 3)])
    assert text.splitlines() == ["| channel | mean |", "| --- | --- |", "| R | 0.4913 |",
                                 "| G | 0.48 |", "| B | 3 |"]
