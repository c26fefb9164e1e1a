"""nnlib.losses: softmax, cross-entropy (fused with softmax) and the L2 penalty."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlib.layers import Parameter
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, cross_entropy, l2_penalty, softmax


def test_softmax_rows_are_probabilities():
    logits = np.random.default_rng(0).standard_normal((6, 10))
    probs = softmax(logits)
    assert (probs > 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


def test_softmax_of_two_logits_matches_the_formula():
    probs = softmax(np.array([[math.log(3.0), 0.0]]))
    np.testing.assert_allclose(probs, [[0.75, 0.25]], rtol=1e-12)


def test_softmax_ignores_a_constant_added_to_a_row():
    logits = np.random.default_rng(0).standard_normal((3, 10))
    np.testing.assert_allclose(softmax(logits + 50.0), softmax(logits), rtol=1e-10)


def test_softmax_is_finite_for_huge_logits():
    probs = softmax(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs, [[1.0, 0.0, 0.0]])


def test_cross_entropy_of_equal_logits_is_log_of_class_count():
    assert cross_entropy(np.zeros((4, 10)), np.array([0, 3, 5, 9])) == pytest.approx(math.log(10))


def test_cross_entropy_is_the_mean_negative_log_probability():
    logits = np.array([[math.log(3.0), 0.0], [0.0, 0.0]])
    # sample 1: p(class 1) = 1/4; sample 2: p(class 0) = 1/2
    expected = (math.log(4) + math.log(2)) / 2
    assert cross_entropy(logits, np.array([1, 0])) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_finite_where_softmax_underflows():
    # softmax gives exactly 0 for the true class; log-sum-exp still gives the right loss
    loss = cross_entropy(np.array([[1000.0, 0.0]], dtype=np.float32), np.array([1]))
    assert loss == pytest.approx(1000.0)


def test_fused_layer_forward_equals_cross_entropy():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((8, 10)), rng.integers(0, 10, 8)
    assert SoftmaxCrossEntropy().forward(logits, labels) == pytest.approx(cross_entropy(logits, labels))


def test_fused_gradient_is_softmax_minus_one_hot_over_batch():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((8, 10)), rng.integers(0, 10, 8)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    expected = softmax(logits)
    expected[np.arange(8), labels] -= 1.0
    np.testing.assert_allclose(loss.backward(), expected / 8, rtol=1e-10, atol=1e-15)


def test_backward_before_forward_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="forward before backward"):
        SoftmaxCrossEntropy().backward()


@pytest.mark.parametrize("bad", [10, -1])
def test_labels_outside_0_to_9_are_a_value_error(bad):
    labels = np.array([0, 1, bad])
    with pytest.raises(ValueError, match=r"expected values in 0\.\.9"):
        cross_entropy(np.zeros((3, 10)), labels)
    with pytest.raises(ValueError, match=r"expected values in 0\.\.9"):
        SoftmaxCrossEntropy().forward(np.zeros((3, 10)), labels)


def test_float_labels_are_a_value_error():
    with pytest.raises(ValueError, match="integer"):
        cross_entropy(np.zeros((2, 10)), np.array([1.0, 2.0]))


def test_label_count_must_match_the_batch():
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        cross_entropy(np.zeros((3, 10)), np.array([1, 2]))


def test_one_hot_labels_are_a_value_error():
    with pytest.raises(ValueError, match=r"expected shape \(2,\)"):
        cross_entropy(np.zeros((2, 10)), np.eye(10, dtype=np.int64)[[1, 2]])


def test_l2_penalty_is_half_lambda_times_sum_of_squares():
    weights = [Parameter(np.array([[1.0, 2.0], [3.0, 4.0]])), Parameter(np.array([[-1.0]]))]
    # 0.5 * 0.1 * (1 + 4 + 9 + 16 + 1)
    assert l2_penalty(weights, 0.1) == pytest.approx(0.5 * 0.1 * 31)


def test_l2_penalty_is_zero_without_lambda():
    assert l2_penalty([Parameter(np.ones((2, 2)))], 0.0) == 0.0


def test_add_l2_grad_adds_lambda_times_w_to_the_gradient():
    w = Parameter(np.array([[1.0, -2.0]]))
    w.grad = np.array([[0.5, 0.5]])
    add_l2_grad([w], 0.1)
    np.testing.assert_allclose(w.grad, [[0.6, 0.3]], rtol=1e-12)


def test_add_l2_grad_without_lambda_changes_nothing():
    w = Parameter(np.array([[1.0, -2.0]]))
    w.grad = np.array([[0.5, 0.5]])
    add_l2_grad([w], 0.0)
    np.testing.assert_array_equal(w.grad, [[0.5, 0.5]])
