import numpy as np
import pytest
import torch
from torch import nn

from eraskit import augment
from eraskit.config import Config
from eraskit.errors import EraskitError
from eraskit.hardware import Precision
from eraskit.model import ResNet18
from eraskit.train import (TrainingDiverged, TrainState, evaluate, lr_schedule,
                           make_optimizer, make_scheduler, make_train_state,
                           predict, train_epoch)
from helpers import tiny_config

CPU = torch.device("cpu")


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_lr_schedule_is_onecycle_and_never_negative(anneal):
    config = Config(epochs=4, anneal=anneal, pct_start=0.25, div_factor=25, final_div_factor=1e3)
    rates = lr_schedule(config, max_lr=0.4, steps_per_epoch=10)
    assert rates.shape == (40,)
    assert rates[0] == pytest.approx(0.4 / 25)
    assert int(np.argmax(rates)) == 9 and rates.max() == pytest.approx(0.4)  # 25% of 40 steps
    assert np.all(np.diff(rates[:10]) > 0) and np.all(np.diff(rates[9:]) < 0)
    assert rates[-1] == pytest.approx(0.4 / 25 / 1e3, rel=1e-6)
    assert np.all(rates > 0)


def test_onecycle_itself_goes_negative_after_its_last_linear_step():
    """Why the kit logs the rate read before step(): PyTorch's value after the last one."""
    config = Config(epochs=1, anneal="linear")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer, config, 0.1, steps_per_epoch=20)
    for _ in range(20):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] < 0
    assert lr_schedule(config, 0.1, 20).min() > 0


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_momentum_never_rises_above_the_configured_value_nor_during_warm_up(momentum):
    model = ResNet18(width=4)
    config = Config(epochs=2, momentum=momentum)
    optimizer = make_optimizer(model, config, lr=0.01)
    scheduler = make_scheduler(optimizer, config, 0.1, steps_per_epoch=10)
    used = []
    for _ in range(20):
        used.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    assert max(used) == pytest.approx(momentum) and min(used) == pytest.approx(min(0.85, momentum))
    assert np.all(np.diff(used[:5]) <= 1e-12)  # falls (or stays) while the rate warms up


def test_make_optimizer_decays_conv_and_linear_weights_only():
    model = ResNet18(width=4)
    config = Config(weight_decay=5e-4)
    decayed, free = make_optimizer(model, config, lr=0.1).param_groups
    assert decayed["weight_decay"] == 5e-4 and free["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {names[id(p)] for p in free["params"]}
    norm_or_bias = {f"{owner}.{name}".lstrip(".") for owner, module in model.named_modules()
                    for name, _ in module.named_parameters(recurse=False)
                    if isinstance(module, nn.BatchNorm2d) or name == "bias"}
    assert no_decay == norm_or_bias
    assert "linear.bias" in no_decay and "bn1.weight" in no_decay
    assert {names[id(p)] for p in decayed["params"]} >= {"conv1.weight", "linear.weight"}
    assert len(decayed["params"]) + len(free["params"]) == len(list(model.parameters()))


def test_make_optimizer_can_decay_everything_and_use_adam():
    model = ResNet18(width=4)
    (group,) = make_optimizer(model, Config(decay_norm_and_bias=True), lr=0.1).param_groups
    assert group["weight_decay"] == 5e-4 and len(group["params"]) == len(list(model.parameters()))
    sgd = make_optimizer(model, Config(), lr=0.1)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    assert isinstance(make_optimizer(model, Config(optimizer="adam"), lr=0.1), torch.optim.Adam)


def run_epoch(model, loader, config, epoch=1, criterion=None, max_lr=0.05):
    state = make_train_state(model, config, max_lr, len(loader), CPU, Precision(CPU.type, None))
    state.criterion = criterion or state.criterion
    return train_epoch(state, loader, epoch, progress=False)


def test_training_overfits_one_small_batch():
    """The kit's own loop (SGD, OneCycle, train_epoch) memorises 16 images in 30 steps."""
    torch.manual_seed(0)
    config = tiny_config(epochs=3, label_smoothing=0.0, weight_decay=0.0)
    model = ResNet18(config.width).to(memory_format=torch.channels_last)
    images, labels = torch.randn(16, 3, 32, 32), torch.arange(16) % 10
    with torch.no_grad():
        first_loss = nn.functional.cross_entropy(model(images), labels).item()
    loader = [(images, labels)] * 10  # one batch, ten steps an epoch
    state = make_train_state(model, config, 0.1, len(loader), CPU, Precision("cpu", None))
    assert state.channels_last  # the batches follow the model's NHWC layout
    rows = [train_epoch(state, loader, epoch, progress=False) for epoch in (1, 2, 3)]
    assert rows[-1]["train_loss"] < 0.05 * first_loss, (first_loss, rows)
    assert rows[-1]["train_acc"] == 1.0


def test_train_epoch_reports_mean_loss_accuracy_and_the_last_rate_used(data):
    config = tiny_config()
    torch.manual_seed(0)
    model = ResNet18(config.width)
    loader = augment.train_loader(data.x_train, data.y_train, config, CPU)
    loader.sampler.set_epoch(1)
    row = run_epoch(model, loader, config)
    assert set(row) == {"train_loss", "train_acc", "lr", "train_img_per_s"}
    assert 0 < row["train_loss"] < 10 and 0 <= row["train_acc"] <= 1 and row["train_img_per_s"] > 0
    expected = lr_schedule(config, 0.05, len(loader))[len(loader) - 1]
    assert row["lr"] == pytest.approx(expected)


class NaNAtBatch(nn.Module):
    """Cross-entropy that turns NaN from batch `bad` on."""

    def __init__(self, bad: int):
        super().__init__()
        self.bad, self.calls = bad, 0

    def forward(self, logits, labels):
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, labels)
        return loss * float("nan") if self.calls >= self.bad else loss


