"""The checkers' machinery (what each line a checker prints means: see `nnlib.course.checks`).

`checker` turns a check into one printed line (✅ passed, ⏳ not implemented yet) or one
red line (`CheckFailed`, no traceback); `_call` runs the learner's function on copies of
its inputs and notices in-place changes; `_expect_close` compares a result with nnlib's
and explains the difference, with `Hint`s for recognisable mistakes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlib.course import exercises
from nnlib.course.checks import grading
from nnlib.course.checks.grading import STRICT_VARIABLE  # noqa: F401  (re-exported by nnlib.course.checks)

Hint = Callable[[np.ndarray, np.ndarray], str | None]


class CheckFailed(AssertionError):
    """A learner's function gave a wrong answer. IPython shows only the message."""

    def _render_traceback_(self) -> list[str]:  # IPython hook: replaces the traceback
        return [f"\x1b[31m❌ {self}\x1b[0m"]


class _NotImplementedYet(Exception):
    pass


def checker(
    name: str,
    *,
    lesson: str | None = None,
    points: int = 1,
    references: tuple[str, ...] = (),
    piece: str | None = None,
    may_use: tuple[str, ...] = (),
) -> Callable[[Callable[..., str]], Callable[..., None]]:
    """Turn `check(fn) -> description of what passed` into a checker that prints one line.

    With a `lesson`, this is also the exercise's one declaration in the registry
    (`nnlib.course.exercises`): its points, nnlib's own versions (`references`), the stage of
    "your network" it does (`piece`, e.g. "forward pass") and which lesson imports its answer
    may call (`may_use`)."""

    def wrap(check: Callable[..., str]) -> Callable[..., None]:
        @functools.wraps(check)
        def run(fn: Callable, *args: Any, demonstration: bool = False, **kwargs: Any) -> None:
            # demonstration=True: a lesson shows what a check prints; never graded (see checks.grading)
            if not callable(fn):
                raise CheckFailed(f"{name}: expected your function, got {type(fn).__name__}")
            graded = grading.grading_mode() and not demonstration
            try:
                if graded:
                    passed = grading.run_check(name, check, CheckFailed, fn, *args, **kwargs)
                else:
                    passed = check(fn, *args, **kwargs)
            except _NotImplementedYet:
                if graded:  # grading: unanswered counts as failed
                    raise CheckFailed(f"{name}: not implemented") from None
                print(f"⏳ {name}: not implemented yet (the cell above still raises NotImplementedError); "
                      "fill it in, then run this check again")
                return
            except CheckFailed as err:
                raise CheckFailed(f"{name}: {err}") from None
            except KeyboardInterrupt as err:  # e.g. a learner's loop that never ends: one line, no traceback
                raise CheckFailed(
                    f"{name}: interrupted while checking {_running_case(err, check)}: if you did not stop "
                    "it yourself, your function never returned (a loop whose condition never changes?)"
                ) from None
            except Exception as err:  # the promise is one line, never a traceback, even for a checker bug
                raise CheckFailed(f"{name}: could not check your result ({type(err).__name__}: "
                                  f"{' '.join(str(err).split())[:300]})") from None
            print(f"✅ {name}: passed ({passed})")

        if lesson is not None:
            exercises.declare(exercises.Exercise(name, lesson, points, tuple(references), piece,
                                                 frozenset(may_use), run))
        return run

    return wrap


