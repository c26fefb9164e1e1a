"""Checkers of lesson 04: dropout forward and backward."""

from __future__ import annotations

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
    checker,
)


@checker("dropout_forward",
         lesson="04_dropout",
         points=2,
         references=("nnlib.layers:dropout_forward", "nnlib.layers:Dropout.forward"),
         piece="forward pass")
def dropout_forward(fn: Callable) -> str:
    """Lesson 04: `dropout_forward(x, p, rng, training) -> (y, mask)`, inverted dropout.

    In training: each unit is dropped with probability `p`, the survivors are scaled
    by `1/(1-p)`; `mask` holds 0 or `1/(1-p)` per unit and `y = x * mask`. Not in
    training (or p == 0): `y` is `x` and `mask` is None. Random draws differ from
    nnlib's, so this checks the properties, not the exact mask.
    """
    rng = _cases(41)
    x = (rng.random((200, 500)) + 0.5).astype(np.float32)  # 100,000 units, none exactly 0
    units = x.size
    for p in (0.2, 0.5, 0.9):
        case = f"on x (200, 500) float32, p = {p}, training"
        got = _call_quietly(fn, x, p, np.random.default_rng(7), True)
        y, mask = _expect_parts(got, 2, "(y, mask)", case)
        y = _as_result(y, f"{case}, y")
        if mask is None:
            raise CheckFailed(f"{case}: mask is None, but in training the mask is the array of 0 and 1/(1-p)")
        mask = _as_result(mask, f"{case}, mask")
        if mask.shape in ((x.shape[1],), (1, x.shape[1])):
            raise CheckFailed(f"{case}: your mask has shape {mask.shape}, one mask shared by all rows (every "
                              "example would lose the same units); each example needs its own: draw one "
                              "random number per unit of every row, rng.random(x.shape)")
        if y.shape != x.shape or mask.shape != x.shape:
            raise CheckFailed(f"{case}: y and mask must have x's shape {x.shape}, got {y.shape} and "
                              f"{mask.shape}: draw one random number per unit, rng.random(x.shape)")
        if mask.dtype.kind == "f" and not np.isfinite(mask).all():
            raise CheckFailed(f"{case}: your mask holds {int(np.count_nonzero(~np.isfinite(mask)))} NaN or "
                              "infinite entries; it must hold 0 for a dropped unit and 1/(1-p) for a kept "
                              "one "
                              "(a 0/0 or a division by a zero probability?)")
        kept = mask != 0
        if np.all(kept == kept[:1]):
            raise CheckFailed(f"{case}: all rows share the same mask, so every example loses the same units; "
                              "each example needs its own mask: draw one random number per unit of every "
                              "row, rng.random(x.shape)")
        if np.all(kept == kept[:, :1]):
            raise CheckFailed(f"{case}: each row of your mask is all kept or all dropped, so whole examples "
                              "vanish; drop units independently: one random number per unit, "
                              "rng.random(x.shape)")
        fraction = float(kept.mean())
        tolerance = 4 * np.sqrt(p * (1 - p) / units) + 1e-3
        if abs(fraction - (1 - p)) > tolerance:
            if abs(fraction - p) <= tolerance:
                raise CheckFailed(f"{case}: you kept {fraction:.1%} of the units, expected {1 - p:.0%}: you "
                                  "drop with probability 1 - p; p is the probability to DROP a unit")
            raise CheckFailed(f"{case}: you kept {fraction:.1%} of the units, expected about {1 - p:.0%} "
                              "(each unit dropped independently with probability p)")
        values = mask[kept].astype(np.float64)
        scale = 1.0 / (1.0 - p)
        if mask.dtype == bool:
            raise CheckFailed(f"{case}: your mask is True/False; return it with the scale included, 0 for a "
                              "dropped unit and 1/(1-p) for a kept one (in x's dtype), so that y = x * mask")
        if not np.allclose(values, scale, rtol=1e-5):
            if np.allclose(values, 1.0):
                raise CheckFailed(f"{case}: the kept units of the mask are 1: you forgot the scale 1/(1-p) "
                                  "of inverted dropout (without it, activations shrink by (1-p) on average "
                                  "in training and the network sees other magnitudes at evaluation)")
            if np.allclose(values, 1.0 / p):
                raise CheckFailed(f"{case}: the kept units are scaled by 1/p; scale by 1/(1-p), one over the "
                                  "probability to keep a unit")
            if np.allclose(values, 1.0 - p):
                raise CheckFailed(f"{case}: the kept units are multiplied by (1-p); inverted dropout divides "
                                  "by (1-p), so that the expected output equals x")
            raise CheckFailed(f"{case}: the kept units of the mask should all be 1/(1-p) = {scale:.6g}, "
                              f"found values from {values.min():.6g} to {values.max():.6g}")
        if y.dtype != x.dtype:
            raise CheckFailed(f"{case}: y has dtype {y.dtype}, expected {x.dtype} like x: a mask made from a "
                              "boolean array divided by (1-p) is float64; convert it with .astype(x.dtype)")
        _expect_close(y, x * mask.astype(x.dtype), f"{case}, y", rtol=1e-6, atol=0,
                      hints=[lambda got, expected: "y must be x * mask (the same mask you return)"])
        again = _call_quietly(fn, x, p, np.random.default_rng(7), True)
        if not np.array_equal(np.asarray(again[1]), mask):
            raise CheckFailed(f"{case}: two calls with the same seed gave different masks: draw the random "
                              "numbers from the rng argument (not np.random.rand)")
        other = _call_quietly(fn, x, p, np.random.default_rng(8), True)
        if np.array_equal(np.asarray(other[1]), mask):
            raise CheckFailed(f"{case}: two different rngs gave the same mask: draw the random numbers from "
                              "the rng argument")
    no_drop = ((0.5, False, "p = 0.5, evaluation (training=False)"), (0.0, True, "p = 0, training"))
    for p, training, what in no_drop:
        case = f"on {what}"
        got = _call_quietly(fn, x, p, np.random.default_rng(7), training)
        y, mask = _expect_parts(got, 2, "(y, mask)", case)
        y = _as_result(y, f"{case}, y")
        if y.shape == x.shape and not np.array_equal(y, x):
            if not training:
                raise CheckFailed(f"{case}: y differs from x: in evaluation mode dropout does nothing, "
                                  "return x unchanged (inverted dropout already did the scaling in training)")
            raise CheckFailed(f"{case}: y differs from x: with p = 0 no unit is dropped")
        _expect_close(y, x, case)
        if mask is not None and not np.all(np.asarray(mask) == 1):
            raise CheckFailed(f"{case}: the mask should be None (nothing is dropped), got an array with "
                              "zeros")
    return ("p = 0.2, 0.5, 0.9: kept fraction, scale 1/(1-p), y = x * mask, uses rng; evaluation and "
            "p = 0 pass x unchanged")


