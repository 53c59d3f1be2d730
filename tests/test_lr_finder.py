import copy

import numpy as np
import pytest
import torch

from eraskit import augment
from eraskit.errors import EraskitError
from eraskit.lr_finder import SKIP_START, range_test, rescore, suggest
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

    # The curve itself: one point per step, rising rates from lr_start, and a usable suggestion.
    assert len(result["lrs"]) == len(result["losses"]) == config.lr_iters >= 17
    assert result["lrs"][0] == pytest.approx(config.lr_start)
    assert np.all(np.diff(result["lrs"]) > 0)
    assert result["suggested_lr"] == pytest.approx(config.lr_factor * result["min_loss_lr"])
    assert config.lr_start <= result["min_loss_lr"] <= config.lr_end


def test_range_test_stops_early_when_the_loss_diverges(data):
    """A sweep to absurd rates stops at diverge_th and still says something usable."""
    config = tiny_config(lr_iters=40, lr_start=1e-3, lr_end=1e6)
    try:
        result = range_test(ResNet18(config.width), loader_for(data, config), config, CPU,
                            progress=False)
    except EraskitError as err:
        assert "--max-lr" in str(err)  # a clear message saying what to do
    else:
        assert len(result["lrs"]) < config.lr_iters, "the sweep ran on after diverging"
        assert np.isfinite(result["suggested_lr"]) and result["suggested_lr"] > 0


def u_curve(minimum_at: int, points: int = 60):
    """A synthetic range-test curve: flat, falling, lowest at `minimum_at`, then climbing."""
    lrs = np.logspace(-4, 1, points)
    x = np.arange(points, dtype=float)
    losses = 2.3 - 1.0 / (1 + np.exp(-(x - minimum_at / 2) / 3))  # falls ...
    climb = 0.05 * (x[minimum_at:] - minimum_at) ** 2
    losses[minimum_at:] = losses[minimum_at] + climb  # ... climbs
    return lrs.tolist(), losses.tolist()


def test_suggest_picks_factor_times_the_rate_at_the_loss_minimum():
    lrs, losses = u_curve(minimum_at=40)
    result = suggest(lrs, losses, factor=10.0)
    assert result["min_loss_lr"] == lrs[40]
    assert result["suggested_lr"] == pytest.approx(10 * lrs[40])
    assert "10 x" in result["rule"]
    # steepest descent lies before the minimum, where the falling part is steepest (x = 20)
    assert lrs[17] <= result["steepest_lr"] <= lrs[23]
    assert suggest(lrs, losses, factor=1.0)["suggested_lr"] == lrs[40]


def test_rescore_applies_another_factor_to_a_saved_sweep():
    lrs, losses = u_curve(minimum_at=40)
    saved = {"lrs": lrs, "losses": losses, "config": {"width": 8}, **suggest(lrs, losses, 1.0)}
    again = rescore(saved, factor=5.0)
    assert again["suggested_lr"] == pytest.approx(5 * lrs[40]) and "5 x" in again["rule"]
    assert again["config"] == saved["config"] and saved["suggested_lr"] == lrs[40]


def test_suggest_ignores_the_first_points_and_non_finite_losses():
    lrs, losses = u_curve(minimum_at=40)
    losses[0] = -5.0  # the smoothing filling up: not a real minimum
    losses[50:] = [float("nan")] * 10
    assert suggest(lrs, losses)["min_loss_lr"] == lrs[40]


def test_a_curve_that_never_falls_is_a_clear_error():
    lrs = np.logspace(-4, 1, 30).tolist()
    with pytest.raises(EraskitError, match="never fell.*--max-lr"):
        suggest(lrs, np.linspace(2.3, 5.0, 30).tolist())


def test_a_curve_that_diverges_at_once_is_a_clear_error():
    lrs = np.logspace(-4, 1, 30).tolist()
    losses = [2.3, 2.4, 2.6, 3.0] + [float("inf")] * 26
    with pytest.raises(EraskitError, match="diverged after 4 steps.*--max-lr"):
        suggest(lrs, losses)
    with pytest.raises(EraskitError, match="diverged"):  # stopped early by diverge_th
        suggest(lrs[:SKIP_START + 2], [2.3] * (SKIP_START + 2))
