"""`python -m eraskit COMMAND`: the notebooks' pipeline, headless.

Every Config field is a flag of the commands that use it (--epochs, --batch-size, --width,
--max-lr, ...); a flag left out takes the preset's value, or on analyse and gradcam the trained
run's; `none` asks for a setting's automatic value (--max-lr none: the range test's). Problems
with the input exit with code 2 and one line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import typing
from pathlib import Path

from . import config as cfg
from .errors import EraskitError
from .flags import RUNS_ROOT, parse
from .preflight import (check_analysis_writable, check_device, check_existing_run,
                        check_images_allowed, check_new_run, check_out_given, is_new_run,
                        make_config, subset_notes)
from .run_identity import check_kit_folder
from .runs import RunPaths

if typing.TYPE_CHECKING:
    from .data import Cifar10
    from .runs import Run

# Neither this module nor what it reads a run folder with (flags, preflight, config, data,
# runs) imports torch: bad flags and values are reported in a fraction of a second, before
# torch loads.


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal unless --quiet; in a pipe or a log only with --progress."""
    return not args.quiet and (args.progress or sys.stderr.isatty())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command != "compare":
        args.out_given = args.out is not None
        args.out = str(RUNS_ROOT / args.preset) if args.out is None else args.out
    try:
        if args.command != "compare":
            RunPaths.of(args.out)  # --out "" names no folder
        return HANDLERS[args.command](args)
    except EraskitError as err:
        print(f"eraskit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eraskit: {interrupted(args)}", file=sys.stderr)
        return 130


def interrupted(args: argparse.Namespace) -> str:
    """What an interrupt leaves, in one line: for run and train, the epochs its checkpoint
    keeps and the whole command that continues the run (or, with none saved yet, the one that
    starts it again)."""
    if args.command not in ("run", "train"):
        return "interrupted; run it again"
    from .records import load_checkpoint

    paths = RunPaths.of(args.out)
    if not paths.checkpoint.is_file():
        again = shlex.join(["python", "-m", "eraskit", *args.argv])
        return f"interrupted before the first epoch was saved; start again with `{again}`"
    command = ["python", "-m", "eraskit", args.command, "--resume", "--out", args.out]
    command += ["--data", args.data] if args.data else []
    try:
        checkpoint = load_checkpoint(paths.checkpoint)
        kept = f"{checkpoint.epoch} of {checkpoint.config.epochs} epochs kept in {args.out}"
    except EraskitError:
        kept = f"the last epoch saved is in {args.out}"
    return f"interrupted; {kept}: continue with `{shlex.join(command)}`"


def compare(args: argparse.Namespace) -> int:
    """Print the comparison table of the run folders given."""
    from .tables import comparison_table

    folders = [r for r in args.runs if RunPaths.of(r).holds_run()]
    for skipped in sorted(set(args.runs) - set(folders)):
        print(f"eraskit: skipping {skipped}: not a run folder", file=sys.stderr)
    if not folders:
        raise EraskitError("none of the paths given is a run folder (with a config.json)")
    print(comparison_table(folders), end="")
    return 0


def bench(args: argparse.Namespace) -> int:
    """Print the throughput benchmark as one JSON line."""
    config = make_config(args)
    check_device(config)
    data = load_data(args.data)
    from .bench import benchmark
    print(benchmark(config, data, steps=args.steps))
    return 0


def find_lr(args: argparse.Namespace) -> int:
    """The LR range test alone, saved in the run folder with its figure."""
    check_kit_folder(RunPaths.of(args.out))
    config = make_config(args)
    check_new_run(config, args.out)
    check_device(config)
    data = load_data(args.data, config, args.out)
    from .run_figures import write_lr_finder_figure
    from .lr_choice import find_lr as run_range_test
    run_range_test(config, data, args.out, progress=show_progress(args))
    print(f"figure: {write_lr_finder_figure(args.out, config, data)}")
    return 0


def train(args: argparse.Namespace) -> int:
    """Train (or resume) the run in --out; `run` then draws every figure, `train` redraws
    those an earlier analysis drew from an earlier epoch."""
    check_kit_folder(RunPaths.of(args.out))  # someone's own files: before anything else
    if args.resume and not RunPaths.of(args.out).holds_run():
        raise EraskitError(f"{args.out} holds no run to resume: check --out, or drop --resume "
                           f"to start a new run there")
    config = make_config(args)
    if args.command == "run":
        check_images_allowed(args, config)  # before hours of training, not after
    check_existing_run(args, config)
    check_new_run(config, args.out)
    check_device(config)
    data = load_data(args.data, config, args.out)
    from .training_run import fit
    run = fit(config, data, args.out, resume=args.resume, progress=show_progress(args))
    if args.command == "run":
        write_analysis(args, config, data)
    else:
        redraw_stale(args, config, data, run)
    print(f"run folder: {args.out}")
    return 0


