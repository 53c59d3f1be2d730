"""`python -m eraskit COMMAND`: the notebooks' pipeline, headless.

Every Config field is a flag of the commands that use it (--epochs, --batch-size, --width,
--max-lr, ...); a flag left out takes the preset's value, or on analyse and gradcam the trained
run's; `none` asks for a setting's automatic value (--max-lr none: the range test's). Problems
with the input exit with code 2 and one line.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
import sys
import typing
from pathlib import Path

from . import config as cfg
from .errors import EraskitError

if typing.TYPE_CHECKING:
    from .data import Cifar10
    from .runs import Meta, Run

# Neither this module nor what it reads a run folder with (config, data, runs) imports torch:
# bad flags and values are reported in a fraction of a second, before torch loads.

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
    parser = Parser(prog="python -m eraskit", description=__doc__.splitlines()[0])
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


def make_config(args: argparse.Namespace) -> cfg.Config:
    """The preset with the flags given; on --resume (and for analyse and gradcam), the saved
    config, in which only runtime and Grad-CAM settings may change."""
    given = given_settings(args)
    trained = getattr(args, "resume", False) or args.command in TRAINED_RUN_COMMANDS
    if not (trained and (Path(args.out) / "config.json").is_file()):
        return cfg.preset(args.preset).replace(**given)
    from .runs import load_run
    saved = load_run(args.out).config
    config = saved.replace(**given)
    changed = cfg.changed_fields(saved, config, KEPT_ON_RESUME)
    if changed:
        raise EraskitError(other_settings(args.out, saved, config, changed, given))
    return config


# What may differ from the run's settings when a run is continued: how it runs, what is mapped.
KEPT_ON_RESUME = cfg.GRADCAM_FIELDS + cfg.RUNTIME_FIELDS


def other_settings(out: str, saved: cfg.Config, config: cfg.Config, changed: list[str],
                   given: dict[str, typing.Any], preset: str | None = None) -> str:
    """The refusal of `config`, whose settings `changed` differ from those the run in `out`
    was trained with (`saved`), in one line naming each ("--epochs 4 (the run: 3)"): first
    the flags `given`, then the values of --preset `preset`, with the preset that gives the
    run's values if one does."""
    def listed(names: list[str]) -> str:
        return ", ".join(f"{flag(k)} {shown(k, getattr(config, k))} "
                         f"(the run: {shown(k, getattr(saved, k))})" for k in names)

    flags = [k for k in changed if k in given]
    from_preset = [k for k in changed if k not in given]
    said, advice = [], []
    if flags:
        said.append(listed(flags))
        advice.append(f"drop {'those flags' if len(flags) > 1 else 'that flag'}")
    if from_preset:
        said.append(f"{'and ' * bool(flags)}from --preset {preset}, {listed(from_preset)}")
        match = run_preset(saved, {k: v for k, v in given.items() if k not in flags})
        advice.append(f"give --preset {match}" if match else "give the run's values as flags")
    return (f"{out} holds a run trained with other settings: {', '.join(said)}: "
            f"{' and '.join(advice)}, or use another run folder (--out)")


def run_preset(saved: cfg.Config, given: dict[str, typing.Any]) -> str | None:
    """The preset that, with the flags given, makes the run's settings (None if none does)."""
    for name in cfg.PRESETS:
        try:
            config = cfg.preset(name).replace(**given)
        except EraskitError:
            continue
        if not cfg.changed_fields(saved, config, KEPT_ON_RESUME):
            return name
    return None


def check_existing_run(args: argparse.Namespace, config: cfg.Config) -> None:
    """A new run (no --resume) in a folder that holds a trained one, refused before the data
    and torch load: naming the settings that differ from the run's, else saying how far it got
    and what to do (--resume, or analyse a finished run). pipeline.fit refuses the same, late,
    for the notebooks. A folder another process is training in is reported as in use."""
    from .runs import RunPaths, load_run, writing

    paths = RunPaths(Path(args.out))
    if args.resume or not (paths.checkpoint.is_file() and paths.config.is_file()):
        return
    with writing(paths.root):  # refused while another process holds it: it is in use
        run = load_run(paths.root)
    changed = cfg.changed_fields(run.config, config, KEPT_ON_RESUME)
    if changed:
        raise EraskitError(other_settings(args.out, run.config, config, changed,
                                          given_settings(args), args.preset))
    done, epochs = len(run.history), run.config.epochs
    if done >= epochs:
        raise EraskitError(f"{args.out} holds a run that has finished all {epochs} epochs: "
                           f"analyse it (python -m eraskit analyse --out {args.out}), or train "
                           f"another run in another folder (--out)")
    raise EraskitError(f"{args.out} holds a run trained for {done} of {epochs} epochs: continue "
                       f"it with --resume, or use another run folder (--out)")


