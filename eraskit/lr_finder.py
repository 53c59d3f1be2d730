"""The LR range test (torch-lr-finder) and the rule that turns its curve into OneCycle's peak.

The sweep trains a copy of the untrained network for a few dozen steps while the rate rises
exponentially, and records the raw loss of every step. The rule reads that curve:

1. Smooth it with a centred moving average (no lag: torch-lr-finder's own running average
   trails the curve by about 20 steps, which moved its minimum up to 10x to the right).
2. Find where the descent reaches its floor: the first rate at which the smoothed loss comes
   within noise (or a tenth of the whole drop) of its minimum. On a flat plateau the exact
   minimum is chance; the floor is not.
3. Scale it by a factor that grows with OneCycle's warm-up: after a long warm-up a network
   tolerates far larger rates than the untrained one in the sweep did; after a short one it
   does not.
4. Guard rails: a sweep whose loss never fell clearly below its start carries no signal, one
   whose loss was still falling at its last rate gives no upper bound, and one that diverged
   before MIN_POINTS steps cannot be smoothed; all fall back to a documented safe peak for
   the optimizer, batch and warm-up, saying so (as does a run too short for a sweep:
   lr_choice.choose_max_lr). A sweep that diverged early but whose loss fell first gives a
   tenth of the rate at its lowest loss, if that is lower. The step where a sweep diverged is
   left out, and the peak never exceeds the last rate the sweep survived.

For comparison it also records where two rules common elsewhere read the same curve: the
steepest descent (torch-lr-finder's suggestion, `steepest_lr`) and a tenth of the rate at the
lowest loss (fastai's "minimum / 10"). Notebook 02 computes all three by hand and says why the
kit uses its own.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from .config import Config
from .errors import EraskitError
from .hardware import Precision
from .train import make_criterion, make_optimizer

# torch-lr-finder imports tqdm.autonotebook, which warns in a notebook that its notebook mode is
# experimental: a note to torch-lr-finder's authors, printed in red under a student's import
# cell. Imported here once with that warning alone silenced, torch_lr_finder is then cached.
with warnings.catch_warnings():
    from tqdm import TqdmExperimentalWarning
    warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    from torch_lr_finder import LRFinder

# The sweep's rates, per optimizer: Adam's useful rates are about 100x smaller than SGD's.
SWEEP_RANGE = {"sgd": (1e-4, 10.0), "adam": (1e-6, 1.0)}
# The sweep's length: a quarter of the run's own steps, at least 20 and at most 100.
SWEEP_SHARE, SWEEP_FLOOR, SWEEP_CAP = 0.25, 20, 100
# Below this many measured steps the curve cannot be read at all.
MIN_POINTS = 10
# A sweep carries a signal when its smoothed loss fell by at least this share of its start.
MIN_DROP = 0.03
# The sweep stops once a loss exceeds this multiple of the best so far (torch-lr-finder's
# diverge_th): the curve past it says nothing. A run's own is config.lr_diverge_at.
DIVERGE_AT = Config.lr_diverge_at
# After a warm-up this many steps long SGD's safe peak grows linearly with the batch (see
# safe_peak); after a shorter one, more slowly.
SAFE_WARM_UP = 20
# The rule of a sweep that fell and then diverged before MIN_POINTS steps (see diverged_early).
TENTH_RULE = "a tenth of the rate at the lowest loss"
# The rule's factor: SGD's grows with the warm-up up to this cap; Adam's stays put.
SGD_FACTOR_CAP, ADAM_FACTOR = 50.0, 2.5


def sweep_steps(config: Config, steps_per_epoch: int) -> int:
    """The range test's length: config.lr_iters, or a quarter of the run's training steps
    within [SWEEP_FLOOR, SWEEP_CAP], and never more than half of them, so that on small data
    it costs less than the training. Below MIN_POINTS the run is too short for a sweep."""
    if config.lr_iters is not None:
        return config.lr_iters
    total = config.epochs * steps_per_epoch
    return min(SWEEP_CAP, max(SWEEP_FLOOR, round(SWEEP_SHARE * total)), total // 2)


def sweep_range(config: Config) -> tuple[float, float]:
    """The sweep's first and last rate: as configured, else the optimizer's SWEEP_RANGE."""
    start, end = SWEEP_RANGE[config.optimizer]
    return (config.lr_start if config.lr_start is not None else start,
            config.lr_end if config.lr_end is not None else end)


def warm_up_steps(config: Config, steps_per_epoch: int) -> int:
    """OneCycle's warm-up in steps: the rule's factor depends on it."""
    return max(1, round(config.pct_start * config.epochs * steps_per_epoch))


def range_test(model: nn.Module, loader, config: Config, device: torch.device,
               progress: bool = True, steps_per_epoch: Optional[int] = None,
               precision: Optional[Precision] = None) -> dict:
    """Train a copy of `model` while the rate rises exponentially over sweep_range(config);
    the caller's model is left untouched. `steps_per_epoch` is the run's (default: the
    loader's), which sizes the sweep and sets the rule's warm-up; `precision` the run's
    (default: the config's choice for `device`).

    Returns {"lrs", "raw_losses"} and the suggestion (see `suggest`).
    """
    steps_per_epoch = steps_per_epoch or len(loader)
    start, end = sweep_range(config)
    trial = copy.deepcopy(model).to(device)
    optimizer = make_optimizer(trial, config, lr=start)
    precision = precision or Precision.choose(device, config.precision)
    amp = {}
    if precision.dtype is not None:
        amp = dict(amp_backend="torch", grad_scaler=precision.grad_scaler(),
                   amp_config={"device_type": precision.device_type, "dtype": precision.dtype})
    finder = LRFinder(trial, optimizer, make_criterion(config), device=device, **amp)
    quiet = contextlib.redirect_stderr(io.StringIO()) if not progress else contextlib.nullcontext()
    with contextlib.redirect_stdout(io.StringIO()), quiet:  # its "call .plot()" hint misleads here
        # smooth_f=0: keep every step's raw loss (the rule smooths without lag); stop once a
        # loss is lr_diverge_at x the best so far, since the rest of the curve says nothing.
        finder.range_test(loader, start_lr=start, end_lr=end,
                          num_iter=sweep_steps(config, steps_per_epoch), step_mode="exp",
                          smooth_f=0, diverge_th=config.lr_diverge_at)
    lrs = [float(x) for x in finder.history["lr"]]
    raw = [float(x) for x in finder.history["loss"]]
    del finder, trial, optimizer
    return {"lrs": lrs, "raw_losses": raw,
            **suggest(lrs, raw, config.optimizer, warm_up_steps(config, steps_per_epoch),
                      config.batch_size, config.lr_factor, config.lr_diverge_at)}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` points (fewer at the ends)."""
    half = window // 2
    total = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, len(values))
    return (total[hi] - total[lo]) / (hi - lo)


def steepest_lr(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """The rate where the loss falls fastest before its lowest point: torch-lr-finder's
    suggestion (the most negative np.gradient of the loss, per sweep step), read only on the
    descent: one of `lrs`. `lrs` and `losses` pair up, at least 2 of each; `losses` is a
    smoothed curve.

    torch-lr-finder searches its whole running average, less its first 10 and last 5 steps;
    on a lag-free curve a loss falling again after a blow-up, past the lowest point, can be
    steeper than the descent itself, so the search stops at the lowest point. Notebook 02
    computes this by hand; the rule's pick does not use it."""
    losses = np.asarray(losses, dtype=float)
    slope = np.gradient(losses)
    return float(lrs[int(np.argmin(slope[:int(np.argmin(losses)) + 1]))])


def warm_up_factor(warm_up: int, optimizer: str = "sgd") -> float:
    """How far above the descent's floor OneCycle's peak may go after `warm_up` steps.

    SGD: 4 x (warm_up / 15) ** 0.72, within [1, 50]. Chosen on these measurements (raw-loss
    floors; results/rule-bench/README.md):
    - 485-step warm-ups (20 epochs of all 50,000 images, batch 512): the best measured peaks
      were about 50x the floor (width 64: floor 0.0074, peak 0.4 gave 90.09%, 0.2 gave 89.66%,
      0.034 gave 88.19%; width 16: floor 0.021, peak 1.07 gave 86.56%, 0.8 gave 86.74%,
      0.085 gave 84.25%);
    - 15-23-step warm-ups: a flat sweep (fallback) or a few times the floor.
    Adam: ADAM_FACTOR at any warm-up. Adam scales each step by its gradients' size, and the
    best peak stayed a small multiple of the floor whatever the warm-up: 2.8x after 15
    steps (2,000 images, 4 epochs, width 8: 0.004 gave 39.6%), 1.9x after 75 steps (1,000
    images, 20 epochs: 0.004 gave 47.3%, and 8x the floor, the first factor tried, 43.7%).
    """
    if optimizer == "adam":
        return ADAM_FACTOR
    return float(np.clip(4.0 * (warm_up / 15) ** 0.72, 1.0, SGD_FACTOR_CAP))


def safe_peak(optimizer: str, batch_size: int, warm_up: int = SAFE_WARM_UP) -> float:
    """The documented fallback peak when a sweep carries no signal.

    SGD: 0.05 per 128 images of the batch (the linear scaling rule) after a warm-up of at
    least SAFE_WARM_UP steps. That rule needs a gradual warm-up, so after a shorter one a batch
    above 128 earns only part of its share: 0.05 x (batch / 128) ** (warm_up / SAFE_WARM_UP).
    Measured at batch 512 (results/rule-bench/README.md): after 9 warm-up steps the best
    peaks were 0.1 and 0.2 (two seeds) and 0.05 gave 20%; after 5 steps 0.025 beat 0.05 and
    0.1 by 17-28 points on both seeds, and 0.2, the linear rule's value, gave 21%.
    Adam: 1e-3 times the square root of the batch over 128 at any warm-up."""
    if optimizer == "adam":
        return 1e-3 * math.sqrt(batch_size / 128)
    share = batch_size / 128
    if share > 1:
        share **= min(1.0, warm_up / SAFE_WARM_UP)
    return 0.05 * share


def suggest(lrs: list[float], raw_losses: list[float], optimizer: str = "sgd",
            warm_up: int = 100, batch_size: int = 512, factor: Optional[float] = None,
            diverge_at: float = DIVERGE_AT) -> dict:
    """OneCycle's peak read from a sweep's raw losses (the module docstring gives the rule).

    Returns {"max_lr", "losses" (smoothed), "floor_lr", "min_loss_lr", "steepest_lr",
    "factor", "capped", "evidence" ("ok", "flat", "still falling", "diverged early"), "rule",
    "note"}; "note" is None when the sweep gave a usable curve, else one line saying what the
    kit did instead. A step that diverged is left out of the curve. "steepest_lr" (see
    `steepest_lr`) and "min_loss_lr" (fastai's "minimum / 10" is a tenth of it) are where two
    other common rules read the same curve; the pick uses neither, except "minimum / 10" in
    a sweep that diverged early.
    """
    lrs_a, raw = np.asarray(lrs, dtype=float), np.asarray(raw_losses, dtype=float)
    if len(lrs_a) != len(raw):
        raise EraskitError(f"a range test needs one rate per loss, got {len(lrs_a)} rates and "
                           f"{len(raw)} losses")
    bad = ~np.isfinite(raw)
    kept = int(bad.argmax()) if bad.any() else len(raw)
    # torch-lr-finder keeps the step that diverged (a loss over DIVERGE_AT x the best so far)
    # as its last point: read only the curve the network survived.
    if kept == len(raw) and kept > 1 and raw[kept - 1] > diverge_at * raw[:kept - 1].min():
        kept -= 1
    diverged = kept < len(raw)
    lrs_a, raw = lrs_a[:kept], raw[:kept]
    survived = float(lrs_a[-1]) if kept else 0.0
    safe = safe_peak(optimizer, batch_size, warm_up)
    fallback = {"rule": f"safe {optimizer} peak for batch {batch_size} and a {warm_up}-step "
                        f"warm-up", "capped": False,
                "max_lr": min(safe, survived) if diverged else safe}
    below = (f", below the last rate it survived ({survived:.3g})" if diverged and safe < survived
             else f", capped at the last rate it survived" if diverged else "")
    if kept < MIN_POINTS:  # stopped (diverged) before a curve could be smoothed and read
        return diverged_early(lrs_a, raw, optimizer, warm_up, safe, fallback, below)
    window = max(5, len(raw) // 8) | 1
    losses = smooth(raw, window)
    noise = 1.4826 * np.median(np.abs(raw - losses - np.median(raw - losses)))
    best = int(np.argmin(losses))
    top = int(np.argmax(losses[:best + 1]))  # where the descent to the minimum starts
    start = float(losses[top])
    drop = start - float(losses[best])
    near = losses[top:] <= losses[best] + max(2 * noise / math.sqrt(window), 0.1 * drop)
    floor = top + int(np.argmax(near))
    factor = factor if factor is not None else warm_up_factor(warm_up, optimizer)
    result = {"losses": losses.tolist(), "floor_lr": float(lrs_a[floor]),
              "descent_start_lr": float(lrs_a[top]), "min_loss_lr": float(lrs_a[best]),
              "steepest_lr": steepest_lr(lrs_a, losses),
              "factor": factor, "warm_up_steps": warm_up, "note": None}
    peak = f"{fallback['max_lr']:.3g}"
    if drop < max(MIN_DROP * start, 4 * noise / math.sqrt(window)):
        return {**result, **fallback, "evidence": "flat",
                "note": (f"the range test's loss never fell clearly (by {drop:.3f} from "
                         f"{start:.3f}): using the safe {optimizer} peak {peak}{below}; pass "
                         f"--max-lr to choose another")}
    if not diverged and best >= len(raw) - window and floor >= 0.75 * len(raw):
        return {**result, **fallback, "evidence": "still falling",
                "note": (f"the range test's loss was still falling at its last rate "
                         f"{survived:.3g}: using the safe {optimizer} peak {peak}; raise "
                         f"--lr-end or pass --max-lr")}
    suggested = min(factor * lrs_a[floor], survived)  # never past the last rate it survived
    return {**result, "max_lr": float(suggested), "evidence": "ok",
            "capped": bool(factor * lrs_a[floor] > survived),
            "rule": f"{factor:.3g} x the rate where the loss reached its floor"}


def diverged_early(lrs: np.ndarray, raw: np.ndarray, optimizer: str, warm_up: int,
                   safe: float, fallback: dict, below: str) -> dict:
    """The suggestion from a sweep that diverged before MIN_POINTS steps. Too short to
    smooth, it still shows whether the loss fell: if it did, the peak is a tenth of the rate
    at its lowest raw loss (the classic "minimum / 10" reading of a range test), never above
    the safe peak; if it did not, the safe peak, below the last rate survived, or a refusal."""
    kept, survived = len(raw), float(lrs[-1]) if len(raw) else 0.0
    lowest = int(np.argmin(raw)) if kept else 0
    # where the other rules read this short raw curve (figure and notebook 02), if it has one
    common = {"losses": raw.tolist(), "floor_lr": None,
              "min_loss_lr": float(lrs[lowest]) if kept else None,
              "steepest_lr": steepest_lr(lrs, raw) if kept >= 2 else None,
              "factor": None, "warm_up_steps": warm_up, "evidence": "diverged early"}
    if kept >= 3 and raw[lowest] < (1 - MIN_DROP) * raw[0]:
        tenth = float(lrs[lowest]) / 10
        peak = min(tenth, safe)
        rule = TENTH_RULE if tenth <= safe else fallback["rule"]
        return {**common, "max_lr": peak,
                "capped": False, "rule": rule,
                "note": (f"the range test diverged at step {kept + 1}, too early to smooth: its "
                         f"loss fell to {raw[lowest]:.3f} at {lrs[lowest]:.3g}, so max LR "
                         f"{peak:.3g} ({rule}); pass --max-lr to choose another")}
    if safe >= survived:
        raise EraskitError(f"the LR range test diverged at step {kept + 1}, too early "
                           f"to read: lower --lr-start or pass --max-lr")
    return {**common, **fallback,
            "note": (f"the range test diverged at step {kept + 1}, too early to read: "
                     f"using the safe {optimizer} peak {safe:.3g}{below}; pass --max-lr "
                     f"to choose another")}


def rescore(sweep: dict, config: Config, steps_per_epoch: int) -> dict:
    """A saved sweep (lr_finder.json) with its suggestion recomputed for `config`: a sweep
    made for one run serves another with the same data, model and optimizer. Sweeps saved
    before raw losses were kept hold torch-lr-finder's running average (factor 0.05), which
    is undone exactly; their runs' lr_factor belonged to the rule of that time (a factor on
    the lagging average's minimum), so they are scored with today's factor."""
    raw, factor = sweep.get("raw_losses"), config.lr_factor
    if raw is None:
        ema = np.asarray(sweep["losses"], dtype=float)
        raw = np.concatenate([ema[:1], (ema[1:] - 0.95 * ema[:-1]) / 0.05]).tolist()
        factor = None
    return {**sweep, "raw_losses": raw,
            **suggest(sweep["lrs"], raw, config.optimizer,
                      warm_up_steps(config, steps_per_epoch), config.batch_size, factor,
                      config.lr_diverge_at)}
