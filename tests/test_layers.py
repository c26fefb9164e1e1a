"""nnlib.layers: Parameter, Linear, ReLU, Dropout and pack_parameters."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.flat import pack_parameters
from nnlib.layers import Dropout, Linear, Parameter, ReLU

# --- Parameter -----------------------------------------------------------------


def test_parameter_copies_its_initial_value_and_starts_with_zero_grad():
    source = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = Parameter(source, name="w")
    source[0, 0] = 100.0
    assert p.value[0, 0] == 0.0
    np.testing.assert_array_equal(p.grad, np.zeros((2, 3), np.float32))
    assert p.grad.dtype == p.value.dtype == np.float32


def test_assigning_value_or_grad_of_the_wrong_shape_is_a_value_error():
    p = Parameter(np.zeros((2, 3)), name="Linear1.W")
    with pytest.raises(ValueError, match=r"Linear1\.W\.grad: expected shape \(2, 3\), got \(3, 2\)"):
        p.grad = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"Linear1\.W\.value: expected shape \(2, 3\), got \(6,\)"):
        p.value = np.zeros(6)


# --- pack_parameters -----------------------------------------------------------


def two_parameters():
    return [Parameter(np.arange(6.0).reshape(2, 3), "W"), Parameter(np.array([10.0, 20.0]), "b")]


def test_pack_keeps_the_values_in_order():
    params = two_parameters()
    values, grads = pack_parameters(params)
    np.testing.assert_array_equal(values, [0, 1, 2, 3, 4, 5, 10, 20])
    assert values.shape == grads.shape == (8,)


def test_packed_parameters_are_views_of_the_flat_buffers():
    params = two_parameters()
    values, grads = pack_parameters(params)
    values[:] = -1.0
    grads[6:] = 7.0
    np.testing.assert_array_equal(params[0].value, np.full((2, 3), -1.0))
    np.testing.assert_array_equal(params[1].grad, [7.0, 7.0])


def test_assigning_grad_copies_into_the_view():
    params = two_parameters()
    values, grads = pack_parameters(params)
    view = params[0].grad
    params[0].grad = np.ones((2, 3))
    assert params[0].grad is view
    np.testing.assert_array_equal(grads, [1, 1, 1, 1, 1, 1, 0, 0])


def test_assigning_value_copies_into_the_view():
    params = two_parameters()
    values, _ = pack_parameters(params)
    params[1].value = np.array([-5.0, -6.0])
    np.testing.assert_array_equal(values[6:], [-5.0, -6.0])


def test_shape_mismatch_after_packing_is_a_value_error():
    params = two_parameters()
    pack_parameters(params)
    with pytest.raises(ValueError, match="expected shape"):
        params[1].grad = np.ones(3)


def test_packing_again_reuses_the_same_buffers():
    params = two_parameters()
    values, grads = pack_parameters(params)
    values_again, grads_again = pack_parameters(params)
    assert np.shares_memory(values, values_again) and np.shares_memory(grads, grads_again)


def test_pack_rejects_mixed_dtypes():
    params = [Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float64))]
    with pytest.raises(ValueError, match="dtype"):
        pack_parameters(params)


def test_pack_rejects_an_empty_list():
    with pytest.raises(ValueError, match="no parameters"):
        pack_parameters([])


# --- Linear --------------------------------------------------------------------


def test_linear_shapes_and_default_dtype():
    layer = Linear(5, 3, np.random.default_rng(0))
    assert layer.W.shape == (5, 3)
    assert layer.b.shape == (3,)
    assert layer.W.value.dtype == layer.b.value.dtype == np.float32
    np.testing.assert_array_equal(layer.b.value, np.zeros(3))


def test_linear_uses_he_initialisation():
    layer = Linear(784, 512, np.random.default_rng(0))
    assert layer.W.value.std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert abs(layer.W.value.mean()) < 1e-3


def test_linear_initialisation_depends_only_on_the_rng_seed():
    first = Linear(20, 10, np.random.default_rng(3)).W.value
    second = Linear(20, 10, np.random.default_rng(3)).W.value
    third = Linear(20, 10, np.random.default_rng(4)).W.value
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_linear_forward_is_x_times_w_plus_b():
    rng = np.random.default_rng(0)
    layer = Linear(4, 3, rng, dtype=np.float64)
    layer.b.value = np.array([1.0, -2.0, 0.5])
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.W.value + layer.b.value, rtol=1e-12)


def test_linear_backward_gives_the_matrix_calculus_gradients():
    rng = np.random.default_rng(0)
    layer = Linear(4, 3, rng, dtype=np.float64)
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(layer.W.grad, x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(layer.b.grad, dy.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dx, dy @ layer.W.value.T, rtol=1e-12)


def test_linear_backward_without_input_grad_still_fills_parameter_grads():
    rng = np.random.default_rng(0)
    layer = Linear(4, 3, rng, dtype=np.float64)
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    assert layer.backward(dy, need_input_grad=False) is None
    np.testing.assert_allclose(layer.W.grad, x.T @ dy, rtol=1e-12)


def test_linear_backward_before_forward_is_a_runtime_error():
    layer = Linear(4, 3, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="forward before backward"):
        layer.backward(np.zeros((1, 3), np.float32))


def test_linear_rejects_unflattened_images_naming_layer_and_shapes():
    layer = Linear(784, 10, np.random.default_rng(0), name="Linear1")
    expected = r"Linear1: expected input of shape \(batch, 784\), got \(8, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        layer.forward(np.zeros((8, 28, 28), np.float32))


def test_linear_rejects_wrong_feature_count():
    layer = Linear(784, 10, np.random.default_rng(0), name="Linear1")
    with pytest.raises(ValueError, match=r"Linear1: expected input of shape \(batch, 784\), got \(8, 100\)"):
        layer.forward(np.zeros((8, 100), np.float32))


def test_linear_rejects_integer_input():
    layer = Linear(784, 10, np.random.default_rng(0), name="Linear1")
    with pytest.raises(ValueError, match="Linear1: expected a float array, got dtype uint8"):
        layer.forward(np.zeros((8, 784), np.uint8))


# --- ReLU ----------------------------------------------------------------------


def test_relu_forward_clips_negatives():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(x), [[0.0, 0.0, 0.0, 0.5, 3.0]])


def test_relu_backward_passes_gradient_only_where_input_was_positive():
    relu = ReLU()
    relu.forward(np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]]))
    dx = relu.backward(np.array([[10.0, 20.0, 30.0, 40.0, 50.0]]))
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.0, 40.0, 50.0]])


# --- Dropout -------------------------------------------------------------------


def test_dropout_drops_a_fraction_p_of_units():
    layer = Dropout(0.3, np.random.default_rng(0))
    y = layer.forward(np.ones((1000, 1000), np.float32), training=True)
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.005)


def test_dropout_scales_survivors_by_one_over_keep_probability():
    layer = Dropout(0.3, np.random.default_rng(0))
    y = layer.forward(np.ones((200, 200), np.float32), training=True)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_dropout_preserves_the_mean_activation():
    layer = Dropout(0.5, np.random.default_rng(0))
    x = np.random.default_rng(1).random((1000, 1000), dtype=np.float32)
    y = layer.forward(x, training=True)
    assert y.mean(dtype=np.float64) == pytest.approx(x.mean(dtype=np.float64), rel=0.01)


def test_dropout_is_the_identity_in_evaluation_mode():
    layer = Dropout(0.5, np.random.default_rng(0))
    x = np.random.default_rng(1).random((50, 20), dtype=np.float32)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_backward_uses_the_forward_mask():
    layer = Dropout(0.4, np.random.default_rng(0))
    y = layer.forward(np.ones((100, 50), np.float32), training=True)
    dx = layer.backward(np.ones((100, 50), np.float32))
    np.testing.assert_array_equal(dx, y)


def test_dropout_draws_a_new_mask_every_training_forward():
    layer = Dropout(0.5, np.random.default_rng(0))
    x = np.ones((20, 20), np.float32)
    assert not np.array_equal(layer.forward(x, training=True), layer.forward(x, training=True))


def test_frozen_dropout_reuses_its_mask():
    layer = Dropout(0.5, np.random.default_rng(0))
    x = np.ones((20, 20), np.float32)
    first = layer.forward(x, training=True)
    layer.freeze_mask = True
    np.testing.assert_array_equal(layer.forward(x, training=True), first)


def test_dropout_rejects_p_outside_0_1():
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            Dropout(p, np.random.default_rng(0))
