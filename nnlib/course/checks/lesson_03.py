"""Checkers of lesson 03: backward passes and the numerical gradient."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import numpy as np

from nnlib.course.checks.core import (
    CheckFailed,
    _as_result,
    _call_quietly,
    _cases,
    _expect_close,
    _expect_parts,
    _hint_matches,
    _matmul_shape_hints,
    _NotImplementedYet,
    checker,
    hint_scaled,
)
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.network import Sequential, mlp


def _expect_order(parts: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...], case: str) -> None:
    """Name a mix-up of the order of (dx, dW, db): the parts fit the expected shapes only when
    rearranged."""
    import itertools

    shapes = [part.shape for part in parts]
    wanted = [e.shape for e in expected]
    if shapes == wanted:
        return
    for order in itertools.permutations(range(len(parts))):
        if all(parts[i].shape == wanted[k] for k, i in enumerate(order)):
            got_names = ", ".join(("dx", "dW", "db")[i] for i in np.argsort(order))
            raise CheckFailed(f"{case}: your three arrays have the shapes of ({got_names}): return "
                              "(dx, dW, db) in this order")


@checker("linear_backward",
         lesson="03_backprop",
         points=2,
         references=("nnlib.layers:linear_backward", "nnlib.layers:Linear.backward"),
         piece="backward pass")
def linear_backward(fn: Callable) -> str:
    """Lesson 03: `linear_backward(dy (N, n_out), x (N, n_in), W (n_in, n_out)) -> (dx, dW, db)`."""
    from nnlib.layers import Linear

    rng = _cases(31)
    cases = [
        ("x (5, 4), W (4, 3)", 5, 4, 3, np.float64),
        ("a square W (4, 4)", 6, 4, 4, np.float64),
        ("a batch of 1", 1, 6, 2, np.float64),
        ("float32 x (16, 784), W (784, 128)", 16, 784, 128, np.float32),
    ]
    for case, batch, n_in, n_out, dtype in cases:
        case = f"on {case}"
        layer = Linear(n_in, n_out, rng, dtype=dtype)
        x = rng.standard_normal((batch, n_in)).astype(dtype)
        dy = rng.standard_normal((batch, n_out)).astype(dtype)
        W = layer.W.value
        layer.forward(x)
        expected = (layer.backward(dy), layer.W.grad.copy(), layer.b.grad.copy())
        got = _call_quietly(
            fn, dy, x, W,
            error_hints=_matmul_shape_hints("check each product's shapes: dx (N, n_in) = dy (N, n_out) "
                                            "times W transposed (n_out, n_in)"),
        )
        dx, dW, db = _expect_parts(got, 3, "(dx, dW, db)", case)
        dx, dW, db = (_as_result(part, f"{case}, {name}")
                      for part, name in zip((dx, dW, db), ("dx", "dW", "db"), strict=True))
        _expect_order((dx, dW, db), expected, case)
        if dW.shape == (n_out, n_in) and n_in != n_out:
            raise CheckFailed(f"{case}: dW has shape {dW.shape}, expected {W.shape} (the shape of W, as "
                              "every gradient has the shape of its parameter): did you compute dy^T x "
                              "instead of x^T dy?")
        if db.shape == (batch, n_out) and batch > 1:
            raise CheckFailed(f"{case}: db has shape {db.shape}, expected ({n_out},): b is added to every "
                              "row of the batch, so its gradient sums dy over the batch (axis 0)")
        if db.ndim == 0 or db.shape == (batch,) and batch != n_out:
            raise CheckFailed(f"{case}: db has shape {db.shape}, expected ({n_out},): sum dy over the batch "
                              "axis only (axis=0), one number per output")
        loose = dtype == np.float32
        tolerances = {"rtol": 1e-4 if loose else 1e-7, "atol": 1e-5 if loose else 1e-10}
        _expect_close(dx, expected[0], f"{case}, dx", **tolerances, hints=[
            _hint_matches(lambda dy=dy, W=W: dy @ W, "dx = dy W^T: you used W without transposing it"),
        ])
        _expect_close(dW, expected[1], f"{case}, dW", **tolerances, hints=[
            _hint_matches(lambda e=expected[1]: e.T,
                          "dW is transposed: it must have W's layout (n_in, n_out), i.e. x^T dy, not dy^T x"),
            hint_scaled(1 / batch, "dW was divided by the batch size; don't average: the 1/N of the mean "
                                   "loss is already inside dy"),
        ])
        _expect_close(db, expected[2], f"{case}, db", **tolerances, hints=[
            hint_scaled(1 / batch, "db was averaged over the batch; sum it instead: the 1/N of the mean loss "
                                   "is already inside dy"),
        ])
    return f"{len(cases)} cases, including a batch of 1, a square W and float32; matches nnlib.layers.Linear"


@checker("relu_backward",
         lesson="03_backprop",
         points=1,
         references=("nnlib.layers:relu_backward", "nnlib.layers:ReLU.backward"),
         piece="backward pass")
def relu_backward(fn: Callable) -> str:
    """Lesson 03: `relu_backward(dy, x) -> dx`, all `(batch, features)`: dy where x > 0, else 0."""
    from nnlib.layers import ReLU

    rng = _cases(32)
    with_zeros = rng.standard_normal((4, 6))
    with_zeros[:, ::2] = 0.0  # exactly at the kink: nnlib (and PyTorch) use the derivative 0 there
    cases = [
        ("x (4, 5)", rng.standard_normal((4, 5))),
        ("x with entries exactly 0", with_zeros),
        ("all-negative x (3, 3)", -rng.random((3, 3)) - 0.1),
        ("a batch of 1", rng.standard_normal((1, 7))),
        ("float32 x (8, 128)", rng.standard_normal((8, 128)).astype(np.float32)),
    ]
    for case, x in cases:
        case = f"on {case}"
        dy = rng.standard_normal(x.shape).astype(x.dtype)
        layer = ReLU()
        layer.forward(x)
        got = _as_result(_call_quietly(fn, dy, x), case)
        if got.dtype == bool:
            raise CheckFailed(f"{case}: you returned True/False (the test x > 0); multiply it with dy")
        _expect_close(got, layer.backward(dy), case, hints=[
            _hint_matches(lambda x=x: (x > 0).astype(x.dtype),
                          "you returned the local derivative (x > 0) alone; the chain rule multiplies it "
                          "with the upstream gradient dy"),
            _hint_matches(lambda x=x, dy=dy: dy * (x >= 0),
                          "at x == 0 the gradient should be 0 (nnlib and PyTorch use x > 0, not x >= 0)"),
            _hint_matches(lambda dy=dy: np.maximum(dy, 0),
                          "you applied ReLU to dy; whether the gradient passes depends on the input x"),
            _hint_matches(lambda x=x, dy=dy: dy * np.maximum(x, 0),
                          "you multiplied dy by relu(x); multiply by the derivative (1 where x > 0, else 0)"),
        ])
    return f"{len(cases)} cases, including x == 0, all-negative inputs and float32; matches nnlib.layers.ReLU"


@checker("softmax_cross_entropy_backward",
         lesson="03_backprop",
         points=2,
         references=("nnlib.losses:softmax_cross_entropy_backward",
                     "nnlib.losses:SoftmaxCrossEntropy.backward"),
         piece="backward pass",
         may_use=("softmax",))
def softmax_cross_entropy_backward(fn: Callable) -> str:
    """Lesson 03: `softmax_cross_entropy_backward(logits (batch, classes), labels (batch,))`
    -> dlogits `(batch, classes)`, the gradient of the mean cross-entropy: `(softmax - onehot) / batch`."""
    from nnlib.losses import SoftmaxCrossEntropy
    from nnlib.losses import softmax as reference_softmax

    rng = _cases(33)
    cases = [
        ("logits (4, 3)", rng.standard_normal((4, 3)), rng.integers(0, 3, 4)),
        ("logits (8, 10)", rng.standard_normal((8, 10)) * 2, rng.integers(0, 10, 8)),
        ("a batch of 1", rng.standard_normal((1, 10)), np.array([4])),
        ("large logits (around 1000)", rng.standard_normal((5, 10)) * 5 + 1000.0, rng.integers(0, 10, 5)),
        ("float32 logits (32, 10)", rng.standard_normal((32, 10)).astype(np.float32),
         rng.integers(0, 10, 32)),
    ]
    for case, z, labels in cases:
        case = f"on {case}"
        n = len(labels)
        loss = SoftmaxCrossEntropy()
        loss.forward(z, labels)
        expected = loss.backward()
        got = _as_result(_call_quietly(fn, z, labels), case)
        if got.shape == expected.shape and got.dtype.kind == "f" and not np.isfinite(got).all():
            raise CheckFailed(f"{case}: NaN or inf for large logits: exp overflowed; subtract each row's "
                              "maximum before exp (or use nnlib.losses.softmax)")
        if got.shape == expected.shape and got.dtype != expected.dtype and got.dtype.kind == "f":
            raise CheckFailed(f"{case}: expected dtype {expected.dtype} (like the logits), got {got.dtype}: "
                              "a one-hot made with np.eye or np.zeros is float64 unless you pass "
                              "dtype=logits.dtype")
        p = reference_softmax(z.astype(np.float64)).astype(z.dtype)
        onehot = np.eye(z.shape[1], dtype=z.dtype)[labels]
        columns = np.zeros_like(onehot)
        columns[:, labels] = 1  # Y[:, labels] = 1 marks whole columns, not one entry per row
        classes = z.shape[1]
        _expect_close(got, expected, case, rtol=1e-4 if z.dtype == np.float32 else 1e-6, atol=1e-7, hints=[
            hint_scaled(n, "missing 1/N: the loss is the mean over the batch, so each row's gradient is "
                           "divided by the batch size N"),
            hint_scaled(-1, "the sign is flipped: the gradient is (p - onehot) / N, not (onehot - p) / N"),
            _hint_matches(lambda p=p, columns=columns, n=n: (p - columns) / n,
                          "Y[:, labels] = 1 sets whole columns (every row gets a 1 in every label's column); "
                          "set one entry per row: Y[np.arange(N), labels] = 1"),
            _hint_matches(lambda p=p, onehot=onehot, classes=classes: (p - onehot) / classes,
                          "you divided by the number of classes C; divide by the batch size N = len(labels)"),
            _hint_matches(lambda p=p, n=n: p / n,
                          "you forgot to subtract the one-hot labels: (p - onehot) / N"),
            _hint_matches(lambda p=p: p, "you forgot to subtract the one-hot labels and to divide by N"),
            _hint_matches(lambda z=z, onehot=onehot, n=n: (reference_softmax(z.T).T - onehot) / n,
                          "softmax over the wrong axis: each row (one sample) must sum to 1, use axis=1"),
        ])
    return f"{len(cases)} cases, including large logits, a batch of 1 and float32; matches nnlib.losses"


@checker("numerical_gradient",
         lesson="03_backprop",
         points=2,
         references=("nnlib.gradcheck:numerical_gradient",))
def numerical_gradient(fn: Callable) -> str:
    """Lesson 03: `numerical_gradient(f, x, eps) -> (same shape as x)`, central differences of
    `f()` (no arguments; it reads `x`), perturbing `x` in place one entry at a time and restoring it."""
    from nnlib.gradcheck import numerical_gradient as reference

    if fn is reference or getattr(fn, "__module__", None) == reference.__module__:
        # 03 imports nnlib's after the exercise: re-running this check then would see nnlib's, not yours
        raise CheckFailed("this numerical_gradient is nnlib's (nnlib.gradcheck), which the cell `from "
                          "nnlib.gradcheck import numerical_gradient` further down imported, not yours: run "
                          "the cell with your def (exercise 3.4) again, then this check")
    rng = _cases(34)
    weights = rng.standard_normal((3, 4))
    matrix = rng.standard_normal((5, 6))
    cases = [
        ("f = sum(w * sin(x)), x (3, 4), eps 1e-3", rng.standard_normal((3, 4)),
         lambda x: float(np.sum(weights * np.sin(x))), 1e-3),
        ("f = sum((A x)^3), x (6,), eps 1e-2", rng.standard_normal(6),
         lambda x: float(np.sum((matrix @ x) ** 3)), 1e-2),
        ("f = x[0]^2, a single entry, eps 1e-4", np.array([1.5]), lambda x: float(x[0] ** 2), 1e-4),
    ]
    for case, x, formula, eps in cases:
        case = f"on {case}"
        original = x.copy()
        f = functools.partial(formula, x)  # f() reads x, which the learner's function perturbs in place
        try:
            got = fn(f, x, eps)  # not _call: f must see the very array the function perturbs
        except NotImplementedError:
            raise _NotImplementedYet from None
        except Exception as err:
            raise CheckFailed(f"{case}: your function raised {type(err).__name__}: {err}") from None
        if not np.allclose(x, original, rtol=1e-12, atol=1e-12):  # tolerate rounding of x + eps - eps
            raise CheckFailed(f"{case}: x was changed by your function: put each entry back to its original "
                              "value after evaluating f at x + eps and x - eps")
        got = _as_result(got, case)
        expected = reference(f, x, eps)
        forward = _one_sided(f, x, eps, +1)
        backward = _one_sided(f, x, eps, -1)
        _expect_close(got, expected, case, rtol=1e-6, atol=1e-8, check_dtype=False, hints=[
            _hint_matches(lambda forward=forward: forward,
                          "this is the one-sided difference (f(x + eps) - f(x)) / eps, whose error shrinks "
                          "only like eps; use the central difference (f(x + eps) - f(x - eps)) / (2 eps)"),
            _hint_matches(lambda backward=backward: backward,
                          "this is the one-sided difference (f(x) - f(x - eps)) / eps, whose error shrinks "
                          "only like eps; use the central difference (f(x + eps) - f(x - eps)) / (2 eps)"),
            hint_scaled(2, "divide by 2 eps: the two points x + eps and x - eps are 2 eps apart"),
            hint_scaled(0.5, "you divided by 4 eps; the two points x + eps and x - eps are 2 eps apart"),
            hint_scaled(-1, "the sign is flipped: f(x + eps) comes first, "
                            "(f(x + eps) - f(x - eps)) / (2 eps)"),
            _hint_all_zero_gradient,
            lambda got, expected: "perturb one entry at a time: every entry of the result must come from "
                                  "moving that entry alone" if got.size > 1 and np.allclose(got, got.flat[0])
            else None,
        ])
    return f"{len(cases)} functions, x restored each time; matches nnlib.gradcheck.numerical_gradient"


def _hint_all_zero_gradient(got: np.ndarray, expected: np.ndarray) -> str | None:
    """Nudging a copy of x (x.copy(), x.flatten(), np.array(x)) leaves f() unchanged: all zeros."""
    if np.all(got == 0) and not np.allclose(expected, 0):
        return ("your gradient is all zeros, so f() never saw the nudged values: f reads x itself, so "
                "change x in place (x[i] = old + eps), not a copy of it (x.copy(), x.flatten() and "
                "np.array(x) make copies)")
    return None


def _one_sided(f: Callable[[], float], x: np.ndarray, eps: float, direction: int) -> np.ndarray:
    """The one-sided difference a learner may write by mistake (for a hint); restores x."""
    base = f()
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(x.size):
        original = flat_x[i]
        flat_x[i] = original + direction * eps
        flat_grad[i] = direction * (f() - base) / eps
        flat_x[i] = original
    return grad



@checker("train_step",
         lesson="03_backprop",
         points=1,
         references=("nnlib.train:train_step", "nnlib.train:fit"),
         piece="training step")
def train_step(fn: Callable) -> str:
    """Lesson 03: `train_step(model, loss_fn, xb (N, features), yb (N,), lr) -> (loss, logits)`:
    one step of plain SGD (forward in training mode, loss, backward, `value -= lr * grad`).

    Each case runs two steps in a row on the same network, whose `.grad` starts with leftover
    values (as after an earlier step): a step must use the gradient its own backward pass wrote."""
    from nnlib.train import train_step as reference_train_step

    rng = _cases(35)
    cases = [
        ("a network 6-5-3, a batch of 4, lr 0.1", (6, 5, 3), 0.0, 4, 0.1, np.float64),
        ("a network 8-7-6-4, dropout 0.5, a batch of 5, lr 0.5", (8, 7, 6, 4), 0.5, 5, 0.5, np.float64),
        ("a batch of 1, lr 0.01", (6, 5, 3), 0.0, 1, 0.01, np.float64),
        ("float32, a network 784-16-10, a batch of 8, lr 0.1", (784, 16, 10), 0.0, 8, 0.1, np.float32),
    ]
    for case, sizes, p, batch, lr, dtype in cases:
        model = mlp(sizes, dropout=p, rng=np.random.default_rng(int(rng.integers(2**32))), dtype=dtype)
        for parameter in model.parameters():  # what an earlier step left in .grad
            parameter.grad = rng.standard_normal(parameter.grad.shape).astype(dtype)
        expected = copy.deepcopy(model)
        for step in (1, 2):
            xb = rng.standard_normal((batch, sizes[0])).astype(dtype)
            yb = rng.integers(0, sizes[-1], batch)
            where = f"on {case}" if step == 1 else f"on {case}, a second step"
            _check_one_step(fn, model, expected, xb, yb, lr, p, where, reference_train_step)
    return (f"{len(cases)} cases of two steps each, including dropout, a batch of 1, float32 and leftover "
            "gradients; matches fit's forward, loss, backward and SGD update")


def _check_one_step(fn: Callable, model: Sequential, expected: Sequential, xb: np.ndarray, yb: np.ndarray,
                    lr: float, p: float, case: str, reference_train_step: Callable) -> None:
    """One call of the learner's step on `model`, compared with the reference step on `expected` (the same
    weights, dropout masks to come and leftover gradients); `expected` takes the reference step."""
    from nnlib.losses import softmax as reference_softmax

    before = copy.deepcopy(model)  # the same weights, masks to come and leftover .grad
    leftover = [parameter.grad.copy() for parameter in model.parameters()]
    expected_loss, expected_logits = reference_train_step(expected, SoftmaxCrossEntropy(), xb, yb.copy(), lr)
    got = _call_quietly(fn, model, SoftmaxCrossEntropy(), xb, yb, lr)  # a changed xb or yb is named
    loss, logits = _expect_step_result(got, expected_logits, case)
    tolerances = _tolerances(xb.dtype.type)
    _expect_close(logits, expected_logits, f"{case}, the logits you returned", **tolerances, hints=[
        _hint_matches(lambda z=expected_logits: reference_softmax(z),
                      "you returned probabilities; return the logits, the network's output"),
        _hint_matches(lambda: copy.deepcopy(before).forward(xb), _EVAL_MODE),
        _hint_matches(lambda: copy.deepcopy(expected).forward(xb, training=True), _AFTER_UPDATE),
        _hint_matches(lambda: copy.deepcopy(expected).forward(xb), _AFTER_UPDATE),
    ], nan_cause="the logits of a network with finite weights and inputs are finite: return the forward "
                 "pass's output")
    eval_mode = None
    if p > 0:  # what the step leaves when its forward pass runs in evaluation mode (no dropout)
        eval_mode = copy.deepcopy(before)
        _step_in_eval_mode(eval_mode, SoftmaxCrossEntropy(), xb, yb, lr)
    _expect_updated(model, before, expected, eval_mode, leftover, lr, case, tolerances)
    _expect_close(np.float64(loss), np.float64(expected_loss), f"{case}, the loss you returned",
                  check_dtype=False, **tolerances, hints=[
        hint_scaled(len(xb), "the loss is the batch's mean (loss_fn.forward returns it), not the sum"),
    ])


_AFTER_UPDATE = ("the logits you returned come from after the update (a second forward pass): return the "
                 "logits of the forward pass the loss was computed from, before the update")
_EVAL_MODE = ("the forward pass ran in evaluation mode: call model.forward(xb, training=True), so that "
              "dropout is on while training")


def _tolerances(dtype: type) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-7, "atol": 1e-10}


def _expect_step_result(got: object, expected_logits: np.ndarray, case: str) -> tuple[object, np.ndarray]:
    """`(loss, logits)` from the learner's result, or a clear `CheckFailed`."""
    loss, logits = _expect_parts(got, 2, "(loss, logits)", case)
    if np.ndim(loss) == 2 and np.ndim(logits) == 0:
        raise CheckFailed(f"{case}: you returned (logits, loss); return (loss, logits) in this order")
    if np.ndim(loss) != 0 or not np.isscalar(np.asarray(loss).item()):
        raise CheckFailed(f"{case}: the loss must be one number (loss_fn.forward returns it), "
                          f"got {type(loss).__name__} of shape {np.shape(loss)}")
    if isinstance(loss, bool | str | bytes) or np.asarray(loss).dtype.kind not in "fiu":
        raise CheckFailed(f"{case}: the loss must be one real number (loss_fn.forward returns it), got "
                          f"{type(loss).__name__} {loss!r}: return it as it is, not converted")
    if not isinstance(logits, np.ndarray):
        raise CheckFailed(f"{case}: expected the logits as a NumPy array {expected_logits.shape}, "
                          f"got {type(logits).__name__}")
    return loss, logits


