"""nnlib.data: the bundled MNIST, one-hot labels, mini-batches."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.data import batch_indices, load_mnist, minibatches, one_hot
from nnlib.datafiles import DataError, load_raw

# --- load_mnist ----------------------------------------------------------------


def test_split_sizes_and_flattened_shapes(mnist):
    assert mnist.x_train.shape == (50_000, 784)
    assert mnist.x_val.shape == (10_000, 784)
    assert mnist.x_test.shape == (10_000, 784)
    assert mnist.y_train.shape == (50_000,)
    assert mnist.y_val.shape == (10_000,)
    assert mnist.y_test.shape == (10_000,)


def test_images_are_float32_in_unit_range(mnist):
    for x in (mnist.x_train, mnist.x_val, mnist.x_test):
        assert x.dtype == np.float32
        assert x.min() == 0.0
        assert x.max() == 1.0


def test_labels_are_integers_0_to_9(mnist):
    for y in (mnist.y_train, mnist.y_val, mnist.y_test):
        assert np.issubdtype(y.dtype, np.integer)
        assert set(np.unique(y)) == set(range(10))


def test_validation_is_the_last_10000_training_images(mnist, raw_mnist):
    as_bytes = np.round(mnist.x_val * 255).astype(np.uint8)
    np.testing.assert_array_equal(as_bytes, raw_mnist["x_train"][50_000:].reshape(10_000, 784))
    np.testing.assert_array_equal(mnist.y_val, raw_mnist["y_train"][50_000:])


def test_train_is_the_first_50000_training_images(mnist, raw_mnist):
    as_bytes = np.round(mnist.x_train * 255).astype(np.uint8)
    np.testing.assert_array_equal(as_bytes, raw_mnist["x_train"][:50_000].reshape(50_000, 784))
    np.testing.assert_array_equal(mnist.y_train, raw_mnist["y_train"][:50_000])


def test_test_set_is_the_official_test_set(mnist, raw_mnist):
    as_bytes = np.round(mnist.x_test * 255).astype(np.uint8)
    np.testing.assert_array_equal(as_bytes, raw_mnist["x_test"].reshape(10_000, 784))
    np.testing.assert_array_equal(mnist.y_test, raw_mnist["y_test"])


def test_full_training_set_label_counts_are_the_known_ones(mnist):
    counts = np.bincount(np.concatenate([mnist.y_train, mnist.y_val]), minlength=10)
    assert counts[:3].tolist() == [5923, 6742, 5958]
    assert counts.sum() == 60_000


def test_full_training_set_pixel_mean_is_0_1307(mnist):
    total = mnist.x_train.sum(dtype=np.float64) + mnist.x_val.sum(dtype=np.float64)
    assert total / (60_000 * 784) == pytest.approx(0.1307, abs=5e-5)


def test_corrupted_bundle_fails_the_checksum_and_says_how_to_restore(corrupted_bundle):
    with pytest.raises(DataError, match="corrupted") as error:
        load_mnist(corrupted_bundle)
    assert "git checkout -- data/mnist.npz" in str(error.value)
    assert "fetch-data" in str(error.value)


def test_missing_bundle_says_how_to_restore(tmp_path):
    with pytest.raises(DataError, match="not found") as error:
        load_mnist(tmp_path / "mnist.npz")
    assert "git checkout -- data/mnist.npz" in str(error.value)


def test_unreadable_bundle_without_checksum_is_still_a_data_error(corrupted_bundle):
    with pytest.raises(DataError, match="git checkout"):
        load_raw(corrupted_bundle, verify=False)


def test_bundle_with_wrong_image_shapes_is_a_data_error(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(
        path,
        x_train=np.zeros((10, 28, 27), np.uint8), y_train=np.zeros(10, np.uint8),
        x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8),
    )
    with pytest.raises(DataError, match=r"x_train has shape \(10, 28, 27\), expected \(n, 28, 28\)"):
        load_raw(path, verify=False)


def test_a_smaller_bundle_in_the_same_format_loads_without_the_checksum(tmp_path):
    """A subset (e.g. for a quick run with --data) cannot match the course's sha256."""
    path = tmp_path / "small.npz"
    np.savez(
        path,
        x_train=np.full((12, 28, 28), 255, np.uint8), y_train=np.arange(12, dtype=np.uint8) % 10,
        x_test=np.zeros((4, 28, 28), np.uint8), y_test=np.zeros(4, np.uint8),
    )
    data = load_mnist(path)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (10, 2, 4)
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0


