"""The checkers of lessons 03-05 (backprop, dropout, L2) pass the reference and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import checks
from nnlib.course.checks import CheckFailed
from nnlib.gradcheck import numerical_gradient as nn_numerical_gradient
from nnlib.layers import Dropout, Linear, ReLU
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad
from nnlib.losses import l2_penalty as nn_l2_penalty
from nnlib.losses import softmax as nn_softmax
from nnlib.train import train_step as reference_train_step
from tests.checker_failures import assert_helpful_failure, right_answer_tests

# --- nnlib's own code, wrapped in the exercises' signatures -------------------

def nn_linear_backward(dy, x, W):
    layer = Linear(*W.shape, np.random.default_rng(0), dtype=W.dtype)
    layer.W.value = W
    layer.forward(x)
    dx = layer.backward(dy)
    return dx, layer.W.grad.copy(), layer.b.grad.copy()


def nn_relu_backward(dy, x):
    layer = ReLU()
    layer.forward(x)
    return layer.backward(dy)


def nn_softmax_cross_entropy_backward(logits, labels):
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    return loss.backward()


def nn_dropout_forward(x, p, rng, training):
    layer = Dropout(p, rng)
    y = layer.forward(x, training=training)
    return y, layer.mask


def nn_dropout_backward(dy, mask):
    layer = Dropout(0.5, np.random.default_rng(0))
    layer.mask = mask
    return layer.backward(dy)


def nn_l2_penalty_of_params(params, lam):
    return nn_l2_penalty([p for p in params if p.value.ndim == 2], lam)


def nn_add_l2_grad(params, lam):
    add_l2_grad([p for p in params if p.value.ndim == 2], lam)


# --- right answers, written the way a learner might ---------------------------

def linear_backward(dy, x, W):
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


def onehot_like(logits, labels):
    onehot = np.zeros_like(logits)
    onehot[np.arange(len(labels)), labels] = 1
    return onehot


def sce_backward(logits, labels):
    return (nn_softmax(logits) - onehot_like(logits, labels)) / len(labels)


def central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def dropout_forward(x, p, rng, training):
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


def dropout_backward(dy, mask):
    return dy if mask is None else dy * mask


def l2_penalty(params, lam):
    return 0.5 * lam * sum(np.sum(p.value**2) for p in params if p.value.ndim == 2)


def learners_add_l2_grad(params, lam):
    for p in params:
        if p.value.ndim == 2:
            p.grad += lam * p.value


def train_step(model, loss_fn, xb, yb, lr):
    logits = model.forward(xb, training=True)
    loss = loss_fn.forward(logits, yb)
    model.backward(loss_fn.backward())
    for parameter in model.parameters():
        parameter.value = parameter.value - lr * parameter.grad
    return loss, logits


def step_variant(update=lambda value, grad, lr: value - lr * grad, training=True, only_weights=False,
                 swap=False, skip_last_layer=False):
    """A training step with one known mistake."""

    def step(model, loss_fn, xb, yb, lr):
        logits = model.forward(xb, training=training)
        loss = loss_fn.forward(logits, yb)
        model.backward(loss_fn.backward())
        parameters = model.weights() if only_weights else model.parameters()
        for parameter in parameters[:-2] if skip_last_layer else parameters:
            parameter.value = update(parameter.value, parameter.grad, lr)
        return (logits, loss) if swap else (loss, logits)

    return step


def step_never_fresh(model, loss_fn, xb, yb, lr):
    """Adds each batch's gradient to what .grad held (issue 27: it passed and trained to 9.91%)."""
    logits = model.forward(xb, training=True)
    loss = loss_fn.forward(logits, yb)
    earlier = [parameter.grad.copy() for parameter in model.parameters()]
    model.backward(loss_fn.backward())
    for parameter, grad in zip(model.parameters(), earlier, strict=True):
        parameter.grad += grad
        parameter.value -= lr * parameter.grad
    return loss, logits


def step_logits_after_update(model, loss_fn, xb, yb, lr):
    loss, _ = train_step(model, loss_fn, xb, yb, lr)
    return loss, model.forward(xb, training=True)


def step_returning(transform):
    """A right step whose (loss, logits) are changed by `transform` on the way out."""
    return lambda model, loss_fn, xb, yb, lr: transform(*train_step(model, loss_fn, xb, yb, lr))


def step_zeroing_labels(model, loss_fn, xb, yb, lr):
    result = train_step(model, loss_fn, xb, yb, lr)
    yb[:] = 0
    return result


