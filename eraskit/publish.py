"""Publishing a run as the course's results (`analyse --images`, maintainers only): its
figures copied into images/, with results.md, and the README's results table replaced."""

from __future__ import annotations

import re
from pathlib import Path

from .runs import Run
from .safe_write import atomic_write, save_text, write_bytes
from .tables import results_table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"  # the README's markers


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


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the README's results markers with `table`; False when the
    README has no such markers (and is left alone)."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return False
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    save_text(readme, pattern.sub(lambda _: f"{BEGIN}\n{table}{END}", text))
    return True
