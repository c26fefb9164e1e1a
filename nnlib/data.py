"""MNIST as the course uses it: `load_mnist`, `one_hot` labels and shuffled mini-batches.

Shapes after `load_mnist()`: images `(n, 784)` float32 in [0, 1], labels `(n,)` int64. Train 50,000,
validation 10,000 (the last 10,000 official training images), test the official 10,000. Finding,
verifying and reading the bundled file `data/mnist.npz` is `nnlib.datafiles`' job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nnlib.datafiles import DEFAULT_PATH, MNIST_SHA256, DataError, load_raw, sha256_of  # noqa: F401 (lessons 00-01)
from nnlib.validation import generator, integer


@dataclass(frozen=True)
class MNIST:
    """The three splits. x: `(n, 784)` float32 in [0, 1]; y: `(n,)` int64 in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, 28, 28)` -> float32 `(n, 784)` in [0, 1]. Built in lesson 01.

    Converts to float32 first and scales in place: `images / 255.0` would make
    a float64 copy of the whole set (twice the memory, ~450 MB for MNIST).
    Only uint8 is accepted: floats may already be scaled (dividing again would
    shrink them to [0, 0.004]) and other integer types have other ranges.
    """
    if not isinstance(images, np.ndarray) or images.ndim < 2:
        raise ValueError(f"scale_images: expected a uint8 array of images (n, height, width), "
                         f"got {type(images).__name__} {getattr(images, 'shape', '')}")
    if images.dtype != np.uint8:
        already = " (float images may already be in [0, 1]; they need no scaling)" \
            if images.dtype.kind == "f" else ""
        raise ValueError(f"scale_images: expected uint8 pixels 0..255, got dtype {images.dtype}{already}")
    flat = images.reshape(len(images), -1).astype(np.float32)
    flat *= 1.0 / 255.0
    return flat


def load_mnist(
    path: str | os.PathLike | None = None, validation: int | None = None, verify: bool = True
) -> MNIST:
    """Load, verify (sha256), scale and split the bundled MNIST. No network needed.

    `validation` images are split off the end of the training set: by default 10,000 of the
    course's 60,000 (for a smaller bundle, one sixth of its training images).
    """
    raw = load_raw(path, verify=verify)
    total = len(raw["x_train"])
    if validation is None:
        validation = 10_000 if total == 60_000 else total // 6
    validation = integer(validation, "validation (images split off for validation)", "load_mnist", minimum=0)
    if validation >= total:
        raise ValueError(f"load_mnist: validation must be below the {total:,} training images, "
                         f"got {validation:,}")
    x = scale_images(raw["x_train"])
    y = raw["y_train"].astype(np.int64)
    cut = total - validation
    return MNIST(
        x_train=x[:cut],
        y_train=y[:cut],
        x_val=x[cut:],
        y_val=y[cut:],
        x_test=scale_images(raw["x_test"]),
        y_test=raw["y_test"].astype(np.int64),
    )


def one_hot(labels: np.ndarray, classes: int = 10, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Labels `(n,)` -> one-hot `(n, classes)`. Built in lesson 01."""
    classes = integer(classes, "classes", "one_hot")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"one_hot: expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"one_hot: labels must be in 0..{classes - 1}, got {labels.min()}..{labels.max()}")
    encoded = np.zeros((len(labels), classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """The sample indices of one epoch's mini-batches: `n` samples shuffled by `rng` (in order if
    None), cut into index arrays of `batch_size`; the last one holds the rest (it may be smaller).

    Every sample appears exactly once; each call draws a new order from `rng`. Built in lesson 03.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def minibatches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(x_batch (b, features), y_batch (b,))` for the batches of `batch_indices`.

    Each batch is gathered by index into one preallocated buffer, which is
    cheaper than shuffling the whole set every epoch and never copies it.
    The buffer is reused: a batch is only valid until the next one is drawn
    (copy it if you keep it).
    """
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise ValueError(f"minibatches: expected NumPy arrays, got {type(x).__name__}, {type(y).__name__}")
    if len(x) != len(y):
        raise ValueError(f"minibatches: x has {len(x)} samples but y has {len(y)}; they must match")
    batch_size = integer(batch_size, "batch_size", "minibatches")
    if rng is not None:
        generator(rng, "rng", "minibatches")
    x_buffer = np.empty((min(batch_size, len(x)), *x.shape[1:]), dtype=x.dtype)
    y_buffer = np.empty(min(batch_size, len(y)), dtype=y.dtype)
    for index in batch_indices(len(x), batch_size, rng):
        n = len(index)
        # mode="clip": the indices come from a permutation, so they are always valid, and with the
        # default mode="raise" NumPy gathers into a temporary first and then copies it into `out`.
        np.take(x, index, axis=0, out=x_buffer[:n], mode="clip")
        np.take(y, index, axis=0, out=y_buffer[:n], mode="clip")
        yield x_buffer[:n], y_buffer[:n]