CORRECT = [
    (checks.train_step, reference_train_step),
    (checks.train_step, train_step),
    (checks.linear_backward, nn_linear_backward),
    (checks.linear_backward, linear_backward),
    (checks.relu_backward, nn_relu_backward),
    (checks.relu_backward, lambda dy, x: dy * (x > 0)),
    (checks.relu_backward, lambda dy, x: np.where(x > 0, dy, 0)),
    (checks.softmax_cross_entropy_backward, nn_softmax_cross_entropy_backward),
    (checks.softmax_cross_entropy_backward, sce_backward),
    (checks.numerical_gradient, central_difference),
    (checks.numerical_gradient, central_difference),
    (checks.dropout_forward, nn_dropout_forward),
    (checks.dropout_forward, dropout_forward),
    (checks.dropout_forward, lambda x, p, rng, training: (x, np.ones_like(x)) if not training or p == 0
     else dropout_forward(x, p, rng, training)),
    (checks.dropout_backward, nn_dropout_backward),
    (checks.dropout_backward, dropout_backward),
    (checks.l2_penalty, nn_l2_penalty_of_params),
    (checks.l2_penalty, l2_penalty),
    (checks.add_l2_grad, nn_add_l2_grad),
    (checks.add_l2_grad, learners_add_l2_grad),
]

test_right_answers_pass, test_not_implemented_is_reported_not_raised = right_answer_tests(CORRECT)


# --- typical mistakes ----------------------------------------------------------

def dropout_variant(keep_if, scale, eval_mode_too=False, rng_source=None, dtype_cast=True):
    """Dropout with one thing changed: which units are kept, the scale, eval mode, the random source."""

    def forward(x, p, rng, training):
        if (not training and not eval_mode_too) or p == 0:
            return x, None
        draws = (rng_source or rng).random(x.shape)
        keep = keep_if(draws, p)
        mask = keep * scale(p)
        if dtype_cast:
            mask = mask.astype(x.dtype)
        return x * mask, mask

    return forward


def forward_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    base = f()
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f() - base) / eps
        x[i] = old
    return grad


