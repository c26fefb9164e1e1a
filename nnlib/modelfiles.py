"""Model files: `save_model` / `load_model` / `load_weights`, and the checks that keep a bad file out.

A model is an `.npz` archive: the architecture as JSON text, then one array per parameter. It is written
atomically (a temporary file beside the target, renamed when complete) and read with `allow_pickle=False`.
Before a single array is loaded or a layer built, the header is checked against the stored arrays' own
headers, so a damaged or hostile file cannot make nnlib allocate more than it holds or run code.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from nnlib.files import atomic_write, kind_of
from nnlib.layers import Dropout, Linear, ReLU
from nnlib.network import Layer, Sequential

FORMAT_VERSION = 1


def save_model(model: Sequential, path: str | os.PathLike) -> None:
    """Write architecture (JSON text) and parameters to an `.npz` file, atomically: a temporary file beside
    `path`, renamed when complete, so an interrupted save never leaves a half-written model behind."""
    arrays = {f"param{i}": p.value for i, p in enumerate(model.parameters())}
    header = {"format": "nnlib-model", "version": FORMAT_VERSION, "layers": model.architecture()}
    arrays["architecture"] = np.array(json.dumps(header))
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


class ModelFileError(ValueError):
    """A file that `load_model` / `load_weights` refuses; the message says why."""


def _read_model_file(path: Path) -> tuple[list[dict], list[np.ndarray]]:
    """The checked header and parameter arrays of a model file. Order matters: the header is checked against
    the stored arrays' own headers (shapes and dtypes, read without loading any data) before a single array
    is loaded or a layer is built: a damaged or hostile file cannot make nnlib allocate more than it holds."""
    if kind := kind_of(path):  # never read a device, FIFO or folder
        raise ModelFileError(f"{path} is {kind}, not a model file")
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            start = handle.read(2)
        if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):  # a pickle
            raise ModelFileError(f"{path} holds pickled Python objects, which nnlib never loads "
                                 "(they could run code)")
        raise ModelFileError(f"{path} is not a valid nnlib model file (not an .npz archive: "
                             "truncated, or not made by save_model)")
    try:
        with zipfile.ZipFile(path) as archive, np.load(path, allow_pickle=False) as data:
            if "architecture" not in data.files:
                raise ModelFileError(f"{path} is not a valid nnlib model file (no architecture header)")
            layers = _check_header(json.loads(str(data["architecture"])), path)
            stored = sorted((k for k in data.files if k.startswith("param")), key=_param_number)
            peeked = [_peek_array(archive, f"{name}.npy", path) for name in stored]
            expected = _expected_shapes(layers)
            _check_arrays_match(expected, stored, peeked, path)
            params = [data[name] for name in stored]
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, AttributeError, TypeError,
            json.JSONDecodeError) as err:
        raise ModelFileError(
            f"{path} is not a valid nnlib model file (truncated or not made by save_model): {err}"
        ) from err
    except ValueError as err:
        if "allow_pickle" in str(err) or "bject arrays" in str(err):
            raise ModelFileError(
                f"{path} holds pickled Python objects, which nnlib never loads (they could run code)"
            ) from err
        raise ModelFileError(f"{path} is not a valid nnlib model file: {err}") from err
    for (name, _), value in zip(expected, params, strict=True):
        if not np.isfinite(value).all():
            raise ModelFileError(f"{path}: {name} holds NaN or infinite values (was the model saved after "
                                 "its training diverged?); nnlib loads finite weights only")
    return layers, params


def _param_number(key: str) -> int:
    digits = key.removeprefix("param")
    return int(digits) if digits.isdigit() else -1


def _check_header(header: object, path: Path) -> list[dict]:
    """The list of layer specs, after checking format, version and every layer's fields."""
    if not isinstance(header, dict) or header.get("format") != "nnlib-model":
        raise ModelFileError(f"{path} is not a valid nnlib model file (no nnlib architecture header)")
    version = header.get("version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        why = "a newer nnlib wrote it" if newer else "unknown version"
        raise ModelFileError(f"{path}: model file format version {version!r} ({why}); this nnlib reads "
                             f"version {FORMAT_VERSION}")
    layers = header.get("layers")
    if not isinstance(layers, list) or not all(isinstance(spec, dict) for spec in layers):
        raise ModelFileError(f"{path} is not a valid nnlib model file (no valid nnlib architecture header)")
    previous_out = None
    for position, spec in enumerate(layers):
        kind = spec.get("type")
        where = f"{path}: layer {position} ({kind})"
        if kind == "Linear":
            for key in ("in_features", "out_features"):
                value = spec.get(key)
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ModelFileError(f"{where}: {key} must be a positive integer, got {value!r}")
            if previous_out is not None and spec["in_features"] != previous_out:
                raise ModelFileError(f"{where}: takes {spec['in_features']} inputs but the layer before "
                                     f"gives {previous_out}")
            previous_out = spec["out_features"]
        elif kind == "Dropout":
            p = spec.get("p")
            if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p < 1:
                raise ModelFileError(f"{where}: p must be a number in [0, 1), got {p!r}")
        elif kind != "ReLU":
            raise ModelFileError(f"{path}: unknown layer type in model file: {kind!r}")
    return layers


def _expected_shapes(layers: list[dict]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every parameter the header describes, in `model.parameters()` order."""
    shapes, count = [], 0
    for spec in layers:
        if spec["type"] == "Linear":
            count += 1
            shapes.append((f"Linear{count}.W", (spec["in_features"], spec["out_features"])))
            shapes.append((f"Linear{count}.b", (spec["out_features"],)))
    return shapes


def _peek_array(archive: zipfile.ZipFile, member: str, path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, stored bytes) of an .npy member, from its header alone."""
    info = archive.getinfo(member)
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    if dtype.hasobject:
        raise ModelFileError(f"{path} holds pickled Python objects, which nnlib never loads "
                             "(they could run code)")
    return shape, dtype, info.file_size


def _check_arrays_match(
    expected: list[tuple[str, tuple[int, ...]]], stored: list[str], peeked: list, path: Path
) -> None:
    if [_param_number(k) for k in stored] != list(range(len(stored))):
        raise ModelFileError(f"{path}: parameter arrays are not numbered param0..param{len(stored) - 1}")
    if len(stored) != len(expected):
        raise ModelFileError(f"{path}: the header describes {len(expected)} parameter arrays, the file "
                             f"holds {len(stored)}")
    dtypes = set()
    for (name, shape), (stored_shape, dtype, size) in zip(expected, peeked, strict=True):
        if dtype not in (np.float32, np.float64):
            raise ModelFileError(f"{path}: {name} has dtype {dtype}, expected float32 or float64 "
                                 "(nnlib never casts parameters silently)")
        if stored_shape != shape:
            raise ModelFileError(f"{path}: {name} expected shape {shape} from the header, "
                                 f"file has {stored_shape}")
        if size < int(np.prod(shape)) * dtype.itemsize:
            raise ModelFileError(f"{path}: {name} is truncated ({size} bytes for shape {shape})")
        dtypes.add(dtype)
    if len(dtypes) > 1:
        raise ModelFileError(f"{path}: parameters mix dtypes {sorted(map(str, dtypes))}; expected one")


def _build(architecture: list[dict], dtype: np.dtype | type = np.float32) -> Sequential:
    rng = np.random.default_rng(0)  # weights are overwritten by the loaded values
    layers: list[Layer] = []
    counts = {"Linear": 0, "ReLU": 0, "Dropout": 0}
    for spec in architecture:
        kind = spec["type"]
        counts[kind] += 1
        name = f"{kind}{counts[kind]}"
        if kind == "Linear":
            layers.append(Linear(spec["in_features"], spec["out_features"], rng, dtype=dtype, name=name))
        elif kind == "ReLU":
            layers.append(ReLU(name=name))
        else:
            layers.append(Dropout(spec["p"], rng, name=name))
    return Sequential(layers)


def _assign(model: Sequential, params: list[np.ndarray], source: Path) -> None:
    targets = model.parameters()
    if len(targets) != len(params):
        raise ValueError(
            f"{source}: holds {len(params)} parameter arrays, the model has {len(targets)}"
        )
    for target, value in zip(targets, params, strict=True):
        if target.shape != value.shape:
            raise ValueError(
                f"{source}: {target.name} expected shape {target.shape}, file has {value.shape}"
            )
        if value.dtype != target.value.dtype:
            raise ValueError(f"{source}: {target.name} is {value.dtype} in the file, the model is "
                             f"{target.value.dtype}; build the model with dtype=np.{value.dtype}")
        target.value = value


def load_model(path: str | os.PathLike, dropout_rng: np.random.Generator | None = None) -> Sequential:
    """Rebuild a model saved by `save_model` (never unpickles anything)."""
    path = Path(path)
    architecture, params = _read_model_file(path)
    model = _build(architecture, params[0].dtype if params else np.float32)
    if dropout_rng is not None:
        for layer in model.layers:
            if isinstance(layer, Dropout):
                layer.rng = dropout_rng
    _assign(model, params, path)
    return model


def load_weights(model: Sequential, path: str | os.PathLike) -> None:
    """Load saved parameters into an existing model; the architectures must match."""
    path = Path(path)
    architecture, params = _read_model_file(path)
    if architecture != model.architecture():
        raise ValueError(
            f"{path}: architecture mismatch: file has {_describe(architecture)}, "
            f"model is {_describe(model.architecture())}"
        )
    _assign(model, params, path)


def _describe(architecture: list[dict]) -> str:
    sizes = [s["in_features"] for s in architecture if s.get("type") == "Linear"]
    last = [s["out_features"] for s in architecture if s.get("type") == "Linear"][-1:]
    return "-".join(str(n) for n in sizes + last) or "no Linear layers"
