"""The checkers of lessons 06-07 pass the reference and catch the typical mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from nnlib.course import checks
from nnlib.course.checks import CheckFailed
from nnlib.course.plots import most_confident_mistakes
from nnlib.layers import Parameter
from nnlib.optim import SGD, Adam, cosine_schedule
from tests.checker_failures import right_answer_tests

# --- the right answers, written the way a learner might ---------------------------


def sgd_momentum_step(w, g, v, lr, momentum):
    v = momentum * v + g
    return w - lr * v, v


def nnlib_momentum_step(w, g, v, lr, momentum):
    """The same step done by nnlib's optimizer (the reference itself)."""
    param = Parameter(w)
    optimizer = SGD([param], lr=lr, momentum=momentum)
    if optimizer.velocity is None:
        param.grad = g
        optimizer.step()
        return param.value.copy(), g.copy()
    optimizer.velocity[...] = v.reshape(-1)
    param.grad = g
    optimizer.step()
    return param.value.copy(), optimizer.velocity.reshape(w.shape).copy()


def adam_step(w, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def nnlib_adam_step(w, g, m, v, t, lr, beta1, beta2, eps):
    param = Parameter(w)
    optimizer = Adam([param], lr=lr, betas=(beta1, beta2), eps=eps)
    optimizer.m[...] = m.reshape(-1)
    optimizer.v[...] = v.reshape(-1)
    optimizer.steps = t - 1
    param.grad = g
    optimizer.step()
    return param.value.copy(), optimizer.m.reshape(w.shape).copy(), optimizer.v.reshape(w.shape).copy()


def cosine_lr(step, total, lr):
    return 0.5 * lr * (1 + math.cos(math.pi * min(step, total) / total))


def accuracy(probs, labels):
    return np.mean(probs.argmax(axis=1) == labels)


def confusion_matrix(pred, labels, classes):
    matrix = np.zeros((classes, classes), dtype=np.int64)
    for true, guess in zip(labels, pred, strict=True):
        matrix[true, guess] += 1
    return matrix


def top_confident_mistakes(probs, labels, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    confidence = probs[wrong].max(axis=1)
    return wrong[np.argsort(-confidence, kind="stable")][:k]


CORRECT = [
    (checks.sgd_momentum_step, sgd_momentum_step),
    (checks.sgd_momentum_step, nnlib_momentum_step),
    (checks.adam_step, adam_step),
    (checks.adam_step, nnlib_adam_step),
    (checks.cosine_lr, cosine_lr),
    (checks.cosine_lr, lambda step, total, lr: cosine_schedule(lr, total)(step)),
    (checks.accuracy, accuracy),
    (checks.accuracy, lambda probs, labels: float(np.sum(np.argmax(probs, 1) == labels) / len(labels))),
    (checks.confusion_matrix, confusion_matrix),
    (checks.confusion_matrix, lambda p, y, c: sklearn_confusion_matrix(y, p, labels=np.arange(c))),
    (checks.confusion_matrix, lambda p, y, c: np.bincount(y * c + p, minlength=c * c).reshape(c, c)),
    (checks.top_confident_mistakes, top_confident_mistakes),
    (checks.top_confident_mistakes, most_confident_mistakes),
    (checks.top_confident_mistakes, lambda probs, labels, k: list(top_confident_mistakes(probs, labels, k))),
]

test_right_answers_pass, test_not_implemented_is_reported_not_raised = right_answer_tests(CORRECT)


# --- the typical mistakes and what the checker says -------------------------------


def momentum_lr_inside(w, g, v, lr, momentum):
    v = momentum * v + lr * g
    return w - v, v


def momentum_keeps_v(w, g, v, lr, momentum):
    return w - lr * (momentum * v + g), v


def momentum_sign(w, g, v, lr, momentum):
    v = momentum * v + g
    return w + lr * v, v


def momentum_old_velocity(w, g, v, lr, momentum):
    new_v = momentum * v + g
    return w - lr * v, new_v


def momentum_ema(w, g, v, lr, momentum):
    v = momentum * v + (1 - momentum) * g
    return w - lr * v, v


def momentum_returns_none(w, g, v, lr, momentum):
    v = momentum * v + g
    w = w - lr * v


def momentum_returns_w_only(w, g, v, lr, momentum):
    return w - lr * (momentum * v + g)


def momentum_float64(w, g, v, lr, momentum):
    v = momentum * v + g
    return (w - lr * v).astype(np.float64), v.astype(np.float64)


def momentum_swapped(w, g, v, lr, momentum):
    new_w, new_v = sgd_momentum_step(w, g, v, lr, momentum)
    return new_v, new_w


def momentum_in_place(w, g, v, lr, momentum):
    v *= momentum
    v += g
    return w - lr * v, v


MOMENTUM_MISTAKES = [
    (momentum_lr_inside, "another textbook form"),
    (momentum_swapped, r"order of the returned pair: return \(w, v\)"),
    (momentum_in_place, "changed its input `v` in place.*may still need the original"),
    (momentum_keeps_v, "v came back unchanged"),
    (momentum_sign, "w moved uphill"),
    (momentum_old_velocity, "update v first"),
    (momentum_ema, "Adam's running mean"),
    (momentum_returns_none, "returned None"),
    (momentum_returns_w_only, r"expected a tuple \(w, v\)"),
    (momentum_float64, "expected dtype float32"),
]


@pytest.mark.parametrize("fn, message", MOMENTUM_MISTAKES)
def test_momentum_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.sgd_momentum_step(fn)


def adam_variant(*, correct=True, t_shift=0, eps_inside=False, return_hat=False, sign=1.0, no_eps=False,
                 v_of_g=False, correct_v=True):
    def step(w, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * (g if v_of_g else g**2)
        tt = t + t_shift
        m_hat = m / (1 - beta1**tt) if correct else m
        v_hat = v / (1 - beta2**tt) if correct and correct_v else v
        if eps_inside:
            denominator = np.sqrt(v_hat + eps)
        else:
            denominator = np.sqrt(v_hat) + (0 if no_eps else eps)
        new_w = w - sign * lr * m_hat / denominator
        return (new_w, m_hat, v_hat) if return_hat else (new_w, m, v)

    return step


ADAM_MISTAKES = [
    (adam_variant(correct=False), "no bias correction"),
    (adam_variant(correct_v=False), "only m is bias-corrected"),
    (adam_variant(t_shift=-1), "t - 1"),
    (adam_variant(t_shift=1), "t \\+ 1: t is 1 on the first step"),
    (lambda *args: tuple(reversed(adam_step(*args))), r"order of the returned values: return \(w, m, v\)"),
    (adam_variant(eps_inside=True), "eps is inside the square root"),
    (adam_variant(return_hat=True), "bias-corrected m_hat"),
    (adam_variant(sign=-1.0), "w moved uphill"),
    (adam_variant(no_eps=True), "eps is missing"),
    (adam_variant(v_of_g=True), r"squared gradient: g\*\*2, not g"),
]


@pytest.mark.parametrize("fn, message", ADAM_MISTAKES)
def test_adam_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.adam_step(fn)


COSINE_MISTAKES = [
    (lambda step, total, lr: lr * (1 + math.cos(math.pi * min(step, total) / total)), "factor 1/2"),
    (lambda step, total, lr: 0.5 * lr * (1 + math.cos(math.pi * step / total)), "stay at 0"),
    (lambda step, total, lr: 0.5 * lr * (1 + math.cos(2 * math.pi * min(step, total) / total)), "2\\*pi"),
    (lambda step, total, lr: 0.5 * lr * (1 - math.cos(math.pi * min(step, total) / total)), "backwards"),
    (lambda step, total, lr: lr * math.cos(math.pi * min(step, total) / total), "goes negative"),
    (lambda step, total, lr: None, "returned None"),
    (lambda step, total, lr: 0.5 * lr * (1 + math.cos(math.pi * min(step, total) / total))
     + 0.01 * (step == 50),
     "the first is step 50: got"),  # the step's number, not its position in the list of steps
]


@pytest.mark.parametrize("fn, message", COSINE_MISTAKES)
def test_cosine_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.cosine_lr(fn)


ACCURACY_MISTAKES = [
    (lambda probs, labels: 100 * np.mean(probs.argmax(axis=1) == labels), "percentage"),
    (lambda probs, labels: np.mean(probs.argmax(axis=1) != labels), "error rate"),
    (lambda probs, labels: np.sum(probs.argmax(axis=1) == labels), "number of correct"),
    (lambda probs, labels: probs.argmax(axis=1) == labels, "expected one number"),
    (lambda probs, labels: np.mean(probs.argmax(axis=0) == labels), "raised ValueError.*axis=1"),
    (lambda probs, labels: np.mean(probs.argmax() == labels), "argmax without axis= searches the whole"),
]


@pytest.mark.parametrize("fn, message", ACCURACY_MISTAKES)
def test_accuracy_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.accuracy(fn)


def test_accuracy_axis_0_on_square_probs():
    """With as many examples as classes, argmax over axis 0 does not even fail: the hint names it."""

    def axis0(probs, labels):
        if probs.shape[0] == probs.shape[1]:
            return np.mean(probs.argmax(axis=0) == labels)
        return np.mean(probs.argmax(axis=1) == labels)

    with pytest.raises(CheckFailed, match="axis=1"):
        checks.accuracy(axis0)


def confusion_fancy_index(pred, labels, classes):
    matrix = np.zeros((classes, classes), dtype=np.int64)
    matrix[labels, pred] += 1  # a repeated (label, pred) pair is counted once
    return matrix


CONFUSION_MISTAKES = [
    (lambda p, y, c: confusion_matrix(p, y, c).T, "rows and columns are swapped"),
    (lambda p, y, c: confusion_matrix(p, y, c) / np.maximum(confusion_matrix(p, y, c).sum(1)[:, None], 1),
     "rates"),
    (lambda p, y, c: confusion_matrix(p, y, c) / len(y), "fractions of all examples"),
    (lambda p, y, c: confusion_matrix(p, y, max(y.max(), p.max()) + 1), "size the matrix by `classes`"),
    (lambda p, y, c: None, "returned None"),
    (confusion_fancy_index, "repeated index pairs once.*np.add.at"),
    (lambda p, y, c: confusion_matrix(p, y, c).astype(float), "counts should be integers, got dtype float64"),
    (lambda p, y, c: confusion_matrix(p, y, c).astype(np.float32), "got dtype float32.*dtype=np.int64"),
]


@pytest.mark.parametrize("fn, message", CONFUSION_MISTAKES)
def test_confusion_matrix_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.confusion_matrix(fn)


def mistakes_with_correct(probs, labels, k):
    return np.argsort(-probs.max(axis=1), kind="stable")[:k]


def mistakes_ascending(probs, labels, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(probs[wrong].max(axis=1), kind="stable")][:k]


def mistakes_by_true_label(probs, labels, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(probs[wrong, labels[wrong]], kind="stable")][:k]


def mistakes_positions_not_indices(probs, labels, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return np.argsort(-probs[wrong].max(axis=1), kind="stable")[:k]


def mistakes_confidence_of_true_label(probs, labels, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(-probs[wrong, labels[wrong]], kind="stable")][:k]


def mistakes_padded_to_k(probs, labels, k):
    found = top_confident_mistakes(probs, labels, k)
    return np.concatenate([found, np.full(k - len(found), -1)]).astype(int)


CONFIDENT_MISTAKES = [
    (mistakes_with_correct, "classified correctly"),
    (mistakes_ascending, "least confident"),
    (mistakes_by_true_label, "probability of the true label"),
    (mistakes_padded_to_k, "only 3 mistakes"),
    (mistakes_positions_not_indices, "positions in your list of mistakes, not test indices"),
    (mistakes_confidence_of_true_label, "confidence = the probability of the predicted class"),
]


@pytest.mark.parametrize("fn, message", CONFIDENT_MISTAKES)
def test_confident_mistakes_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        checks.top_confident_mistakes(fn)


def test_messages_never_show_solution_code():
    """A failure names the cause in words, not the reference's source."""
    with pytest.raises(CheckFailed) as info:
        checks.adam_step(adam_variant(correct=False))
    assert "def " not in str(info.value) and "optimizer." not in str(info.value)


def test_most_confident_mistakes_edge_cases():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([1, 1, 1, 0])  # mistakes: 0 (90% sure), 2 (60%), 3 (70%)
    assert most_confident_mistakes(probs, labels, 2).tolist() == [0, 3]
    assert most_confident_mistakes(probs, labels, 10).tolist() == [0, 3, 2]
    assert most_confident_mistakes(probs, probs.argmax(axis=1), 5).tolist() == []