def _running_case(interrupt: BaseException, check: Callable) -> str:
    """The case the check was running when interrupted: the local `case` of its innermost frame
    (every checker names its current case so), read from the traceback."""
    found = "your function"
    frame_tb = interrupt.__traceback__
    while frame_tb is not None:
        frame = frame_tb.tb_frame
        if frame.f_code is check.__code__ and isinstance(frame.f_locals.get("case"), str):
            found = frame.f_locals["case"]
        frame_tb = frame_tb.tb_next
    return found


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function on copies of the arguments (so it cannot spoil them),
    and fail if it changed one of those array copies in place."""
    copied = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = fn(*copied, **kwargs)
    except NotImplementedError:
        raise _NotImplementedYet from None
    except Exception as err:  # the learner's code failed: say how, in one line
        raise CheckFailed(f"your function raised {type(err).__name__}: {err}") from None
    _expect_inputs_unchanged(fn, args, copied)
    return result


def _expect_inputs_unchanged(fn: Callable, originals: Sequence[Any], passed: Sequence[Any]) -> None:
    """Fail if `fn` changed an array argument in place (e.g. `x[x < 0] = 0`, `z -= z.max()`):
    the caller's array would change too, and later steps need the original (a layer's backward
    pass reads the input its forward pass saw)."""
    for position, (original, seen) in enumerate(zip(originals, passed, strict=True)):
        if not isinstance(original, np.ndarray):
            continue
        nan_equal = original.dtype.kind in "fc"  # NaN == NaN only makes sense for floats
        if seen.shape == original.shape and np.array_equal(seen, original, equal_nan=nan_equal):
            continue
        raise CheckFailed(
            f"your function changed its input {_argument_name(fn, position)} in place; leave the inputs "
            "as they are and return new arrays instead (e.g. y = x - m rather than x -= m): the caller "
            "may still need the original"
        )


def _argument_name(fn: Callable, position: int) -> str:
    """The name of `fn`'s parameter number `position` (`x`, `z`, ...), or 'argument 2'."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # builtins such as np.abs have no readable signature
        names = []
    return f"`{names[position]}`" if position < len(names) else f"(argument {position + 1})"


def _expect_close(
    got: Any,
    expected: np.ndarray,
    case: str,
    hints: Sequence[Hint] = (),
    rtol: float = 1e-5,
    atol: float = 1e-7,
    check_dtype: bool = True,
    nan_cause: str = "",
) -> None:
    """Raise `CheckFailed` with a precise message unless `got` matches `expected`.

    `nan_cause`: the likely cause of NaN or inf for this check (a generic one otherwise)."""
    got = _as_result(got, case)
    if np.isscalar(expected) or np.ndim(expected) == 0:
        expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}")
    if check_dtype and expected.dtype.kind == "f" and got.dtype != expected.dtype:
        raise CheckFailed(
            f"{case}: expected dtype {expected.dtype}, got {got.dtype} "
            "(a float64 constant or np.zeros without dtype= can upcast float32 arrays)"
        )
    if got.dtype.kind == "f" and not np.isfinite(got).all() and np.isfinite(expected).all():
        bad = int(np.count_nonzero(~np.isfinite(got)))
        raise CheckFailed(f"{case}: {bad} entries are NaN or infinite where finite numbers were expected "
                          f"({nan_cause or 'a division by zero, or a value that grew without bound?'})")
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    for hint in hints:
        message = hint(got, expected)
        if message:
            raise CheckFailed(f"{case}: {message}")
    factor = _constant_ratio(got, expected)
    if factor is not None:
        raise CheckFailed(f"{case}: every entry is {factor:.4g} times the expected one: a constant factor is "
                          "wrong (one that should not be there, or one that is missing)")
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    difference = f"(largest difference {float(np.max(np.abs(got - expected))):.3g})"
    if got.ndim == 0:  # one number: no index to name, but its ratio to the expected one often tells the cause
        raise CheckFailed(f"{case}: 1 of 1 entries differ {difference}: got {got.item():.6g}, expected "
                          f"{expected.item():.6g}{_ratio(got.item(), expected.item())}")
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    raise CheckFailed(
        f"{case}: {int(wrong.sum())} of {wrong.size} entries differ {difference}; "
        f"first at index {first}: got {got[first]:.6g}, expected {expected[first]:.6g}"
    )


def _ratio(got: float, expected: float) -> str:
    """' (100 times the expected value)' for a number off by a factor (a ×100, a missing 1/N);
    '' when the ratio says nothing (expected 0, a sign flip, a factor near 1)."""
    if expected == 0 or not np.isfinite(got) or got / expected <= 0 or abs(np.log(got / expected)) < 0.1:
        return ""
    return f" ({got / expected:.4g} times the expected value)"


