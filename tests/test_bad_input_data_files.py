"""Bad MNIST bundles and bad arguments to the data loaders: refused in one line, never guessed at
(see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import numpy as np
import pytest

from nnlib.data import load_mnist, scale_images
from nnlib.datafiles import DataError, load_raw
from tests.bad_input import Case, case_id, expected, outcome, write_tiny_bundle


def bundle(tmp, **changes):
    """A small bundle in the course's format, with some arrays replaced (None: left out)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), "y_train": rng.integers(0, 10, 30),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), "y_test": rng.integers(0, 10, 10),
    }
    arrays.update(changes)
    path = tmp / "bundle.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def load_with(**changes):
    return lambda tmp: load_mnist(bundle(tmp, **changes))


def text_file(tmp):
    path = tmp / "mnist.npz"
    path.write_text("x_train,y_train\n1,2\n")
    return load_mnist(path)


def random_bytes(tmp):
    path = tmp / "mnist.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    return load_mnist(path)


RNG = np.random.default_rng(1)
FLOATS = RNG.random((30, 28, 28)).astype(np.float32)
D = DataError

CASES = [
    Case("float images already in [0, 1]", load_with(x_train=FLOATS), D, ("x_train", "float32", "uint8")),
    Case("int16 images", load_with(x_train=(FLOATS * 100).astype(np.int16)), D, ("x_train", "int16", "uint8")),
    Case("float64 test images", load_with(x_test=np.zeros((10, 28, 28))), D, ("x_test", "float64")),
    Case("float labels 2.7", load_with(y_train=np.full(30, 2.7)), D, ("y_train", "float64", "integer")),
    Case("label 10", load_with(y_test=np.full(10, 10)), D, ("y_test", "0..9", "10")),
    Case("negative label", load_with(y_train=np.full(30, -1)), D, ("y_train", "-1")),
    Case("labels shorter than images", load_with(y_train=np.zeros(29, int)), D, ("y_train", "(30,)", "one label")),
    Case("images 28x27", load_with(x_train=np.zeros((30, 28, 27), np.uint8)), D, ("x_train", "(n, 28, 28)")),
    Case("flat images", load_with(x_test=np.zeros((10, 784), np.uint8)), D, ("x_test", "(10, 784)")),
    Case("no test images", load_with(x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, int)), D,
         ("x_test", "n >= 1")),
    Case("missing y_test", load_with(y_test=None), D, ("not an MNIST bundle", "y_test")),
    Case("a text file", text_file, D, ("mnist.npz", "corrupted")),
    Case("random bytes", random_bytes, D, ("corrupted",)),
    Case("a folder", lambda tmp: load_mnist(tmp), D, ("is a folder", ".npz")),
    Case("missing file", lambda tmp: load_mnist(tmp / "none.npz"), D, ("not found", "git checkout")),
    Case("validation 2.5", lambda tmp: load_mnist(bundle(tmp), validation=2.5), ValueError,
         ("load_mnist", "validation", "2.5")),
    Case("validation -1", lambda tmp: load_mnist(bundle(tmp), validation=-1), ValueError, ("validation", "-1")),
    Case("validation all images", lambda tmp: load_mnist(bundle(tmp), validation=30), ValueError,
         ("validation", "below the 30")),
    Case("validation '5'", lambda tmp: load_mnist(bundle(tmp), validation="5"), ValueError, ("validation", "'5'")),
    Case("scale_images of floats in [0, 1]", lambda _: scale_images(FLOATS), ValueError,
         ("scale_images", "uint8", "float32", "no scaling")),
    Case("scale_images of int16", lambda _: scale_images(FLOATS.astype(np.int16)), ValueError,
         ("scale_images", "int16")),
    Case("scale_images of a list", lambda _: scale_images([[1, 2]]), ValueError, ("scale_images", "list")),
    Case("load_raw of a corrupted copy of the official shapes", lambda tmp: _official_shaped(tmp), D,
         ("corrupted", "sha256")),
]


def _official_shaped(tmp):
    """Arrays of the official shapes but other content: the checksum must catch it."""
    path = tmp / "mnist.npz"
    np.savez(path, x_train=np.zeros((60_000, 28, 28), np.uint8), y_train=np.zeros(60_000, np.uint8),
             x_test=np.zeros((10_000, 28, 28), np.uint8), y_test=np.zeros(10_000, np.uint8))
    return load_raw(path)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_bundle_fails_clearly(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_a_valid_small_bundle_loads_as_float32_in_0_1(tmp_path):
    """Guards the table: the same bundle without a fault loads (so the faults are what fails)."""
    data = load_mnist(write_tiny_bundle(tmp_path / "tiny.npz"))
    assert data.x_train.dtype == np.float32 and 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert len(data.x_train) + len(data.x_val) == 240 and len(data.x_val) == 40
