"""MNIST from the bundled `data/mnist.npz`, one-hot labels and mini-batches.

Shapes after `load_mnist()`: images `(n, 784)` float32 in [0, 1], labels `(n,)`
int64. Train 50,000, validation 10,000 (the last 10,000 official training
images), test the official 10,000.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlib.files import atomic_write, kind_of
from nnlib.validation import generator, integer

MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "mnist.npz"
if sys.platform == "emscripten":  # the in-browser course (make lite): the course's files are in /drive
    DEFAULT_PATH = Path("/drive/data/mnist.npz")
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
    """The bundle as stored: uint8 images `(n, 28, 28)`, uint8 labels `(n,)`.

    The course's bundle (the official 60,000 + 10,000 images) must match its sha256 when `verify`
    is on. A smaller bundle in the same format (say a subset for a quick test run, given with
    `--data`) cannot match it and is accepted without the checksum, after the checks of its
    contents every bundle gets: uint8 images 0..255, integer labels 0..9, matching lengths.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    if kind := kind_of(path):  # never read a device, FIFO or folder
        raise DataError(f"{path} is {kind}; expected an MNIST .npz file such as data/mnist.npz")
    if not path.is_file():
        raise DataError(f"MNIST bundle not found at {path.name}. {RESTORE_HINT}")
    if (size := path.stat().st_size) > 2**30:  # the course's bundle is 11 MB: not worth reading
        raise DataError(f"{path.name} is {size:,} bytes, far larger than an MNIST bundle (11 MB)")
    actual = sha256_of(path) if verify else MNIST_SHA256
    try:
        with np.load(path, allow_pickle=False) as bundle:
            missing = [key for key in KEYS if key not in bundle.files]
            raw = {} if missing else {key: bundle[key] for key in KEYS}
    except Exception as err:  # a damaged zip raises many different types
        if actual != MNIST_SHA256:
            raise _corrupted(path, actual) from err
        why = "not an .npz archive" if "pickle" in str(err) else err
        raise DataError(f"cannot read MNIST bundle {path.name}: {why}. {RESTORE_HINT}") from err
    if missing:
        raise DataError(f"{path.name} is not an MNIST bundle: it has no {', '.join(missing)} "
                        f"(expected the arrays {', '.join(KEYS)})")
    official = all(raw[key].shape == shape for key, shape in KEYS.items())
    if actual != MNIST_SHA256 and official:
        raise _corrupted(path, actual)
    _check_bundle_contents(raw, path.name)
    return raw


def _corrupted(path: Path, actual: str) -> DataError:
    return DataError(
        f"MNIST bundle {path.name} is corrupted or modified: sha256 {actual[:16]}... "
        f"expected {MNIST_SHA256[:16]}... {RESTORE_HINT}"
    )


def _check_bundle_contents(raw: dict[str, np.ndarray], name: str) -> None:
    """Refuse what `load_mnist` would otherwise have to guess about (and could get wrong)."""
    for split in ("train", "test"):
        images, labels = raw[f"x_{split}"], raw[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
            raise DataError(f"{name}: x_{split} has shape {images.shape}, expected (n, 28, 28) with n >= 1")
        if images.dtype != np.uint8:
            raise DataError(f"{name}: x_{split} has dtype {images.dtype}, expected uint8 pixels 0..255 "
                            "(nnlib scales them to [0, 1] itself and will not guess another scale)")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{name}: y_{split} has shape {labels.shape}, expected ({len(images)},), "
                            f"one label per image of x_{split}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{name}: y_{split} has dtype {labels.dtype}, expected integer labels 0..9")
        if labels.min() < 0 or labels.max() > 9:
            raise DataError(f"{name}: y_{split} holds labels {labels.min()}..{labels.max()}, expected 0..9")


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, 28, 28)` -> float32 `(n, 784)` in [0, 1].

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
    """Labels `(n,)` -> one-hot `(n, classes)`."""
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

    Every sample appears exactly once; each call draws a new order from `rng`. Lesson 03 builds it.
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
