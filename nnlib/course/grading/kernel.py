"""What the notebook kernel does first while nbgrader grades: nothing for a person to look at.

The course's `nbgrader_config.py` starts every graded kernel with
`--IPKernelApp.exec_lines=import nnlib.course.grading.kernel as _k; _k.quiet(); del _k`, so that

- `ipywidgets.interact` only returns its function: no sliders, no callback drawing figures in
  the background (once the cause of two-minute stalls after an `interact(...)` cell);
- a lesson figure shows as one line of text instead of a PNG (nobody sees it, and drawing and
  encoding a PNG is most of what a plotting cell costs).

The checks, training and everything that earns points run as in class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXEC_LINES = "import nnlib.course.grading.kernel as _k; _k.quiet(); del _k"


class _InertInteract:
    """Stands in for `ipywidgets.interact`: called with a function (or as a decorator), it
    returns the function; `.options(...)` returns itself."""

    def __call__(self, function: Callable | None = None, *args: Any, **kwargs: Any) -> Any:
        return function if function is not None else (lambda f: f)

    def options(self, **kwargs: Any) -> _InertInteract:
        return self


def _figure_as_text(self: Any, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
    return {"text/plain": f"[figure, not drawn while grading: {self.alt_text}]"}, {}


def _no_png(self: Any) -> None:
    return None  # IPython's PNG formatter asks for it besides the mime bundle


def quiet() -> None:
    """Make widgets and lesson figures inert in this kernel (call only in a grading kernel)."""
    import ipywidgets

    from nnlib.course import plots

    inert = _InertInteract()
    ipywidgets.interact = inert
    ipywidgets.interact_manual = inert
    ipywidgets.widgets.interact = inert
    plots.LessonFigure._repr_mimebundle_ = _figure_as_text
    plots.LessonFigure._repr_png_ = _no_png
