"""What a checker's pass, "not implemented" and failure must look like, shared by the test_checks_* files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nnlib.course.checks import CheckFailed


def not_implemented(*args):
    """An exercise as the handout leaves it."""
    raise NotImplementedError()


def right_answer_tests(correct: list[tuple[Callable, Callable]]) -> tuple[Callable, Callable]:
    """The two tests of a file's (checker, right answer) pairs, for the file to bind to its names:
    each right answer passes with a ✅ that names the checker, and each checker reports a stub
    as not implemented yet (⏳) instead of raising."""

    @pytest.mark.parametrize("check, fn", correct, ids=lambda v: getattr(v, "__name__", ""))
    def test_right_answers_pass(check, fn, capsys):
        check(fn)
        out = capsys.readouterr().out
        assert "✅" in out and check.__name__ in out

    @pytest.mark.parametrize("check", sorted({c for c, _ in correct}, key=lambda c: c.__name__))
    def test_not_implemented_is_reported_not_raised(check, capsys):
        check(not_implemented)
        out = capsys.readouterr().out
        assert "⏳" in out and "not implemented yet" in out

    return test_right_answers_pass, test_not_implemented_is_reported_not_raised


def assert_helpful_failure(check: Callable, fn: Callable, message: str, capsys) -> None:
    """`check(fn)` fails with `message` (a regex), names the checker first, and lets no
    NumPy warning through to stderr (the checker reports NaN and inf itself)."""
    with pytest.raises(CheckFailed, match=message) as failure:
        check(fn)
    assert str(failure.value).startswith(f"{check.__name__}: ")
    assert capsys.readouterr().err == ""