def _constant_ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    """The factor c when `got` is c times `expected` in every entry (c not 1, at least two
    nonzero entries to tell), else None."""
    if got.shape != expected.shape or got.dtype.kind not in "iuf" or expected.dtype.kind not in "iuf":
        return None
    expected = expected.astype(np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    nonzero = np.abs(expected) > 1e-6 * scale
    if np.count_nonzero(nonzero) < 2:
        return None
    factor = float(np.median(got[nonzero] / expected[nonzero]))
    if not np.isfinite(factor) or factor == 0 or np.isclose(factor, 1.0, rtol=1e-3):
        return None
    if np.allclose(got, factor * expected, rtol=1e-4, atol=1e-6 * scale * abs(factor)):
        return factor
    return None


def hint_scaled(factor: float, cause: str) -> Hint:
    """A hint that fires when `got == factor * expected` (e.g. a missing 1/N)."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        if np.allclose(got, factor * expected, rtol=1e-4, atol=1e-7) and not np.allclose(expected, 0):
            return f"your result is {factor:g} times the expected one: {cause}"
        return None

    return hint


def _cases(seed: int = 0) -> np.random.Generator:
    """The generator every checker draws its inputs from: the same cases every run."""
    return np.random.default_rng(seed + grading.seed_offset())  # other seeds in hidden rounds


def _hint_matches(alternative: Callable[[], np.ndarray], message: str) -> Hint:
    """A hint that fires when the learner's result equals a known wrong `alternative()`."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        try:
            with np.errstate(all="ignore"):
                wrong = np.asarray(alternative())
        except ValueError:  # the wrong answer cannot even be formed for these shapes
            return None
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-4, atol=1e-6):
            return message
        return None

    return hint


def _as_result(got: Any, case: str) -> np.ndarray:
    """The learner's result as an array, or a clear `CheckFailed` (None, a list, ...)."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
    if not isinstance(got, np.ndarray | np.generic | float | int | complex):
        raise CheckFailed(f"{case}: expected a NumPy array, got {type(got).__name__}")
    return _real_numbers(np.asarray(got), case)


def _real_numbers(got: np.ndarray, case: str) -> np.ndarray:
    """`got` unless it holds complex numbers or non-numbers (strings, objects), which compare
    wrongly or not at all."""
    if got.dtype.kind == "c":
        raise CheckFailed(f"{case}: your result is complex ({got.dtype}); expected real numbers (np.sqrt or "
                          "np.log of a negative number via np.emath, or a 1j, makes complex numbers)")
    if got.dtype.kind not in "biuf":
        raise CheckFailed(f"{case}: expected numbers, got an array of dtype {got.dtype}")
    return got


# NumPy words a matrix product's shape error two ways: `@` says "mismatch", np.dot "not aligned".
_MATMUL_SHAPE_ERRORS = ("mismatch", "not aligned")


def _matmul_shape_hints(hint: str) -> dict[str, str]:
    """`error_hints` for `_call_quietly` that add `hint` to either wording of a product's shape error."""
    return dict.fromkeys(_MATMUL_SHAPE_ERRORS, hint)


def _call_quietly(fn: Callable, *args: Any, error_hints: dict[str, str] | None = None) -> Any:
    """`_call` with NumPy's overflow warnings silenced (the checker reports NaN and inf itself)
    and a hint added when the learner's own error message contains a known phrase."""
    with np.errstate(all="ignore"):
        try:
            return _call(fn, *args)
        except CheckFailed as err:
            for phrase, hint in (error_hints or {}).items():
                if phrase in str(err):
                    raise CheckFailed(f"{str(err).rstrip()}. Hint: {hint}") from None
            raise


def _expect_parts(got: Any, count: int, names: str, case: str) -> tuple:
    """The learner's tuple result, or a clear `CheckFailed` (None, wrong length, ...)."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return {names}`?")
    if not isinstance(got, tuple | list) or len(got) != count:
        what = type(got).__name__
        if isinstance(got, tuple | list):
            what = f"a {what} of {len(got)}"
        raise CheckFailed(f"{case}: expected a tuple of {count} arrays {names}, got {what}")
    return tuple(got)
