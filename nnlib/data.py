"""MNIST from the bundled `data/mnist.npz`, one-hot labels and mini-batches.

Shapes after `load_mnist()`: images `(n, 784)` float32 in [0, 1], labels `(n,)`
int64. Train 50,000, validation 10,000 (the last 10,000 official training
images), test the official 10,000.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlib.files import atomic_write

MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "mnist.npz"
RESTORE_HINT = (
    "Get the verified file back with `git checkout -- data/mnist.npz` (it ships with the course), "
    "or rebuild it from OpenML with `python -m nnlib fetch-data` (needs internet)."
)
KEYS = {"x_train": (60_000, 28, 28), "y_train": (60_000,), "x_test": (10_000, 28, 28), "y_test": (10_000,)}


class DataError(RuntimeError):
    """The MNIST bundle is missing, corrupted or not what nnlib expects."""


@dataclass(frozen=True)
class MNIST:
    """The three splits. x: `(n, 784)` float32 in [0, 1]; y: `(n,)` int64 in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_raw(path: str | os.PathLike | None = None, verify: bool = True) -> dict[str, np.ndarray]:
    """The bundle as stored: uint8 images `(n, 28, 28)`, uint8 labels `(n,)`."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise DataError(f"MNIST bundle not found at {path.name}. {RESTORE_HINT}")
    if verify:
        actual = sha256_of(path)
        if actual != MNIST_SHA256:
            raise DataError(
                f"MNIST bundle {path.name} is corrupted or modified: sha256 {actual[:16]}... "
                f"expected {MNIST_SHA256[:16]}... {RESTORE_HINT}"
            )
    try:
        with np.load(path, allow_pickle=False) as bundle:
            raw = {key: bundle[key] for key in KEYS}
    except Exception as err:  # a damaged zip raises many different types
        raise DataError(f"cannot read MNIST bundle {path.name}: {err}. {RESTORE_HINT}") from err
    for key, shape in KEYS.items():
        if raw[key].shape != shape:
            raise DataError(f"{path.name}: {key} has shape {raw[key].shape}, expected {shape}")
    return raw


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, 28, 28)` -> float32 `(n, 784)` in [0, 1].

    Converts to float32 first and scales in place: `images / 255.0` would make
    a float64 copy of the whole set (twice the memory, ~450 MB for MNIST).
    """
    flat = images.reshape(len(images), -1).astype(np.float32)
    flat *= 1.0 / 255.0
    return flat


def load_mnist(
    path: str | os.PathLike | None = None, validation: int = 10_000, verify: bool = True
) -> MNIST:
    """Load, verify (sha256), scale and split the bundled MNIST. No network needed."""
    raw = load_raw(path, verify=verify)
    if not 0 <= validation < 60_000:
        raise ValueError(f"validation must be between 0 and 59,999 images, got {validation}")
    x = scale_images(raw["x_train"])
    y = raw["y_train"].astype(np.int64)
    cut = 60_000 - validation
    return MNIST(
        x_train=x[:cut],
        y_train=y[:cut],
        x_val=x[cut:],
        y_val=y[cut:],
        x_test=scale_images(raw["x_test"]),
        y_test=raw["y_test"].astype(np.int64),
    )


def one_hot(labels: np.ndarray, classes: int = 10, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Labels `(n,)` -> one-hot `(n, classes)`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"one_hot: expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"one_hot: labels must be in 0..{classes - 1}, got {labels.min()}..{labels.max()}")
    encoded = np.zeros((len(labels), classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def minibatches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(x_batch (b, features), y_batch (b,))`, shuffled by `rng` (in order if None).

    Each batch is gathered by index into one preallocated buffer, which is
    cheaper than shuffling the whole set every epoch and never copies it.
    The buffer is reused: a batch is only valid until the next one is drawn
    (copy it if you keep it).
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    x_buffer = np.empty((min(batch_size, len(x)), *x.shape[1:]), dtype=x.dtype)
    y_buffer = np.empty(min(batch_size, len(y)), dtype=y.dtype)
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        n = len(index)
        # mode="clip": the indices come from a permutation, so they are always valid, and with the
        # default mode="raise" NumPy gathers into a temporary first and then copies it into `out`.
        np.take(x, index, axis=0, out=x_buffer[:n], mode="clip")
        np.take(y, index, axis=0, out=y_buffer[:n], mode="clip")
        yield x_buffer[:n], y_buffer[:n]


def rebuild_bundle_from_openml(path: str | os.PathLike) -> str:
    """Download MNIST from OpenML (`mnist_784`) and write it as a bundle; return its sha256.

    Needs internet. The result should match `MNIST_SHA256` byte for byte only
    if NumPy writes the zip the same way; the arrays themselves are checked.
    """
    from sklearn.datasets import fetch_openml

    try:
        x, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False, parser="liac-arff")
    except OSError as err:  # URLError and socket errors are OSErrors
        raise DataError(
            f"could not download MNIST from OpenML ({err}). This needs internet access; "
            "the course itself does not: data/mnist.npz already ships with it."
        ) from err
    images = np.asarray(x, dtype=np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(y).astype(np.uint8)
    arrays = {
        "x_train": images[:60_000],
        "y_train": labels[:60_000],
        "x_test": images[60_000:],
        "y_test": labels[60_000:],
    }
    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return sha256_of(Path(path))
