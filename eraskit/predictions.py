"""A trained run's test predictions joined with the test images they were made on, and the
mistakes among them: what every analysis of a run starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import torch

from . import metrics
from .augment import eval_transform
from .data import Cifar10
from .errors import EraskitError
from .model import ResNet18
from .run_identity import check_trained_on
from .runs import Run, load_model, load_saved_epoch


@dataclass
class TestResults:
    """A run's final predictions joined with the test images they were made on."""

    __test__ = False  # a result, not a test: pytest leaves it alone

    run: Run
    model: ResNet18  # the trained model, in eval mode
    pixels: np.ndarray  # uint8 (N, 32, 32, 3), in the order of the predictions
    labels: np.ndarray  # (N,)
    probs: np.ndarray  # (N, C) in [0, 1]
    classes: tuple[str, ...]
    epoch: Optional[int] = None  # of the model and predictions (None: not known)

    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    def normalized(self, positions: Iterable[int]) -> torch.Tensor:
        """The model's input for these positions: images (K, 3, 32, 32) normalised."""
        transform = eval_transform()
        return torch.stack([transform(image=self.pixels[i])["image"] for i in positions])


def load_test_results(run: Run, data: Cifar10) -> TestResults:
    """Join the run's stored predictions with the test images of `data` they were made on,
    and load its trained model once they are known to fit the data. `data` must be what the
    run was trained on (its meta.json records the arrays'); predictions, model and
    run.history are those of one saved epoch, also while another process trains the run."""
    check_trained_on(run.paths.root, run.meta, data)
    predictions, checkpoint = load_saved_epoch(run)
    if predictions.indices.max(initial=-1) >= len(data.x_test):
        raise EraskitError(f"{run.paths.predictions} refers to test images this data set lacks")
    if not np.array_equal(data.y_test[predictions.indices], predictions.labels):
        raise EraskitError(f"the test labels of this data differ from those {run.paths.root} "
                           f"was evaluated on: is it the same data set?")
    model = load_model(run, checkpoint=checkpoint)
    if model.num_classes != len(data.classes):
        raise EraskitError(f"{run.paths.root} has {model.num_classes} classes, the data "
                           f"{len(data.classes)}")
    return TestResults(run, model, data.x_test[predictions.indices], predictions.labels,
                       predictions.probs, data.classes, checkpoint.epoch)


def mistakes(results: TestResults, count: int) -> np.ndarray:
    """Positions of the `count` most confident mistakes; an error if there are none."""
    chosen = metrics.misclassified(results.labels, results.probs, count)
    if len(chosen) == 0:
        raise EraskitError(f"the run classifies all {len(results.labels)} test images correctly: "
                           f"no mistakes to show")
    return chosen