def never_restores(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps
        up = f()
        x[i] -= 2 * eps
        down = f()
        grad[i] = (up - down) / (2 * eps)
    return grad


def all_at_once(f, x, eps=1e-6):
    x += eps
    up = f()
    x -= 2 * eps
    down = f()
    x += eps
    return np.full_like(x, (up - down) / (2 * eps))


def params_l2(params, lam, which=lambda p: p.value.ndim == 2, term=np.square, factor=0.5):
    return factor * lam * sum(float(np.sum(term(p.value))) for p in params if which(p))


def keep_above(draws, p):
    return draws >= p


def one_mask_for_all_rows(x, p, rng, training):
    if not training or p == 0:
        return x, None
    row = (rng.random(x.shape[1]) >= p).astype(x.dtype) / (1 - p)
    mask = np.tile(row, (len(x), 1))
    return x * mask, mask


def one_mask_row(x, p, rng, training):
    if not training or p == 0:
        return x, None
    mask = (rng.random((1, x.shape[1])) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


def one_draw_per_row(x, p, rng, training):
    if not training or p == 0:
        return x, None
    mask = np.repeat((rng.random((len(x), 1)) >= p).astype(x.dtype) / (1 - p), x.shape[1], axis=1)
    return x * mask, mask


def nudges_a_copy(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        nudged = x.copy()
        nudged[i] += eps
        up = f()
        nudged[i] -= 2 * eps
        down = f()
        grad[i] = (up - down) / (2 * eps)
    return grad


def l2_grad_variant(change):
    """add_l2_grad with one thing changed: `change(p, lam)` is applied to every parameter."""

    def add(params, lam):
        for p in params:
            change(p, lam)

    return add


def weights_only(update):
    def change(p, lam):
        if p.value.ndim == 2:
            update(p, lam)

    return change


def returns_new_gradients(params, lam):
    return [p.grad + lam * p.value for p in params if p.value.ndim == 2]


def rebinds_a_local(params, lam):
    for p in params:
        if p.value.ndim == 2:
            grad = p.grad
            grad = grad + lam * p.value  # noqa: F841 (the mistake under test)


WRONG = [
    # lesson 03: linear
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, dy.T @ x, dy.sum(axis=0)),
     "dy\\^T x instead of x\\^T dy"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, x.T @ dy, dy), "sums dy over the batch"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, x.T @ dy, dy.mean(axis=0)), "db was averaged"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, x.T @ dy / len(x), dy.sum(axis=0)),
     "dW was divided by the batch size"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, x.T @ dy, dy.sum()), "axis=0"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W, x.T @ dy, dy.sum(axis=0)), "dy \\(N, n_out\\)"),
    (checks.linear_backward, lambda dy, x, W: (np.dot(dy, W), x.T @ dy, dy.sum(axis=0)), "dy \\(N, n_out\\)"),
    (checks.linear_backward, lambda dy, x, W: (x.T @ dy, dy.sum(axis=0)), "tuple of 3"),
    (checks.linear_backward, lambda dy, x, W: None, "returned None"),
    (checks.linear_backward, lambda dy, x, W: (dy @ W.T, 2 * x.T @ dy, dy.sum(axis=0)),
     "dW: every entry is 2 times the expected one"),
    (checks.linear_backward, lambda dy, x, W: (x.T @ dy, dy @ W.T, dy.sum(axis=0)),
     "shapes of \\(dW, dx, db\\): return \\(dx, dW, db\\) in this order"),
    (checks.linear_backward, lambda dy, x, W: (dy.sum(axis=0), x.T @ dy, dy @ W.T),
     "shapes of \\(db, dW, dx\\)"),
    # lesson 03: ReLU
    (checks.relu_backward, lambda dy, x: (x > 0).astype(x.dtype), "upstream gradient dy"),
    (checks.relu_backward, lambda dy, x: x > 0, "True/False"),
    (checks.relu_backward, lambda dy, x: dy * (x >= 0), "x >= 0"),
    (checks.relu_backward, lambda dy, x: np.maximum(dy, 0), "applied ReLU to dy"),
    (checks.relu_backward, lambda dy, x: dy * np.maximum(x, 0), "relu\\(x\\)"),
    (checks.relu_backward, lambda dy, x: (dy * (x > 0)).astype(np.float64), "dtype float32, got float64"),
    # lesson 03: softmax cross-entropy
    (checks.softmax_cross_entropy_backward,
     lambda z, y: nn_softmax(z) - onehot_like(z, y), "missing 1/N"),
    (checks.softmax_cross_entropy_backward,
     lambda z, y: (onehot_like(z, y) - nn_softmax(z)) / len(y), "sign is flipped"),
    (checks.softmax_cross_entropy_backward, lambda z, y: nn_softmax(z) / len(y), "subtract the one-hot"),
    (checks.softmax_cross_entropy_backward,
     lambda z, y: (nn_softmax(z.T).T - onehot_like(z, y)) / len(y), "wrong axis"),
    (checks.softmax_cross_entropy_backward,
     lambda z, y: (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) - onehot_like(z, y)) / len(y),
     "subtract each row's maximum"),
    (checks.softmax_cross_entropy_backward,
     lambda z, y: (nn_softmax(z) - np.eye(z.shape[1])[y]) / len(y), "dtype=logits.dtype"),
    # lesson 03: the training step
    (checks.train_step, step_variant(update=lambda value, grad, lr: value), "no parameter changed"),
    (checks.train_step, step_variant(update=lambda value, grad, lr: value + lr * grad), "stepped uphill"),
    (checks.train_step, step_variant(update=lambda value, grad, lr: value - grad),
     "ignores the learning rate"),
    (checks.train_step, step_variant(only_weights=True), "Linear1.b, Linear2.b kept their values: update "
     "every parameter of model.parameters\\(\\), the biases too"),
    (checks.train_step, step_variant(skip_last_layer=True), "Linear2.W, Linear2.b kept their values: update "
     "every parameter of model.parameters\\(\\)$"),  # a whole layer left out: not a matter of biases
    (checks.train_step, step_variant(training=False), "evaluation mode"),
    (checks.train_step, step_variant(swap=True), "return \\(loss, logits\\) in this order"),
    (checks.train_step, lambda model, loss_fn, xb, yb, lr: None, "returned None"),
    # issue 27: two steps with leftover gradients; each of these passed before
    (checks.train_step, step_never_fresh, "the gradients were never started fresh"),
    (checks.train_step, step_variant(update=lambda value, grad, lr: value - 2 * lr * grad), "twice the step"),
    (checks.train_step, step_logits_after_update, "logits you returned come from after the update"),
    (checks.train_step, step_returning(lambda loss, logits: (str(loss), logits)), "one real number.*got str"),
    (checks.train_step, step_returning(lambda loss, logits: (complex(loss), logits)), "got complex"),
    (checks.train_step, step_returning(lambda loss, logits: (loss, logits * np.nan)), "NaN or infinite"),
    (checks.train_step, step_zeroing_labels, "changed its input `yb` in place"),
    # lesson 03: numerical gradient
    (checks.numerical_gradient, forward_difference, "one-sided difference \\(f\\(x \\+ eps\\) - f\\(x\\)\\)"),
    (checks.numerical_gradient, lambda f, x, eps: 2 * central_difference(f, x, eps), "divide by 2 eps"),
    (checks.numerical_gradient, lambda f, x, eps: -central_difference(f, x, eps), "sign is flipped"),
    (checks.numerical_gradient, never_restores, "x was changed"),
    (checks.numerical_gradient, all_at_once, "one entry at a time"),
    (checks.numerical_gradient, lambda f, x, eps: None, "returned None"),
    # issue 27: after 03's `from nnlib.gradcheck import numerical_gradient`, re-running 3.4's check passed
    (checks.numerical_gradient, nn_numerical_gradient, "is nnlib's .*not yours: run the cell with your def"),
    (checks.numerical_gradient, nudges_a_copy, "all zeros.*change x in place"),
    # lesson 04: dropout forward
    (checks.dropout_forward, dropout_variant(keep_above, lambda p: 1.0), "forgot the scale 1/\\(1-p\\)"),
    (checks.dropout_forward, dropout_variant(lambda d, p: d < p, lambda p: 1 / (1 - p)),
     "drop with probability 1 - p"),
    (checks.dropout_forward, dropout_variant(keep_above, lambda p: 1 / p), "scaled by 1/p"),
    (checks.dropout_forward, dropout_variant(keep_above, lambda p: 1 - p), "multiplied by \\(1-p\\)"),
    (checks.dropout_forward, dropout_variant(keep_above, lambda p: 1 / (1 - p), eval_mode_too=True),
     "evaluation mode dropout does nothing"),
    (checks.dropout_forward, dropout_variant(keep_above, lambda p: 1 / (1 - p), dtype_cast=False),
     "dtype float64, expected float32"),
    (checks.dropout_forward,
     dropout_variant(keep_above, lambda p: 1 / (1 - p), rng_source=np.random.default_rng(123)),
     "same seed gave different masks: draw the random numbers from the rng argument"),
    (checks.dropout_forward,
     lambda x, p, rng, training: dropout_forward(x, p, np.random.default_rng(0), training),
     "different rngs gave the same mask"),
    (checks.dropout_forward,
     lambda x, p, rng, training: (x * (rng.random(x.shape) >= p) / (1 - p), rng.random(x.shape) >= p)
     if training and p else (x, None), "True/False"),
    (checks.dropout_forward,
     lambda x, p, rng, training: (x * (rng.random(x.shape[1]) >= p).astype(x.dtype) / (1 - p),)
     if training and p else (x, None), "tuple of 2"),
    (checks.dropout_forward, one_mask_for_all_rows, "all rows share the same mask"),
    (checks.dropout_forward, one_mask_row, "one mask shared by all rows"),
    (checks.dropout_forward, one_draw_per_row, "whole examples vanish"),
    # lesson 04: dropout backward
    (checks.dropout_backward, lambda dy, mask: dy * (mask != 0), "already holds it"),
    (checks.dropout_backward, lambda dy, mask: dy, "returned dy unchanged: the mask was not applied"),
    (checks.dropout_backward, lambda dy, mask: dy * mask / 0.5 if mask is not None else dy, "divide again"),
    (checks.dropout_backward, lambda dy, mask: mask, "you returned the mask"),
    (checks.dropout_backward, lambda dy, mask: dy * mask, "mask is None in evaluation mode"),
    (checks.dropout_backward, lambda dy, mask: dy * (mask == 0) if mask is not None else dy, "kept units"),
    # lesson 05: L2 penalty
    (checks.l2_penalty, lambda params, lam: params_l2(params, lam, factor=1.0),
     "2 times the expected one: did you forget the 0.5"),
    (checks.l2_penalty, lambda params, lam: params_l2(params, lam, which=lambda p: True),
     "included the biases"),
    (checks.l2_penalty, lambda params, lam: params_l2(params, lam, term=np.abs), "absolute values"),
    (checks.l2_penalty, lambda params, lam: params_l2(params, 1.0), "lam is missing"),
    (checks.l2_penalty, lambda params, lam: 0.5 * lam * sum(np.linalg.norm(p.value) for p in params
                                                           if p.value.ndim == 2), "squared norms"),
    (checks.l2_penalty, lambda params, lam: [0.5 * lam * np.sum(p.value**2) for p in params], "got a list"),
    (checks.l2_penalty, lambda params, lam: 0.5 * lam * np.sum(params[-2].value ** 2), "last weight matrix"),
    # lesson 05: adding the L2 gradient
    (checks.add_l2_grad, l2_grad_variant(lambda p, lam: p.grad.__iadd__(lam * p.value)),
     "changed a bias's gradient"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.grad.__iadd__(p.value))),
     "lam is missing"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: setattr(p, "grad", lam * p.value))),
     "replaced the gradient"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.grad.__iadd__(2 * lam * p.value))),
     "added 2 \\* lam \\* W"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.grad.__iadd__(0.5 * lam * p.value))),
     "added 0.5 \\* lam \\* W"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.grad.__isub__(lam * p.value))),
     "sign is flipped"),
    (checks.add_l2_grad,
     l2_grad_variant(weights_only(lambda p, lam: p.grad.__iadd__(lam * np.sign(p.value)))), "L1"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.grad.__iadd__(lam * p.grad))),
     "lam \\* grad"),
    (checks.add_l2_grad, l2_grad_variant(weights_only(lambda p, lam: p.value.__isub__(lam * p.value))),
     "changed the parameters' values"),
    (checks.add_l2_grad, returns_new_gradients, "no gradient changed \\(it returned a list"),
    (checks.add_l2_grad, rebinds_a_local, "no gradient changed: add .* in place"),
]


