"""Learner functions that are wrong in odd ways: every checker answers in one line (CheckFailed),
never a traceback, and names the actual mistake (see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlib.course import checks
from nnlib.course.checks import CheckFailed
from tests.bad_input import Case, case_id, expected, outcome

F = CheckFailed
REPO = Path(__file__).resolve().parent.parent


def check(checker, fn):
    return lambda _: checker(fn)


def softmax_ok(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def wrong_mistakes(probs, labels, k):
    wrong = np.flatnonzero(probs.argmax(axis=1) != labels)
    return wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")[:k]].astype(float)


def l2_in_place(params, lam):
    total = 0.0
    for p in params:
        if p.value.ndim == 2:
            p.value **= 2
            total += float(p.value.sum())
    return 0.5 * lam * total


def one_hot_skipping_row_0(labels, classes):
    y = np.zeros((len(labels), classes), np.float32)
    for i in range(1, len(labels)):
        y[i, labels[i]] = 1
    return y


def count_fancy(labels, classes):
    counts = np.zeros(classes, dtype=int)
    counts[labels] += 1
    return counts


def sce_columns(z, labels):
    y = np.zeros_like(z)
    y[:, labels] = 1
    return (softmax_ok(z) - y) / len(labels)


def sce_by_classes(z, labels):
    y = np.zeros_like(z)
    y[np.arange(len(labels)), labels] = 1
    return (softmax_ok(z) - y) / z.shape[1]


def dropout_nan(x, p, rng, training):
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(x.dtype) * np.nan
    return x * mask, mask


def cosine(step, total, lr, progress=None):
    progress = min(step, total) / total if progress is None else progress
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


def interrupted(checker, fn):
    """Run a checker on a learner function that never returns, interrupted after 0.3 s of CPU time as by
    Ctrl-C. The watchdog is its own signal (SIGVTALRM), installed for this call only: SIGINT may be
    ignored (a background job, nohup, CI), and SIGALRM is pytest-timeout's."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    def run(_):
        previous = signal.signal(signal.SIGVTALRM, stop)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0.3)
        try:
            checker(fn)
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)

    return run


def endless(*args):
    while True:
        pass


