import copy
import math

import numpy as np
import pytest
import torch

from eraskit import augment
from eraskit.errors import EraskitError
from eraskit.lr_finder import (SAFE_WARM_UP, SWEEP_RANGE, range_test, rescore, safe_peak, smooth,
                               steepest_lr, suggest, sweep_range, sweep_steps, warm_up_factor,
                               warm_up_steps)
from eraskit.model import ResNet18
from eraskit.train import make_optimizer
from helpers import tiny_config

CPU = torch.device("cpu")


def loader_for(data, config):
    return augment.train_loader(data.x_train, data.y_train, config, CPU)


def test_range_test_leaves_the_callers_model_and_optimizer_untouched(data):
    config = tiny_config(lr_iters=20, lr_end=1.0)
    torch.manual_seed(0)
    model = ResNet18(config.width)
    optimizer = make_optimizer(model, config, lr=0.01)
    model(torch.randn(4, 3, 32, 32)).sum().backward()  # momentum buffers and BN statistics
    optimizer.step()
    model_before = copy.deepcopy(model.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())
    grads_before = [p.grad.clone() for p in model.parameters()]

    result = range_test(model, loader_for(data, config), config, CPU, progress=False)

    after = model.state_dict()
    assert after.keys() == model_before.keys()
    for name, value in model_before.items():
        assert torch.equal(after[name], value), f"{name} changed"
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads_before))
    assert optimizer.param_groups[0]["lr"] == 0.01
    state = optimizer.state_dict()["state"]
    for key, value in optimizer_before["state"].items():
        assert torch.equal(state[key]["momentum_buffer"], value["momentum_buffer"])
    assert model.training

    # The curve: one raw loss per step, rising rates from lr_start, a smoothed copy, a rate.
    assert len(result["lrs"]) == len(result["raw_losses"])
    assert len(result["losses"]) in (len(result["lrs"]), len(result["lrs"]) - 1)  # less a diverged step
    assert 10 <= len(result["lrs"]) <= 20  # 20 steps, fewer if it diverged
    assert result["lrs"][0] == pytest.approx(sweep_range(config)[0])
    assert np.all(np.diff(result["lrs"]) > 0)
    assert 0 < result["max_lr"] <= result["lrs"][-1]
    assert result["warm_up_steps"] == warm_up_steps(config, len(loader_for(data, config)))


def test_range_test_stops_early_when_the_loss_diverges(data):
    """A sweep to absurd rates stops at diverge_th; the step that diverged is left out."""
    config = tiny_config(lr_iters=40, lr_start=1e-3, lr_end=1e6)
    torch.manual_seed(0)
    result = range_test(ResNet18(config.width), loader_for(data, config), config, CPU,
                        progress=False)
    assert len(result["lrs"]) < config.lr_iters, "the sweep ran on after diverging"
    assert len(result["losses"]) == len(result["lrs"]) - 1
    last = result["raw_losses"][-1]
    assert last > config.lr_diverge_at * min(result["raw_losses"][:-1])
    assert result["max_lr"] <= result["lrs"][-2]


def curve(points=60, floor_at=30, noise=0.0, rise=True, seed=0):
    """A range-test curve: flat, falling to a floor reached at `floor_at`, then climbing."""
    lrs = np.logspace(-4, 1, points)
    x = np.arange(points, dtype=float)
    losses = 2.3 - 0.8 / (1 + np.exp(-(x - floor_at + 8) / 2.5))
    if rise:
        losses[floor_at + 10:] += 0.04 * (x[floor_at + 10:] - floor_at - 10) ** 2
    losses += np.random.default_rng(seed).normal(0, noise, points)
    return lrs.tolist(), losses.tolist()


def test_the_peak_is_the_factor_times_the_rate_where_the_loss_reached_its_floor():
    lrs, losses = curve()
    result = suggest(lrs, losses, factor=10.0)
    assert result["evidence"] == "ok" and result["note"] is None
    floor = lrs.index(result["floor_lr"])
    assert 22 <= floor <= 32  # the floor: past the steep part, before the climb
    assert result["max_lr"] == pytest.approx(10 * result["floor_lr"])
    assert result["min_loss_lr"] >= result["floor_lr"]


def test_a_noisy_minimum_on_a_flat_plateau_does_not_move_the_peak():
    """The failure that set this rule: a plateau to the sweep's end whose lowest point falls
    far right by chance. The floor is where the plateau begins."""
    lrs, losses = curve(floor_at=25, rise=False, noise=0.01)
    losses[55] -= 0.05  # a chance dip near the end
    result = suggest(lrs, losses, factor=4.0)
    assert result["floor_lr"] < lrs[35] < result["min_loss_lr"]
    assert result["max_lr"] == pytest.approx(4 * result["floor_lr"])


def test_a_flat_sweep_falls_back_to_the_safe_peak_and_says_so():
    lrs = np.logspace(-4, 1, 60).tolist()
    flat = (2.3 + np.random.default_rng(1).normal(0, 0.05, 60)).tolist()
    for optimizer in ("sgd", "adam"):
        result = suggest(lrs, flat, optimizer, warm_up=50, batch_size=256)
        assert result["evidence"] == "flat"
        assert result["max_lr"] == safe_peak(optimizer, 256)
        assert "never fell" in result["note"] and "--max-lr" in result["note"]
        assert "\n" not in result["note"]


