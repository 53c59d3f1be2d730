"""The command line's parser, built from the Config fields' metadata: one flag per field
(--batch-size), grouped by the fields' sections, with each preset's value in --help; `none`
for a setting's automatic value; the settings each command takes; an unknown flag answered
with the closest one ("did you mean --epochs?"). Imports neither torch nor numpy."""

from __future__ import annotations

import argparse
import difflib
import sys
import typing
from pathlib import Path

from . import config as cfg

DESCRIPTION = "`python -m eraskit COMMAND`: the notebooks' pipeline, headless."
COMMANDS = {
    "run": "LR range test, training and every figure: the whole assignment",
    "find-lr": "the LR range test alone (saved with the run, used by train)",
    "train": "train (or --resume) a run; runs the LR range test first unless --max-lr is given",
    "analyse": "figures of a trained run: curves, LR schedule, errors, confusion, Grad-CAM",
    "gradcam": "the Grad-CAM gallery of a trained run",
    "bench": "training throughput of the kit against the original loop, as one JSON line",
    "compare": "a Markdown table comparing finished runs (give their folders)",
}
RUNS_ROOT = Path("runs")  # where the default run folders (runs/<preset>) live
TRAINED_RUN_COMMANDS = ("analyse", "gradcam")  # they work on a trained run, keeping its settings

EVERY_FIELD = tuple(cfg.FIELDS)
# The settings each command takes as flags. analyse and gradcam work on a trained run, whose
# settings stay as they were: only what to map may change.
COMMAND_SETTINGS: dict[str, tuple[str, ...]] = {
    "run": EVERY_FIELD,
    "train": EVERY_FIELD,
    # what the range test trains with; epochs and pct_start set its length and the rule's
    # factor, and lr_factor is the rule's; the schedule after it is train's
    "find-lr": ("subset", "width", "epochs", "batch_size", "optimizer", "momentum",
                "weight_decay", "decay_norm_and_bias", "label_smoothing", "pct_start", "pad",
                "flip_p", "cutout", "cutout_p", "lr_start", "lr_end", "lr_iters", "lr_factor",
                "lr_diverge_at", "device", "precision", "channels_last", "compile", "workers",
                "eval_batch_size", "seed"),
    # what a training step costs: the model, the batch, the optimizer, the augmentation
    "bench": ("width", "batch_size", "optimizer", "momentum", "weight_decay",
              "decay_norm_and_bias", "label_smoothing", "pad", "flip_p", "cutout", "cutout_p",
              "gpu_augment", "device", "precision", "channels_last", "compile", "workers",
              "seed"),
    "analyse": cfg.GRADCAM_FIELDS,
    "gradcam": cfg.GRADCAM_FIELDS,
    "compare": (),
}
NONE_MEANS = {"subset": "all", "test_subset": "all", "max_lr": "range test",
              "lr_start": "per optimizer", "lr_end": "per optimizer", "lr_iters": "auto",
              "lr_factor": "auto"}
RATE_FIELDS = ("max_lr", "lr_start", "lr_end")  # shown as LR in --help


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allow_abbrev=False, **kwargs)  # --epoch is not --epochs

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def shown(name: str, value: typing.Any) -> str:
    """A setting's value as the messages show it."""
    if value is None:
        return NONE_MEANS.get(name, "none")
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def help_value(name: str, value: typing.Any) -> str:
    """A setting's value as --help shows it: None as `none`, the word that asks for it (the
    help line says what it chooses)."""
    return "none" if value is None else shown(name, value)


def preset_values(name: str) -> str:
    """A field's value in the presets: "[default: 4]", or "[full: 100, smoke: 20, cpu: 40]"."""
    default = cfg.FIELDS[name].default
    values = {preset: overrides.get(name, default) for preset, overrides in cfg.PRESETS.items()}
    if len({help_value(name, v) for v in values.values()}) == 1:
        return f"[default: {help_value(name, default)}]"
    return "[" + ", ".join(f"{preset}: {help_value(name, v)}" for preset, v in values.items()) + "]"