@pytest.mark.parametrize("check, fn, message", WRONG, ids=[f"{c.__name__}:{m}" for c, _, m in WRONG])
def test_typical_mistakes_get_a_helpful_message(check, fn, message, capsys):
    assert_helpful_failure(check, fn, message, capsys)


def test_dropout_check_does_not_depend_on_nnlibs_random_draws(capsys):
    """A learner may draw the mask any correct way; only its statistics are checked."""

    def with_uniform_float32(x, p, rng, training):
        if not training or p == 0:
            return x, None
        mask = np.where(rng.uniform(size=x.shape) < 1 - p, 1 / (1 - p), 0).astype(x.dtype)
        return x * mask, mask

    checks.dropout_forward(with_uniform_float32)
    assert "✅" in capsys.readouterr().out


def test_numerical_gradient_check_leaves_inputs_untouched():
    with pytest.raises(CheckFailed, match="x was changed"):
        checks.numerical_gradient(never_restores)
    checks.numerical_gradient(central_difference)  # still passes afterwards: the cases are rebuilt


def one_by_one_float32_l2(params, lam):
    """The right answer, its float32 squares added one after the other: how np.vdot and np.dot add
    without a BLAS (the browser's NumPy), and how a learner's plain Python loop adds."""
    weights = [p.value for p in params if p.value.ndim == 2]
    return 0.5 * lam * sum(float(np.add.accumulate((w**2).ravel())[-1]) for w in weights)


