"""Argument checks shared by nnlib's public functions.

Each check raises a one-line `ValueError` (also for a value of the wrong kind, so that one `except
ValueError` catches every bad argument) that names the function, the argument, what was expected and what
came (`fit: batch_size must be a positive integer, got 32.5`): a learner sees their own mistake instead of
a NumPy error from deep inside.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _shown(value: Any) -> str:
    """`value` as the message shows it: short, with its type when that is the surprise."""
    if isinstance(value, str):
        return f"the string {value!r}"
    if callable(value) and not isinstance(value, type):
        name = getattr(value, "__name__", type(value).__name__)
        return f"the function or method {name} (did you forget the () to call it?)"
    text = repr(value)
    if len(text) > 60:
        text = f"a {type(value).__name__}"
    return text


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def integer(value: Any, name: str, where: str, minimum: int = 1) -> int:
    """`value` as an int if it is an integer >= `minimum` (1: a count), else a clear error."""
    if not _is_integer(value) or value < minimum:
        names = {0: "a non-negative integer", 1: "a positive integer"}
        wanted = names.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{where}: {name} must be {wanted}, got {_shown(value)}")
    return int(value)


def real(
    value: Any,
    name: str,
    where: str,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a float if it is a finite real number in the interval, else a clear error.

    The interval is `[low, high]`; `low_open` / `high_open` exclude an end (`(0, inf)` is "positive").
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    if low == 0 and math.isinf(high):
        wanted = "a positive number" if low_open else "a number >= 0"
    else:
        wanted = f"a number in {left}{low:g}, {high:g}{right}"
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not is_number:
        raise ValueError(f"{where}: {name} must be {wanted}, got {_shown(value)}")
    number = float(value)
    if not in_interval(number, low, high, low_open, high_open):
        raise ValueError(f"{where}: {name} must be {wanted}, got {number:g}")
    return number


def in_interval(
    number: float, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> bool:
    """Is `number` finite and inside `[low, high]` (an end excluded when `low_open` / `high_open`)?"""
    return (
        math.isfinite(number)
        and (number > low if low_open else number >= low)
        and (number < high if high_open else number <= high)
    )


def probability(value: Any, name: str, where: str) -> float:
    """A drop probability: a number in [0, 1)."""
    return real(value, name, where, 0.0, 1.0, high_open=True)


def generator(value: Any, name: str, where: str) -> np.random.Generator:
    """An explicit `np.random.Generator` (the course never uses a global seed)."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(
            f"{where}: {name} must be a np.random.Generator, e.g. np.random.default_rng(1), "
            f"got {_shown(value)}"
        )
    return value
