"""Gradient checking: compare backprop's gradients with central differences.

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

has an error of order eps^2, so in float64 with eps ~ 1e-6 a correct backward pass agrees to a relative
error around 1e-9 or better; a wrong one is off by order 1. Run checks in float64: float32 rounding alone
gives errors near 1e-3.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnlib.layers import Dropout
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty
from nnlib.network import Layer, Sequential
from nnlib.validation import integer, real


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """`||a - n|| / (||a|| + ||n||)`, 0 when both are zero."""
    diff = float(np.linalg.norm(np.asarray(analytic) - np.asarray(numeric)))
    scale = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return 0.0 if scale == 0.0 else diff / scale


def numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    eps: float = 1e-6,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Central-difference gradient of `f()` with respect to the array `x` (same shape). Built in lesson 03.

    `x` is perturbed in place and restored. With `indices` (flat positions), only those entries are
    computed; the others stay 0.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        what = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"numerical_gradient: x must be a float array (an integer array cannot hold "
                         f"x + eps), got {what}")
    eps = real(eps, "eps", "numerical_gradient", low=0.0, low_open=True)
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    positions = range(x.size) if indices is None else indices
    for i in positions:
        original = flat_x[i]
        flat_x[i] = original + eps
        f_plus = f()
        flat_x[i] = original - eps
        f_minus = f()
        flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _sample(size: int, samples: int | None, rng: np.random.Generator) -> np.ndarray | None:
    if samples is None or samples >= size:
        return None
    return rng.choice(size, samples, replace=False)


def _compare(analytic: np.ndarray, numeric: np.ndarray, indices: np.ndarray | None) -> float:
    if indices is None:
        return relative_error(analytic, numeric)
    return relative_error(analytic.reshape(-1)[indices], numeric.reshape(-1)[indices])


def check_layer(
    layer: Layer,
    x: np.ndarray,
    rng: np.random.Generator,
    eps: float = 1e-6,
    training: bool = False,
) -> dict[str, float]:
    """Relative errors of a layer's backward: for the input (`"x"`) and each parameter.

    Uses the scalar `f = sum(forward(x) * dy)` with a fixed random `dy`, whose gradient is exactly what
    `backward(dy)` returns. Dropout layers keep one mask throughout.
    """
    frozen = _freeze_dropout([layer])
    try:
        dy = rng.standard_normal(layer.forward(x, training=training).shape)

        def f() -> float:
            return float(np.sum(layer.forward(x, training=training) * dy))

        f()
        errors = {"x": relative_error(layer.backward(dy), numerical_gradient(f, x, eps))}
        for p in layer.parameters():
            f()
            layer.backward(dy)
            analytic = p.grad.copy()
            errors[p.name] = relative_error(analytic, numerical_gradient(f, p.value, eps))
    finally:
        _unfreeze(frozen)
    return errors


def check_network(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    l2: float = 0.0,
    eps: float = 1e-6,
    training: bool = True,
    samples: int | None = None,
) -> dict[str, float]:
    """Relative error per parameter of the whole network's gradient of
    `cross_entropy + 0.5 * l2 * sum(W**2)`, with dropout masks held fixed.

    `samples` checks that many random entries per parameter (the 784-128-64-10 network has 109,386).
    """
    if samples is not None:
        samples = integer(samples, "samples", "check_network")
    l2 = real(l2, "l2", "check_network", low=0.0)
    loss_fn = SoftmaxCrossEntropy()
    weights = model.weights()
    frozen = _freeze_dropout(model.layers)
    try:
        def f() -> float:
            return loss_fn.forward(model.forward(x, training=training), y) + l2_penalty(weights, l2)

        f()
        model.backward(loss_fn.backward())
        add_l2_grad(weights, l2)
        analytic = {p.name: p.grad.copy() for p in model.parameters()}
        errors = {}
        for p in model.parameters():
            indices = _sample(p.value.size, samples, rng)
            numeric = numerical_gradient(f, p.value, eps, indices)
            errors[p.name] = _compare(analytic[p.name], numeric, indices)
    finally:
        _unfreeze(frozen)
    return errors


def _freeze_dropout(layers: list) -> list[Dropout]:
    frozen = [layer for layer in layers if isinstance(layer, Dropout) and not layer.freeze_mask]
    for layer in frozen:
        layer.freeze_mask = True
    return frozen


def _unfreeze(frozen: list[Dropout]) -> None:
    for layer in frozen:
        layer.freeze_mask = False