def test_a_sweep_still_falling_at_its_end_falls_back_to_the_safe_peak():
    lrs = np.logspace(-4, 1, 60).tolist()
    falling = np.linspace(2.3, 1.2, 60).tolist()
    result = suggest(lrs, falling, "sgd", batch_size=128)
    assert result["evidence"] == "still falling"
    assert result["max_lr"] == safe_peak("sgd", 128)
    assert "--lr-end" in result["note"]


def test_the_peak_never_passes_the_last_rate_the_sweep_survived():
    lrs, losses = curve(floor_at=25)
    cut = 45  # stopped by divergence here
    result = suggest(lrs[:cut], losses[:cut], factor=1000.0)
    assert result["evidence"] == "ok"
    assert result["max_lr"] == pytest.approx(lrs[cut - 1])


def test_a_curve_that_diverges_at_once_is_a_clear_error():
    lrs = np.logspace(-4, 1, 30).tolist()
    losses = [2.3, 2.4, 2.6, 3.0] + [float("inf")] * 26
    with pytest.raises(EraskitError, match="diverged at step 5.*--max-lr"):
        suggest(lrs, losses)


def test_a_sweep_that_fell_then_diverged_early_gives_a_tenth_of_its_lowest_rate():
    lrs = np.logspace(-4, 1, 10)[:9].tolist()  # stopped at its ninth step, at 2.8
    losses = [2.3, 2.3, 2.2, 2.1, 2.0, 2.1, 2.4, 3.5, 12.0]
    result = suggest(lrs, losses, "sgd", warm_up=100, batch_size=512)
    assert result["evidence"] == "diverged early"
    assert result["max_lr"] == pytest.approx(lrs[4] / 10)
    assert result["min_loss_lr"] == pytest.approx(lrs[4])
    assert "diverged at step 9" in result["note"] and "--max-lr" in result["note"]
    # never above the safe peak: here a tenth of the lowest loss's rate is 0.077
    late = suggest(lrs, [2.3] * 7 + [1.9, 12.0], "sgd", warm_up=100, batch_size=64)
    assert late["max_lr"] == pytest.approx(safe_peak("sgd", 64)) == pytest.approx(0.025)
    assert "safe sgd peak for batch 64" in late["rule"]


def test_a_sweep_that_diverged_early_without_falling_gets_the_safe_peak_below_its_last_rate():
    lrs = np.logspace(-4, 1, 10)[:9].tolist()
    losses = [2.3, 2.31, 2.3, 2.32, 2.3, 2.31, 2.3, 2.33, 12.0]
    result = suggest(lrs, losses, "sgd", warm_up=100, batch_size=512)
    assert result["evidence"] == "diverged early" and result["max_lr"] == 0.2
    assert "safe sgd peak 0.2" in result["note"] and "below the last rate" in result["note"]


def test_the_sgd_factor_grows_with_the_warm_up_within_its_bounds():
    factors = [warm_up_factor(w) for w in (1, 5, 25, 100, 500, 5000)]
    assert factors == sorted(factors) and factors[0] == 1.0 and factors[-1] == 50.0
    assert warm_up_factor(15) == pytest.approx(4.0)


def test_the_adam_factor_stays_put():
    assert {warm_up_factor(w, "adam") for w in (1, 15, 500)} == {2.5}


def test_the_safe_peaks_follow_the_batch_size():
    assert safe_peak("sgd", 512) == pytest.approx(4 * safe_peak("sgd", 128))
    assert safe_peak("adam", 512) == pytest.approx(2 * safe_peak("adam", 128))


def test_a_short_warm_up_earns_a_large_batch_only_part_of_its_sgd_share():
    peaks = [safe_peak("sgd", 512, w) for w in (1, 5, 10, SAFE_WARM_UP, 10 * SAFE_WARM_UP)]
    assert peaks == sorted(peaks) and peaks[-2] == peaks[-1] == pytest.approx(0.2)
    assert peaks[2] == pytest.approx(0.1)  # half the warm-up: the square-root share
    assert safe_peak("sgd", 64, 1) == safe_peak("sgd", 64, 500) == pytest.approx(0.025)
    assert safe_peak("adam", 512, 1) == safe_peak("adam", 512, 500)


def test_smoothing_is_centred_and_keeps_the_length():
    values = np.array([0, 0, 0, 10, 0, 0, 0], dtype=float)
    smoothed = smooth(values, 3)
    assert len(smoothed) == 7 and smoothed.argmax() in (2, 3, 4)
    assert smoothed[3] == pytest.approx(10 / 3) and smoothed[0] == 0


def test_the_sweep_is_sized_to_the_run():
    config = tiny_config(lr_iters=None, epochs=20)
    assert sweep_steps(config, 98) == 100  # a quarter of 1,960, capped
    assert sweep_steps(config, 10) == 50
    assert sweep_steps(config.replace(epochs=2), 30) == 20  # the floor
    assert sweep_steps(config.replace(epochs=3), 7) == 10  # at most half of a short run
    assert sweep_steps(config.replace(epochs=1), 8) == 4  # too short: see the training_run tests
    assert sweep_steps(config.replace(lr_iters=33), 98) == 33  # as configured


