"""The in-browser course's adaptations (nnlib/course/browser.py, the browser branch of
lesson_epochs), tested here by imitating what differs in Pyodide; `make test-lite` runs the
real thing in Chromium."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nnlib.course import browser
from nnlib.train import lesson_epochs


def wasm32_bincount(x, /, weights=None, minlength=0):
    """np.bincount as on wasm32: its index type is int32 and it refuses to cast int64 to it."""
    x = np.asarray(x)
    if x.dtype.itemsize > 4:
        raise TypeError(f"Cannot cast array data from dtype('{x.dtype}') to dtype('int32') according to "
                        "the rule 'safe'")
    return np.bincount(x, weights=weights, minlength=minlength)


def test_bincount_of_int64_labels_works_as_on_a_64_bit_machine():
    labels = np.array([3, 1, 3, 0, 9], dtype=np.int64)
    with pytest.raises(TypeError, match="Cannot cast"):
        wasm32_bincount(labels)
    adapted = browser.index_safe_bincount(wasm32_bincount, index_type=np.int32)
    assert adapted(labels, minlength=10).tolist() == np.bincount(labels, minlength=10).tolist()
    assert adapted(np.zeros(0, dtype=np.int64), minlength=4).tolist() == [0, 0, 0, 0]
    assert adapted(labels, weights=np.ones(5) / 2).tolist() == (np.bincount(labels) / 2).tolist()


def test_bincount_leaves_the_errors_of_wrong_input_to_numpy():
    adapted = browser.index_safe_bincount(wasm32_bincount, index_type=np.int32)
    with pytest.raises(ValueError, match="negative"):
        adapted(np.array([-1, 2], dtype=np.int32))
    with pytest.raises(TypeError):  # too large for int32: not cast, NumPy's own refusal
        adapted(np.array([2**40], dtype=np.int64))


def test_adapt_does_nothing_outside_the_browser():
    before = np.bincount
    browser.adapt()
    assert np.bincount is before and not browser.IN_BROWSER


def test_lesson_epochs_in_the_browser_is_the_lessons_browser_count_unless_nnlib_epochs_says(monkeypatch):
    monkeypatch.delenv("NNLIB_EPOCHS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert lesson_epochs(40) == 40 and lesson_epochs(40, browser=12) == 40
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert lesson_epochs(40) == 1 and lesson_epochs(40, browser=12) == 12
    assert lesson_epochs(6, browser=12) == 6  # never more than the full count
    monkeypatch.setenv("NNLIB_EPOCHS", "3")
    assert lesson_epochs(40, browser=12) == 3
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.delenv("NNLIB_EPOCHS")
    assert lesson_epochs(40, browser=12) == 1  # grading trains as briefly as possible, in the browser too


def test_blas_operands_multiply_through_scipy_and_give_plain_arrays(scipy_gemm_calls):
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    dy = rng.standard_normal((6, 3)).astype(np.float32)
    ox, oW, ody = browser.blas_operands(x, W, dy)
    assert all(type(a) is browser.BlasOperand for a in (ox, oW, ody))
    products = {"x @ W": (ox @ oW, x @ W), "x.T @ dy": (ox.T @ ody, x.T @ dy),
                "dy @ W.T": (np.matmul(ody, oW.T), dy @ W.T), "plain @ operand": (dy @ oW.T, dy @ W.T)}
    assert len(scipy_gemm_calls) == 4
    for what, (got, want) in products.items():
        assert type(got) is np.ndarray and got.dtype == np.float32, what
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    others = [ox + 1, ody.sum(axis=0), np.sum(ody, axis=0), np.maximum(ox, 0), ox * ox, ox > 0, ox.mean()]
    assert all(type(a) is not browser.BlasOperand for a in others)
    assert np.array_equal(ody.sum(axis=0), dy.sum(axis=0))
    assert np.array_equal(np.maximum(ox, 0), np.maximum(x, 0))
    assert len(scipy_gemm_calls) == 4  # only products go to BLAS
    out = np.empty((6, 3), np.float32)
    assert np.matmul(ox, oW, out=out) is out and np.allclose(out, x @ W, atol=1e-6)


def test_blas_operands_are_the_arrays_themselves_natively():
    x = np.ones((2, 2))
    assert browser.blas_operands(x, x)[0] is x


def test_your_network_multiplies_through_scipy_as_in_the_browser(scipy_gemm_calls, mnist):
    """Your linear_forward / linear_backward (the lessons' solutions) train through SciPy's BLAS
    when nnlib's products do, and the weights come out as through NumPy's @."""
    from nnlib import blas
    from nnlib.course import assemble
    from nnlib.optim import SGD
    from nnlib.train import fit

    from .conftest import REPO

    lessons = ["02_forward_pass.ipynb", "03_backprop.ipynb"]
    pieces = assemble.gather(earlier=lessons, folder=REPO / "notebooks")
    assert "linear_forward" in pieces.functions and "linear_backward" in pieces.functions
    scipy_gemm_calls.clear()  # the checks that gather ran
    weights = {}
    for backend in ("scipy", "numpy"):
        blas.BACKEND = backend
        model = pieces.network((784, 32, 10), dropout=0.0, rng=np.random.default_rng(1))
        fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:640], mnist.y_train[:640], epochs=1,
            batch_size=64, rng=np.random.default_rng(2), progress=False, loss_fn=pieces.loss())
        weights[backend] = [p.value.copy() for p in model.parameters()]
        if backend == "scipy":
            # 10 batches, each: 2 layers forward, and each layer's linear_backward makes dW and dx
            assert len(scipy_gemm_calls) == 10 * 6, len(scipy_gemm_calls)
    for mine, reference in zip(weights["scipy"], weights["numpy"], strict=True):
        np.testing.assert_allclose(mine, reference, rtol=0, atol=1e-5)