def flag(name: str) -> str:
    """A Config field's command-line flag: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def converter(name: str) -> typing.Callable[[str], typing.Any]:
    """The flag's text as the field's value (config.parse_value, as the notebooks read it). A
    bad value of a field that may be None says that `none` is accepted too."""
    kind = cfg.field_type(name)[0].__name__
    none = cfg.none_means(name)

    def convert(text: str) -> typing.Any:
        try:
            return cfg.parse_value(name, text)
        except ValueError:
            if not none:
                raise
            raise argparse.ArgumentTypeError(f"invalid {kind} value: {text!r} (a {kind}, or "
                                             f"none = {none})") from None
    convert.__name__ = kind  # argparse: "invalid int value: 'x'"
    return convert


def add_setting(group, name: str, trained_run: bool) -> None:
    """The flag of one Config field, with its help and its value in each preset (or, on a
    trained run, the run's own). Left out, it is absent from the parsed arguments."""
    kind, _ = cfg.field_type(name)
    values = "[default: the run's]" if trained_run else preset_values(name)
    none = f" (none = {cfg.none_means(name)})" if cfg.none_means(name) else ""
    text = f"{cfg.field_help(name)}{none} {values}".replace("%", "%%")
    if kind is bool:
        group.add_argument(flag(name), action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=text)
        return
    choices = cfg.CHOICES.get(name)
    metavar = None if choices else "LR" if name in RATE_FIELDS else "N" if kind is int else "X"
    group.add_argument(flag(name), type=converter(name), choices=choices,
                       default=argparse.SUPPRESS, metavar=metavar, help=text)


def add_config_flags(parser: argparse.ArgumentParser, names: typing.Sequence[str],
                     trained_run: bool = False) -> None:
    """One flag per Config field named, --like-this, grouped by the fields' sections."""
    for section, members in cfg.sections().items():
        members = [n for n in members if n in names]
        if members:
            group = parser.add_argument_group(section)
            for name in members:
                add_setting(group, name, trained_run)


PRESET_HELP = ("starting settings: full (the assignment), smoke (checks every step in under a "
               "minute on a CPU; learns little), cpu (20 epochs of a narrow network on a fifth "
               "of the data, under an hour on 2 cores)")


def add_run_folder_options(p: argparse.ArgumentParser, trained_run: bool) -> None:
    """--preset, --data and --out, which every command but compare takes."""
    p.add_argument("--preset", default="full", choices=list(cfg.PRESETS), help=(
        "picks the default --out (runs/<preset>); the settings are the run's" if trained_run
        else PRESET_HELP))
    recorded = ", else the .npz the run was trained on" if trained_run else ""
    p.add_argument("--data", help=f"a local .npz with x_train, y_train, x_test, y_test "
                                  f"(default: $ERASKIT_DATA{recorded}, else download CIFAR-10)")
    p.add_argument("--out", help="the run folder (default: runs/<preset>)")


def add_images_options(p: argparse.ArgumentParser) -> None:
    """--images and --force-images, with which run and analyse publish a run's figures."""
    p.add_argument("--images", help="also copy the figures to this folder and refresh the "
                                    "results table of the README.md beside it (only a "
                                    "complete run of the full assignment)")
    p.add_argument("--force-images", action="store_true",
                   help="let --images publish any run (a smoke run, a partial one)")


def add_progress_options(p: argparse.ArgumentParser) -> None:
    """--quiet and --progress (one or the other) for the commands that train."""
    bars = p.add_mutually_exclusive_group()
    bars.add_argument("--quiet", action="store_true", help="no progress bars")
    bars.add_argument("--progress", action="store_true",
                      help="progress bars even when stderr is not a terminal (a pipe, a log, CI)")


def add_command(sub, name: str) -> argparse.ArgumentParser:
    """The parser of one command, with the Config fields it uses as flags."""
    p = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
    if name == "compare":
        p.add_argument("runs", nargs="+", help="run folders")
        return p
    add_run_folder_options(p, name in TRAINED_RUN_COMMANDS)
    if name in ("run", "train"):
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
    if name in ("run", "analyse"):
        add_images_options(p)
    if name in ("run", "train", "find-lr"):
        add_progress_options(p)
    if name == "bench":
        p.add_argument("--steps", type=int, default=3, help="timed training steps per loop")
    add_config_flags(p, COMMAND_SETTINGS[name], name in TRAINED_RUN_COMMANDS)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; `parser.commands` maps each command to its own parser."""
    parser = Parser(prog="python -m eraskit", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    parser.commands = {name: add_command(sub, name) for name in COMMANDS}
    return parser


def unknown_flags(name: str, command: argparse.ArgumentParser, extra: list[str]) -> str:
    """The error for arguments a command does not take, with the closest flag it does take:
    "unrecognized argument --epoch; did you mean --epochs?"."""
    unknown = [a for a in extra if a.startswith("-")] or extra
    word = unknown[0].split("=")[0]
    field = word.lstrip("-").removeprefix("no-").replace("-", "_")
    if field in cfg.FIELDS and name in TRAINED_RUN_COMMANDS:
        return (f"{name} takes no {word}: a trained run keeps its settings (only --cam-method "
                f"and --cam-layer may change); train a new run to change them")
    if field in cfg.FIELDS:
        return f"{name} takes no {word}: see {command.prog} --help for the settings it uses"
    known = [s for action in command._actions for s in action.option_strings]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else f"; see {command.prog} --help"
    return f"unrecognized argument{'s' * (len(unknown) > 1)} {' '.join(unknown)}{hint}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The parsed command line; exits 2 with one line on anything unusable."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        parser.exit(2, f"{parser.prog}: give a command ({', '.join(COMMANDS)}); "
                       f"see python -m eraskit --help\n")
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = parser.commands[args.command]
        command.error(unknown_flags(args.command, command, extra))
    args.argv = list(argv)  # as given: what to run again after an interrupt
    return args


def given_settings(args: argparse.Namespace) -> dict[str, typing.Any]:
    """The Config fields given as flags (None where `none` was given)."""
    return {name: getattr(args, name) for name in COMMAND_SETTINGS[args.command]
            if hasattr(args, name)}