def test_the_sweeps_range_follows_the_optimizer():
    assert sweep_range(tiny_config(lr_start=None, lr_end=None)) == SWEEP_RANGE["sgd"]
    assert sweep_range(tiny_config(optimizer="adam", lr_start=None)) == (1e-6, 1.0)
    assert sweep_range(tiny_config(lr_start=1e-3, lr_end=2.0)) == (1e-3, 2.0)


def test_rescore_reads_a_sweep_saved_with_torch_lr_finders_running_average():
    lrs, raw = curve(noise=0.02)
    ema = [raw[0]]
    for value in raw[1:]:
        ema.append(0.05 * value + 0.95 * ema[-1])
    config = tiny_config(max_lr=None, lr_factor=10.0)  # the old rule's factor, saved with it
    old = {"lrs": lrs, "losses": ema, "max_lr": 123.0, "config": {"width": 8}}
    again = rescore(old, config, steps_per_epoch=4)
    assert again["raw_losses"] == pytest.approx(raw)
    today = suggest(lrs, raw, "sgd", warm_up=3, batch_size=config.batch_size)
    assert again["max_lr"] == pytest.approx(today["max_lr"])
    assert again["factor"] == warm_up_factor(3) and again["config"] == old["config"]


def test_rescore_applies_the_runs_warm_up():
    lrs, raw = curve()
    saved = {"lrs": lrs, "raw_losses": raw, **suggest(lrs, raw)}
    short = rescore(saved, tiny_config(max_lr=None, epochs=1), steps_per_epoch=4)
    long = rescore(saved, tiny_config(max_lr=None, epochs=50), steps_per_epoch=100)
    assert short["warm_up_steps"] == 1 and long["warm_up_steps"] == round(0.25 * 5000)
    assert short["max_lr"] < long["max_lr"]
    assert math.isclose(long["factor"], warm_up_factor(1250))


def test_a_sweep_that_diverged_just_after_falling_is_read_without_its_last_step():
    """torch-lr-finder keeps the step that diverged; it is not part of the curve."""
    lrs = np.logspace(-4, 1, 40)[:25].tolist()
    raw = np.linspace(2.3, 1.6, 25)
    raw[-1] = 9.0  # the step that made the sweep stop
    result = suggest(lrs, raw.tolist(), "sgd", warm_up=500, batch_size=512)
    assert result["evidence"] != "still falling"
    assert result["max_lr"] <= lrs[-2]  # the last rate it survived
    flat = [2.3] * 24 + [12.0]
    fallback = suggest(lrs, flat, "sgd", batch_size=512)
    assert fallback["evidence"] == "flat" and fallback["max_lr"] <= lrs[-2]


def test_rates_and_losses_must_pair_up():
    with pytest.raises(EraskitError, match="one rate per loss"):
        suggest([1e-3, 1e-2], [2.3, 2.2, 2.1])


def test_the_steepest_point_is_torch_lr_finders_suggestion_on_a_curve_that_falls_then_rises():
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    lrs, losses = curve(noise=0.01)
    finder = LRFinder(torch.nn.Linear(1, 1), torch.optim.SGD([torch.zeros(1)], lr=1e-4),
                      torch.nn.MSELoss())
    finder.history = {"lr": lrs, "loss": losses}
    _, theirs = finder.plot(skip_start=0, skip_end=0, suggest_lr=True)
    plt.close("all")
    assert steepest_lr(lrs, losses) == theirs
    assert steepest_lr(lrs, losses) < lrs[30]  # on the descent, before the floor


def test_the_steepest_point_is_read_on_the_descent_not_on_a_fall_after_a_blow_up():
    lrs = np.logspace(-4, 1, 40)
    losses = np.concatenate([np.linspace(2.3, 1.9, 20), [2.2, 2.8, 3.4], np.linspace(3.0, 2.0, 17)])
    assert int(np.argmin(np.gradient(losses))) > 20  # the whole curve's steepest: the recovery
    assert steepest_lr(lrs, losses) in lrs[:20]


def test_the_steepest_point_of_a_curve_that_only_rises_is_its_first_rate():
    assert steepest_lr([1e-3, 1e-2, 1e-1], [2.0, 2.5, 3.0]) == 1e-3


def test_suggest_records_the_steepest_point_of_its_smoothed_curve():
    lrs, raw = curve(noise=0.02)
    result = suggest(lrs, raw)
    assert result["steepest_lr"] == steepest_lr(lrs, result["losses"])
    assert result["steepest_lr"] < result["floor_lr"] <= result["min_loss_lr"]
    early = suggest(np.logspace(-4, 1, 10)[:9], [2.3, 2.3, 2.2, 2.1, 2.0, 2.1, 2.4, 3.5, 12.0])
    assert early["evidence"] == "diverged early"
    assert early["steepest_lr"] == steepest_lr(np.logspace(-4, 1, 10)[:8], early["losses"])
