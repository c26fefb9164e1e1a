"""Trust in grading: the audit of answers' source (outside the kernel) and the in-kernel guard
against borrowed answers (a reference itself, a partial or bound method of one, a replaced one),
and the hidden round of the fixed-input check (cosine_lr)."""

from __future__ import annotations

import ast
import functools
import inspect
import math
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnlib.course import checks, exercises
from nnlib.course.checks import CheckFailed, grading
from nnlib.course.grading.audit import (
    NEAR_COPY_MIN_TOKENS,
    NEAR_COPY_RATIO,
    audit_notebook,
    audit_source,
    lesson_imports,
    normalised_tokens,
    reference_tokens,
    similarity,
)
from tests.grading_tricks import TRICKS

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))
LESSON_OF = {"softmax": "02", "relu": "02", "cross_entropy": "02", "linear_forward": "02", "accuracy": "07",
             "confusion_matrix": "07", "one_hot": "01"}


def lesson(number: str) -> nbformat.NotebookNode:
    return nbformat.read(next(path for path in LESSONS if path.name.startswith(number)), as_version=4)


def solutions() -> dict[str, str]:
    found = {}
    for path in LESSONS:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                found[meta["grade_id"]] = cell.source
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_the_lessons_solutions_are_not_flagged(path):
    assert audit_notebook(nbformat.read(path, as_version=4)) == []


def test_honest_answers_in_other_words_are_not_flagged():
    honest = {
        "softmax": "def softmax(z):\n    z = z - np.max(z, axis=1, keepdims=True)\n    e = np.exp(z)\n"
                   "    return e / np.sum(e, axis=1, keepdims=True)\n",
        "cosine_lr": "import math\n\n\ndef cosine_lr(step, total, lr):\n"
                     "    return 0.5 * lr * (1 + math.cos(math.pi * min(step, total) / total))\n",
        "one_hot": "def one_hot(labels, classes):\n    return np.eye(classes, dtype=np.float32)[labels]\n",
        "add_l2_grad": "def add_l2_grad(params, lam):\n    for p in params:\n        if p.value.ndim == 2:\n"
                       "            p.grad += lam * p.value\n",
        "relu_backward": "def relu_backward(dy, x):\n    checks = x > 0\n    return dy * checks\n",
    }
    for exercise, source in honest.items():
        assert audit_source(source, exercise) == [], exercise


@pytest.mark.parametrize("exercise, trick", [(e, t) for e, tricks in TRICKS.items() for t in tricks])
def test_every_trick_is_flagged_with_a_reason(exercise, trick):
    reasons = audit_source(TRICKS[exercise][trick], exercise, lesson_imports(lesson(LESSON_OF[exercise])))
    assert reasons, f"{exercise}: {trick} not flagged"
    assert all(isinstance(reason, str) and len(reason) > 10 for reason in reasons)


def test_the_reasons_say_what_was_found():
    only = "(an answer imports only NumPy, math, collections and itertools)"
    assert f"imports from nnlib.losses {only}" in audit_source(TRICKS["softmax"]["import nnlib"], "softmax")
    assert "binds `relu` to something other than its own `def`" in audit_source(
        TRICKS["relu"]["bound method"], "relu")
    assert any("changes `checks.relu`" in r for r in audit_source(TRICKS["relu"]["replaced checker"], "relu"))
    sklearn = TRICKS["confusion_matrix"]["lesson's sklearn import"]
    assert any("which the lesson imports from sklearn.metrics" in r
               for r in audit_source(sklearn, "confusion_matrix", lesson_imports(lesson("07"))))
    assert any("near-copy of nnlib's nnlib.data.one_hot" in r
               for r in audit_source(TRICKS["one_hot"]["pasted nnlib"], "one_hot"))
    # a cell that cannot run is not flagged: its check fails anyway
    assert audit_source("def relu(x):\n    return np.maximum(x, 0\n", "relu") == []


def test_a_name_the_lesson_gives_is_allowed_where_the_lesson_says_so():
    lesson_03 = lesson_imports(lesson("03"))
    source = solutions()["softmax_cross_entropy_backward"]
    assert "softmax" in source and audit_source(source, "softmax_cross_entropy_backward", lesson_03) == []
    borrowed = "def linear_backward(dy, x, W):\n    return Linear(1, 1, None).backward(dy)\n"
    assert audit_source(borrowed, "linear_backward", lesson_03) == [
        "uses `Linear`, which the lesson imports from nnlib.layers"]


def _tokens_of(source: str) -> list[str]:
    tree = ast.parse(textwrap.dedent(source))
    return normalised_tokens(next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)))


