"""Which max LR a run trains with: config.max_lr if given, else the suggestion of the run
folder's LR range test (run and saved as lr_finder.json by `find_lr`), else a safe peak when
the sweep gave no evidence or the run is too short for one (`choose_max_lr`). The sweep and
the rule that reads it are lr_finder.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch

from . import advice, augment, run_lock, runs, safe_write
from .config import RANGE_TEST_IGNORES, RUNTIME_FIELDS, Config, check_warm_up, differences
from .data import Cifar10, take_subset
from .errors import EraskitError
from .estimate import estimate_run
from .hardware import Precision, describe_device, resolve_device
from .lr_finder import (MIN_POINTS, SWEEP_CAP, SWEEP_FLOOR, range_test, rescore, safe_peak,
                        sweep_range, sweep_steps, warm_up_steps)
from .model import build_model
from .resume import check_resumable, previous_max_lr_source
from .runs import RunPaths


@run_lock.holds_lock  # one writer per run folder
def find_lr(config: Config, data: Cifar10, out: str | Path, progress: bool = True,
            log: Callable = print, device: Optional[torch.device] = None,
            precision: Optional[Precision] = None) -> dict:
    """Run the LR range test on the run's data and model; save it as lr_finder.json. Called
    on its own (notebook 02, the find-lr command), it first says how long it and the run
    will take here; a run being set up has said so, and passes its device and precision. A
    folder that holds a trained run is refused, naming first the settings or the data that
    differ from the run's."""
    standalone = device is None
    paths = RunPaths.of(out)
    safe_write.check_writable(paths.root)
    if paths.checkpoint.is_file():
        check_resumable(paths, config, data)
        raise EraskitError(f"{paths.root} already holds a trained run; its range test stays as "
                           f"it was: {advice.another_folder()}")
    device = device or resolve_device(config.device)
    fingerprint = data.fingerprint
    data, _ = take_subset(config, data)
    model = build_model(config, len(data.classes), device)
    loader = augment.train_loader(data.x_train, data.y_train, config, device)
    check_warm_up(config, len(loader))  # a run that cannot train needs no range test
    steps = sweep_steps(config, len(loader))
    if steps < MIN_POINTS:
        raise EraskitError(f"{too_short(config, len(loader))}: {advice.give('max_lr')}, or "
                           f"{advice.setting('lr_iters')} to force a range test")
    if standalone:
        precision = Precision.choose(device, config.precision)
        log(str(estimate_run(config, data, model, loader, device, precision,
                             range_test_steps=steps)))
    start, end = sweep_range(config)
    share = f" ({sweep_size_reason(config, len(loader), steps)})"
    log(f"LR range test: {steps} steps{share} from {start:g} to {end:g} on {device}, "
        f"{steps / (config.epochs * len(loader)):.0%} of the training's "
        f"{config.epochs * len(loader)} steps")
    result = {**range_test(model, loader, config, device, progress, precision=precision),
              "config": config.to_dict(), "device": describe_device(device),
              "data_fingerprint": fingerprint}
    safe_write.save_json(paths.lr_finder, result)
    log(f"{describe_suggestion(result)}; saved {paths.lr_finder}")
    return result


def sweep_size_reason(config: Config, steps_per_epoch: int, steps: int) -> str:
    """Which part of the sizing rule set the sweep's length, in words."""
    total = config.epochs * steps_per_epoch
    if config.lr_iters:
        return "as set by lr_iters"
    if steps == total // 2 and steps < SWEEP_FLOOR:
        return "half of the run's steps, the most it may cost"
    if steps == SWEEP_FLOOR:
        return "the minimum of 20"
    if steps == SWEEP_CAP:
        return "the maximum of 100"
    return "a quarter of the run's steps"


def too_short(config: Config, steps_per_epoch: int) -> str:
    """Why a run gets no range test: its steps, and the sweep they would allow."""
    total = config.epochs * steps_per_epoch
    return (f"a run of {total} training steps is too short for a range test (half of it, "
            f"{total // 2} steps, is below the {MIN_POINTS} a curve needs)")