@checker("dropout_backward",
         lesson="04_dropout",
         points=1,
         references=("nnlib.layers:dropout_backward", "nnlib.layers:Dropout.backward"),
         piece="backward pass")
def dropout_backward(fn: Callable) -> str:
    """Lesson 04: `dropout_backward(dy, mask) -> dx`; mask from `dropout_forward` (None in evaluation)."""
    from nnlib.layers import Dropout

    rng = _cases(42)
    cases = []
    settings = ((0.5, (4, 6), np.float64), (0.2, (1, 10), np.float64), (0.3, (16, 128), np.float32))
    for p, shape, dtype in settings:
        layer = Dropout(p, np.random.default_rng(3))
        layer.forward(np.ones(shape, dtype=dtype), training=True)
        cases.append((f"p = {p}, dy {shape} {np.dtype(dtype).name}", layer, p))
    cases.append(("evaluation mode (mask None)", Dropout(0.5, np.random.default_rng(3)), 0.5))
    for case, layer, p in cases:
        case = f"on {case}"
        mask = layer.mask
        dy = rng.standard_normal(mask.shape if mask is not None else (3, 5))
        dy = dy.astype(mask.dtype) if mask is not None else dy
        try:
            got = _call_quietly(fn, dy, None if mask is None else mask.copy())
        except CheckFailed as err:
            if mask is None:
                raise CheckFailed(f"{case}: {err}. Hint: the mask is None in evaluation mode, where dropout "
                                  "passes dy through unchanged") from None
            raise
        got = _as_result(got, case)
        expected = layer.backward(dy)
        hints = [] if mask is None else [
            _hint_matches(lambda mask=mask: mask,
                          "you returned the mask; multiply it with dy (the chain rule)"),
            _hint_matches(lambda dy=dy: dy,
                          "you returned dy unchanged: the mask was not applied; in training dx = dy * mask "
                          "(only in evaluation mode, where the mask is None, is dx = dy)"),
            _hint_matches(lambda dy=dy, mask=mask: dy * (mask != 0),
                          "the gradient must carry the same scale 1/(1-p) as the forward pass; the mask "
                          "already holds it, so dx = dy * mask"),
            _hint_matches(lambda dy=dy, mask=mask, p=p: dy * mask / (1 - p),
                          "the mask already holds the scale 1/(1-p); don't divide again: dx = dy * mask"),
            _hint_matches(lambda dy=dy, mask=mask: dy * (mask == 0),
                          "the gradient flows through the kept units (mask != 0), not the dropped ones"),
        ]
        _expect_close(got, expected, case, hints=hints)
    return f"{len(cases)} cases, including a batch of 1 and evaluation mode; matches nnlib.layers.Dropout"
