"""`python -m eraskit COMMAND`: the notebooks' pipeline, headless.

Every Config field is a flag of the commands that use it (--epochs, --batch-size, --width,
--max-lr, ...); a flag left out takes the preset's value, or on analyse and gradcam the trained
run's. Problems with the input exit with code 2 and one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

from . import config as cfg
from .errors import EraskitError

COMMANDS = {
    "run": "LR range test, training and every figure: the whole assignment",
    "find-lr": "the LR range test alone (saved with the run, used by train)",
    "train": "train (or --resume) a run; runs the LR range test first unless --max-lr is given",
    "analyse": "figures of a trained run: curves, LR schedule, errors, confusion, Grad-CAM",
    "gradcam": "the Grad-CAM gallery of a trained run",
    "bench": "training throughput of the kit against the original loop, as one JSON line",
    "compare": "a Markdown table comparing finished runs (give their folders)",
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


ALL_FIELDS = tuple(f.name for f in dataclasses.fields(cfg.Config))
# The settings each command uses. analyse and gradcam work on a trained run, whose settings
# stay as they were: only what to map may change.
COMMAND_FIELDS = {
    "run": ALL_FIELDS,
    "train": ALL_FIELDS,
    # the range test's length and the rule's factor follow the run's steps and warm-up
    "find-lr": tuple(n for n in ALL_FIELDS
                     if n not in cfg.SCHEDULE_FIELDS or n in ("lr_factor", "epochs", "pct_start")),
    "bench": tuple(n for n in ALL_FIELDS
                   if n not in cfg.SCHEDULE_FIELDS + ("subset", "lr_start", "lr_end", "lr_iters",
                                                      "eval_batch_size") or n == "gpu_augment"),
    "analyse": ("cam_method", "cam_layer"),
    "gradcam": ("cam_method", "cam_layer"),
}
NONE_MEANS = {"subset": "all", "test_subset": "all", "max_lr": "range test",
              "lr_start": "per optimizer", "lr_end": "per optimizer", "lr_iters": "auto",
              "lr_factor": "auto"}


def shown(name: str, value: typing.Any) -> str:
    """A setting's value as --help shows it."""
    if value is None:
        return NONE_MEANS.get(name, "none")
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def preset_values(name: str) -> str:
    """A field's value in the presets: "[default: 4]", or "[full: 100, smoke: 20, cpu: 40]"."""
    default = next(f.default for f in dataclasses.fields(cfg.Config) if f.name == name)
    values = {preset: overrides.get(name, default) for preset, overrides in cfg.PRESETS.items()}
    if len({shown(name, v) for v in values.values()}) == 1:
        return f"[default: {shown(name, default)}]"
    return "[" + ", ".join(f"{preset}: {shown(name, v)}" for preset, v in values.items()) + "]"


