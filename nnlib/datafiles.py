"""The MNIST bundle on disk (outside the reading path): find it, verify it, read it, rebuild it.

`load_raw` refuses what `nnlib.data.load_mnist` would otherwise have to guess about: a missing, damaged,
modified or oversized file, a device or FIFO, arrays of other shapes, dtypes or label ranges. The
course's own bundle must match its sha256.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from nnlib.files import atomic_write, kind_of

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