def test_l2_check_accepts_float32_rounding_of_any_summation_order(capsys):
    # In the browser a correct l2_penalty failed (4.90307 against 4.90298): float32 sums of the
    # course network's 109,184 squares differ by ~2e-5 between summation orders.
    from nnlib.course.checks.core import _cases
    from nnlib.course.checks.lesson_05 import _l2_cases, summation_rtol

    _, params, lam = _l2_cases(_cases(51))[-1]  # the float32 course network
    weights = [p for p in params if p.value.ndim == 2]
    exact = 0.5 * lam * sum(float(np.sum(p.value.astype(np.float64) ** 2)) for p in weights)
    off = abs(one_by_one_float32_l2(params, lam) - exact) / exact
    assert off > 1e-5, "this summation order should show float32's rounding beyond the old rtol of 1e-5"
    assert off < summation_rtol(np.float32, sum(p.value.size for p in weights))
    checks.l2_penalty(one_by_one_float32_l2)
    assert "✅" in capsys.readouterr().out


def test_summation_tolerance_stays_far_below_the_typical_mistakes():
    from nnlib.course.checks.lesson_05 import summation_rtol

    assert summation_rtol(np.float64, 30) == 1e-5  # small float64 cases: the checkers' usual
    assert summation_rtol(np.float32, 109_184) < 1e-3  # biases included would be 2% off, no 0.5 100%


@pytest.mark.parametrize("fn, message", [
    (step_returning(lambda loss, logits: (str(loss), logits)), "one real number.*got str"),
    (step_never_fresh, "the gradients were never started fresh"),
], ids=["string loss", "never fresh"])
def test_train_step_mistakes_fail_in_grading_mode_too(fn, message, monkeypatch):
    """Issue 27: a loss returned as a string passed in class and in strict (grading) mode."""
    monkeypatch.setenv(checks.STRICT_VARIABLE, "1")
    with pytest.raises(CheckFailed, match=message):
        checks.train_step(fn)
