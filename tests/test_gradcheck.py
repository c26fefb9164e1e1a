"""Gradient checks in float64: every layer, the loss, L2 and whole networks agree
with central differences to a relative error below 1e-7, and a wrong backward is caught."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.gradcheck import check_layer, check_network, numerical_gradient, relative_error
from nnlib.layers import Dropout, Linear, Parameter, ReLU
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty
from nnlib.network import mlp

TOLERANCE = 1e-7


def float64_mlp(seed: int, sizes=(20, 16, 12, 10), dropout: float = 0.0):
    """A small float64 network with random (non-zero) biases.

    Zero biases would let a sample whose hidden units are all zero put a
    pre-activation exactly on ReLU's kink at 0, where central differences
    disagree with any one-sided derivative.
    """
    rng = np.random.default_rng(seed)
    model = mlp(sizes, dropout, rng, dtype=np.float64)
    for layer in model.layers:
        if isinstance(layer, Linear):
            layer.b.value = rng.normal(0.0, 0.1, layer.b.shape)
    return model


def batch(seed: int, n: int = 8, features: int = 20):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)), rng.integers(0, 10, n)


# --- the tools themselves --------------------------------------------------------


def test_relative_error_of_equal_arrays_is_zero():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a.copy()) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_relative_error_is_difference_over_sum_of_norms():
    assert relative_error(np.array([3.0, 0.0]), np.array([0.0, 4.0])) == pytest.approx(5.0 / 7.0)


def test_numerical_gradient_of_a_quadratic_and_x_is_restored():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**2)), x)
    np.testing.assert_allclose(grad, 2 * original, rtol=1e-8)
    np.testing.assert_array_equal(x, original)


# --- layers ----------------------------------------------------------------------


def test_linear_gradients():
    rng = np.random.default_rng(0)
    layer = Linear(7, 5, rng, dtype=np.float64)
    layer.b.value = rng.standard_normal(5)
    errors = check_layer(layer, rng.standard_normal((6, 7)), rng)
    assert set(errors) == {"x", "Linear.W", "Linear.b"}
    assert max(errors.values()) < TOLERANCE, errors


def test_relu_gradient():
    rng = np.random.default_rng(0)
    errors = check_layer(ReLU(), rng.standard_normal((6, 7)), rng)
    assert errors["x"] < TOLERANCE, errors


def test_dropout_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(0)
    layer = Dropout(0.4, rng)
    errors = check_layer(layer, rng.standard_normal((6, 7)), rng, training=True)
    assert errors["x"] < TOLERANCE, errors
    assert layer.mask is not None and not layer.mask.all()  # a real mask was applied
    assert layer.freeze_mask is False  # and released afterwards


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((8, 10)) * 3, rng.integers(0, 10, 8)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, labels), logits)
    assert relative_error(analytic, numeric) < TOLERANCE


def test_l2_gradient():
    rng = np.random.default_rng(0)
    weights = [Parameter(rng.standard_normal((5, 4))), Parameter(rng.standard_normal((4, 3)))]
    add_l2_grad(weights, 0.3)
    for w in weights:
        numeric = numerical_gradient(lambda: l2_penalty(weights, 0.3), w.value)
        assert relative_error(w.grad, numeric) < TOLERANCE


# --- whole networks --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_network_gradients_with_l2(seed):
    x, y = batch(seed)
    errors = check_network(float64_mlp(seed), x, y, np.random.default_rng(seed), l2=0.1)
    assert len(errors) == 6
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_network_gradients_with_dropout_and_l2(seed):
    x, y = batch(seed)
    model = float64_mlp(seed, dropout=0.3)
    errors = check_network(model, x, y, np.random.default_rng(seed), l2=0.1)
    assert max(errors.values()) < TOLERANCE, errors
    assert all(layer.mask is not None for layer in model.layers if isinstance(layer, Dropout))


def test_course_network_gradients_on_sampled_entries():
    rng = np.random.default_rng(0)
    model = mlp((784, 128, 64, 10), 0.1, rng, dtype=np.float64)
    x, y = rng.random((4, 784)), rng.integers(0, 10, 4)
    errors = check_network(model, x, y, rng, l2=1e-3, samples=20)
    assert max(errors.values()) < TOLERANCE, errors


# --- a wrong backward is caught ----------------------------------------------------


def test_wrong_relu_backward_is_detected(monkeypatch):
    monkeypatch.setattr(ReLU, "backward", lambda self, dy: dy)  # forgets the mask
    x, y = batch(0)
    errors = check_network(float64_mlp(0), x, y, np.random.default_rng(0))
    assert max(errors.values()) > 1e-2, errors


def test_one_percent_error_in_a_weight_gradient_is_detected(monkeypatch):
    model = float64_mlp(0)
    second = model.layers[2]
    correct_backward = second.backward

    def slightly_wrong_backward(dy, need_input_grad=True):
        dx = correct_backward(dy, need_input_grad)
        second.W.grad *= 1.01
        return dx

    monkeypatch.setattr(second, "backward", slightly_wrong_backward)
    x, y = batch(0)
    errors = check_network(model, x, y, np.random.default_rng(0))
    assert errors["Linear2.W"] > 1e-3, errors
    assert errors["Linear1.W"] < TOLERANCE, errors  # earlier layers get the right dx


def test_l2_gradient_missing_from_backward_is_detected(monkeypatch):
    monkeypatch.setattr("nnlib.gradcheck.add_l2_grad", lambda weights, lam: None)
    x, y = batch(0)
    errors = check_network(float64_mlp(0), x, y, np.random.default_rng(0), l2=0.1)
    assert min(errors[name] for name in ("Linear1.W", "Linear2.W", "Linear3.W")) > 1e-3, errors
    assert errors["Linear1.b"] < TOLERANCE, errors  # biases are not penalised