CASES = [
    # --- no traceback ever escapes ----------------------------------------------------------
    Case("float indices in top_confident_mistakes", check(checks.top_confident_mistakes, wrong_mistakes), F,
         ("integer indices", "float64")),
    Case("complex cross_entropy", check(checks.cross_entropy, lambda z, y: complex(2.0)), F, ("complex",)),
    Case("complex l2_penalty", check(checks.l2_penalty, lambda p, lam: np.complex128(0.1)), F, ("complex",)),
    Case("complex softmax", check(checks.softmax, lambda z: softmax_ok(z).astype(complex)), F, ("complex",)),
    Case("complex relu", check(checks.relu, lambda x: np.maximum(x, 0).astype(complex)), F, ("complex",)),
    Case("complex accuracy", check(checks.accuracy, lambda p, y: complex(0.5)), F, ("complex",)),
    Case("complex cosine_lr", check(checks.cosine_lr, lambda s, t, lr: complex(cosine(s, t, lr))), F,
         ("complex",)),
    Case("string cosine_lr", check(checks.cosine_lr, lambda s, t, lr: str(cosine(s, t, lr))), F,
         ("expected one number", "str")),
    Case("string array relu", check(checks.relu, lambda x: x.astype(str)), F, ("expected numbers", "<U")),
    Case("list of lists from top_confident_mistakes", check(checks.top_confident_mistakes,
                                                            lambda p, y, k: [[1, 2], [3]]), F, ()),
    Case("endless loop in relu", interrupted(checks.relu, endless), F, ("interrupted while checking", "x (4, 5)")),
    Case("endless loop in softmax", interrupted(checks.softmax, endless), F,
         ("interrupted while checking", "logits (3, 4)", "never returned")),
    # --- hints that were wrong --------------------------------------------------------------
    Case("NaN relu is not an exp overflow", check(checks.relu, lambda x: np.maximum(x, 0) * np.nan), F,
         ("NaN or infinite", "division by zero")),
    Case("NaN SGD step is not an exp overflow", check(checks.sgd_momentum_step,
                                                      lambda w, g, v, lr, mu: (w * np.nan, mu * v + g)), F, ("NaN", "w")),
    Case("log of raw logits", check(checks.cross_entropy, lambda z, y: -np.log(z[np.arange(len(y)), y]).mean()), F,
         ("log of the raw logits",)),
    Case("probs.max == labels", check(checks.accuracy, lambda p, y: np.mean(p.max(axis=1) == y)), F,
         ("largest probabilities (max)", "argmax(axis=1)")),
    Case("argmax without axis", check(checks.accuracy, lambda p, y: np.mean(p.argmax() == y)), F,
         ("argmax without axis",)),
    Case("l2_penalty squares in place", check(checks.l2_penalty, l2_in_place), F, ("in place",)),
    Case("NaN dropout mask", check(checks.dropout_forward, dropout_nan), F, ("mask", "NaN")),
    # --- gaps that passed or got only "N of M entries differ" -----------------------------------
    Case("softmax shifted by the minimum", check(checks.softmax, lambda z: _softmax_min(z)), F,
         ("minimum", "maximum")),
    Case("uint8 / 255 before converting", check(checks.scale_images,
         lambda im: (im / 255).astype(np.float32).reshape(len(im), -1)), F, ("float64 copy",)),
    Case("counts[labels] += 1", check(checks.count_labels, count_fancy), F, ("np.add.at",)),
    Case("Y[:, labels] = 1", check(checks.softmax_cross_entropy_backward, sce_columns), F, ("Y[np.arange(N), labels]",)),
    Case("divided by C", check(checks.softmax_cross_entropy_backward, sce_by_classes), F, ("number of classes",)),
    Case("cosine off by one (total - 1)", check(checks.cosine_lr, lambda s, t, lr: cosine(
        s, t, lr, min(s, t - 1) / (t - 1))), F, ("off by one", "total - 1")),
    Case("cosine off by one (step + 1)", check(checks.cosine_lr, lambda s, t, lr: cosine(
        s, t, lr, min(s + 1, t) / t)), F, ("off by one", "step + 1")),
    Case("cosine integer division", check(checks.cosine_lr, lambda s, t, lr: cosine(s, t, lr, min(s, t) // t)), F,
         ("integer division",)),
    Case("cosine in degrees", check(checks.cosine_lr, lambda s, t, lr: lr * 0.5 * (1 + math.cos(
        180 * min(s, t) / t))), F, ("radians", "180")),
    Case("one_hot loop skips row 0", check(checks.one_hot, one_hot_skipping_row_0), F, ("row 0", "skip")),
]


def _softmax_min(z):
    e = np.exp(z - z.min(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_learner_function_gets_one_clear_line(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_correct_functions_still_pass(capsys):
    """Guards the table: the right answers of the same exercises pass."""
    checks.softmax(softmax_ok)
    checks.scale_images(lambda im: im.reshape(len(im), -1).astype(np.float32) / 255)
    checks.cosine_lr(cosine)
    assert capsys.readouterr().out.count("✅") == 3


def test_the_endless_loop_cases_end_when_sigint_is_ignored():
    """As in a background job, under nohup or in CI: Ctrl-C's signal is ignored, the watchdog still works."""
    code = ("import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "from tests.test_bad_input_checkers import CASES\n"
            "from tests.bad_input import outcome\n"
            "from pathlib import Path\n"
            "kinds = [outcome(case, Path('.'))[0] for case in CASES if case.name.startswith('endless')]\n"
            "assert kinds == ['clear', 'clear'], kinds\n")
    child = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
