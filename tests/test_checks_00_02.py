"""The checkers of lessons 00-02 pass the reference and catch the typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import checks
from nnlib.course.checks import CheckFailed
from nnlib.course.checks.core import _argument_name
from nnlib.data import one_hot as nn_one_hot
from nnlib.data import scale_images as nn_scale_images
from nnlib.layers import ReLU
from nnlib.losses import cross_entropy as nn_cross_entropy
from nnlib.losses import log_softmax
from nnlib.losses import softmax as nn_softmax
from tests.checker_failures import assert_helpful_failure, right_answer_tests

# The right answers, written the way a learner might.

def normalize_rows(x):
    return x / x.sum(axis=1, keepdims=True)


def count_labels(labels, classes):
    counts = np.zeros(classes, dtype=np.int64)
    for label in labels:
        counts[label] += 1
    return counts


def train_val_split(x, y, validation):
    cut = len(x) - validation
    return x[:cut], y[:cut], x[cut:], y[cut:]


def linear_forward(x, W, b):
    return x @ W + b


def stable_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def naive_cross_entropy(z, labels):
    return -np.mean(np.log(stable_softmax(z))[np.arange(len(labels)), labels])


def relu_in_place(x):
    x[x < 0] = 0
    return x


def softmax_in_place(z):
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def normalize_rows_in_place(x):
    x /= x.sum(axis=1, keepdims=True)
    return x


def count_labels_sorting_in_place(labels, classes):
    labels.sort()  # the caller's labels would come back sorted
    return np.bincount(labels, minlength=classes)


def softmax_without_keepdims(z):
    e = np.exp(z - z.max(axis=1))
    return e / e.sum(axis=1)


CORRECT = [
    (checks.normalize_rows, normalize_rows),
    (checks.count_labels, count_labels),
    (checks.count_labels, lambda labels, classes: np.bincount(labels, minlength=classes)),
    (checks.scale_images, nn_scale_images),
    (checks.scale_images, lambda im: im.reshape(len(im), -1).astype(np.float32) / 255),
    (checks.one_hot, nn_one_hot),
    (checks.one_hot, lambda labels, classes: np.eye(classes, dtype=np.float32)[labels]),
    (checks.train_val_split, train_val_split),
    (checks.linear_forward, linear_forward),
    (checks.relu, lambda x: ReLU().forward(x)),
    (checks.relu, lambda x: x * (x > 0)),
    (checks.softmax, nn_softmax),
    (checks.softmax, stable_softmax),
    (checks.cross_entropy, nn_cross_entropy),
    (checks.cross_entropy, lambda z, y: -log_softmax(z)[np.arange(len(y)), y].sum() / len(y)),
]

test_right_answers_pass, test_not_implemented_is_reported_not_raised = right_answer_tests(CORRECT)


WRONG = [
    # warm-ups (lesson 00)
    (checks.normalize_rows, lambda x: None, "returned None"),
    (checks.normalize_rows, lambda x: x / x.sum(axis=0, keepdims=True), "each column sums to 1"),
    (checks.normalize_rows, lambda x: x / x.sum(), "sum of the whole array"),
    (checks.normalize_rows, lambda x: x / x.sum(axis=1), "keepdims"),
    (checks.count_labels, lambda labels, classes: np.bincount(labels), "never occurs"),
    (checks.count_labels, lambda labels, classes: np.bincount(labels, minlength=classes).astype(float),
     "integers"),
    (checks.count_labels, lambda labels, classes: list(np.bincount(labels, minlength=classes)), "list"),
    # lesson 01
    (checks.scale_images, lambda im: im.reshape(len(im), -1) / 255.0, "float64"),
    (checks.scale_images, lambda im: im.astype(np.float32) / 255, "flatten"),
    (checks.scale_images, lambda im: im.reshape(len(im), -1).astype(np.float32) / 256, "not 256"),
    (checks.scale_images, lambda im: im.reshape(len(im), -1).astype(np.float32), "not scaled"),
    (checks.scale_images, lambda im: im.reshape(len(im), -1), "uint8"),
    (checks.scale_images, lambda im: im.reshape(len(im), 784).astype(np.float32) / 255, "784"),
    (checks.one_hot, lambda labels, classes: np.eye(classes)[labels], "dtype float32, got float64"),
    (checks.one_hot, lambda labels, classes: np.eye(classes, dtype=np.float32)[labels].T, "transposed"),
    (checks.one_hot, lambda labels, classes: np.eye(classes, dtype=np.float32)[labels - 1], "one column"),
    (checks.one_hot, lambda labels, classes: nn_one_hot(labels, classes).astype(np.int64), "dtype float32"),
    (checks.train_val_split, lambda x, y, v: (x[:-v], y[:-v], x[-v:], y[-v:]), "-0 == 0"),
    (checks.train_val_split, lambda x, y, v: (x[v:], y[v:], x[:v], y[:v]), "first 5 samples"),
    (checks.train_val_split, lambda x, y, v: (x[: len(x) - v], y[: len(x) - v], x[len(x) - v :][::-1],
                                              y[len(x) - v :][::-1]), "another order"),
    (checks.train_val_split, lambda x, y, v: x[: len(x) - v], "tuple of 4"),
    # lesson 02
    (checks.linear_forward, lambda x, W, b: x @ W, "bias b is missing"),
    (checks.linear_forward, lambda x, W, b: W @ x + b, "their product in that order"),
    (checks.linear_forward, lambda x, W, b: np.dot(W, x) + b, "their product in that order"),
    (checks.linear_forward, lambda x, W, b: x @ W - b, "don't subtract"),
    (checks.linear_forward, lambda x, W, b: (x @ W + b).T, "got \\(3, 4\\), its transpose"),
    (checks.linear_forward, lambda x, W, b: x @ W.T + b if W.shape[0] == W.shape[1] else x @ W + b,
     "W transposed"),
    (checks.relu, lambda x: x > 0, "True/False"),
    (checks.relu, lambda x: np.max(x, 0), "along axis 0"),
    (checks.relu, np.abs, r"\|x\|"),
    (checks.relu, lambda x: (x > 0).astype(x.dtype), "derivative"),
    (checks.relu, lambda x: x.astype(np.float64) * (x > 0), "dtype float32, got float64"),
    (checks.softmax, naive_softmax, "subtract each row's maximum"),
    (checks.softmax, lambda z: naive_softmax(z - z.max()), "own maximum"),
    (checks.softmax, lambda z: np.exp(z - z.max(axis=0, keepdims=True))
     / np.exp(z - z.max(axis=0, keepdims=True)).sum(axis=0, keepdims=True), "each column sums to 1"),
    (checks.softmax, lambda z: np.exp(z - z.max(axis=1, keepdims=True)), "each row must sum to 1"),
    (checks.softmax, lambda z: z / z.sum(axis=1, keepdims=True), "sum"),
    (checks.softmax, softmax_without_keepdims, "could not be broadcast.*Hint: .*keepdims=True"),
    (checks.cross_entropy, lambda z, y: -log_softmax(z)[np.arange(len(y)), y].sum(), "missing 1/N"),
    (checks.cross_entropy, lambda z, y: 100 * nn_cross_entropy(z, y), "got 133.438, expected 1.33438 "
     r"\(100 times the expected value\)"),  # a number has no index: its ratio tells the cause
    (checks.cross_entropy, lambda z, y: log_softmax(z)[np.arange(len(y)), y].mean(), "minus sign"),
    (checks.cross_entropy, lambda z, y: -np.log10(stable_softmax(z)[np.arange(len(y)), y]).mean(), "log10"),
    (checks.cross_entropy, lambda z, y: -log_softmax(z)[:, y].mean(), "whole columns"),
    (checks.cross_entropy, lambda z, y: -log_softmax(z).max(axis=1).mean(), "predicted class"),
    (checks.cross_entropy, lambda z, y: -log_softmax(z).mean(), "all classes"),
    (checks.cross_entropy, lambda z, y: -log_softmax(z)[np.arange(len(y)), y], "one number"),
    (checks.cross_entropy, naive_cross_entropy, "infinite"),
    (checks.cross_entropy, lambda z, y: -np.mean(np.log(naive_softmax(z))[np.arange(len(y)), y]), "NaN"),
    (checks.cross_entropy, lambda z, y: 1 / 0, "raised ZeroDivisionError"),
    (checks.cross_entropy, lambda z, y: -(z - z.max(axis=1))[np.arange(len(y)), y].mean(), "keepdims=True"),
    # a right answer that changes its input in place (the caller's array would change too)
    (checks.relu, relu_in_place, "changed its input `x` in place"),
    (checks.softmax, softmax_in_place, "changed its input `z` in place"),
    (checks.normalize_rows, normalize_rows_in_place, "changed its input `x` in place"),
    (checks.count_labels, count_labels_sorting_in_place, "changed its input `labels` in place"),
]


@pytest.mark.parametrize("check, fn, message", WRONG, ids=[f"{c.__name__}:{m}" for c, _, m in WRONG])
def test_typical_mistakes_get_a_helpful_message(check, fn, message, capsys):
    assert_helpful_failure(check, fn, message, capsys)


def test_failures_never_show_a_traceback_in_jupyter():
    with pytest.raises(CheckFailed) as failure:
        checks.relu(np.abs)
    (line,) = failure.value._render_traceback_()
    assert "❌" in line and "relu" in line


def test_overflowing_answers_raise_no_numpy_warnings(recwarn):
    with pytest.raises(CheckFailed):
        checks.softmax(naive_softmax)
    with pytest.raises(CheckFailed):
        checks.cross_entropy(naive_cross_entropy)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_in_place_message_names_the_argument_and_the_fix():
    with pytest.raises(CheckFailed) as failure:
        checks.relu(relu_in_place)
    message = str(failure.value)
    assert "return new arrays" in message and "may still need the original" in message


def test_returning_an_unchanged_input_is_fine(capsys):
    """Giving back the very input array is not a change: only modifying it is."""
    checks.relu(lambda x: x if (x > 0).all() else np.maximum(x, 0))
    assert "✅" in capsys.readouterr().out


def test_builtins_without_a_signature_still_get_a_readable_message():
    assert _argument_name(np.abs, 0) in ("`x`", "(argument 1)")