def describe_suggestion(result: dict) -> str:
    """The range test's suggestion in one line: the rate, and the rule or fallback behind it."""
    if result["note"]:
        return f"max LR {result['max_lr']:.3g}: {result['note']}"
    reading = (f"{result['factor']:.3g} x {result['floor_lr']:.3g}, the rate where the range "
               f"test's loss reached its floor (factor for a {result['warm_up_steps']}-step "
               f"warm-up, or --lr-factor)")
    if result.get("capped"):
        return (f"max LR {result['max_lr']:.3g}, the last rate the range test survived "
                f"(the rule's {reading} lies above it)")
    return f"max LR {result['max_lr']:.3g} = {reading}"


def saved_range_test(paths: RunPaths, config: Config, log: Callable = print,
                     data: Optional[Cifar10] = None) -> Optional[dict]:
    """The folder's lr_finder.json if it was made for this config's data, model and
    optimizer (None if there is none, or it was made with other settings or on other data
    than `data`: then said)."""
    found = runs.read_json(paths.lr_finder) if paths.lr_finder.is_file() else None
    recorded = (found or {}).get("data_fingerprint")
    if data is not None and recorded and recorded != data.fingerprint:
        log(f"{paths.lr_finder} was made on other data (arrays {recorded[:8]}, these "
            f"{data.fingerprint[:8]}): running the range test again")
        return None
    if not found or "config" not in found:
        return found
    changed = differences(Config.from_dict(found["config"]), config, "the range test",
                          "this run", ignore=RUNTIME_FIELDS + RANGE_TEST_IGNORES)
    if changed:
        log(f"{paths.lr_finder} was made with other settings ({changed}): running the range "
            f"test again")
        return None
    return found


def needs_range_test(config: Config, paths: RunPaths, steps_per_epoch: int) -> int:
    """How many steps of range test a new run in `paths` will take: 0 with config.max_lr, with
    a range test already in the folder, or for a run too short for one."""
    if config.max_lr is not None or paths.lr_finder.is_file():
        return 0
    steps = sweep_steps(config, steps_per_epoch)
    return steps if steps >= MIN_POINTS else 0


def choose_max_lr(config: Config, data: Cifar10, out: str | Path, steps_per_epoch: int,
                  progress: bool = True, log: Callable = print,
                  device: Optional[torch.device] = None,
                  precision: Optional[Precision] = None) -> tuple[float, str]:
    """OneCycle's max LR for the run in `out` and where it came from: a trained run's own
    (once `config` and `data` are known to be the run's), else config.max_lr if set, else the
    suggestion of the folder's LR range test, scored with this config's rule (running the
    test first if the folder has none, or one made for another model, data or optimizer), or
    the safe peak when the sweep gave no evidence or the run is too short."""
    paths = RunPaths.of(out)
    if paths.checkpoint.is_file():  # a resumed run keeps its peak; it needs no write either
        checkpoint = check_resumable(paths, config, data)
        if checkpoint.max_lr is not None:
            return checkpoint.max_lr, previous_max_lr_source(paths)
    if config.max_lr is not None:
        return config.max_lr, "config"
    found = saved_range_test(paths, config, log, data)
    if found:
        found = rescore(found, config, steps_per_epoch)
        log(describe_suggestion(found))
    elif sweep_steps(config, steps_per_epoch) < MIN_POINTS:
        safe = safe_peak(config.optimizer, config.batch_size,
                         warm_up_steps(config, steps_per_epoch))
        log(f"max LR {safe:.3g}: {too_short(config, steps_per_epoch)}: using the safe "
            f"{config.optimizer} peak; {advice.give('max_lr')} to choose another")
        return safe, "safe peak: run too short for a range test"
    else:
        found = find_lr(config, data, paths.root, progress, log, device, precision)
    if found["evidence"] != "ok":
        return found["max_lr"], f"safe peak: range test {found['evidence']}"
    return found["max_lr"], "LR range test"
