"""A trained run's predictions joined with the test images: the join, its refusals, mistakes."""

import dataclasses

import numpy as np
import pytest

from eraskit import predictions
from eraskit.errors import EraskitError


def test_test_results_join_predictions_with_their_pixels(trained_run, data):
    results = predictions.load_test_results(trained_run, data)
    stored = trained_run.predictions()
    np.testing.assert_array_equal(results.pixels, data.x_test[stored.indices])
    assert results.pixels.dtype == np.uint8 and results.pixels.shape[1:] == (32, 32, 3)
    np.testing.assert_array_equal(results.preds, stored.logits.argmax(axis=1))
    np.testing.assert_allclose(results.probs.sum(axis=1), 1, rtol=1e-5)
    images = results.normalized([0, 5])
    assert images.shape == (2, 3, 32, 32) and images.dtype.is_floating_point


def test_other_data_is_refused(trained_run, data):
    shuffled = dataclasses.replace(data, y_test=np.roll(data.y_test, 1))
    with pytest.raises(EraskitError, match=r"was trained on synthetic \(arrays \w{8}\), not on "
                                           r"synthetic \(arrays \w{8}\): use the data it was "
                                           r"trained on"):
        predictions.load_test_results(trained_run, shuffled)
    # a run of an older kit records no arrays: the predictions still catch what they can
    trained_run = dataclasses.replace(trained_run, meta=dataclasses.replace(
        trained_run.meta, data_fingerprint=""))
    with pytest.raises(EraskitError, match="test labels of this data differ"):
        predictions.load_test_results(trained_run, shuffled)
    fewer = dataclasses.replace(data, x_test=data.x_test[:5], y_test=data.y_test[:5])
    with pytest.raises(EraskitError, match="refers to test images this data set lacks"):
        predictions.load_test_results(trained_run, fewer)
    other_classes = dataclasses.replace(data, classes=data.classes[:5])
    with pytest.raises(EraskitError, match="has 10 classes, the data 5"):
        predictions.load_test_results(trained_run, other_classes)


def test_mistakes_are_the_surest_wrong_predictions_and_none_is_an_error(trained_run, data):
    results = predictions.load_test_results(trained_run, data)
    chosen = predictions.mistakes(results, 3)
    assert all(results.preds[i] != results.labels[i] for i in chosen)
    surest = results.probs[chosen].max(axis=1)
    assert list(surest) == sorted(surest, reverse=True)
    right = dataclasses.replace(results, labels=results.preds)
    with pytest.raises(EraskitError, match="classifies all .* correctly"):
        predictions.mistakes(right, 3)
