"""Your pieces returning what training cannot use: training stops at once with one line that names
your function, where it lives, and what it returned (never nnlib's layer "Linear2: expected float32
input", never "try a smaller learning rate"); see tests/bad_input.py and nnlib/course/returns.py."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import assemble
from nnlib.course.returns import PieceReturnedWrong
from nnlib.train import fit
from tests.bad_input import Case, case_id, expected, outcome

RNG = np.random.default_rng
SIZES = (6, 5, 3)


def one_step(kind: str = "sgd", dropout: float = 0.5, **functions):
    """gather your `functions`, then one forward, backward and optimizer step of a tiny network."""

    def run(_):
        pieces = assemble.gather(here=functions)
        model = pieces.network(SIZES, dropout, RNG(1))
        loss = pieces.loss()
        x, y = RNG(2).random((4, 6), dtype=np.float32), np.array([0, 1, 2, 0])
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer = pieces.optimizer(kind, model.parameters(), 0.1)
        optimizer.step()
        pieces.cosine_schedule(0.1, 10)(3)
        return model.forward(x)

    return run


def fitted(**functions):
    """gather your `functions`, then `fit` a tiny network for one epoch."""

    def run(_):
        pieces = assemble.gather(here=functions)
        model = pieces.network(SIZES, 0.0, RNG(1))
        x, y = RNG(2).random((64, 6), dtype=np.float32), RNG(3).integers(0, 3, 64)
        fit(model, pieces.optimizer("sgd", model.parameters(), 0.1), x, y, epochs=1, batch_size=16,
            rng=RNG(4), progress=False, loss_fn=pieces.loss())

    return run


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def per_sample_loss(z, labels):
    return -np.log(softmax(z)[np.arange(len(labels)), labels])


def ok_dropout(x, p, rng, training):
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


def ok_sgd(w, g, v, lr, mu):
    v = mu * v + g
    return w - lr * v, v


P = PieceReturnedWrong
HERE = "(this notebook)"

CASES = [
    # --- linear_forward / linear_backward ---------------------------------------------------------
    Case("linear_forward returns None", one_step(linear_forward=lambda x, W, b: None), P, ("your linear_forward", HERE, "None")),
    Case("linear_forward returns a 2-tuple", one_step(linear_forward=lambda x, W, b: (x @ W, b)), P, ("linear_forward", "2-tuple")),
    Case("linear_forward returns float64", one_step(linear_forward=lambda x, W, b: x @ W.astype(np.float64) + b), P, ("linear_forward", "float64", "float32")),
    Case("linear_forward returns the transpose", one_step(linear_forward=lambda x, W, b: (x @ W + b).T), P, ("linear_forward", "shape (5, 4)", "(4, 5)")),
    Case("linear_forward returns a list", one_step(linear_forward=lambda x, W, b: (x @ W + b).tolist()), P, ("linear_forward", "list")),
    Case("linear_forward returns NaN", one_step(linear_forward=lambda x, W, b: x @ W + b * np.nan), P, ("linear_forward", "NaN", "finite inputs")),
    Case("linear_backward returns None", one_step(linear_backward=lambda dy, x, W: None), P, ("your linear_backward", "None", "dx, dW, db")),
    Case("linear_backward returns a 2-tuple", one_step(linear_backward=lambda dy, x, W: (x.T @ dy, dy.sum(axis=0))), P, ("linear_backward", "2-tuple", "3 values")),
    Case("linear_backward dW transposed", one_step(linear_backward=lambda dy, x, W: (dy @ W.T, dy.T @ x, dy.sum(axis=0))), P, ("linear_backward", "dW of shape", "expected")),
    Case("linear_backward db keepdims", one_step(linear_backward=lambda dy, x, W: (dy @ W.T, x.T @ dy, dy.sum(axis=0, keepdims=True))), P, ("linear_backward", "db of shape (1, ")),
    Case("linear_backward dx float64", one_step(linear_backward=lambda dy, x, W: ((dy @ W.T).astype(np.float64), x.T @ dy, dy.sum(axis=0))), P, ("linear_backward", "dx of dtype float64")),
    Case("linear_backward NaN dW", one_step(linear_backward=lambda dy, x, W: (dy @ W.T, x.T @ dy * np.nan, dy.sum(axis=0))), P, ("linear_backward", "NaN", "dW")),
    Case("linear_backward returns a dict", one_step(linear_backward=lambda dy, x, W: {"dx": dy @ W.T}), P, ("linear_backward", "dict")),
    # --- relu / relu_backward ---------------------------------------------------------------------
    Case("relu returns None", one_step(relu=lambda x: None), P, ("your relu", HERE, "None", "missing return")),
    Case("relu returns float64", one_step(relu=lambda x: np.maximum(x, 0).astype(np.float64)), P, ("your relu", "float64", "float32")),
    Case("relu returns booleans", one_step(relu=lambda x: x > 0), P, ("relu", "dtype bool")),
    Case("relu returns NaN", one_step(relu=lambda x: np.maximum(x, 0) * np.nan), P, ("your relu", "NaN", "finite inputs")),
    Case("relu returns a list", one_step(relu=lambda x: list(np.maximum(x, 0))), P, ("relu", "list")),
    Case("relu flattens", one_step(relu=lambda x: np.maximum(x, 0).ravel()), P, ("relu", "shape (20,)")),
    Case("relu returns a number", one_step(relu=lambda x: float(np.maximum(x, 0).sum())), P, ("relu", "float", "NumPy array")),
    Case("relu_backward returns None", one_step(relu_backward=lambda dy, x: None), P, ("your relu_backward", "None")),
    Case("relu_backward returns the mask", one_step(relu_backward=lambda dy, x: x > 0), P, ("relu_backward", "bool")),
    Case("relu_backward returns float64", one_step(relu_backward=lambda dy, x: dy * (x > 0).astype(np.float64)), P, ("relu_backward", "float64")),
    # --- dropout ----------------------------------------------------------------------------------
    Case("dropout_forward returns y only", one_step(dropout_forward=lambda x, p, rng, training: x), P, ("your dropout_forward", "2 values", "y, mask")),
    Case("dropout_forward returns a 3-tuple", one_step(dropout_forward=lambda x, p, rng, training: (x, None, p)), P, ("dropout_forward", "3-tuple")),
    Case("dropout_forward y float64", one_step(dropout_forward=lambda x, p, rng, training: (x * rng.random(x.shape), None)), P, ("dropout_forward", "y of dtype float64")),
    Case("dropout_forward returns None", one_step(dropout_forward=lambda x, p, rng, training: None), P, ("dropout_forward", "None")),
    Case("dropout_backward returns None", one_step(dropout_forward=ok_dropout, dropout_backward=lambda dy, mask: None), P, ("your dropout_backward", "None")),
    Case("dropout_backward float64", one_step(dropout_forward=ok_dropout, dropout_backward=lambda dy, mask: dy * mask.astype(np.float64)), P, ("dropout_backward", "float64")),
    # --- loss -------------------------------------------------------------------------------------
    Case("cross_entropy returns an array", one_step(cross_entropy=per_sample_loss), P, ("your cross_entropy", "array of shape (4,)", "one number")),
    Case("cross_entropy returns None", one_step(cross_entropy=lambda z, y: None), P, ("cross_entropy", "None", "one number")),
    Case("cross_entropy returns a string", one_step(cross_entropy=lambda z, y: "0.5"), P, ("cross_entropy", "str", "one number")),
    Case("cross_entropy returns a tuple", one_step(cross_entropy=lambda z, y: (per_sample_loss(z, y).mean(), 0)), P, ("cross_entropy", "2-tuple")),
    Case("cross_entropy returns complex", one_step(cross_entropy=lambda z, y: complex(per_sample_loss(z, y).mean())), P, ("cross_entropy", "complex")),
    Case("cross_entropy returns NaN", one_step(cross_entropy=lambda z, y: float("nan")), P, ("cross_entropy", "nan", "finite inputs")),
    Case("cross_entropy returns True", one_step(cross_entropy=lambda z, y: True), P, ("cross_entropy", "bool")),
    Case("softmax_cross_entropy_backward None", one_step(softmax_cross_entropy_backward=lambda z, y: None), P, ("your softmax_cross_entropy_backward", "None")),
    Case("softmax_cross_entropy_backward float64", one_step(softmax_cross_entropy_backward=lambda z, y: softmax(z.astype(np.float64))), P, ("softmax_cross_entropy_backward", "float64")),
    Case("softmax_cross_entropy_backward per sample", one_step(softmax_cross_entropy_backward=lambda z, y: softmax(z)[:, 0]), P, ("softmax_cross_entropy_backward", "shape (4,)")),
    # --- optimizers and schedule -----------------------------------------------------------------
    Case("sgd_momentum_step returns w only", one_step(sgd_momentum_step=lambda w, g, v, lr, mu: w - lr * g), P, ("your sgd_momentum_step", "2 values", "w, v")),
    Case("sgd_momentum_step returns None", one_step(sgd_momentum_step=lambda w, g, v, lr, mu: None), P, ("sgd_momentum_step", "None")),
    Case("sgd_momentum_step w float64", one_step(sgd_momentum_step=lambda w, g, v, lr, mu: (w - np.float64(lr) * g.astype(np.float64), v)), P, ("sgd_momentum_step", "w of dtype float64")),
    Case("sgd_momentum_step NaN", one_step(sgd_momentum_step=lambda w, g, v, lr, mu: (w * np.nan, v)), P, ("sgd_momentum_step", "NaN", "w")),
    Case("adam_step returns a 2-tuple", one_step("adam", adam_step=lambda w, g, m, v, t, lr, b1, b2, eps: (w, m)), P, ("your adam_step", "2-tuple", "w, m, v")),
    Case("adam_step m float64", one_step("adam", adam_step=lambda w, g, m, v, t, lr, b1, b2, eps: (w, m.astype(np.float64), v)), P, ("adam_step", "m of dtype float64")),
    Case("cosine_lr returns an array", one_step(cosine_lr=lambda step, total, lr: np.full(3, lr)), P, ("your cosine_lr", "array of shape (3,)", "one number")),
    Case("cosine_lr returns None", one_step(cosine_lr=lambda step, total, lr: None), P, ("cosine_lr", "None")),
    Case("cosine_lr returns a string", one_step(cosine_lr=lambda step, total, lr: "0.1"), P, ("cosine_lr", "str")),
    # --- in fit: your piece is named, not nnlib's layer or the learning rate --------------------
    Case("fit with a float64 relu", fitted(relu=lambda x: np.maximum(x, 0.0).astype(np.float64)), P, ("your relu", "float64")),
    Case("fit with a NaN relu", fitted(relu=lambda x: np.where(x > 0, x, np.nan)), P, ("your relu", "NaN")),
    Case("fit with a per-sample cross_entropy", fitted(cross_entropy=per_sample_loss), P, ("your cross_entropy", "one number")),
    Case("fit with a linear_backward returning None", fitted(linear_backward=lambda dy, x, W: None), P, ("your linear_backward", "None")),
    # --- right answers still train ----------------------------------------------------------------
    Case("a correct dropout and SGD step", one_step(dropout_forward=ok_dropout, sgd_momentum_step=ok_sgd), None, ()),
    Case("a mean cross_entropy as a NumPy float32", one_step(cross_entropy=lambda z, y: per_sample_loss(z, y).mean()), None, ()),
    Case("a cosine_lr returning a Python int", one_step(cosine_lr=lambda step, total, lr: 0), None, ()),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_piece_that_returns_the_wrong_thing_is_named(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why
