"""`python -m eraskit COMMAND`: the notebooks' pipeline, headless.

Every Config field is also a flag (--epochs, --batch-size, --width, --max-lr, ...); a flag
left out takes the preset's value. Problems with the input exit with code 2 and one line.
"""

from __future__ import annotations

import argparse
import dataclasses
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


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (default: the preset's)")
    for field in dataclasses.fields(cfg.Config):
        flag = "--" + field.name.replace("_", "-")
        kind, _ = cfg.field_type(field.name)
        choices = cfg.CHOICES.get(field.name)
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=f"default {field.default}")
        else:
            group.add_argument(flag, type=kind, choices=choices, default=None, metavar=None if
                               choices else field.name.upper(), help=f"default {field.default}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each Config field is a flag of every command but compare."""
    parser = Parser(prog="python -m eraskit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, summary in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == "compare":
            p.add_argument("runs", nargs="+", help="run folders")
            continue
        p.add_argument("--preset", default="full", choices=list(cfg.PRESETS),
                       help="starting settings: full (the assignment), smoke (<1 min on a CPU), "
                            "cpu (20 epochs, well under an hour on 2 CPU cores)")
        p.add_argument("--data", help="a local .npz with x_train, y_train, x_test, y_test "
                                      "(default: $ERASKIT_DATA, else download CIFAR-10)")
        p.add_argument("--out", help="the run folder (default: runs/<preset>)")
        if name in ("run", "train"):
            p.add_argument("--resume", action="store_true", help="continue the run in --out")
        if name in ("run", "analyse"):
            p.add_argument("--images", help="also copy the figures to this folder and refresh "
                                            "the results table of the README.md beside it")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "bench":
            p.add_argument("--steps", type=int, default=3, help="timed training steps per loop")
        add_config_flags(p)
    return parser


def make_config(args: argparse.Namespace) -> cfg.Config:
    """The preset with the flags given; on --resume, the saved config (runtime flags may change)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cfg.Config)
             if getattr(args, f.name) is not None}
    saved_path = Path(args.out) / "config.json"
    needs_saved = getattr(args, "resume", False) or args.command in ("analyse", "gradcam")
    if needs_saved and saved_path.is_file():
        from .runs import load_run
        saved = load_run(args.out).config
        changed = sorted(k for k, v in given.items()
                         if k not in cfg.RUNTIME_FIELDS + ("cam_method", "cam_layer")
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
        print("eraskit: interrupted; continue with --resume", file=sys.stderr)
        return 130


def run_command(args: argparse.Namespace) -> int:
    """Carry out one parsed command; EraskitError propagates to main()."""
    from . import pipeline
    from .data import load_cifar10

    if args.command == "compare":
        from .report import comparison_table
        print(comparison_table(args.runs), end="")
        return 0
    config = make_config(args)
    if args.command == "bench":
        from .bench import benchmark
        print(benchmark(config, load_cifar10(args.data), steps=args.steps))
        return 0
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


def main_entry() -> None:
    """The `eraskit` console script."""
    sys.exit(main())
