"""The estimate a run prints before it starts: timed here, close to what the run then takes."""

import re

import pytest

from eraskit import estimate, training_run
from eraskit.estimate import format_duration
from helpers import synthetic_cifar, tiny_config


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (40, "40 s"), (59.4, "59 s"),
                                           (60, "1 min"), (12 * 60 + 20, "12 min"),
                                           (3600, "1 h 00 min"), (2 * 3600 + 610, "2 h 10 min")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert format_duration(seconds) == text


def test_the_estimate_lies_within_30_percent_of_the_run(tmp_path):
    """Width 16, 512 images in batches of 32: 16 steps an epoch, 3 epochs of about a second.
    A shared machine's load can change between the timed steps and the epochs, so the run is
    tried up to three times; one estimate within 30% passes."""
    data = synthetic_cifar(n_train=512, n_test=128)
    config = tiny_config(width=16, subset=512, test_subset=128, batch_size=32)
    ratios = []
    for attempt in range(3):
        messages = []
        with training_run.start(config, data, tmp_path / str(attempt),
                                log=messages.append) as training:
            expected = training.estimate.total_s
        run = training_run.fit(config, data, tmp_path / str(attempt), resume=True,
                               progress=False, log=messages.append)
        ratios.append(expected / sum(row["seconds"] for row in run.history))
        if abs(ratios[-1] - 1) <= 0.3:
            break
    assert abs(ratios[-1] - 1) <= 0.3, f"estimate / measured: {ratios}"
    predicted = next(m for m in messages if m.startswith("3 epochs of 16 steps: about"))
    assert re.search(r"here \(fp32, [\d,]+ img/s\)$", predicted), predicted
    after_first = [m for m in messages if m.startswith("epoch 1 took")]
    assert len(after_first) == 1 and "the remaining 2 epochs about" in after_first[0]
    with training_run.start(config, data, run.paths.root, resume=True,
                            log=lambda *_: None) as finished:
        assert finished.estimate is None  # nothing left to train


def test_a_long_run_names_the_cpu_preset_and_its_cost(tmp_path, monkeypatch, data):
    monkeypatch.setattr(estimate, "LONG_RUN_S", 0)
    messages = []
    config = tiny_config(max_lr=None, lr_iters=10)
    with training_run.start(config, data, tmp_path / "run", progress=False,
                            log=messages.append) as training:
        assert training.estimate.cpu_preset_s > 0
    line = next(m for m in messages if m.startswith("3 epochs of 4 steps"))
    assert "; range test about" in line and "the cpu preset" in line and "--preset cpu" in line
