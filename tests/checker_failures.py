"""What a checker's failure must look like, shared by the test_checks_* files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nnlib.course.checks import CheckFailed


def assert_helpful_failure(check: Callable, fn: Callable, message: str, capsys) -> None:
    """`check(fn)` fails with `message` (a regex), names the checker first, and lets no
    NumPy warning through to stderr (the checker reports NaN and inf itself)."""
    with pytest.raises(CheckFailed, match=message) as failure:
        check(fn)
    assert str(failure.value).startswith(f"{check.__name__}: ")
    assert capsys.readouterr().err == ""
