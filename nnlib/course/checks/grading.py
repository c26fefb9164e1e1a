"""Grading mode of the checkers: stricter, with hidden cases and a guard against borrowed answers.

nbgrader sets `NBGRADER_EXECUTION` (to `autograde` or `validate`) while it runs a notebook, and
the kernel inherits it; `NNLIB_STRICT_CHECKS=1` does the same by hand. In grading mode a checker

- fails an exercise that is not implemented yet (in class it only prints ⏳);
- runs its cases again on hidden inputs drawn from other seeds, so a hard-coded answer fails,
  and, for the shape-generic exercises, one hidden case with other shapes (`other_shapes`);
- fails a function that calls nnlib's own implementation of the same exercise (listed in
  the registry's `references`), naming it: `return nnlib.losses.softmax(z)` is not an answer; so does a
  function that *is* that implementation (`ReLU().forward`, a `functools.partial` of it), and
  any check once nnlib's implementation was replaced in the notebook (kept from import time);
- stops a function after `CHECK_SECONDS` and does not run it again in the notebook.

What the learner's code does in the kernel can still change all this (it runs first); the
audit of the answers' source outside the kernel (`nnlib.course.grading.audit`) is what a
teacher relies on.

A call with `demonstration=True` (lesson 00 shows what an unfinished exercise prints) is never
graded: it behaves as in class.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FrameType, MethodType
from typing import Any

from nnlib.course import exercises
from nnlib.course.checks.other_shapes import check_other_shapes

STRICT_VARIABLE = "NNLIB_STRICT_CHECKS"
NBGRADER_VARIABLE = "NBGRADER_EXECUTION"

# The hidden rounds: each re-runs a checker's cases with its seeds shifted by this much.
HIDDEN_SEED_OFFSETS = (1009,)
# How a failure in a hidden round begins (the class report strips it to group mistakes).
HIDDEN_PREFIX = "hidden cases (other random inputs): "

def references(name: str) -> tuple[str, ...]:
    """nnlib's (or a library's) implementations of exercise `name`, as "module:qualified.name"
    (declared in the registry): a learner's function that calls one of them for its own
    exercise fails in grading mode."""
    known = {e.name: e for e in exercises.all_exercises()}
    return known[name].references if name in known else ()


# The seed shift of the round being run (0: the visible cases). A context variable, so that
# nested or concurrent checks cannot see each other's round.
_seed_offset: contextvars.ContextVar[int] = contextvars.ContextVar("nnlib_checks_seed_offset", default=0)


def grading_mode() -> bool:
    """True while nbgrader grades or validates, or when `NNLIB_STRICT_CHECKS=1`."""
    return bool(os.environ.get(NBGRADER_VARIABLE)) or os.environ.get(STRICT_VARIABLE) == "1"


def seed_offset() -> int:
    """How far the current round shifts the checkers' seeds (0 outside hidden rounds)."""
    return _seed_offset.get()


def resolve(spec: str) -> Any:
    """The object named by "module:qualified.name" (e.g. "nnlib.layers:ReLU.forward")."""
    module_name, _, qualified = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    """`code` and the code of the functions defined inside it (a schedule's inner `at`)."""
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _code_objects(constant)


def _capture(spec: str) -> tuple[Any, CodeType]:
    function = resolve(spec)
    function = getattr(function, "__wrapped__", function)
    return function, function.__code__


# nnlib's references as they were when the checkers were imported (the lesson's first cell),
# before any of the learner's code ran: a learner's cell that replaces one (or its code) cannot
# make the check compare an answer with itself, nor hide the answer from the guard.
_ORIGINALS: dict[str, tuple[Any, CodeType]] = {}


def capture_originals() -> None:
    """Remember every nnlib reference as it is now (nnlib.course.checks calls this once its
    checkers are declared, at the lesson's first cell)."""
    for known in exercises.all_exercises():
        for spec in known.references:
            if spec.startswith("nnlib.") and spec not in _ORIGINALS:
                _ORIGINALS[spec] = _capture(spec)


def reference_code(name: str) -> dict[CodeType, str]:
    """The code objects of exercise `name`'s references (nnlib's as imported), each with its name."""
    found: dict[CodeType, str] = {}
    for spec in references(name):
        _, code = _ORIGINALS[spec] if spec in _ORIGINALS else _capture(spec)
        for inner in _code_objects(code):
            found[inner] = spec.replace(":", ".")
    return found


def replaced_reference(name: str) -> str | None:
    """The first of exercise `name`'s nnlib references that is no longer what was imported
    (the name rebound, or its code swapped), or None."""
    for spec in references(name):
        if spec not in _ORIGINALS:
            continue
        function, code = _ORIGINALS[spec]
        try:
            now, now_code = _capture(spec)
        except (AttributeError, ImportError):
            return spec.replace(":", ".")
        if now is not function or now_code is not code or function.__code__ is not code:
            return spec.replace(":", ".")
    return None


def learner_function(fn: Any) -> tuple[Any, CodeType | None]:
    """What actually runs when `fn` is called, and its code: through `functools.partial`,
    bound methods, static and class methods, and callable objects (their `__call__`)."""
    for _ in range(20):  # a chain of wrappers; 20 is far more than any honest answer has
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, MethodType | staticmethod | classmethod):
            fn = fn.__func__
        elif isinstance(getattr(fn, "__code__", None), CodeType):
            return fn, fn.__code__
        elif not isinstance(fn, type) and isinstance(getattr(type(fn).__call__, "__code__", None), CodeType):
            fn = type(fn).__call__
        else:
            return fn, None
    return fn, None


