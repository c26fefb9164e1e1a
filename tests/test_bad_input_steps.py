"""`fit(step=...)` checks what any step returns, with the same messages whichever way the step comes:
a function given to fit directly, or a learner's train_step wrapped by the course (`TrainingStep`, what
`assemble`'s `pieces.step()` passes). Issue 27: fit gave raw Python errors (`cannot unpack
non-iterable NoneType`), and NaN logits or a step that changed yb trained silently."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course.training_step import TrainingStep
from nnlib.network import mlp
from nnlib.optim import SGD
from nnlib.train import fit, train_step
from tests.bad_input import Case, case_id, expected, outcome

V = ValueError
OWNER = "your train_step (this notebook)"


def train_with(step, wrapped: bool):
    """fit for one epoch with `step`, given directly or as the course wraps a learner's train_step."""

    def run(_):
        rng = np.random.default_rng(0)
        model = mlp((784, 8, 10), 0.0, rng)
        x = rng.random((64, 784), dtype=np.float32)
        y = rng.integers(0, 10, 64)
        given = TrainingStep(step, OWNER) if wrapped else step
        history = fit(model, SGD(model.parameters(), 0.1), x, y, epochs=1, rng=rng, batch_size=16,
                      step=given, progress=False)
        assert history.epochs == 1 and history.train_acc[0] < 0.5, history  # random labels: no 1.0

    return run


def fit_with_step(step):
    model = mlp((784, 8, 10), 0.0, np.random.default_rng(0))
    return fit(model, SGD(model.parameters(), 0.1), np.zeros((4, 784), np.float32), np.zeros(4, np.int64),
               epochs=1, rng=np.random.default_rng(0), step=step, progress=False)


def returning(transform):
    """nnlib's train_step whose (loss, logits) `transform` changes on the way out."""
    return lambda model, loss_fn, xb, yb, lr: transform(*train_step(model, loss_fn, xb, yb, lr))


def zeroing_labels(model, loss_fn, xb, yb, lr):
    yb[:] = 0  # then every label is 0: the accuracy counted against them would be made up
    return train_step(model, loss_fn, xb, yb, lr)


STEPS = [
    ("returns None", lambda *args: None, V, ("returned None", "a missing return", "(loss, logits)")),
    ("returns a 1-tuple", returning(lambda loss, logits: (loss,)), V, ("returned a 1-tuple", "(loss, logits)")),
    ("returns a 3-tuple", returning(lambda loss, logits: (loss, logits, 0.1)), V, ("returned a 3-tuple",)),
    ("returns (logits, loss)", returning(lambda loss, logits: (logits, loss)), V, ("returned (logits, loss)", "in this order")),
    ("returns the loss only", returning(lambda loss, logits: loss), V, ("returned a float", "(loss, logits)")),
    ("returns a list [loss, logits]", returning(lambda loss, logits: [loss, logits]), None, ()),
    ("returns the logits as a list", returning(lambda loss, logits: (loss, logits.tolist())), V, ("logits that are a list", "(batch 16, classes)")),
    ("returns the loss as a string", returning(lambda loss, logits: (str(loss), logits)), V, ("a loss that is a str", "one number")),
    ("returns a complex loss", returning(lambda loss, logits: (complex(loss), logits)), V, ("a loss that is a complex",)),
    ("returns the loss as an array", returning(lambda loss, logits: (np.full(3, loss), logits)), V, ("a loss that is an array of shape (3,)",)),
    ("returns NaN logits", returning(lambda loss, logits: (loss, logits * np.nan)), V, ("logits with", "NaN or infinite", "finite loss")),
    ("sets yb[:] = 0", zeroing_labels, V, ("changed yb", "only reads them")),
]

CASES = [
    Case(f"{name} ({way})", train_with(step, wrapped), error, (*words, OWNER) if wrapped and error else words)
    for name, step, error, words in STEPS for wrapped, way in ((False, "fit(step=fn)"), (True, "the course's TrainingStep"))
] + [
    Case("step=5", lambda _: fit_with_step(5), V, ("fit: step must be a function", "got int")),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_what_a_step_returns_is_checked_the_same_way_whichever_way_it_comes(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why
