"""The checks a command makes before torch and the data load, each refusing in one line:
the settings against a trained run's (on --resume, analyse and gradcam, and for a new run in a
trained run's folder), a new run's subset, the device, --images, the run folder to analyse."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from . import config as cfg
from .errors import EraskitError
from .flags import RUNS_ROOT, TRAINED_RUN_COMMANDS, flag, given_settings, shown
from .runs import RunPaths

if typing.TYPE_CHECKING:
    from .runs import Run


def make_config(args: argparse.Namespace) -> cfg.Config:
    """The preset with the flags given; on --resume (and for analyse and gradcam), the saved
    config, in which only runtime and Grad-CAM settings may change."""
    given = given_settings(args)
    trained = getattr(args, "resume", False) or args.command in TRAINED_RUN_COMMANDS
    if not (trained and RunPaths.of(args.out).holds_run()):
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
    and what to do (--resume, or analyse a finished run). training_run.start refuses the same, late,
    for the notebooks. A folder another process is training in is reported as in use."""
    from .run_lock import writing
    from .runs import load_run

    paths = RunPaths.of(args.out)
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


def is_new_run(out: str) -> bool:
    """Whether --out holds no checkpoint yet (a folder with one is checked by training_run.start)."""
    return not RunPaths.of(out).checkpoint.is_file()


def check_new_run(config: cfg.Config, out: str) -> None:
    """Refuse, before the data loads, a new run that its settings alone rule out: with
    --subset, fewer images than classes or than one batch, or no warm-up (a data set with
    fewer images than the subset would only make each of these worse)."""
    if config.subset is None or not is_new_run(out):
        return
    from .data import CLASSES, check_train_size
    check_train_size(config, config.subset, len(CLASSES))
    cfg.check_warm_up(config, cfg.steps_per_epoch(config, config.subset))


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
    if args.out_given or RunPaths.of(args.out).holds_run():
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
    from .safe_write import check_writable

    check_writable(RunPaths.of(args.out).figures)
    if getattr(args, "images", None):
        check_writable(Path(args.images))
