"""Exercise checkers: instant, precise feedback on a learner's function.

A checker calls the learner's function on seeded inputs (several shapes and
edge cases), compares with nnlib's own implementation and prints one line:

    ✅ softmax: passed 4 tests (shapes, large logits, ...)
    ⏳ softmax: not implemented yet (the cell above still raises NotImplementedError)

or stops the notebook with one red line (no traceback wall) saying what is
wrong: None returned, wrong shape or dtype, which entries differ and by how
much, and a likely cause when one is recognisable. It never shows the
whole solution; it names the mistake. It also notices a function that
changes its input arrays in place.

The machinery lives in `core`; the checkers of each lesson in `lessons_00_02`,
`lesson_03`, `lesson_04`, `lesson_05` and `lessons_06_07`. Adding a checker: in
the lesson's module, write a function `name(fn)` decorated with
`@checker("name", lesson=..., points=..., references=...)` (the exercise's one
declaration, see `nnlib.course.exercises`) that calls `_call(fn, ...)` on each
case and `_expect_close(...)` on the result. `checks.name` finds it here by name.
"""

from typing import Any

from nnlib.course import exercises
from nnlib.course.checks import (  # noqa: F401  (the modules declare the exercises, in course order)
    lesson_03,
    lesson_03_loops,
    lesson_04,
    lesson_05,
    lessons_00_02,
    lessons_06_07,
)
from nnlib.course.checks.core import (
    STRICT_VARIABLE,
    CheckFailed,
    Hint,
    checker,
    hint_scaled,
)
from nnlib.course.checks.grading import capture_originals

# Now that every checker is declared, and before any learner code runs: nnlib's answers as imported.
capture_originals()


def __getattr__(name: str) -> Any:
    """`checks.relu` is the checker of exercise `relu` (from the registry)."""
    try:
        return exercises.exercise(name).checker
    except KeyError:
        raise AttributeError(f"nnlib.course.checks has no checker {name!r}: the exercises are "
                             f"{', '.join(e.name for e in exercises.all_exercises())}") from None


def __dir__() -> list[str]:
    return sorted([*__all__, *(e.name for e in exercises.all_exercises())])


__all__ = ["STRICT_VARIABLE", "CheckFailed", "Hint", "checker", "hint_scaled"]
