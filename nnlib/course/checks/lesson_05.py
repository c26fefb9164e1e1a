"""Checkers of lesson 05: the L2 penalty and its gradient."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnlib.course.checks.core import (
    CheckFailed,
    _as_result,
    _call_quietly,
    _cases,
    _expect_close,
    _hint_matches,
    checker,
    hint_scaled,
)


def _l2_cases(rng: np.random.Generator) -> list[tuple[str, list, float]]:
    """Parameter lists like `model.parameters()`: weights (2-D) and nonzero biases (1-D)."""
    from nnlib.layers import Parameter

    def params(sizes: tuple[int, ...], dtype: type) -> list[Parameter]:
        found = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            weights = rng.standard_normal((n_in, n_out)).astype(dtype) * 0.3
            found.append(Parameter(weights, f"Linear{index}.W"))
            found.append(Parameter(rng.standard_normal(n_out).astype(dtype), f"Linear{index}.b"))
        return found

    return [
        ("a 4-3-2 network, lam = 0.1", params((4, 3, 2), np.float64), 0.1),
        ("one layer 5-7, lam = 0.01", params((5, 7), np.float64), 0.01),
        ("a 6-5-4-3 network, lam = 0", params((6, 5, 4, 3), np.float64), 0.0),
        ("the course network 784-128-64-10 in float32, lam = 1e-3",
         params((784, 128, 64, 10), np.float32), 1e-3),
    ]


def summation_rtol(dtype: np.dtype, terms: int) -> float:
    """Relative tolerance for a sum of `terms` non-negative numbers of `dtype`, added in any order.

    Each addition rounds by up to eps/2; the errors have random signs, so a sum's relative error
    grows like sqrt(terms) * eps (and the order decides which: np.sum adds pairwise, np.vdot
    without a BLAS, as in the browser, adds one by one). With a margin of 10: 3.9e-4 for the
    course network's 109,184 float32 weights, 1e-5 (the checkers' usual) for small float64 cases.
    Wrong answers are far outside: the biases add 2%, a forgotten 0.5 doubles it."""
    return max(1e-5, 10 * math.sqrt(terms) * float(np.finfo(dtype).eps))


@checker("l2_penalty",
         lesson="05_l2_regularization",
         points=1,
         references=("nnlib.losses:l2_penalty",),
         piece="L2")
def l2_penalty(fn: Callable) -> str:
    """Lesson 05: `l2_penalty(params, lam) -> float`, `0.5 * lam * sum(W**2)` over the weight
    matrices among `params` (2-D), skipping the biases (1-D)."""
    from nnlib.layers import Parameter

    rng = _cases(52)
    for case, params, lam in _l2_cases(_cases(51)):
        case = f"on {case}"
        for p in params:  # gradients as after a backward pass: the penalty must leave them alone
            p.grad = rng.standard_normal(p.value.shape).astype(p.value.dtype)
        # Every expectation below comes from these untouched copies: a learner's function that
        # squares the weights in place must not change what it is compared with.
        originals = [Parameter(p.value, p.name) for p in params]
        grads = [p.grad.copy() for p in params]
        got = _call_quietly(fn, params, lam)
        if any(not np.array_equal(p.value, o.value) for p, o in zip(params, originals, strict=True)):
            raise CheckFailed(f"{case}: your function changed the weights in place (e.g. w.value **= 2 or "
                              "w.value *= ...): compute with new arrays, w.value ** 2, and leave the "
                              "parameters as they are")
        if any(not np.array_equal(p.grad, g) for p, g in zip(params, grads, strict=True)):
            raise CheckFailed(f"{case}: your function changed the gradients (.grad), which hold the data "
                              "gradients of the backward pass: l2_penalty only computes a number; the "
                              "gradient of the penalty is add_l2_grad's job")
        params = originals
        if got is None:
            raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
        if isinstance(got, list | tuple):
            raise CheckFailed(f"{case}: expected one number (the penalty), got a {type(got).__name__}: "
                              "add up the terms of all the weight matrices")
        got = _as_result(got, case)
        if got.size != 1:
            raise CheckFailed(f"{case}: expected one number (the penalty), got an array of shape "
                              f"{got.shape}: add up the squares of all the weights")
        got = np.asarray(float(got.reshape(())))
        weights = [p for p in params if p.value.ndim == 2]
        squares = sum(float(np.sum(p.value.astype(np.float64) ** 2)) for p in weights)
        expected = np.asarray(0.5 * lam * squares)  # in float64: the learner's float32 sum is the estimate
        rtol = summation_rtol(weights[0].value.dtype, sum(p.value.size for p in weights))
        with_biases = sum(float(np.sum(p.value.astype(np.float64) ** 2)) for p in params)
        absolute = sum(float(np.sum(np.abs(p.value.astype(np.float64)))) for p in weights)
        norms = sum(float(np.linalg.norm(p.value.astype(np.float64))) for p in weights)
        last = float(np.sum(weights[-1].value.astype(np.float64) ** 2))
        _expect_close(got, expected, case, rtol=rtol, atol=1e-12, check_dtype=False, hints=[
            hint_scaled(2, "did you forget the 0.5 in 0.5 * lam * sum(W**2)?"),
            _hint_matches(lambda value=0.5 * lam * with_biases: value,
                          "you included the biases; L2 penalises the weight matrices (2-D) only"),
            _hint_matches(lambda value=lam * with_biases: value,
                          "you included the biases and forgot the 0.5; penalise the weight matrices (2-D) "
                          "only, with 0.5 * lam * sum(W**2)"),
            _hint_matches(lambda value=0.5 * lam * absolute: value,
                          "you summed absolute values (that is L1); L2 sums the squares W**2"),
            _hint_matches(lambda value=lam * absolute: value,
                          "you summed absolute values (that is L1); L2 is 0.5 * lam * sum(W**2)"),
            _hint_matches(lambda value=0.5 * lam * norms: value,
                          "you added the norms ||W||; L2 adds the squared norms, sum(W**2)"),
            _hint_matches(lambda value=0.5 * squares: value,
                          "lam is missing: multiply the sum of squares by 0.5 * lam"),
            _hint_matches(lambda value=0.5 * lam * last: value,
                          "only the last weight matrix counts in your penalty; add up every layer's"),
        ])
    return "4 cases, biases skipped, lam = 0 and float32 included; matches nnlib.losses.l2_penalty"


@checker("add_l2_grad",
         lesson="05_l2_regularization",
         points=1,
         references=("nnlib.losses:add_l2_grad",),
         piece="L2")
def add_l2_grad(fn: Callable) -> str:
    """Lesson 05: `add_l2_grad(params, lam) -> None`: adds `lam * W` in place to the `.grad` of
    every weight matrix (2-D) among `params`, and leaves the biases (1-D) alone."""
    from nnlib.layers import Parameter
    from nnlib.losses import add_l2_grad as reference

    rng = _cases(52)
    cases = _l2_cases(rng)
    for case, params, lam in cases:
        case = f"on {case}"
        for p in params:  # a data gradient from backprop, already there before the L2 term is added
            p.grad = rng.standard_normal(p.value.shape).astype(p.value.dtype)
        values = [p.value.copy() for p in params]
        before = [p.grad.copy() for p in params]
        expected = [Parameter(p.value, p.name) for p in params]
        for e, g in zip(expected, before, strict=True):
            e.grad = g
        reference([e for e in expected if e.value.ndim == 2], lam)
        returned = _call_quietly(fn, params, lam)
        if any(not np.array_equal(p.value, v) for p, v in zip(params, values, strict=True)):
            raise CheckFailed(f"{case}: your function changed the parameters' values; it should change only "
                              "their gradients, p.grad (the optimizer updates the values later)")
        changed = [not np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True)]
        if lam > 0 and not any(changed):
            also = (f" (it returned a {type(returned).__name__}: nobody uses that, the gradients themselves "
                    "must change)") if returned is not None else ""
            raise CheckFailed(f"{case}: no gradient changed{also}: add to each weight's gradient in place, "
                              "p.grad += ...; assigning to a local variable changes nothing")
        for p, e, g in zip(params, expected, before, strict=True):
            where = f"{case}, {p.name}.grad"
            if p.value.ndim == 1:
                if not np.array_equal(p.grad, g):
                    raise CheckFailed(f"{where}: you changed a bias's gradient; L2 penalises the weight "
                                      "matrices (2-D) only, skip the biases (1-D)")
                continue
            W = p.value
            _expect_close(p.grad, e.grad, where, rtol=1e-5, atol=1e-7, hints=[
                _hint_matches(lambda W=W, lam=lam: lam * W,
                              "you replaced the gradient by lam * W; add lam * W to the gradient "
                              "backpropagation already put there (+=)"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + 2 * lam * W,
                              "you added 2 * lam * W; the derivative of (lam/2) * W**2 is lam * W "
                              "(the 1/2 cancels the 2 from the square)"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + 0.5 * lam * W,
                              "you added 0.5 * lam * W; the derivative of (lam/2) * W**2 is lam * W"),
                _hint_matches(lambda W=W, g=g: g + W, "lam is missing: add lam * W, not W"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + lam * np.sign(W),
                              "lam * sign(W) is the gradient of L1; for L2 add lam * W"),
                _hint_matches(lambda W=W, g=g, lam=lam: g - lam * W,
                              "the sign is flipped: the penalty's gradient lam * W is added, not subtracted "
                              "(the optimizer does the subtracting)"),
                _hint_matches(lambda g=g, lam=lam: g + lam * g,
                              "you added lam * grad; the penalty's gradient is lam * W, from the weights' "
                              "values p.value"),
            ])
    return (f"{len(cases)} networks, biases skipped, lam = 0 and float32 included; matches "
            "nnlib.losses.add_l2_grad")
