"""Bad model files: `load_model` / `load_weights` refuse them in one line, check the header against
the stored arrays before allocating anything, and never cast or unpickle silently."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from nnlib.modelfiles import load_model, load_weights, save_model
from nnlib.network import mlp
from tests.bad_input import Case, case_id, expected, outcome

V = ValueError


def saved(tmp, dtype=np.float32):
    path = tmp / "model.npz"
    save_model(mlp((784, 8, 10), 0.1, np.random.default_rng(0), dtype=dtype), path)
    return path


def rewritten(tmp, header_changes=None, layers=None, params=None):
    """The saved model's arrays with the header and/or some parameters replaced."""
    path = saved(tmp)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["architecture"]))
    header.update(header_changes or {})
    if layers is not None:
        header["layers"] = layers
    arrays["architecture"] = np.array(json.dumps(header))
    arrays.update(params or {})
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def load(**changes):
    return lambda tmp: load_model(rewritten(tmp, **changes))


def huge_layer(tmp):
    """A header claiming a 200,000 x 200,000 layer (298 GiB in float64) over small arrays."""
    layers = [{"type": "Linear", "in_features": 200_000, "out_features": 200_000}]
    return load_model(rewritten(tmp, layers=layers, params={
        "param0": np.zeros((2, 2), np.float32), "param1": np.zeros(2, np.float32),
        "param2": None, "param3": None, "param4": None, "param5": None}))


def lying_npy_header(tmp):
    """param0's own .npy header claims 200,000 x 200,000 while holding 16 bytes."""
    path = tmp / "model.npz"
    header = {"format": "nnlib-model", "version": 1,
              "layers": [{"type": "Linear", "in_features": 200_000, "out_features": 200_000}]}
    npy_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (200000, 200000), }"
    npy = b"\x93NUMPY\x01\x00" + len(npy_header.ljust(117) + "\n").to_bytes(2, "little")
    npy += (npy_header.ljust(117) + "\n").encode() + bytes(16)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("architecture.npy", _npy_bytes(np.array(json.dumps(header))))
        archive.writestr("param0.npy", npy)
        archive.writestr("param1.npy", _npy_bytes(np.zeros(200_000, np.float32)))
    return load_model(path)


def _npy_bytes(array):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write(content: bytes):
    def run(tmp):
        path = tmp / "model.npz"
        path.write_bytes(content)
        return load_model(path)

    return run


W1 = (784, 8)
CASES = [
    Case("format version 99", load(header_changes={"version": 99}), V, ("version 99", "newer", "reads version 1")),
    Case("format version '1'", load(header_changes={"version": "1"}), V, ("version '1'",)),
    Case("no version", load(header_changes={"version": None}), V, ("version None",)),
    Case("NaN weights", load(params={"param0": np.full(W1, np.nan, np.float32)}), V,
         ("Linear1.W", "NaN", "diverged")),
    Case("inf bias", load(params={"param3": np.full(10, np.inf, np.float32)}), V, ("Linear2.b", "infinite")),
    Case("int weights", load(params={"param0": np.ones(W1, np.int64)}), V, ("Linear1.W", "int64", "float32")),
    Case("complex weights", load(params={"param0": np.ones(W1, np.complex64)}), V, ("Linear1.W", "complex64")),
    Case("mixed dtypes", load(params={"param0": np.ones(W1, np.float64)}), V, ("mix", "float32", "float64")),
    Case("header claims a huge layer", huge_layer, V, ("Linear1.W", "(200000, 200000)", "(2, 2)")),
    Case("npy header claims a huge array", lying_npy_header, V, ("Linear1.W", "truncated")),
    Case("transposed weights", load(params={"param0": np.ones((8, 784), np.float32)}), V, ("(784, 8)", "(8, 784)")),
    Case("a missing parameter", load(params={"param3": None}), V, ("describes 4", "holds 3")),
    Case("layer sizes that do not chain", load(layers=[
        {"type": "Linear", "in_features": 784, "out_features": 8},
        {"type": "Linear", "in_features": 9, "out_features": 10}]), V, ("takes 9 inputs", "gives 8")),
    Case("in_features 0", load(layers=[{"type": "Linear", "in_features": 0, "out_features": 8}]), V,
         ("in_features", "positive", "0")),
    Case("in_features 7.5", load(layers=[{"type": "Linear", "in_features": 7.5, "out_features": 8}]), V,
         ("in_features", "7.5")),
    Case("dropout p 2", load(layers=[{"type": "Dropout", "p": 2}]), V, ("p", "[0, 1)", "2")),
    Case("unknown layer", load(layers=[{"type": "Conv2d"}]), V, ("unknown layer type", "Conv2d")),
    Case("random bytes", write(np.random.default_rng(0).bytes(4000)), V, ("not a valid nnlib model file",)),
    Case("a text file", write(b"epoch,loss\n1,2.3\n"), V, ("not a valid nnlib model file",)),
    Case("an empty file", write(b""), V, ("not a valid nnlib model file",)),
    Case("an MNIST-like npz", lambda tmp: (np.savez(tmp / "m.npz", x_train=np.zeros(3)), load_model(tmp / "m.npz")),
         V, ("not a valid nnlib model file", "architecture")),
    Case("a folder", lambda tmp: load_model(tmp), V, ("is a folder",)),
    Case("missing", lambda tmp: load_model(tmp / "none.npz"), FileNotFoundError, ("model file not found",)),
    Case("load_weights float64 file into float32 model",
         lambda tmp: load_weights(mlp((784, 8, 10), 0.1, np.random.default_rng(0)), saved(tmp, np.float64)), V,
         ("float64", "float32", "dtype=np.float64")),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_model_file_fails_clearly(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_a_float64_model_loads_as_float64(tmp_path):
    """Loading keeps the saved dtype instead of casting it to float32."""
    model = load_model(saved(tmp_path, np.float64))
    assert {p.value.dtype for p in model.parameters()} == {np.dtype(np.float64)}
