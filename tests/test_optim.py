"""nnlib.optim: update rules on hand-computed examples (PyTorch semantics), schedules, flushing.

Expected values are computed here with plain Python floats, step by step, from
the textbook rules:

    SGD (torch.optim.SGD, no dampening):  v <- m v + g;  w <- w - lr v
    Adam (torch.optim.Adam):  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
                              w <- w - lr m_hat / (sqrt(v_hat) + eps),
                              m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlib.layers import Parameter
from nnlib.network import mlp
from nnlib.optim import FLUSH_EVERY, SGD, Adam, cosine_schedule, flush_tiny, step_schedule


def scalar(value: float, dtype=np.float64) -> Parameter:
    return Parameter(np.array([value], dtype=dtype), name="w")


def step_with(optimizer, param: Parameter, grad: float) -> float:
    """Set the gradient, take one step, return the new value."""
    optimizer.zero_grad()
    param.grad = np.array([grad])
    optimizer.step()
    return float(param.value[0])


# --- SGD -----------------------------------------------------------------------


def test_plain_sgd_step():
    w = scalar(1.0)
    opt = SGD([w], lr=0.1)
    assert step_with(opt, w, 0.5) == pytest.approx(1.0 - 0.1 * 0.5, rel=1e-15)
    assert step_with(opt, w, -2.0) == pytest.approx(0.95 + 0.1 * 2.0, rel=1e-15)


def test_sgd_momentum_over_three_steps():
    w = scalar(1.0)
    opt = SGD([w], lr=0.1, momentum=0.9)
    v = 0.5  # step 1: v = g (the velocity starts at 0)
    expected = 1.0 - 0.1 * v
    assert step_with(opt, w, 0.5) == pytest.approx(expected, rel=1e-14)
    v = 0.9 * v + (-1.0)  # -0.55
    expected -= 0.1 * v  # 1.005
    assert step_with(opt, w, -1.0) == pytest.approx(expected, rel=1e-14)
    v = 0.9 * v + 2.0  # 1.505
    expected -= 0.1 * v  # 0.8545
    assert step_with(opt, w, 2.0) == pytest.approx(expected, rel=1e-14)
    assert expected == pytest.approx(0.8545)


def test_sgd_updates_every_element_of_every_parameter():
    w = Parameter(np.array([[1.0, 2.0], [3.0, 4.0]]), "W")
    b = Parameter(np.array([-1.0, 0.5]), "b")
    opt = SGD([w, b], lr=0.5, momentum=0.5)
    for grads in ([np.ones((2, 2)), np.array([2.0, -2.0])], [np.eye(2), np.array([0.0, 4.0])]):
        w.grad, b.grad = grads
        opt.step()
    # w: v1 = 1, v2 = 0.5 + eye; w = w0 - 0.5 (v1 + v2)
    expected_w = [[1.0 - 0.5 * 2.5, 2.0 - 0.5 * 1.5], [3.0 - 0.5 * 1.5, 4.0 - 0.5 * 2.5]]
    np.testing.assert_allclose(w.value, expected_w)
    # b: v1 = (2, -2), v2 = (1, -1 + 4)
    np.testing.assert_allclose(b.value, [-1.0 - 0.5 * 3.0, 0.5 - 0.5 * 1.0])


def test_sgd_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="learning rate"):
        SGD([scalar(1.0)], lr=0.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([scalar(1.0)], lr=0.1, momentum=1.0)


# --- Adam ----------------------------------------------------------------------


def test_adam_two_steps_with_bias_correction():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    w = scalar(1.0)
    opt = Adam([w], lr=lr, betas=(b1, b2), eps=eps)

    m = (1 - b1) * 0.5  # step 1, g = 0.5
    v = (1 - b2) * 0.5**2
    expected = 1.0 - lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)  # ~ 1 - lr
    assert step_with(opt, w, 0.5) == pytest.approx(expected, rel=1e-12)

    m = b1 * m + (1 - b1) * -0.25  # step 2, g = -0.25
    v = b2 * v + (1 - b2) * (-0.25) ** 2
    expected -= lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    assert step_with(opt, w, -0.25) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.8734, abs=1e-4)  # the hand calculation, to 4 places


def test_adam_adds_eps_after_bias_correction_like_pytorch():
    # With a large eps the placement shows: m_hat = 0.5, sqrt(v_hat) = 0.5, so the
    # step is lr * 0.5 / (0.5 + eps) = lr / 2 for eps = 0.5.
    w = scalar(0.0)
    opt = Adam([w], lr=0.1, eps=0.5)
    assert step_with(opt, w, 0.5) == pytest.approx(-0.05, rel=1e-12)


@pytest.mark.parametrize("gradient", [1e-4, 1.0, 1e4])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(gradient):
    w = scalar(0.0)
    opt = Adam([w], lr=0.01)
    assert step_with(opt, w, gradient) == pytest.approx(-0.01, rel=1e-3)


def test_adam_rejects_bad_betas():
    with pytest.raises(ValueError, match="betas"):
        Adam([scalar(1.0)], betas=(0.9, 1.0))


# --- shared behaviour ------------------------------------------------------------


def test_zero_grad_clears_every_gradient():
    model = mlp((4, 3, 2), 0.0, np.random.default_rng(0))
    opt = SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    opt.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_optimizer_updates_the_models_own_weights():
    model = mlp((4, 3, 2), 0.0, np.random.default_rng(0))
    first = model.layers[0].W
    before = first.value.copy()
    opt = SGD(model.parameters(), lr=0.5)
    first.grad = np.ones(first.shape)
    opt.step()
    np.testing.assert_allclose(model.layers[0].W.value, before - 0.5, rtol=1e-6)


# --- schedules -----------------------------------------------------------------


def test_cosine_schedule_starts_at_lr_and_ends_at_zero():
    schedule = cosine_schedule(0.5, total_steps=100)
    assert schedule(0) == pytest.approx(0.5)
    assert schedule(50) == pytest.approx(0.25)
    assert schedule(100) == pytest.approx(0.0, abs=1e-15)
    assert schedule(150) == pytest.approx(0.0, abs=1e-15)


def test_cosine_schedule_never_increases():
    schedule = cosine_schedule(0.5, total_steps=100)
    values = [schedule(step) for step in range(101)]
    assert all(later <= earlier for earlier, later in zip(values[:-1], values[1:], strict=True))


def test_cosine_schedule_can_end_above_zero():
    assert cosine_schedule(0.5, 10, final_lr=0.1)(10) == pytest.approx(0.1)


def test_step_schedule_multiplies_by_gamma_every_step_size_steps():
    schedule = step_schedule(1.0, step_size=10, gamma=0.5)
    assert [schedule(s) for s in (0, 9, 10, 19, 20, 35)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]


def test_schedules_reject_non_positive_lengths():
    with pytest.raises(ValueError, match="total_steps"):
        cosine_schedule(0.1, 0)
    with pytest.raises(ValueError, match="step_size"):
        step_schedule(0.1, 0)


# --- flushing tiny values (float32 subnormals) -----------------------------------


def test_flush_tiny_zeroes_values_below_1e_20_in_float32():
    x = np.array([1e-25, -1e-30, 1e-40, 1e-19, -0.5, 2.0], dtype=np.float32)
    flush_tiny([x])
    np.testing.assert_array_equal(x, np.array([0.0, 0.0, 0.0, 1e-19, -0.5, 2.0], dtype=np.float32))


def test_flush_tiny_leaves_float64_alone():
    x = np.array([1e-25, -1e-30, 1e-300, 2.0])
    flush_tiny([x])
    np.testing.assert_array_equal(x, [1e-25, -1e-30, 1e-300, 2.0])


def test_optimizer_flushes_tiny_float32_values_every_few_steps():
    w = Parameter(np.array([1e-30, 1.0], dtype=np.float32))
    opt = SGD([w], lr=0.1)  # gradients stay 0, so only the flush can change w
    for _ in range(FLUSH_EVERY - 1):
        opt.step()
    assert w.value[0] == np.float32(1e-30)
    opt.step()
    np.testing.assert_array_equal(w.value, [0.0, 1.0])


def test_optimizer_flushes_adam_moments_too():
    w = Parameter(np.array([1.0], dtype=np.float32))
    opt = Adam([w], lr=0.1)
    w.grad = np.array([1e-15], dtype=np.float32)  # m ~ 1e-16 (kept), v ~ 1e-33 (flushed)
    for _ in range(FLUSH_EVERY):
        opt.step()
    assert opt.m[0] > 0
    assert opt.v[0] == 0.0


def test_optimizer_never_flushes_float64():
    w = scalar(1e-30)
    opt = SGD([w], lr=0.1)
    for _ in range(2 * FLUSH_EVERY):
        opt.step()
    assert w.value[0] == 1e-30