def add_config_flags(parser: argparse.ArgumentParser, names: typing.Sequence[str],
                     trained_run: bool = False) -> None:
    """One flag per Config field named, --like-this, grouped by topic, each with its help and
    its value in each preset (or, on a trained run, the run's own)."""
    for section, members in cfg.SECTIONS.items():
        members = [n for n in members if n in names]
        if not members:
            continue
        group = parser.add_argument_group(section)
        for name in members:
            kind, _ = cfg.field_type(name)
            choices = cfg.CHOICES.get(name)
            values = "[default: the run's]" if trained_run else preset_values(name)
            text = f"{cfg.field_help(name)} {values}".replace("%", "%%")
            flag = "--" + name.replace("_", "-")
            if kind is bool:
                group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                   help=text)
                continue
            metavar = None if choices else "LR" if name in ("max_lr", "lr_start", "lr_end") \
                else "N" if kind is int else "X"
            group.add_argument(flag, type=kind, choices=choices, default=None, metavar=metavar,
                               help=text)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each takes the Config fields it uses as flags."""
    parser = Parser(prog="python -m eraskit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, summary in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == "compare":
            p.add_argument("runs", nargs="+", help="run folders")
            continue
        trained_run = name in ("analyse", "gradcam")
        p.add_argument("--preset", default="full", choices=list(cfg.PRESETS), help=(
            "picks the default --out (runs/<preset>); the settings are the run's" if trained_run
            else "starting settings: full (the assignment), smoke (checks every step in under a "
                 "minute on a CPU; learns little), cpu (20 epochs of a narrow network on a fifth "
                 "of the data, under an hour on 2 cores)"))
        recorded = ", else the .npz the run was trained on" if trained_run else ""
        p.add_argument("--data", help=f"a local .npz with x_train, y_train, x_test, y_test "
                                      f"(default: $ERASKIT_DATA{recorded}, else download CIFAR-10)")
        p.add_argument("--out", help="the run folder (default: runs/<preset>)")
        if name in ("run", "train"):
            p.add_argument("--resume", action="store_true", help="continue the run in --out")
        if name in ("run", "analyse"):
            p.add_argument("--images", help="also copy the figures to this folder and refresh "
                                            "the results table of the README.md beside it")
        if name in ("run", "train", "find-lr"):
            p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "bench":
            p.add_argument("--steps", type=int, default=3, help="timed training steps per loop")
        add_config_flags(p, COMMAND_FIELDS[name], trained_run)
    return parser


def make_config(args: argparse.Namespace) -> cfg.Config:
    """The preset with the flags given; on --resume, the saved config (runtime flags may change)."""
    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(cfg.Config)}
    given = {name: value for name, value in given.items() if value is not None}
    saved_path = Path(args.out) / "config.json"
    needs_saved = getattr(args, "resume", False) or args.command in ("analyse", "gradcam")
    if needs_saved and saved_path.is_file():
        from .runs import load_run
        saved = load_run(args.out).config
        changed = sorted(k for k, v in given.items()
                         if k not in COMMAND_FIELDS["analyse"] + cfg.RUNTIME_FIELDS
                         and getattr(saved, k) != v)
        if changed:
            raise EraskitError(f"{args.out} was trained with other {', '.join(changed)}; "
                               f"drop those flags or use a new --out")
        return saved.replace(**{k: v for k, v in given.items() if k not in changed})
    return cfg.preset(args.preset, **given)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "compare":
        args.out = args.out or f"runs/{args.preset}"
    try:
        return run_command(args)
    except EraskitError as err:
        print(f"eraskit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = "continue with --resume" if args.command in ("run", "train") else "run it again"
        print(f"eraskit: interrupted; {again}", file=sys.stderr)
        return 130


def run_command(args: argparse.Namespace) -> int:
    """Carry out one parsed command; EraskitError propagates to main()."""
    from . import pipeline
    from .data import load_cifar10

    if args.command == "compare":
        from .report import comparison_table
        folders = [r for r in args.runs if (Path(r) / "config.json").is_file()]
        for skipped in sorted(set(args.runs) - set(folders)):
            print(f"eraskit: skipping {skipped}: not a run folder", file=sys.stderr)
        if not folders:
            raise EraskitError("none of the paths given is a run folder (with a config.json)")
        print(comparison_table(folders), end="")
        return 0
    if getattr(args, "resume", False) and not (Path(args.out) / "config.json").is_file():
        raise EraskitError(f"{args.out} holds no run to resume: check --out, or drop --resume "
                           f"to start a new run there")
    config = make_config(args)
    if args.command == "bench":
        from .bench import benchmark
        print(benchmark(config, load_cifar10(args.data), steps=args.steps))
        return 0
    if args.command in ("analyse", "gradcam"):
        from .runs import load_run
        run = load_run(args.out)
        check_analysis_writable(args)  # before the data and the Grad-CAMs, as train does
        data = load_cifar10(args.data or recorded_data(run.meta))
    else:
        data = load_cifar10(args.data)
    if args.command == "find-lr":
        from .report import write_lr_finder_figure
        pipeline.find_lr(config, data, args.out, progress=not args.quiet)
        print(f"figure: {write_lr_finder_figure(args.out, config, data)}")
        return 0
    if args.command in ("train", "run"):
        pipeline.fit(config, data, args.out, resume=args.resume, progress=not args.quiet)
    if args.command in ("analyse", "run", "gradcam"):
        from .report import write_figures
        only = ("gradcam",) if args.command == "gradcam" else None
        written = write_figures(args.out, data, config, images=getattr(args, "images", None),
                                only=only)
        print("figures:\n  " + "\n  ".join(str(p) for p in written))
    print(f"run folder: {args.out}")
    return 0


def check_analysis_writable(args: argparse.Namespace) -> None:
    """Refuse an analysis whose figures (or --images copies) cannot be written, in one line."""
    from .runs import RunPaths, check_writable

    check_writable(RunPaths(Path(args.out)).figures)
    if getattr(args, "images", None):
        check_writable(Path(args.images))


def recorded_data(meta: dict) -> str | None:
    """The local .npz a run was trained on, if it is still there and $ERASKIT_DATA is unset."""
    from .data import DATA_ENV, npz_path

    path = npz_path(meta.get("data_source", ""))
    if os.environ.get(DATA_ENV) or path is None:
        return None
    if Path(path).is_file():
        return path
    print(f"eraskit: the run was trained on {path}, which is gone: pass --data to use a copy",
          file=sys.stderr)
    return None


def main_entry() -> None:
    """The `eraskit` console script."""
    sys.exit(main())
