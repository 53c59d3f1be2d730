import urllib.error

import numpy as np
import pytest
import torchvision.datasets

from helpers import save_npz
from eraskit.data import (CLASSES, DATA_ENV, channel_stats, load_cifar10, load_npz,
                          stratified_subset, subset)
from eraskit.errors import EraskitError


def test_load_npz_round_trip(tmp_path, data):
    loaded = load_npz(save_npz(tmp_path / "d.npz", data))
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(data, name))
    assert loaded.y_train.dtype == np.int64 and loaded.x_train.dtype == np.uint8
    assert loaded.classes == CLASSES and loaded.source == f"npz: {tmp_path / 'd.npz'}"


def test_load_npz_reads_class_names_and_widens_labels(tmp_path, data):
    names = np.array([f"c{i}" for i in range(10)])
    path = save_npz(tmp_path / "d.npz", data, classes=names,
                    y_train=data.y_train.astype(np.uint8))
    loaded = load_npz(path)
    assert loaded.classes == tuple(names) and loaded.y_train.dtype == np.int64


def test_missing_file(tmp_path):
    with pytest.raises(EraskitError, match="data file not found: .*nothing.npz"):
        load_npz(tmp_path / "nothing.npz")


def test_a_folder_is_not_a_data_file(tmp_path):
    with pytest.raises(EraskitError, match="is a folder; --data .* take a .npz file"):
        load_npz(tmp_path)