def _step_in_eval_mode(model: Sequential, loss_fn: SoftmaxCrossEntropy, xb: np.ndarray, yb: np.ndarray,
                       lr: float) -> None:
    """The reference step with the forward pass in evaluation mode (a known mistake)."""
    loss_fn.forward(model.forward(xb), yb)
    model.backward(loss_fn.backward())
    for parameter in model.parameters():
        parameter.value -= lr * parameter.grad


def _expect_updated(model: Sequential, before: Sequential, expected: Sequential, eval_mode: Sequential | None,
                    leftover: list[np.ndarray], lr: float, case: str, tolerances: dict[str, float]) -> None:
    """Compare every parameter after the learner's step with the reference step's, naming a
    recognisable mistake (no update, some parameters left out, uphill, lr left out, twice the step,
    gradients added to the `leftover` ones, eval mode)."""
    got = [p.value for p in model.parameters()]
    old = [p.value for p in before.parameters()]
    wanted = [p.value for p in expected.parameters()]
    grads = [p.grad for p in expected.parameters()]
    names = [p.name for p in expected.parameters()]

    def all_close(values: list[np.ndarray]) -> bool:
        return all(np.allclose(a, b, **tolerances) for a, b in zip(got, values, strict=True))

    if all_close(wanted):
        return
    unchanged = [name for name, a, b in zip(names, got, old, strict=True) if np.array_equal(a, b)]
    if len(unchanged) == len(names):
        raise CheckFailed(f"{case}: no parameter changed: after the backward pass has filled every .grad, "
                          "update each parameter of model.parameters(): value -= lr * grad")
    if unchanged:
        only_biases = all(p.value.ndim == 1 for p in expected.parameters() if p.name in unchanged)
        raise CheckFailed(f"{case}: {', '.join(unchanged)} kept their values: update every parameter of "
                          f"model.parameters(){', the biases too' if only_biases else ''}")
    hints = [
        ([o + lr * g for o, g in zip(old, grads, strict=True)],
         "you stepped uphill: subtract lr * grad, the gradient points towards a larger loss"),
        ([o - g for o, g in zip(old, grads, strict=True)] if lr != 1 else None,
         "the step ignores the learning rate: value -= lr * grad"),
        ([o - 2 * lr * g for o, g in zip(old, grads, strict=True)],
         "each parameter moved twice the step, 2 * lr * grad: the update ran twice; subtract lr * grad once "
         "per parameter"),
        ([o - lr * (g + left) for o, g, left in zip(old, grads, leftover, strict=True)],
         "the gradients were never started fresh: your update used this batch's gradient plus what .grad "
         "held before the step (an earlier batch's); use the gradient the backward pass writes, which "
         "replaces the old one, instead of adding to it"),
        ([p.value for p in eval_mode.parameters()] if eval_mode is not None else None,
          _EVAL_MODE),
    ]
    for values, message in hints:
        if values is not None and all_close(values):
            raise CheckFailed(f"{case}: {message}")
    for name, a, b in zip(names, got, wanted, strict=True):
        _expect_close(a, b, f"{case}, {name} after your step", **tolerances)
