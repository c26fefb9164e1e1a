"""Dtype and memory discipline (issue 6): float32 training never makes float64 arrays,
and `fit` never copies the training set.

A float64 array in a float32 network is a silent 2x slowdown: NumPy upcasts a whole
array when one operand is float64, e.g. `x * np.float64(0.5)` (a Python float
would keep float32).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnlib.train
from nnlib.data import batch_indices
from nnlib.layers import Dropout
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty
from nnlib.network import mlp
from nnlib.optim import FLUSH_EVERY, SGD, Adam
from nnlib.train import fit

OPTIMIZERS = {
    "momentum": lambda params: SGD(params, lr=0.05, momentum=0.9),
    "adam": lambda params: Adam(params, lr=1e-3),
}


def training_step(model, optimizer, x, y, l2=1e-3):
    """What fit does for one batch: forward, loss + L2, backward, step. Returns the logits and dlogits."""
    loss = SoftmaxCrossEntropy()
    optimizer.zero_grad()
    logits = model.forward(x, training=True)
    loss.forward(logits, y)
    l2_penalty(model.weights(), l2)
    dlogits = loss.backward()
    model.backward(dlogits)
    add_l2_grad(model.weights(), l2)
    optimizer.step()
    return logits, dlogits


def float32_batch(seed: int = 0, n: int = 16, features: int = 30):
    rng = np.random.default_rng(seed)
    return rng.random((n, features), dtype=np.float32), rng.integers(0, 10, n)


def arrays_of(obj) -> dict[str, np.ndarray]:
    """Every NumPy array attribute of an object (layer, optimizer)."""
    return {name: value for name, value in vars(obj).items() if isinstance(value, np.ndarray)}


# --- arrays at rest --------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_training_keeps_every_array_float32(name):
    model = mlp((30, 20, 16, 10), 0.2, np.random.default_rng(0))
    optimizer = OPTIMIZERS[name](model.parameters())
    x, y = float32_batch()
    for _ in range(FLUSH_EVERY):  # includes a flush of tiny values
        logits, dlogits = training_step(model, optimizer, x, y)
    assert logits.dtype == dlogits.dtype == np.float32
    for p in model.parameters():
        assert p.value.dtype == np.float32, p.name
        assert p.grad.dtype == np.float32, p.name
    state = arrays_of(optimizer)
    assert state, "the optimizer should keep its flat vectors as array attributes"
    for attribute, array in state.items():
        assert array.dtype == np.float32, attribute
    for layer in model.layers:
        if isinstance(layer, Dropout):
            assert layer.mask.dtype == np.float32, layer.name
    assert model.predict_proba(x).dtype == np.float32


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fit_in_float32_keeps_parameters_and_state_float32(name, mnist):
    rng = np.random.default_rng(0)
    model = mlp((784, 32, 10), 0.1, rng)
    optimizer = OPTIMIZERS[name](model.parameters())
    fit(model, optimizer, mnist.x_train[:3000], mnist.y_train[:3000], epochs=1, rng=rng, l2=1e-4,
        progress=False)
    for p in model.parameters():
        assert p.value.dtype == p.grad.dtype == np.float32, p.name
    for attribute, array in arrays_of(optimizer).items():
        assert array.dtype == np.float32, attribute


# --- intermediate results: a spy on every NumPy ufunc -------------------------------


class Float64Spy(np.ndarray):
    """An ndarray view that records every ufunc (arithmetic, matmul, exp, sum, ...)
    involving it whose result is float64. Results are spy views again, so
    everything computed from a spied array is watched too."""

    found: list[str] = []

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        inputs = tuple(np.asarray(a) if isinstance(a, Float64Spy) else a for a in inputs)
        if out is not None:
            kwargs["out"] = tuple(np.asarray(o) if isinstance(o, Float64Spy) else o for o in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        for array in result if isinstance(result, tuple) else (result,):
            if getattr(array, "dtype", None) == np.float64:
                Float64Spy.found.append(f"np.{ufunc.__name__}.{method}")
        if out is not None:
            return out[0] if len(out) == 1 else out
        return result.view(Float64Spy) if isinstance(result, np.ndarray) else result


@pytest.fixture
def spy():
    Float64Spy.found = []
    yield Float64Spy
    Float64Spy.found = []


def watch(model, optimizer) -> None:
    """Replace the parameters' arrays and the optimizer's arrays by spy views of the same memory."""
    for p in model.parameters():
        p.rebind(p.value.view(Float64Spy), p.grad.view(Float64Spy))
    for attribute, array in arrays_of(optimizer).items():
        setattr(optimizer, attribute, array.view(Float64Spy))


def test_the_spy_catches_a_float64_scalar(spy):
    x = np.ones(3, np.float32).view(spy)
    _ = x * 0.5
    assert spy.found == []
    _ = x * np.float64(0.5)
    assert spy.found == ["np.multiply.__call__"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_no_intermediate_result_of_a_float32_step_is_float64(name, spy):
    model = mlp((30, 20, 16, 10), 0.2, np.random.default_rng(0))
    optimizer = OPTIMIZERS[name](model.parameters())
    watch(model, optimizer)
    x, y = float32_batch()
    for _ in range(FLUSH_EVERY):
        logits, _ = training_step(model, optimizer, x.view(spy), y)
    assert isinstance(logits, spy) and isinstance(model.parameters()[0].value, spy)  # the spy was in place
    assert spy.found == []


# --- memory: fit never copies the training set ---------------------------------------


@pytest.fixture
def read_only_training_set(mnist):
    x, y = mnist.x_train[:20_000].copy(), mnist.y_train[:20_000].copy()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def test_fit_peak_memory_per_epoch_is_far_below_the_training_set(read_only_training_set, monkeypatch):
    """tracemalloc sees NumPy's allocations. The peak is reset when the first batch is
    drawn, so it measures the epoch itself: batch buffers and activations only."""
    x, y = read_only_training_set
    epochs_started = []

    def batch_indices_resetting_peak(*args, **kwargs):
        epochs_started.append(1)
        tracemalloc.reset_peak()
        return batch_indices(*args, **kwargs)

    monkeypatch.setattr(nnlib.train, "batch_indices", batch_indices_resetting_peak)
    rng = np.random.default_rng(0)
    model = mlp((784, 32, 10), 0.1, rng)
    optimizer = Adam(model.parameters(), lr=1e-3)
    tracemalloc.start()
    try:
        history = fit(model, optimizer, x, y, epochs=1, rng=rng, l2=1e-4, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert history.epochs == 1
    assert epochs_started == [1], "fit no longer draws its batches from batch_indices(); update this test"
    assert peak < 0.05 * x.nbytes, f"epoch peak {peak / 1e6:.1f} MB, images {x.nbytes / 1e6:.1f} MB"


def test_fit_never_holds_a_second_copy_of_the_training_set(read_only_training_set):
    """The whole call, including input checks and validation, stays below half the images' size."""
    x, y = read_only_training_set
    rng = np.random.default_rng(0)
    model = mlp((784, 32, 10), 0.1, rng)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    tracemalloc.start()
    try:
        fit(model, optimizer, x, y, epochs=2, rng=rng, x_val=x[:5000], y_val=y[:5000], progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * x.nbytes, f"peak {peak / 1e6:.1f} MB for {x.nbytes / 1e6:.1f} MB of images"