def check_device(config: cfg.Config) -> None:
    """An unavailable --device, refused before the data loads (torch loads here only for a
    device named: cuda or mps)."""
    if config.device in ("auto", "cpu"):
        return
    from .hardware import resolve_device
    resolve_device(config.device)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal unless --quiet; in a pipe or a log only with --progress."""
    return not args.quiet and (args.progress or sys.stderr.isatty())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command != "compare":
        args.out_given = args.out is not None
        args.out = args.out or str(RUNS_ROOT / args.preset)
    try:
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
    from .runs import RunPaths, load_checkpoint

    paths = RunPaths(Path(args.out))
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

    folders = [r for r in args.runs if (Path(r) / "config.json").is_file()]
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
    config = make_config(args)
    check_new_run(config, args.out)
    check_device(config)
    data = load_data(args.data, config, args.out)
    from . import pipeline
    from .figures import write_lr_finder_figure
    pipeline.find_lr(config, data, args.out, progress=show_progress(args))
    print(f"figure: {write_lr_finder_figure(args.out, config, data)}")
    return 0


def train(args: argparse.Namespace) -> int:
    """Train (or resume) the run in --out; `run` then draws every figure."""
    if args.resume and not (Path(args.out) / "config.json").is_file():
        raise EraskitError(f"{args.out} holds no run to resume: check --out, or drop --resume "
                           f"to start a new run there")
    config = make_config(args)
    if args.command == "run":
        check_images_allowed(args, config)  # before hours of training, not after
    check_existing_run(args, config)
    check_new_run(config, args.out)
    check_device(config)
    data = load_data(args.data, config, args.out)
    from . import pipeline
    pipeline.fit(config, data, args.out, resume=args.resume, progress=show_progress(args))
    if args.command == "run":
        write_analysis(args, config, data)
    print(f"run folder: {args.out}")
    return 0


def analyse(args: argparse.Namespace) -> int:
    """Redraw the figures of a trained run (`gradcam`: the Grad-CAM gallery alone)."""
    check_out_given(args)
    config = make_config(args)
    from .runs import load_run
    run = load_run(args.out)
    check_images_allowed(args, config, run)
    check_analysis_writable(args)  # before the data and the Grad-CAMs, as train does
    if run.history and len(run.history) < run.config.epochs:
        print(f"eraskit: {args.out} has trained {len(run.history)} of {run.config.epochs} "
              f"epochs: the figures show the model after epoch {len(run.history)}",
              file=sys.stderr)
    data = load_data(args.data or recorded_data(run.meta))
    write_analysis(args, config, data)
    print(f"run folder: {args.out}")
    return 0


HANDLERS = {"run": train, "find-lr": find_lr, "train": train, "analyse": analyse,
            "gradcam": analyse, "bench": bench, "compare": compare}


def is_new_run(out: str) -> bool:
    """Whether --out holds no checkpoint yet (a folder with one is checked in pipeline)."""
    from .runs import RunPaths
    return not RunPaths(Path(out)).checkpoint.is_file()


def check_new_run(config: cfg.Config, out: str) -> None:
    """Refuse, before the data loads, a new run that its settings alone rule out: with
    --subset, fewer images than classes or than one batch, or no warm-up (a data set with
    fewer images than the subset would only make each of these worse)."""
    if config.subset is None or not is_new_run(out):
        return
    from .data import CLASSES, check_train_size
    check_train_size(config, config.subset, len(CLASSES))
    cfg.check_warm_up(config, cfg.steps_per_epoch(config, config.subset))


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


def subset_notes(config: cfg.Config, train_images: int, test_images: int) -> list[str]:
    """A line for each subset larger than the data, which then uses all of it."""
    notes = []
    for name, split, available in (("subset", "training", train_images),
                                   ("test_subset", "test", test_images)):
        size = getattr(config, name)
        if size is not None and size > available:
            notes.append(f"{flag(name)} {size:,} is more than the {available:,} {split} images: "
                         f"using all {available:,}")
    return notes


def write_analysis(args: argparse.Namespace, config: cfg.Config, data: Cifar10) -> None:
    """Every figure of the run in --out; with --images, copies published beside the README."""
    from .figures import write_figures
    from .pipeline import load_model
    from .predictions import load_test_results
    from .publish import copy_to_images
    from .runs import load_run

    run = load_run(args.out)
    only = ("gradcam",) if args.command == "gradcam" else None
    written = write_figures(load_test_results(run, data, load_model), config, only=only)
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


def check_images_allowed(args: argparse.Namespace, config: cfg.Config,
                         run: Run | None = None) -> None:
    """Refuse --images for anything but a complete run of the full assignment (the course's
    published figures and results table), unless --force-images says it is meant."""
    if not getattr(args, "images", None) or args.force_images:
        return
    done = None if run is None else len(run.history)
    counts = (None, None) if run is None else (run.meta.train_images, run.meta.test_images)
    problem = cfg.not_the_assignment(config, done, *counts)
    if problem:
        raise EraskitError(f"--images would replace the course's figures and README results "
                           f"with a run that is not the full assignment ({problem}); its "
                           f"figures stay in {args.out}/figures: add --force-images to publish "
                           f"it anyway")


def run_folders(root: Path = RUNS_ROOT) -> list[Path]:
    """The run folders (with a config.json) under `root`, the shallowest first."""
    return sorted((p.parent for p in root.rglob("config.json")),
                  key=lambda folder: (len(folder.parts), str(folder)))


def check_out_given(args: argparse.Namespace) -> None:
    """Without --out, an analysis needs runs/<preset> to hold a run; else list those there."""
    if args.out_given or (Path(args.out) / "config.json").is_file():
        return
    folders = run_folders()
    if not folders:
        raise EraskitError(f"no run in {args.out} and none under {RUNS_ROOT}/: train one first, "
                           f"e.g. `python -m eraskit run --preset smoke`")
    listed = ", ".join(str(f) for f in folders[:6])
    listed += f", ... ({len(folders)} in all)" if len(folders) > 6 else ""
    raise EraskitError(f"no run in {args.out}; give one with --out: {listed}")


def check_analysis_writable(args: argparse.Namespace) -> None:
    """Refuse an analysis whose figures (or --images copies) cannot be written, in one line."""
    from .runs import RunPaths, check_writable

    check_writable(RunPaths(Path(args.out)).figures)
    if getattr(args, "images", None):
        check_writable(Path(args.images))


def recorded_data(meta: Meta) -> str | None:
    """The local .npz a run was trained on, if it is still there and $ERASKIT_DATA is unset."""
    from .data import DATA_ENV, npz_path

    path = npz_path(meta.data_source)
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