def test_a_text_file_is_not_a_data_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("airplane\nautomobile\n")
    with pytest.raises(EraskitError, match="labels.txt is not a readable .npz file: not a zip"):
        load_npz(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(EraskitError, match=r"noise.npz is not a readable \.npz"):
        load_npz(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, data, keep):
    path = save_npz(tmp_path / "cut.npz", data)
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(EraskitError, match="cut.npz"):
        load_npz(path)


def test_pickled_arrays_are_refused(tmp_path, data):
    path = save_npz(tmp_path / "obj.npz", data, y_test=np.array([{"a": 1}] * 32, dtype=object))
    with pytest.raises(EraskitError, match="obj.npz"):
        load_npz(path)


def test_missing_arrays_are_named(tmp_path, data):
    path = tmp_path / "half.npz"
    np.savez(path, x_train=data.x_train, y_train=data.y_train)
    with pytest.raises(EraskitError, match="half.npz lacks the array.*x_test, y_test"):
        load_npz(path)


@pytest.mark.parametrize("replace, message", [
    (lambda d: {"x_train": d.x_train.astype(np.float32)},
     r"x_train .* must be uint8 \(N, 32, 32, 3\)"),
    (lambda d: {"x_train": d.x_train[:, :28, :28]}, r"x_train .* must be uint8 \(N, 32, 32, 3\)"),
    (lambda d: {"x_test": d.x_test.transpose(0, 3, 1, 2)}, r"x_test .* must be uint8"),
    (lambda d: {"x_test": d.x_test[0]}, r"x_test .* must be uint8"),
    (lambda d: {"y_train": d.y_train[:-1]}, r"y_train .* must be 64 integer labels"),
    (lambda d: {"y_test": d.y_test[:, None]}, r"y_test .* must be 32 integer labels"),
    (lambda d: {"y_train": d.y_train.astype(np.float64)}, r"y_train .* integer labels"),
    (lambda d: {"y_train": d.y_train + 1}, r"y_train .* labels outside 0..9"),
    (lambda d: {"y_test": d.y_test - 1}, r"y_test .* labels outside 0..9"),
])
def test_bad_arrays_are_named_with_the_file(tmp_path, data, replace, message):
    path = save_npz(tmp_path / "bad.npz", data, **replace(data))
    with pytest.raises(EraskitError, match=message) as caught:
        load_npz(path)
    assert "bad.npz" in str(caught.value) and "\n" not in str(caught.value)


def test_load_cifar10_prefers_the_path_then_the_environment(tmp_path, data, monkeypatch):
    given, env = save_npz(tmp_path / "given.npz", data), save_npz(tmp_path / "env.npz", data)
    monkeypatch.setenv(DATA_ENV, str(env))
    assert load_cifar10(given).source == f"npz: {given}"
    assert load_cifar10().source == f"npz: {env}"


@pytest.fixture
def offline(monkeypatch):
    """torchvision's CIFAR10 as it behaves without a network: no socket is opened."""
    calls = []

    def no_network(root, train=True, download=False, **kwargs):
        calls.append(root)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", no_network)
    return calls


def test_without_path_env_or_network_tells_what_to_do(monkeypatch, offline):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(EraskitError) as caught:
        load_cifar10()
    message = str(caught.value)
    assert offline, "the download was tried"
    assert "--data" in message and DATA_ENV in message and "URLError" in message
    assert "\n" not in message


def test_an_empty_environment_variable_counts_as_unset(monkeypatch, offline):
    monkeypatch.setenv(DATA_ENV, "")
    with pytest.raises(EraskitError, match="could not download"):
        load_cifar10()


def test_stratified_subset_is_balanced_sorted_and_reproducible():
    labels = np.random.default_rng(1).integers(0, 10, 1000)
    chosen = stratified_subset(labels, 100, seed=3)
    assert len(chosen) == 100 and len(set(chosen)) == 100
    assert np.all(np.diff(chosen) > 0)
    assert np.all(np.bincount(labels[chosen], minlength=10) == 10)
    np.testing.assert_array_equal(chosen, stratified_subset(labels, 100, seed=3))
    assert not np.array_equal(chosen, stratified_subset(labels, 100, seed=4))


def test_stratified_subset_of_an_uneven_size_differs_by_at_most_one_per_class():
    labels = np.arange(1000) % 10
    counts = np.bincount(labels[stratified_subset(labels, 95, seed=0)], minlength=10)
    assert counts.sum() == 95 and counts.max() - counts.min() <= 1


def test_stratified_subset_takes_what_a_rare_class_has():
    labels = np.array([0] * 3 + [1] * 50 + [2] * 50)
    counts = np.bincount(labels[stratified_subset(labels, 30, seed=0)])
    assert list(counts) == [3, 14, 13] or list(counts) == [3, 13, 14]


@pytest.mark.parametrize("size", [None, 1000, 5000])
def test_stratified_subset_returns_all_when_size_is_none_or_too_large(size):
    labels = np.arange(1000) % 10
    np.testing.assert_array_equal(stratified_subset(labels, size, seed=0), np.arange(1000))


def test_subset_returns_the_kept_test_indices(data):
    kept, test_idx = subset(data, 20, 10, seed=0)
    assert len(kept.x_train) == 20 and len(kept.x_test) == 10
    np.testing.assert_array_equal(kept.x_test, data.x_test[test_idx])
    np.testing.assert_array_equal(kept.y_test, data.y_test[test_idx])


def test_channel_stats():
    pixels = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    pixels[0, ..., 0] = 255  # red: half the pixels 1, half 0
    pixels[:, ..., 1] = 51  # green: constant 0.2
    mean, std = channel_stats(pixels)
    np.testing.assert_allclose(mean, [0.5, 0.2, 0.0])
    np.testing.assert_allclose(std, [0.5, 0.0, 0.0], atol=1e-12)


def test_missing_data_says_why_the_network_would_be_needed(tmp_path, monkeypatch, data):
    from eraskit.data import missing_data

    monkeypatch.delenv("ERASKIT_DATA", raising=False)
    monkeypatch.setenv("ERASKIT_CACHE", str(tmp_path))
    assert missing_data() == (f"no local CIFAR-10: ERASKIT_DATA is unset and {tmp_path} holds "
                              f"no download")
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert missing_data() is None
    monkeypatch.setenv("ERASKIT_DATA", str(tmp_path / "gone.npz"))
    assert missing_data() == f"ERASKIT_DATA={tmp_path / 'gone.npz'} is not a file"
    monkeypatch.setenv("ERASKIT_DATA", str(save_npz(tmp_path / "data.npz", data)))
    assert missing_data() is None