def redraw_stale(args: argparse.Namespace, config: cfg.Config, data: Cifar10, run: Run) -> None:
    """Redraw the figures (and trust.json) an earlier analysis drew from an earlier epoch of
    the run, now that it has trained further; in a folder that cannot be written, say so."""
    from .runs import stale_derived
    from .safe_write import why_not_writable

    stale = stale_derived(run.paths, len(run.history))
    if not stale:
        return
    shown = f"{len(stale)} file(s) drawn from epoch {min(stale.values())}"
    reason = why_not_writable(run.paths.figures)
    if reason:
        print(f"eraskit: {shown} stay as they were: cannot write to {run.paths.root} ({reason})",
              file=sys.stderr)
        return
    names = {"gradcam_sanity" if p == run.paths.trust else p.stem.split("-")[0] for p in stale}
    print(f"eraskit: redrawing {shown}, now that the run is at epoch {len(run.history)}")
    write_analysis(args, config, data, only=tuple(sorted(names)))


def analyse(args: argparse.Namespace) -> int:
    """Redraw the figures of a trained run (`gradcam`: the Grad-CAM gallery alone)."""
    check_out_given(args)
    config = make_config(args)
    from .runs import load_run
    run = load_run(args.out)
    check_images_allowed(args, config, run)
    check_analysis_writable(args)  # before the data and the Grad-CAMs, as train does
    from .runs import training_note
    note = training_note(run)
    if note:
        print(f"eraskit: {note}", file=sys.stderr)
    elif run.history and len(run.history) < run.config.epochs:
        print(f"eraskit: {args.out} has trained {len(run.history)} of {run.config.epochs} "
              f"epochs: the figures show the model after epoch {len(run.history)}",
              file=sys.stderr)
    data = load_data(args.data or recorded_data(run))
    write_analysis(args, config, data)
    print(f"run folder: {args.out}")
    return 0


HANDLERS = {"run": train, "find-lr": find_lr, "train": train, "analyse": analyse,
            "gradcam": analyse, "bench": bench, "compare": compare}


def load_data(path: str | None, config: cfg.Config | None = None,
              out: str | None = None) -> Cifar10:
    """The data set: the .npz at `path`, else $ERASKIT_DATA, else the official download.
    With `config`, a new run in `out` is checked to have enough training images before torch
    loads, and a subset larger than the data is said to take all of it."""
    from .data import check_train_size, load_cifar10

    data = load_cifar10(path)
    if config is not None:
        for note in subset_notes(config, len(data.x_train), len(data.x_test)):
            print(f"eraskit: {note}")
        if is_new_run(out):
            check_train_size(config, len(data.x_train), len(data.classes))
    return data


def recorded_data(run: Run) -> str | None:
    """The local .npz a run was trained on, if $ERASKIT_DATA is unset (a file that is gone is
    refused in one line)."""
    from .data import DATA_ENV, npz_path

    path = npz_path(run.meta.data_source)
    if os.environ.get(DATA_ENV) or path is None:
        return None
    if not Path(path).is_file():
        raise EraskitError(f"{run.paths.root} was trained on {path}, which is gone: pass "
                           f"--data with a copy of it")
    return path


def write_analysis(args: argparse.Namespace, config: cfg.Config, data: Cifar10,
                   only: tuple[str, ...] | None = None) -> None:
    """Every figure of the run in --out (`only` those named; gradcam: the gallery); with
    --images, copies published beside the README."""
    from .run_figures import write_figures
    from .predictions import load_test_results
    from .publish import copy_to_images
    from .runs import load_run

    run = load_run(args.out)
    only = ("gradcam",) if args.command == "gradcam" else only
    written = write_figures(load_test_results(run, data), config, only=only)
    images = getattr(args, "images", None)
    if images:
        check_images_allowed(args, config, run)
        print(f"--images: writing {describe_published(written, Path(images))}")
        written += copy_to_images(run, written, Path(images))
    print("figures:\n  " + "\n  ".join(str(p) for p in written))


def describe_published(figures: list[Path], images: Path) -> str:
    """The files --images will replace, in one line."""
    names = ", ".join(f.name for f in figures)
    readme = images.parent / "README.md"
    beside = f" and the results table of {readme}" if readme.is_file() else ""
    return f"{images}/ ({names}, results.md){beside}"


def main_entry() -> None:
    """The `eraskit` console script."""
    sys.exit(main())
