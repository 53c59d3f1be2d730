"""Captions: what produced a figure, and the warning under a run that learned little."""

import dataclasses

import pytest
import torch

from eraskit import captions, health
from eraskit.runs import Run
from helpers import tiny_config


def test_caption_says_data_epochs_width_and_device(trained_run):
    text = captions.caption(trained_run)
    assert "synthetic" in text and "3/3 epochs" in text and "width 8" in text
    assert "fp32" in text and f"{trained_run.final['test_acc']:.2%}" in text


def test_setup_caption_names_the_data_images_width_and_device(data):
    text = captions.setup_caption(tiny_config(), data, torch.device("cpu"))
    assert text.startswith("synthetic, 64 training images, width 8, batch 16, ")
    assert "CPU" in text
    assert captions.data_name("npz: /somewhere/cifar10.npz") == "local data cifar10.npz"


def with_final_accuracy(run: Run, acc: float) -> Run:
    history = [*run.history[:-1], {**run.history[-1], "test_acc": acc}]
    return dataclasses.replace(run, history=history)


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_the_warning_follows_healths_near_chance(trained_run, classes):
    """One definition of "near chance" (health.near_chance) for the warning and the collapse
    check: just below the threshold warns, at it does not."""
    threshold = health.NEAR_CHANCE_FACTOR / classes
    below, at = with_final_accuracy(trained_run, threshold - 1e-6), with_final_accuracy(
        trained_run, threshold)
    assert health.near_chance(threshold - 1e-6, classes) and not health.near_chance(threshold,
                                                                                     classes)
    assert captions.chance_warning(below, classes).startswith("warning: test accuracy")
    assert captions.chance_warning(at, classes) == ""


def test_a_run_without_history_gets_no_warning(trained_run):
    assert captions.chance_warning(dataclasses.replace(trained_run, history=[])) == ""