class _Renamed(ast.NodeTransformer):
    """Every variable and parameter renamed, as a student hiding a paste would."""

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.copy_location(ast.Name(f"my_{node.id}", node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = f"my_{node.arg}"
        return node


def test_the_near_copy_threshold_separates_honest_answers_from_pasted_ones():
    """The numbers behind NEAR_COPY_RATIO (audit.py): every long nnlib answer against the lesson's
    solution (honest) and against its own source with every variable renamed (pasted)."""
    honest_scores, pasted_scores = [], []
    answers = solutions()
    for known in exercises.all_exercises():
        exercise = known.name
        for spec in known.references:
            if not spec.startswith("nnlib."):
                continue
            source = textwrap.dedent(inspect.getsource(grading.resolve(spec)))
            tokens = _tokens_of(source)
            if len(tokens) < NEAR_COPY_MIN_TOKENS:
                continue
            honest_scores.append(similarity(_tokens_of(answers[exercise]), tokens))
            renamed = ast.unparse(_Renamed().visit(ast.parse(source)))
            pasted_scores.append(similarity(_tokens_of(renamed), tokens))
    assert len(honest_scores) >= 10
    assert max(honest_scores) < 0.75 < NEAR_COPY_RATIO <= min(pasted_scores), (honest_scores, pasted_scores)


def test_short_references_are_never_compared():
    assert all(len(tokens) < NEAR_COPY_MIN_TOKENS for _, tokens in reference_tokens("relu"))
    assert audit_source("def relu(x):\n    return np.maximum(x, 0)\n", "relu") == []


# The in-kernel guard (grading mode).

@pytest.mark.parametrize("check, fn, reference", [
    (checks.relu, lambda: __import__("nnlib.layers").layers.ReLU().forward, "nnlib.layers.ReLU.forward"),
    (checks.softmax, lambda: functools.partial(__import__("nnlib.losses").losses.softmax),
     "nnlib.losses.softmax"),
    (checks.softmax, lambda: __import__("nnlib.losses").losses.softmax, "nnlib.losses.softmax"),
    (checks.relu, lambda: staticmethod(__import__("nnlib.layers").layers.ReLU.forward).__get__(None, object),
     "nnlib.layers.ReLU.forward"),
])
def test_nnlib_s_own_answer_fails_however_it_is_wrapped(check, fn, reference, graded):
    with pytest.raises(CheckFailed, match=f"calls nnlib's own answer {re.escape(reference)}"):
        check(fn())


def test_a_callable_object_that_calls_nnlib_fails(graded):
    from nnlib.layers import ReLU

    class Relu:
        def __call__(self, x):
            return ReLU().forward(x)

    with pytest.raises(CheckFailed, match="calls nnlib's own answer nnlib.layers.ReLU.forward"):
        checks.relu(Relu())


def test_a_replaced_reference_fails_the_check(graded, monkeypatch):
    import nnlib.losses

    def softmax(z):
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    monkeypatch.setattr(nnlib.losses, "softmax", softmax)  # the checker would compare it with itself
    with pytest.raises(CheckFailed, match="nnlib's own nnlib.losses.softmax was replaced in this notebook"):
        checks.softmax(softmax)


def test_cosine_lr_s_hidden_round_uses_other_schedules(graded, monkeypatch):
    """A table of the visible values passes in class and fails when graded."""
    monkeypatch.delenv("NBGRADER_EXECUTION")
    table: dict[tuple, float] = {}

    def recording(step, total, lr):
        table[step, total, lr] = lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        return table[step, total, lr]

    checks.cosine_lr(recording)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckFailed, match=r"^cosine_lr: hidden cases"):
        checks.cosine_lr(lambda step, total, lr: table[step, total, lr])
    checks.cosine_lr(recording)  # the right answer passes the hidden round too


def test_an_endless_loop_fails_its_check_once_and_is_not_run_again(graded, monkeypatch, capsys):
    """Graded, a check stops after CHECK_SECONDS; gather then leaves the function out of training."""
    from nnlib.course import assemble

    monkeypatch.setattr(grading, "CHECK_SECONDS", 0.5)
    monkeypatch.setattr(grading, "_TIMED_OUT", set())
    calls = []

    def relu(x):
        calls.append(1)
        while True:
            pass

    with pytest.raises(CheckFailed, match=r"relu: your function did not finish within 20 s"):
        checks.relu(relu)
    assert grading.timed_out(relu) and len(calls) == 1
    with pytest.raises(CheckFailed, match="did not finish"):
        checks.relu(relu)  # not run again
    pieces = assemble.gather(here={"relu": relu})
    assert "relu" in pieces.borrowed and "relu" not in pieces.functions and len(calls) == 1
    announced = capsys.readouterr().out
    assert "using nnlib's relu until yours is done (its graded check did not finish" in announced