@contextlib.contextmanager
def _watch_for_calls(learner: CodeType, forbidden: dict[CodeType, str]) -> Iterator[list[str]]:
    """Collect the names of `forbidden` functions called (directly or not) from `learner`'s code."""
    called: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call" or called or frame.f_code not in forbidden:
            return
        caller = frame.f_back
        while caller is not None:
            if caller.f_code is learner:
                called.append(forbidden[frame.f_code])
                return
            caller = caller.f_back

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(previous)


# A graded check (all its rounds) that runs longer than this fails: an endless loop costs this
# once, not a whole cell's time limit, and the function is not run again in this kernel (the
# lesson's later cells, `assemble.gather` and training, leave it out). The lessons' own answers
# take well under a second.
CHECK_SECONDS = 20.0
TIMED_OUT_MESSAGE = (f"your function did not finish within {CHECK_SECONDS:g} s (an endless loop?); graded as "
                     "failed, and not run again in this notebook")
# The kernel's memory of functions whose check timed out (keys of their code, so that the same
# function read again from its notebook is recognised too).
_TIMED_OUT: set[tuple] = set()


class _CheckTimedOut(BaseException):
    """Raised inside the learner's code when a graded check runs out of time (a BaseException,
    so that an `except Exception` in the learner's loop cannot swallow it)."""


def _code_key(code: CodeType) -> tuple:
    """What identifies a function's code whichever cell or file defined it."""
    constants = tuple(_code_key(c) if isinstance(c, CodeType) else repr(c) for c in code.co_consts)
    return code.co_name, code.co_code, constants, code.co_names


def timed_out(fn: Callable) -> bool:
    """Did a graded check of this function (or of the same code) run out of time in this kernel?"""
    _, code = learner_function(fn)
    return code is not None and _code_key(code) in _TIMED_OUT


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_CheckTimedOut` in the main thread after `seconds` (no limit elsewhere, e.g. on
    Windows or in a thread, where SIGALRM is not available)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _CheckTimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _borrowed_message(reference: str) -> str:
    if not reference.startswith("nnlib."):  # e.g. sklearn's confusion_matrix
        return (f"your function calls a library's finished answer {reference}(...); in this exercise you "
                "write it yourself (with NumPy), so that call cannot earn the points")
    return (f"your function calls nnlib's own answer {reference}(...); in this exercise you write it "
            "yourself (with NumPy), so a call to nnlib cannot earn the points")


def run_check(
    name: str, check: Callable[..., str], failure: type[AssertionError], fn: Callable,
    *args: Any, **kwargs: Any,
) -> str:
    """Run `check(fn, ...)` as grading mode wants it: the visible cases, then the hidden rounds,
    all while watching for calls to nnlib's answer. Returns what the visible round passed;
    raises `failure` (the checkers' `CheckFailed`) with what went wrong."""
    replaced = replaced_reference(name)
    if replaced:
        raise failure(f"nnlib's own {replaced} was replaced in this notebook, so the check cannot trust "
                      "what it compares with; an answer leaves nnlib as it is")
    _, learner = learner_function(fn)
    forbidden = reference_code(name)
    if learner in forbidden:  # nnlib's answer itself, or a partial, bound method or wrapper of it
        raise failure(_borrowed_message(forbidden[learner]))
    if learner is None:
        forbidden = {}  # a builtin or NumPy function: no Python code of its own that could call nnlib
    if learner is not None and _code_key(learner) in _TIMED_OUT:
        raise failure(TIMED_OUT_MESSAGE)
    try:
        with _time_limit(CHECK_SECONDS):
            return _run_rounds(name, check, failure, fn, learner, forbidden, *args, **kwargs)
    except _CheckTimedOut:
        if learner is not None:
            _TIMED_OUT.add(_code_key(learner))
        raise failure(TIMED_OUT_MESSAGE) from None


def _run_rounds(
    name: str, check: Callable[..., str], failure: type[AssertionError], fn: Callable,
    learner: CodeType | None, forbidden: dict[CodeType, str], *args: Any, **kwargs: Any,
) -> str:
    """The visible round, the hidden rounds and the other shapes, watching for nnlib's answer."""
    with _watch_for_calls(learner, forbidden) if forbidden else contextlib.nullcontext([]) as called:
        try:
            passed = check(fn, *args, **kwargs)
            for offset in HIDDEN_SEED_OFFSETS:
                token = _seed_offset.set(offset)
                try:
                    check(fn, *args, **kwargs)
                except AssertionError as err:
                    if called:
                        raise failure(_borrowed_message(called[0])) from None
                    raise failure(f"{HIDDEN_PREFIX}{err}") from None
                finally:
                    _seed_offset.reset(token)
            try:
                check_other_shapes(name, fn)
            except AssertionError as err:
                if called:
                    raise failure(_borrowed_message(called[0])) from None
                raise failure(str(err)) from None
        except AssertionError:
            if called:
                raise failure(_borrowed_message(called[0])) from None
            raise
    if called:
        raise failure(_borrowed_message(called[0]))
    return passed
