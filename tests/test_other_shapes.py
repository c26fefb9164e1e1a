"""Grading mode's hidden case with other shapes fails answers that only fit the visible shapes."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import checks, exercises
from nnlib.course.checks import CheckFailed
from nnlib.course.checks.other_shapes import CASES, SEED, check_other_shapes


def first_eight_rows_linear_forward(x, W, b):
    return x[:8] @ W + b  # right for every visible case (at most 8 rows)


def ten_classes_one_hot(labels, classes):
    return np.eye(10, dtype=np.float32)[labels][:, :classes]  # assumes at most 10 classes


def correct_relu(x):
    return np.maximum(x, 0)


@pytest.mark.parametrize("check, answer", [
    (checks.linear_forward, first_eight_rows_linear_forward),
    (checks.one_hot, ten_classes_one_hot),
])
def test_an_answer_that_fits_only_the_visible_shapes_passes_in_class_and_fails_when_graded(
        check, answer, graded, monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION")
    check(answer)
    assert "✅" in capsys.readouterr().out, "the visible cases pass (that is the point)"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckFailed, match="hidden case with other shapes"):
        check(answer)


def test_a_right_answer_passes_the_other_shapes(graded, capsys):
    checks.relu(correct_relu)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_is_an_exercise_and_compares_what_it_should(name):
    assert name in exercises.points()
    _, expected, _ = CASES[name](np.random.default_rng(SEED))
    check_other_shapes(name, lambda *args: expected)
    if isinstance(expected, tuple):
        off_by_one = tuple(np.asarray(part) + 1 for part in expected)
    else:
        off_by_one = np.asarray(expected) + 1
    with pytest.raises(AssertionError, match=r"hidden case with other shapes \("):
        check_other_shapes(name, lambda *args: off_by_one)