# --- one_hot -------------------------------------------------------------------


def test_one_hot_puts_a_single_one_at_each_label():
    encoded = one_hot(np.array([3, 0, 9]))
    expected = np.zeros((3, 10), dtype=np.float32)
    expected[0, 3] = expected[1, 0] = expected[2, 9] = 1.0
    np.testing.assert_array_equal(encoded, expected)
    assert encoded.dtype == np.float32


def test_one_hot_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"0\.\.9"):
        one_hot(np.array([1, 10]))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        one_hot(np.array([-1, 2]))


def test_one_hot_rejects_float_labels():
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([1.0, 2.0]))


# --- minibatches ---------------------------------------------------------------


def collect(x, y, batch_size, rng):
    """All batches of one epoch, copied (the iterator reuses its buffers)."""
    return [(xb.copy(), yb.copy()) for xb, yb in minibatches(x, y, batch_size, rng)]


def numbered(n):
    """x row i is [i, -i] and y[i] = i, so every batch shows which samples it holds."""
    index = np.arange(n)
    return np.stack([index, -index], axis=1).astype(np.float32), index


def test_every_sample_appears_exactly_once_per_epoch():
    x, y = numbered(1000)
    batches = collect(x, y, 64, np.random.default_rng(0))
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(1000))


def test_batches_keep_images_and_labels_paired():
    x, y = numbered(300)
    for xb, yb in collect(x, y, 32, np.random.default_rng(1)):
        np.testing.assert_array_equal(xb[:, 0], yb)
        np.testing.assert_array_equal(xb[:, 1], -yb)


def test_last_batch_is_partial():
    x, y = numbered(10)
    sizes = [len(yb) for _, yb in collect(x, y, 4, np.random.default_rng(0))]
    assert sizes == [4, 4, 2]


def test_batches_are_shuffled():
    x, y = numbered(1000)
    order = np.concatenate([yb for _, yb in collect(x, y, 100, np.random.default_rng(0))])
    assert not np.array_equal(order, np.arange(1000))


def test_same_seed_gives_the_same_order():
    x, y = numbered(500)
    first = np.concatenate([yb for _, yb in collect(x, y, 50, np.random.default_rng(7))])
    second = np.concatenate([yb for _, yb in collect(x, y, 50, np.random.default_rng(7))])
    np.testing.assert_array_equal(first, second)


def test_different_seeds_give_different_orders():
    x, y = numbered(500)
    first = np.concatenate([yb for _, yb in collect(x, y, 50, np.random.default_rng(7))])
    second = np.concatenate([yb for _, yb in collect(x, y, 50, np.random.default_rng(8))])
    assert not np.array_equal(first, second)


def test_without_rng_batches_come_in_order():
    x, y = numbered(10)
    order = np.concatenate([yb for _, yb in collect(x, y, 3, None)])
    np.testing.assert_array_equal(order, np.arange(10))


def test_minibatches_reject_length_mismatch():
    x, y = numbered(10)
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        next(minibatches(x, y[:9], 4, np.random.default_rng(0)))


def test_minibatches_reject_non_positive_batch_size():
    x, y = numbered(10)
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(x, y, 0, np.random.default_rng(0)))


def test_batch_indices_cover_every_sample_once_keep_the_last_batch_and_reshuffle():
    rng = np.random.default_rng(0)
    first, second = batch_indices(10, 4, rng), batch_indices(10, 4, rng)
    assert [len(index) for index in first] == [4, 4, 2]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second)), "a new order each epoch"
    assert np.concatenate(batch_indices(5, 2)).tolist() == [0, 1, 2, 3, 4], "in order without rng"
