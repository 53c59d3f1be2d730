import numpy as np
import pytest

from eraskit.metrics import confused_pairs, confusion_matrix, misclassified, per_class_accuracy

# A hand-checked example: 3 classes, 7 images.
LABELS = np.array([0, 0, 0, 1, 1, 2, 2])
PREDS = np.array([0, 1, 1, 1, 0, 2, 0])
CLASSES = ("cat", "dog", "fox")


def test_confusion_matrix_rows_are_true_classes():
    expected = np.array([[1, 2, 0],
                         [1, 1, 0],
                         [1, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(LABELS, PREDS, 3), expected)
    assert confusion_matrix(LABELS, PREDS, 3).sum() == len(LABELS)


def test_per_class_accuracy_with_an_absent_class():
    acc = per_class_accuracy(LABELS, PREDS, 4)
    np.testing.assert_allclose(acc[:3], [1 / 3, 1 / 2, 1 / 2])
    assert np.isnan(acc[3])


def test_confused_pairs_most_frequent_first_without_zeros():
    pairs = confused_pairs(LABELS, PREDS, CLASSES, top=10)
    assert pairs[0] == ("cat", "dog", 2)
    assert set(pairs[1:]) == {("dog", "cat", 1), ("fox", "cat", 1)}  # only real mistakes
    assert confused_pairs(LABELS, PREDS, CLASSES, top=1) == [("cat", "dog", 2)]


def test_misclassified_orders_mistakes_by_confidence():
    probs = np.array([[0.9, 0.1],   # right
                      [0.3, 0.7],   # wrong, 0.7
                      [0.05, 0.95],  # wrong, 0.95
                      [0.4, 0.6],   # wrong, 0.6
                      [0.2, 0.8]])  # right
    labels = np.array([0, 0, 0, 0, 1])
    np.testing.assert_array_equal(misclassified(labels, probs), [2, 1, 3])
    np.testing.assert_array_equal(misclassified(labels, probs, count=2), [2, 1])
    assert len(misclassified(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]))) == 0


@pytest.mark.parametrize("seed", range(3))
def test_misclassified_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(10), size=200)
    labels = rng.integers(0, 10, 200)
    chosen = misclassified(labels, probs, count=10)
    preds = probs.argmax(axis=1)
    assert len(chosen) == 10 and np.all(preds[chosen] != labels[chosen])
    confidence = probs[chosen, preds[chosen]]
    assert np.all(np.diff(confidence) <= 0)
    wrong = preds != labels
    assert confidence[-1] >= np.sort(probs[wrong, preds[wrong]])[-10]
