"""nnlib.blas.matmul: SciPy's BLAS (the browser's backend) gives what NumPy's `@` gives, for every
transpose combination, dtype and memory layout the layers can hand it, and in the layers' own
training. Natively SciPy runs the same code as in Pyodide, so these run here."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from nnlib import blas
from nnlib.layers import Linear
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.network import mlp
from nnlib.optim import Adam
from nnlib.train import fit

SHAPES = [(7, 5, 3), (1, 4, 1), (64, 784, 128), (50, 10, 64)]  # (m, k, n): a (m, k) @ b (k, n)
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


def operand(rng: np.random.Generator, shape: tuple[int, int], dtype, layout: str) -> np.ndarray:
    """A `shape` array laid out as "C", "F" (a transposed view, as x.T or W.T), or "strided"
    (every other column of a wider array: neither C- nor Fortran-contiguous)."""
    if layout == "C":
        return rng.standard_normal(shape).astype(dtype)
    if layout == "F":
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    wide = rng.standard_normal((shape[0], 2 * shape[1])).astype(dtype)
    return wide[:, ::2]


def close(got: np.ndarray, want: np.ndarray, dtype) -> bool:
    scale = max(1.0, float(np.abs(want).max()))
    return float(np.abs(got - want).max()) <= TOLERANCE[dtype] * scale * np.sqrt(want.size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layouts", list(itertools.product(["C", "F", "strided"], repeat=2)))
@pytest.mark.parametrize("shape", SHAPES)
def test_scipy_blas_gives_numpys_product(dtype, layouts, shape):
    rng = np.random.default_rng(sum(shape))
    m, k, n = shape
    a, b = operand(rng, (m, k), dtype, layouts[0]), operand(rng, (k, n), dtype, layouts[1])
    if layouts[0] == "strided" and m > 1:
        assert not (a.flags.c_contiguous or a.flags.f_contiguous)
    want = a @ b
    got = blas.matmul(a, b, backend="scipy")
    assert got.dtype == want.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
    assert close(got, want, dtype), float(np.abs(got - want).max())
    out = np.full((m, n), np.nan, dtype=dtype)  # beta = 0: the NaN must not leak in
    assert blas.matmul(a, b, out=out, backend="scipy") is out
    assert close(out, want, dtype)


def test_the_scipy_backend_calls_blas_for_float_matrices(scipy_gemm_calls):
    x = np.ones((3, 2), np.float32)
    blas.matmul(x, x.T, backend="scipy")
    blas.matmul(x.T.astype(np.float64), x.astype(np.float64), backend="scipy")
    blas.matmul(x, x.T, backend="numpy")
    blas.matmul(x, x.T.astype(np.float64), backend="scipy")  # mixed dtypes: NumPy
    assert scipy_gemm_calls == ["float32", "float64"]


@pytest.mark.parametrize("backend", ["numpy", "scipy"])
def test_other_input_gets_numpys_answer_and_errors(backend):
    ints = np.arange(6).reshape(2, 3)
    assert blas.matmul(ints, ints.T, backend=backend).tolist() == (ints @ ints.T).tolist()
    mixed = blas.matmul(np.ones((2, 3), np.float32), np.ones((3, 2)), backend=backend)
    assert mixed.dtype == np.float64 and mixed.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    empty = blas.matmul(np.ones((0, 3), np.float32), np.ones((3, 2), np.float32), backend=backend)
    assert empty.shape == (0, 2)
    assert blas.matmul(np.ones(3), np.ones(3), backend=backend) == 3.0
    with pytest.raises(ValueError, match="mismatch"):
        blas.matmul(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), backend=backend)
    with pytest.raises(ValueError):  # an `out` of the wrong shape
        blas.matmul(np.ones((2, 3)), np.ones((3, 2)), out=np.empty((3, 3)), backend=backend)
    f_out = np.empty((2, 2), np.float32, order="F")  # not C-ordered: NumPy writes it
    blas.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), out=f_out, backend=backend)
    assert f_out.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    with pytest.raises(ValueError, match="backend must be one of numpy, scipy"):
        blas.matmul(ints, ints.T, backend="torch")


def test_the_backend_is_numpy_natively_scipy_in_the_browser_and_set_by_the_variable(monkeypatch):
    monkeypatch.delenv(blas.MATMUL_VARIABLE, raising=False)
    assert blas.default_backend() == "numpy"
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert blas.default_backend() == "scipy"
    monkeypatch.setenv(blas.MATMUL_VARIABLE, "numpy")
    assert blas.default_backend() == "numpy"
    monkeypatch.setenv(blas.MATMUL_VARIABLE, "blas")
    with pytest.raises(ValueError, match="NNLIB_MATMUL must be one of numpy, scipy; got 'blas'"):
        blas.default_backend()


def test_the_variable_picks_the_backend_at_import():
    code = "import nnlib.blas as b; print(b.BACKEND)"
    for setting in ("scipy", "numpy"):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env={"NNLIB_MATMUL": setting, "PATH": ""})
        assert result.stdout.strip() == setting


def linear_step(backend: str, dtype) -> tuple[np.ndarray, ...]:
    layer = Linear(20, 6, np.random.default_rng(0), dtype=dtype)
    x = np.random.default_rng(1).standard_normal((9, 20)).astype(dtype)
    dy = np.random.default_rng(2).standard_normal((9, 6)).astype(dtype)
    old = blas.BACKEND
    blas.BACKEND = backend
    try:
        y = layer.forward(x)
        dx = layer.backward(dy)
    finally:
        blas.BACKEND = old
    return y, dx, layer.W.grad.copy(), layer.b.grad.copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_gives_the_same_numbers_through_either_backend(dtype):
    pairs = zip(linear_step("numpy", dtype), linear_step("scipy", dtype), strict=True)
    for numpy_result, scipy_result in pairs:
        assert scipy_result.dtype == dtype
        assert close(scipy_result, numpy_result, dtype)


def test_training_through_scipy_blas_learns_as_through_numpy(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((600, 30), dtype=np.float32)
    y = (x[:, :10].argmax(axis=1)).astype(np.int64)
    results = {}
    for backend in ("numpy", "scipy"):
        monkeypatch.setattr(blas, "BACKEND", backend)
        model = mlp((30, 32, 16, 10), dropout=0.1, rng=np.random.default_rng(1))
        history = fit(model, Adam(model.parameters(), lr=3e-3), x, y, epochs=3, batch_size=50,
                      rng=np.random.default_rng(2), loss_fn=SoftmaxCrossEntropy())
        results[backend] = (history.train_loss, model.parameters()[0].value.copy())
    assert np.allclose(results["numpy"][0], results["scipy"][0], rtol=1e-4)
    assert np.allclose(results["numpy"][1], results["scipy"][1], atol=1e-4)
    assert results["scipy"][1].dtype == np.float32