def test_a_nan_loss_raises_training_diverged_naming_epoch_and_batch(data):
    config = tiny_config()
    loader = augment.train_loader(data.x_train, data.y_train, config, CPU)
    with pytest.raises(TrainingDiverged, match="nan in epoch 3, batch 2.*--max-lr"):
        run_epoch(ResNet18(config.width), loader, config, epoch=3, criterion=NaNAtBatch(2))
    assert issubclass(TrainingDiverged, EraskitError)  # the CLI shows it as one line


def test_nan_images_raise_training_diverged(data):
    config = tiny_config()
    images = torch.full((16, 3, 32, 32), float("nan"))
    loader = [(images, torch.zeros(16, dtype=torch.int64))] * 4
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 1"):
        run_epoch(ResNet18(config.width), loader, config)


def test_an_empty_loader_is_a_clear_error():
    with pytest.raises(EraskitError, match="no batch"):
        state = TrainState(ResNet18(width=4), None, None, None, None, Precision("cpu", None),
                           CPU, channels_last=False)
        train_epoch(state, [], epoch=1, progress=False)


def test_predict_keeps_order_and_flip_tta_averages_mirror_logits(data):
    config = tiny_config()
    torch.manual_seed(0)
    model = ResNet18(config.width).eval()
    loader = augment.eval_loader(data.x_test, data.y_test, config.replace(eval_batch_size=10), CPU)
    precision = Precision("cpu", None)
    logits, labels = predict(model, loader, precision, CPU, False)
    assert logits.shape == (32, 10) and logits.dtype == np.float32
    np.testing.assert_array_equal(labels, data.y_test)
    images = torch.stack([loader.dataset[i][0] for i in range(32)])
    with torch.no_grad():
        plain, mirror = model(images), model(images.flip(dims=[3]))
    np.testing.assert_allclose(logits, plain.numpy(), rtol=1e-4, atol=1e-5)
    tta, _ = predict(model, loader, precision, CPU, False, flip_tta=True)
    np.testing.assert_allclose(tta, ((plain + mirror) / 2).numpy(), rtol=1e-4, atol=1e-5)


def test_evaluate():
    logits = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]], dtype=np.float32)
    labels = np.array([0, 1, 1])
    result = evaluate(logits, labels, nn.CrossEntropyLoss())
    assert result["test_acc"] == pytest.approx(2 / 3)
    expected = nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels))
    assert result["test_loss"] == pytest.approx(expected.item())


def test_make_train_state_builds_the_configs_pieces():
    config = tiny_config(optimizer="adam", label_smoothing=0.2)
    model = ResNet18(config.width)
    state = make_train_state(model, config, max_lr=0.5, steps_per_epoch=4, device=CPU)
    assert state.model is model and isinstance(state.optimizer, torch.optim.Adam)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(0.5 / config.div_factor)
    assert isinstance(state.scheduler, torch.optim.lr_scheduler.OneCycleLR)
    assert state.scheduler.total_steps == config.epochs * 4
    assert state.criterion.label_smoothing == 0.2 and not state.scaler.is_enabled()
    assert str(state.precision) == "fp32" and state.channels_last  # width 8 on a CPU: NHWC
    constant = make_train_state(model, config, 0.5, 4, CPU, constant_lr=True)
    assert not isinstance(constant.scheduler, torch.optim.lr_scheduler.OneCycleLR)
