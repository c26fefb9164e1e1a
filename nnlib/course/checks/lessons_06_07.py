"""Checkers of lessons 06 and 07: optimizers, schedules and the evaluation of results."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlib.course.checks import grading
from nnlib.course.checks.core import (
    CheckFailed,
    Hint,
    _call,
    _call_quietly,
    _cases,
    _expect_close,
    checker,
    hint_scaled,
)


def _hint_variant(variant: np.ndarray, cause: str) -> Hint:
    """A hint that fires when the learner's result equals a known wrong `variant`."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        variant_array = np.asarray(variant)
        if got.shape == variant_array.shape and np.allclose(got, variant_array, rtol=1e-6, atol=1e-10):
            return cause
        return None

    return hint


def _unpack_tuple(result: Any, names: Sequence[str], case: str) -> tuple:
    """Check that the learner returned a tuple of `len(names)` items and return it."""
    wanted = f"a tuple ({', '.join(names)})"
    if result is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return {', '.join(names)}`?")
    if not isinstance(result, tuple | list) or len(result) != len(names):
        got = f"{type(result).__name__} of length {len(result)}" if isinstance(result, tuple | list) else (
            type(result).__name__)
        raise CheckFailed(f"{case}: expected {wanted}, got {got}")
    return tuple(result)


def _expect_not_reordered(got: tuple, expected: tuple, names: Sequence[str], case: str) -> None:
    """Fail with an "order" hint when the learner returned the right arrays in another order,
    e.g. (v, w) instead of (w, v)."""
    import itertools

    def same(a: Any, b: np.ndarray) -> bool:
        a = np.asarray(a) if isinstance(a, np.ndarray | np.generic | float | int) else None
        return a is not None and a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-6)

    if all(same(a, b) for a, b in zip(got, expected, strict=True)):
        return
    for order in itertools.permutations(range(len(expected))):
        if list(order) != list(range(len(expected))) and all(
            same(got[i], expected[j]) for i, j in enumerate(order)
        ):
            kind = "pair" if len(names) == 2 else "values"
            raise CheckFailed(f"{case}: the right arrays in the wrong order; check the order of the "
                              f"returned {kind}: return ({', '.join(names)})")


def _expect_finite_result(got: Any, case: str, cause: str) -> None:
    if isinstance(got, np.ndarray) and got.dtype.kind == "f" and not np.isfinite(got).all():
        bad = int(np.count_nonzero(~np.isfinite(got)))
        raise CheckFailed(f"{case}: {bad} entries are NaN or infinite; {cause}")


def _momentum_reference(w, g, v, lr, momentum):
    """nnlib's SGD with momentum, one step from velocity `v`: returns (w, v)."""
    from nnlib.layers import Parameter
    from nnlib.optim import SGD

    param = Parameter(w)
    optimizer = SGD([param], lr=lr, momentum=momentum)
    if optimizer.velocity is not None:  # plain SGD (momentum 0) keeps no velocity
        optimizer.velocity[...] = v.reshape(-1)
    param.grad = g
    optimizer.step()
    new_v = g.copy() if optimizer.velocity is None else optimizer.velocity.reshape(w.shape).copy()
    return param.value.copy(), new_v


@checker("sgd_momentum_step",
         lesson="06_optimizers",
         points=1,
         references=("nnlib.optim:sgd_momentum_step", "nnlib.optim:SGD._update"),
         piece="training step")
def sgd_momentum_step(fn: Callable) -> str:
    """Exercise 6.1: `sgd_momentum_step(w, g, v, lr, momentum) -> (w, v)`."""
    rng = _cases(61)
    cases = [
        ("first step (v = 0), shape (4,)", (4,), np.float64, 0.05, 0.9, False),
        ("a later step (v != 0), shape (3, 5)", (3, 5), np.float64, 0.1, 0.9, True),
        ("momentum 0 (plain SGD), shape (6,)", (6,), np.float64, 0.3, 0.0, True),
        ("float32 parameters, shape (2, 3)", (2, 3), np.float32, 0.01, 0.8, True),
    ]
    for case, shape, dtype, lr, mu, moving in cases:
        w = rng.standard_normal(shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        v = (rng.standard_normal(shape) if moving else np.zeros(shape)).astype(dtype)
        new_w, new_v = _unpack_tuple(_call(fn, w, g, v, lr, mu), ("w", "v"), case)
        expected_w, expected_v = _momentum_reference(w, g, v, lr, mu)
        case = f"{case}, lr={lr}, momentum={mu}"
        _expect_not_reordered((new_w, new_v), (expected_w, expected_v), ("w", "v"), case)
        tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {}
        v_hints = [
            _hint_variant(mu * v + lr * g, "the new v is momentum*v + lr*g: that is another textbook form; "
                          "nnlib and PyTorch use v = momentum*v + g and put lr into the w update "
                          "(the two agree only while lr never changes, e.g. not with a schedule)"),
            _hint_variant(v, "v came back unchanged: return the updated velocity"),
            _hint_variant(mu * v - g, "sign error in v: the velocity adds the gradient (v = momentum*v + g)"),
            _hint_variant(g, "the new v ignores the old velocity: keep momentum times the old v"),
            _hint_variant((1 - mu) * g + mu * v, "v = momentum*v + (1-momentum)*g is Adam's running mean; "
                          "SGD momentum adds the full gradient: v = momentum*v + g"),
        ]
        _expect_close(new_v, expected_v, f"{case}: v", hints=v_hints, **tol)
        w_hints = [
            _hint_variant(w + lr * expected_v, "w moved uphill: subtract lr*v"),
            _hint_variant(w - lr * v, "w moved with the old velocity: update v first, then w with the new v"),
            _hint_variant(w - lr * g, "w moved by the gradient alone: use the velocity, w = w - lr*v"),
            _hint_variant(w - expected_v, "w = w - v forgets the learning rate: w = w - lr*v"),
        ]
        _expect_close(new_w, expected_w, f"{case}: w", hints=w_hints, **tol)
    return "first step, later steps, momentum 0, float32; matches nnlib.optim.SGD"


def _adam_reference(w, g, m, v, t, lr, beta1, beta2, eps):
    """nnlib's Adam, step number `t` from moments `m`, `v`: returns (w, m, v)."""
    from nnlib.layers import Parameter
    from nnlib.optim import Adam

    param = Parameter(w)
    optimizer = Adam([param], lr=lr, betas=(beta1, beta2), eps=eps)
    optimizer.m[...] = m.reshape(-1)
    optimizer.v[...] = v.reshape(-1)
    optimizer.steps = t - 1  # step() counts this step as number t
    param.grad = g
    optimizer.step()
    return param.value.copy(), optimizer.m.reshape(w.shape).copy(), optimizer.v.reshape(w.shape).copy()


def _adam_moment_hints(m, v, g, new_m, new_v, t, beta1, beta2) -> tuple[list[Hint], list[Hint]]:
    """Known wrong first and second moments, with what each one means."""
    raw = "(the correction is only used inside the w update)"
    m_hints = [
        _hint_variant(new_m / (1 - beta1**t),
                      f"you returned the bias-corrected m_hat; return the raw m {raw}"),
        _hint_variant(m, "m came back unchanged: return the updated first moment"),
        _hint_variant(beta1 * m + g, "m = beta1*m + g lacks the factor (1 - beta1) on g"),
    ]
    v_hints = [
        _hint_variant(new_v / (1 - beta2**t),
                      f"you returned the bias-corrected v_hat; return the raw v {raw}"),
        _hint_variant(v, "v came back unchanged: return the updated second moment"),
        _hint_variant(beta2 * v + (1 - beta2) * g, "v must average the squared gradient: g**2, not g"),
        _hint_variant(beta2 * v + (1 - beta2) * np.abs(g),
                      "v must average the squared gradient: g**2, not |g|"),
        _hint_variant(beta2 * v + g**2, "v = beta2*v + g**2 lacks the factor (1 - beta2)"),
    ]
    return m_hints, v_hints


def _adam_w_hints(w, g, new_m, new_v, t, lr, beta1, beta2, eps) -> list[Hint]:
    """Known wrong parameter updates (bias correction, eps, sign), with what each one means."""
    correct1, correct2 = 1 - beta1**t, 1 - beta2**t
    m_hat, v_hat = new_m / correct1, new_v / correct2
    if t > 1:
        shifted = w - lr * new_m / (1 - beta1 ** (t - 1)) / (np.sqrt(new_v / (1 - beta2 ** (t - 1))) + eps)
    else:
        shifted = np.full(w.shape, np.nan)  # t - 1 = 0 divides by zero: caught as NaN before the hints
    return [
        _hint_variant(w - lr * new_m / (np.sqrt(new_v) + eps),
                      "no bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t) before the "
                      "update; without it the first steps are several times too large"),
        _hint_variant(w - lr * m_hat / (np.sqrt(new_v) + eps),
                      "only m is bias-corrected: v needs its correction too, v_hat = v / (1 - beta2**t)"),
        _hint_variant(w - lr * m_hat / (np.sqrt(new_v / correct1) + eps),
                      "v is corrected with beta1; use v / (1 - beta2**t)"),
        _hint_variant(shifted, "the bias correction uses t - 1: t counts the steps from 1, so the first "
                      "step divides by 1 - beta**1"),
        _hint_variant(w - lr * (new_m / (1 - beta1 ** (t + 1)))
                      / (np.sqrt(new_v / (1 - beta2 ** (t + 1))) + eps),
                      "the bias correction uses t + 1: t is 1 on the first step already (the caller "
                      "counts from 1), so use 1 - beta**t with t as given"),
        _hint_variant(w - lr * m_hat / np.sqrt(v_hat + eps),
                      "eps is inside the square root: the denominator is sqrt(v_hat) + eps"),
        _hint_variant(w - lr * m_hat / ((np.sqrt(new_v) + eps) / np.sqrt(correct2)),
                      "eps is added before v's bias correction: use sqrt(v_hat) + eps with "
                      "v_hat = v / (1 - beta2**t)"),
        _hint_variant(w - lr * m_hat / np.sqrt(v_hat),
                      "eps is missing: the denominator is sqrt(v_hat) + eps"),
        _hint_variant(w + lr * m_hat / (np.sqrt(v_hat) + eps), "w moved uphill: subtract the step"),
        _hint_variant(w - lr * m_hat / (v_hat + eps), "the denominator needs the square root of v_hat"),
        _hint_variant(w - lr * g, "w moved by lr*g: Adam's step is lr * m_hat / (sqrt(v_hat) + eps)"),
    ]


@checker("adam_step", lesson="06_optimizers", points=2,
         references=("nnlib.optim:adam_step", "nnlib.optim:Adam._update"),
         piece="training step")
def adam_step(fn: Callable) -> str:
    """Exercise 6.2: `adam_step(w, g, m, v, t, lr, beta1, beta2, eps) -> (w, m, v)`."""
    rng = _cases(62)
    cases = [
        # case, shape, dtype, t, lr, eps, gradient scale, moments start at zero
        ("first step (t = 1, m = v = 0), shape (5,)", (5,), np.float64, 1, 0.01, 1e-8, 1.0, True),
        ("step t = 7 with running moments, shape (3, 4)", (3, 4), np.float64, 7, 0.05, 1e-8, 1.0, False),
        ("tiny gradients and eps = 1e-3, t = 3, shape (6,)", (6,), np.float64, 3, 0.1, 1e-3, 1e-3, False),
        ("zero gradient at t = 1, shape (1,)", (1,), np.float64, 1, 0.01, 1e-8, 0.0, True),
        ("float32 parameters, t = 2, shape (2, 2)", (2, 2), np.float32, 2, 0.01, 1e-8, 1.0, False),
    ]
    beta1, beta2 = 0.9, 0.999
    nan_cause = ("does your bias correction use t - 1? At the first step t = 1 (1 - beta**0 = 0 divides "
                 "by zero); and is eps added to the denominator?")
    for case, shape, dtype, t, lr, eps, scale, fresh in cases:
        w = rng.standard_normal(shape).astype(dtype)
        g = (scale * rng.standard_normal(shape)).astype(dtype)
        if fresh:
            m, v = np.zeros(shape, dtype), np.zeros(shape, dtype)
        else:
            m = (0.5 * scale * rng.standard_normal(shape)).astype(dtype)
            v = (scale**2 * rng.uniform(0.2, 2.0, shape)).astype(dtype)
        result = _call_quietly(fn, w, g, m, v, t, lr, beta1, beta2, eps)  # NaN is reported below
        new_w, new_m, new_v = _unpack_tuple(result, ("w", "m", "v"), case)
        expected_w, expected_m, expected_v = _adam_reference(w, g, m, v, t, lr, beta1, beta2, eps)
        case = f"{case}, lr={lr}, eps={eps:g}"
        _expect_not_reordered((new_w, new_m, new_v), (expected_w, expected_m, expected_v), ("w", "m", "v"),
                              case)
        tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {}
        with np.errstate(divide="ignore", invalid="ignore"):  # some wrong variants divide by zero
            m_hints, v_hints = _adam_moment_hints(m, v, g, expected_m, expected_v, t, beta1, beta2)
            w_hints = _adam_w_hints(w, g, expected_m, expected_v, t, lr, beta1, beta2, eps)
        _expect_close(new_m, expected_m, f"{case}: m", hints=m_hints, **tol)
        _expect_close(new_v, expected_v, f"{case}: v", hints=v_hints, **tol)
        _expect_finite_result(new_w, f"{case}: w", nan_cause)
        _expect_close(new_w, expected_w, f"{case}: w", hints=w_hints, **tol)
    return "first step, running moments, tiny gradients, zero gradient, float32; matches nnlib.optim.Adam"


@checker("cosine_lr",
         lesson="06_optimizers",
         points=1,
         references=("nnlib.optim:cosine_lr", "nnlib.optim:cosine_schedule"),
         piece="training step")
def cosine_lr(fn: Callable) -> str:
    """Exercise 6.3: `cosine_lr(step, total, lr) -> float`, half a cosine from lr to 0."""
    from nnlib.optim import cosine_schedule

    schedules: tuple[tuple[int, float], ...] = ((100, 0.1), (7, 3.0), (1000, 1e-3))
    if grading.seed_offset():  # a hidden round: other schedules, so a table of the visible values fails
        rng = _cases(63)
        schedules = tuple((int(rng.integers(5, 2000)), float(rng.uniform(1e-3, 2.0))) for _ in range(3))
    for total, lr in schedules:
        steps = sorted({0, 1, total // 4, total // 3, total // 2, total - 1, total, total + 1, 2 * total})
        got = []
        for step in steps:
            case = f"step {step} of {total}"
            value = _call_quietly(fn, step, total, lr)
            if value is None:
                raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
            if isinstance(value, complex | np.complexfloating):
                raise CheckFailed(f"{case}: your result is complex ({value!r}); expected a real number")
            if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool):
                if not (isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf"):
                    raise CheckFailed(f"{case}: expected one number, got {type(value).__name__} "
                                      f"{value!r:.40}")
            got.append(float(np.asarray(value).reshape(())))
        got_array, steps_array = np.array(got), np.array(steps, dtype=float)
        expected = np.array([cosine_schedule(lr, total)(s) for s in steps])
        clamped = np.minimum(steps_array, total)
        case = f"total={total}, lr={lr}, steps {steps}"
        inside = steps_array <= total
        if not np.allclose(got_array, expected, rtol=1e-6, atol=1e-12) and np.allclose(
            got_array[inside], expected[inside], rtol=1e-6, atol=1e-12
        ):
            raise CheckFailed(f"{case}: right up to step {total}, wrong after it: past the end the learning "
                              "rate should stay at 0 (use min(step, total))")
        hints = [
            hint_scaled(2.0, "the cosine term needs the factor 1/2 (it starts at lr, not 2*lr)"),
            _hint_variant(lr * np.cos(np.pi * clamped / total), "lr * cos(...) goes negative: use "
                          "lr * (1 + cos(pi * step / total)) / 2"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.pi * clamped)),
                          "divide the step by total inside the cosine"),
            _hint_variant(lr * 0.5 * (1 + np.cos(2 * np.pi * clamped / total)),
                          "2*pi makes a full cosine that climbs back to lr; half a cosine (pi) ends at 0"),
            _hint_variant(lr * 0.5 * (1 - np.cos(np.pi * clamped / total)),
                          "the schedule runs backwards (0 up to lr): use 1 + cos, not 1 - cos"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.pi * np.minimum(steps_array, total - 1) / (total - 1))),
                          "off by one: you divide by total - 1; the schedule reaches 0 at step total, so "
                          "divide the step by total"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.pi * np.minimum(steps_array + 1, total) / total)),
                          "off by one: you use step + 1; step 0 must give the full lr"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.pi * (clamped // total))),
                          "integer division: step // total is 0 until the very end; use step / total"),
            _hint_variant(lr * 0.5 * (1 + np.cos(180.0 * clamped / total)),
                          "np.cos takes radians: half a turn is np.pi, not 180 (degrees)"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.radians(np.pi * clamped / total))),
                          "np.radians converts degrees to radians, but pi * step / total is already in "
                          "radians: leave np.radians out"),
            functools.partial(_first_wrong_step, steps=steps),
        ]
        _expect_close(got_array, expected, case, hints=hints, rtol=1e-6, atol=1e-12, check_dtype=False)
    return "start, middle, end and past the end of three schedules; matches nnlib.optim.cosine_schedule"


def _first_wrong_step(got: np.ndarray, expected: np.ndarray, steps: Sequence[int]) -> str:
    """Name the first wrong step by its number (not by its position in the list of steps)."""
    wrong = ~np.isclose(got, expected, rtol=1e-6, atol=1e-12)
    first = int(np.argmax(wrong))
    return (f"{int(wrong.sum())} of the {len(steps)} steps checked are wrong; the first is step "
            f"{steps[first]}: got {got[first]:.6g}, expected {expected[first]:.6g}")


@checker("accuracy", lesson="07_results", points=1)
def accuracy(fn: Callable) -> str:
    """Exercise 7.1: `accuracy(probs, labels) -> float`, the fraction of correct predictions."""
    rng = _cases(71)
    for n in (37, 10, 1):
        probs = rng.dirichlet(np.ones(10), size=n).astype(np.float32)
        labels = rng.integers(0, 10, n)
        labels[: 2 * n // 3] = probs[: 2 * n // 3].argmax(axis=1)  # about two thirds right: a rounded
        # accuracy (1.0) then differs from the one of comparing probs.max with the labels (0.0)
        # Row 0 holds the largest probability of all, at class 3, and some label is 3: then
        # probs.argmax() without axis (flat index 3) and probs.max(axis=1) give different wrong answers.
        probs[0] = 0.01 / 9
        probs[0, 3] = 0.99
        labels[-1] = 3
        case = f"{n} examples" if n > 1 else "a single example"
        axis_hint = ("take the argmax over axis=1 (the classes of each example); axis=0 gives one "
                     "index per class, not one per example")
        got = _call_quietly(fn, probs, labels, error_hints={"could not be broadcast": axis_hint})
        max_variant = np.float64(np.mean(probs.max(axis=1) == labels))
        flat_variant = np.float64(np.mean(probs.argmax() == labels))
        if isinstance(got, np.ndarray) and got.ndim > 0:
            raise CheckFailed(f"{case}: expected one number, got an array of shape {got.shape}; "
                              "average the correct/incorrect array (e.g. .mean())")
        expected = float(np.mean(probs.argmax(axis=1) == labels))
        # A rounded accuracy (not one that another mistake also gives: those hints say more).
        rounded = [np.float64(round(expected, digits)) for digits in range(4)
                   if round(expected, digits) not in (expected, max_variant, flat_variant)]
        hints = [
            *(_hint_variant(value, "you rounded the accuracy; return it as it is (round only when you print "
                                   "it, e.g. f\"{acc:.2%}\")") for value in rounded),
            hint_scaled(100.0, "that is a percentage; return a fraction between 0 and 1"),
            _hint_variant(np.float64(1 - expected), "that is the error rate (wrong predictions); count the "
                          "correct ones"),
            _hint_variant(np.float64(np.mean(probs.argmax(axis=0) == labels) if n == 10 else np.nan),
                          "argmax over axis 0 picks an example per class; the prediction is the argmax "
                          "of each row (axis=1)"),
            _hint_variant(np.float64(np.sum(probs.argmax(axis=1) == labels)), "that is the number of correct "
                          "predictions; divide by the number of examples"),
            _hint_variant(max_variant, "you compared the largest probabilities (max) with the labels; the "
                          "prediction is the class with the largest probability, probs.argmax(axis=1)"
                          if max_variant != flat_variant else
                          "the prediction is the class index of each row's largest probability, "
                          "probs.argmax(axis=1): not probs.max(axis=1) (a probability) nor probs.argmax() "
                          "without axis (one flat index)"),
            _hint_variant(flat_variant, "argmax without axis= searches the whole array and returns one flat "
                          "index; use axis=1 (the classes of each example)"),
        ]
        _expect_close(got, np.float64(expected), case, hints=hints, check_dtype=False)
    return "37 examples, 10 examples (square probs), a single example"


@checker("confusion_matrix",
         lesson="07_results",
         points=1,
         references=("nnlib.course.plots:confusion_matrix", "sklearn.metrics:confusion_matrix"))
def confusion_matrix(fn: Callable) -> str:
    """Exercise 7.2: `confusion_matrix(pred, labels, classes) -> (classes, classes)` counts."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    rng = _cases(72)
    cases = [
        ("200 examples, 10 classes", 200, 10, 10),
        ("50 examples, 4 classes", 50, 4, 4),
        ("classes 7, 8, 9 never occur", 60, 10, 7),
        ("a single example", 1, 10, 10),
    ]
    for case, n, classes, occurring in cases:
        labels = rng.integers(0, occurring, n)
        pred = np.where(rng.random(n) < 0.7, labels, rng.integers(0, occurring, n))
        expected = sklearn_confusion_matrix(labels, pred, labels=np.arange(classes))
        got = _call(fn, pred, labels, classes)
        if isinstance(got, np.ndarray) and got.shape != expected.shape and got.ndim == 2:
            raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}; size the matrix "
                              "by `classes`, not by the labels that happen to occur")
        rows = expected.sum(axis=1, keepdims=True)
        hints = [
            _hint_variant(expected.T, "rows and columns are swapped: each row is a true label, each column "
                          "a predicted label"),
            _hint_variant(expected / np.maximum(rows, 1), "those are rates (rows sum to 1); count examples "
                          "instead"),
            _hint_variant(expected / n, "those are fractions of all examples; count examples instead"),
            _hint_variant((expected > 0).astype(expected.dtype),
                          "every cell is 0 or 1: with fancy indexing, matrix[labels, pred] += 1 counts "
                          "repeated index pairs once; use np.add.at or a loop"),
        ]
        _expect_close(got, expected, case, hints=hints, check_dtype=False)
        if not np.issubdtype(np.asarray(got).dtype, np.integer):  # as lesson 00's count_labels
            raise CheckFailed(f"{case}: counts should be integers, got dtype {np.asarray(got).dtype}; start "
                              "from np.zeros((classes, classes), dtype=np.int64)")
    return "10 and 4 classes, classes that never occur, a single example; matches sklearn.metrics"


@checker("top_confident_mistakes",
         lesson="07_results",
         points=1,
         references=("nnlib.course.plots:most_confident_mistakes",))
def top_confident_mistakes(fn: Callable) -> str:
    """Exercise 7.3: `top_confident_mistakes(probs, labels, k) -> indices (<= k,)`."""
    from nnlib.course.plots import most_confident_mistakes

    rng = _cases(73)
    cases = [("100 examples, k = 5", 100, 5, 0.6), ("30 examples, only 3 mistakes, k = 10", 30, 10, None),
             ("20 examples, no mistakes, k = 4", 20, 4, 1.0)]
    for case, n, k, right in cases:
        probs = rng.dirichlet(np.full(10, 0.3), size=n)
        predicted = probs.argmax(axis=1)
        if right is None:
            right_mask = np.ones(n, bool)
            right_mask[rng.choice(n, 3, replace=False)] = False
        else:
            right_mask = rng.random(n) < right
        labels = np.where(right_mask, predicted, (predicted + rng.integers(1, 10, n)) % 10)
        expected = most_confident_mistakes(probs, labels, k)
        got = _call(fn, probs, labels, k)
        if isinstance(got, list | tuple):
            got = np.asarray(got)
        if isinstance(got, np.ndarray) and got.size and got.dtype.kind not in "iu":
            raise CheckFailed(f"{case}: expected integer indices, got dtype {got.dtype}: indices count "
                              "examples; np.argsort and np.flatnonzero give integers, keep them so (no float "
                              "arithmetic "
                              "or np.zeros without dtype=int)")
        mistakes = np.flatnonzero(predicted != labels)
        positions = np.argsort(-probs[mistakes].max(axis=1), kind="stable")[:k]
        if (isinstance(got, np.ndarray) and got.shape == positions.shape and got.size
                and np.array_equal(got, positions) and not np.array_equal(got, expected)):
            raise CheckFailed(f"{case}: these are positions in your list of mistakes, not test indices; "
                              "index that list with them (e.g. wrong[order]) to get the examples' indices")
        if isinstance(got, np.ndarray) and got.ndim == 1 and got.size:
            correct = [int(i) for i in got if 0 <= i < n and predicted[i] == labels[i]]
            if correct:
                raise CheckFailed(f"{case}: example {correct[0]} is classified correctly; keep only the "
                                  "mistakes (argmax of probs != label)")
        if isinstance(got, np.ndarray) and got.shape != expected.shape and len(mistakes) < k:
            raise CheckFailed(f"{case}: there are only {len(mistakes)} mistakes; return all of them "
                              f"(an array of {len(mistakes)} indices), not {k}")
        truth_probability = probs[mistakes, labels[mistakes]]
        by_truth = mistakes[np.argsort(truth_probability, kind="stable")][:k]
        by_truth_descending = mistakes[np.argsort(-truth_probability, kind="stable")][:k]
        hints = [
            _hint_variant(expected[::-1], "the order is reversed: most confident first"),
            _hint_variant(mistakes[np.argsort(probs[mistakes].max(axis=1), kind="stable")][:k],
                          "that is the least confident mistakes: sort by confidence, descending"),
            _hint_variant(by_truth, "you ranked by the probability of the true label; rank by the network's "
                          "confidence, the probability of its predicted class (the row's max)"),
            _hint_variant(by_truth_descending, "you used the probability of the true label as the "
                          "confidence; confidence = the probability of the predicted class (the row's max)"),
        ]
        _expect_close(got, expected, case, hints=hints, check_dtype=False, rtol=0, atol=0)
    return ("several mistakes, fewer mistakes than k, no mistakes; "
            "matches nnlib.course.plots.most_confident_mistakes")
