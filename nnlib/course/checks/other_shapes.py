"""Grading mode's hidden cases with other shapes: one extra case per shape-generic exercise, with
a batch size and layer widths that no visible case uses, compared with nnlib's own answer.

The visible cases (and the hidden rounds on other seeds) keep their shapes, so an answer that
only works for those shapes (a hard-coded batch of 4, a slice `x[:8]`, a fixed 10 classes)
passes them; here it fails. The shapes are drawn once from a fixed seed, so every student gets
the same hidden case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib.data import one_hot
from nnlib.layers import Linear, ReLU
from nnlib.losses import SoftmaxCrossEntropy, cross_entropy, softmax

SEED = 20261126

# exercise -> rng -> (arguments, expected result, what the case is, in the learner's terms)
Case = tuple[tuple[Any, ...], Any, str]


def _sizes(rng: np.random.Generator) -> tuple[int, int, int]:
    """A batch (N), an input width and an output width (or number of classes) unlike the visible
    cases' (at most 8 rows, 10 classes)."""
    return int(rng.integers(9, 40)), int(rng.integers(5, 30)), int(rng.integers(11, 21))


def _linear(n_in: int, n_out: int, rng: np.random.Generator) -> Linear:
    layer = Linear(n_in, n_out, rng, dtype=np.float64)
    layer.b.value = rng.standard_normal(n_out)
    return layer


def _linear_forward(rng: np.random.Generator) -> Case:
    batch, n_in, n_out = _sizes(rng)
    layer = _linear(n_in, n_out, rng)
    x = rng.standard_normal((batch, n_in))
    return (x, layer.W.value, layer.b.value), layer.forward(x), f"x ({batch}, {n_in}), W ({n_in}, {n_out})"


def _linear_backward(rng: np.random.Generator) -> Case:
    batch, n_in, n_out = _sizes(rng)
    layer = _linear(n_in, n_out, rng)
    x, dy = rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out))
    layer.forward(x, training=True)
    dx = layer.backward(dy)
    shapes = f"x ({batch}, {n_in}), W ({n_in}, {n_out})"
    return (dy, x, layer.W.value), (dx, layer.W.grad, layer.b.grad), shapes


def _relu(rng: np.random.Generator) -> Case:
    batch, width, _ = _sizes(rng)
    x = rng.standard_normal((batch, width))
    return (x,), ReLU().forward(x), f"x ({batch}, {width})"


def _relu_backward(rng: np.random.Generator) -> Case:
    batch, width, _ = _sizes(rng)
    x, dy = rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    layer = ReLU()
    layer.forward(x, training=True)
    return (dy, x), layer.backward(dy), f"x ({batch}, {width})"


def _logits_and_labels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    batch, _, classes = _sizes(rng)
    logits = rng.standard_normal((batch, classes)) * 3
    labels = rng.integers(0, classes, batch)
    return logits, labels, f"logits ({batch}, {classes}), {classes} classes"


def _softmax(rng: np.random.Generator) -> Case:
    logits, _, what = _logits_and_labels(rng)
    return (logits,), softmax(logits), what


def _cross_entropy(rng: np.random.Generator) -> Case:
    logits, labels, what = _logits_and_labels(rng)
    return (logits, labels), cross_entropy(logits, labels), what


def _softmax_cross_entropy_backward(rng: np.random.Generator) -> Case:
    logits, labels, what = _logits_and_labels(rng)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    return (logits, labels), loss.backward(), what


def _one_hot(rng: np.random.Generator) -> Case:
    batch, _, classes = _sizes(rng)
    labels = rng.integers(0, classes, batch)
    return (labels, classes), one_hot(labels, classes), f"{batch} labels, {classes} classes"


CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    "one_hot": _one_hot,
    "linear_forward": _linear_forward,
    "relu": _relu,
    "softmax": _softmax,
    "cross_entropy": _cross_entropy,
    "linear_backward": _linear_backward,
    "relu_backward": _relu_backward,
    "softmax_cross_entropy_backward": _softmax_cross_entropy_backward,
}


def _agrees(got: Any, expected: Any) -> bool:
    if isinstance(expected, tuple):
        return (isinstance(got, tuple | list) and len(got) == len(expected)
                and all(_agrees(g, e) for g, e in zip(got, expected, strict=True)))
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=np.float64)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-5, atol=1e-8))


def check_other_shapes(name: str, fn: Callable) -> None:
    """Run exercise `name`'s hidden case with other shapes on `fn` (nothing for other exercises);
    raise AssertionError naming the shapes when the result is wrong or `fn` fails."""
    if name not in CASES:
        return
    arguments, expected, what = CASES[name](np.random.default_rng(SEED))
    try:
        with np.errstate(all="ignore"):
            got = fn(*arguments)
    except Exception as err:  # noqa: BLE001 - the learner's error becomes the check's message
        raise AssertionError(f"hidden case with other shapes ({what}): your function raised "
                             f"{type(err).__name__}: {err}") from None
    if not _agrees(got, expected):
        raise AssertionError(f"hidden case with other shapes ({what}): your result is wrong there, "
                             "although it was right for the visible shapes; does it assume a batch "
                             "size, a width or a number of classes?")
