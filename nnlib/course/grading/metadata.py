"""nbgrader cell metadata, derived from the lessons' solution markers (never set by hand).

In a lesson, an exercise is a code cell holding `### BEGIN SOLUTION` inside `def name(...)`,
followed by the code cell `checks.name(name)`. From that:

- the solution cell becomes an "autograded answer" with grade id `name`;
- its check cell becomes "autograder tests", locked, grade id `check_name`, worth
  its points in the registry (`nnlib.course.exercises`);
- every other cell is "read-only" (locked; grade id `cell_<cell id>`), so what a student changes
  there is restored before grading.

`mark_lesson` is applied by `make notebooks` (so `notebooks/` are nbgrader source notebooks) and
by `make exercises` (so `exercises/` carry the same metadata and can be autograded as handed out;
there the checks and the text are also locked in the editor, see `apply_metadata`).
`python -m nnlib.course.grading mark notebooks/*.ipynb` applies it without executing anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat

from nnlib.course.grading.points import points_of

BEGIN_SOLUTION = "### BEGIN SOLUTION"
SCHEMA_VERSION = 3
_FUNCTION = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: its function, its two cells (indices), its points."""

    name: str
    solution_cell: int
    check_cell: int
    points: int

    @property
    def check_id(self) -> str:
        """The grade id of the check cell (nbgrader records the points under it)."""
        return f"check_{self.name}"


def find_exercises(nb: nbformat.NotebookNode, where: str = "notebook") -> list[Exercise]:
    """The exercises of lesson `nb`, in order; a clear `ValueError` for a malformed one."""
    exercises = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or BEGIN_SOLUTION not in cell.source:
            continue
        names = _FUNCTION.findall(cell.source)
        if not names:
            raise ValueError(f"{where}, cell {index}: a solution must sit inside `def name(...)`")
        name = names[0]
        check = next((i for i in range(index + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"), None)
        call = re.compile(rf"\bchecks\.{name}\(\s*{name}\b")
        if check is None or not call.search(nb.cells[check].source):
            raise ValueError(f"{where}, cell {index}: the next code cell after the solution of {name} must "
                             f"be its check, checks.{name}({name})")
        exercises.append(Exercise(name, index, check, points_of(name)))
    names = [exercise.name for exercise in exercises]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{where}: more than one exercise named {', '.join(duplicates)}")
    return exercises


def cell_metadata(nb: nbformat.NotebookNode, where: str = "notebook") -> list[dict]:
    """nbgrader's metadata for each cell of lesson `nb`, in order."""
    by_cell: dict[int, dict] = {}
    for exercise in find_exercises(nb, where):
        by_cell[exercise.solution_cell] = {"grade": False, "grade_id": exercise.name, "locked": False,
                                           "solution": True}
        by_cell[exercise.check_cell] = {"grade": True, "grade_id": exercise.check_id, "locked": True,
                                        "points": exercise.points, "solution": False}
    metadata = []
    for index, cell in enumerate(nb.cells):
        if index not in by_cell:
            if not cell.get("id"):
                raise ValueError(f"{where}, cell {index}: has no cell id (nbformat 4.5 or newer gives one)")
            by_cell[index] = {"grade": False, "grade_id": f"cell_{cell.id}", "locked": True,
                              "solution": False}
        metadata.append({**by_cell[index], "schema_version": SCHEMA_VERSION})
    return metadata


def apply_metadata(nb: nbformat.NotebookNode, metadata: list[dict], student: bool = False) -> None:
    """Set each cell's nbgrader metadata (replacing any). A student notebook's cells also become
    undeletable (grading finds them by id), and its checks and text uneditable; its other code
    cells stay editable, so "Try this" experiments work in place (nbgrader restores every
    locked cell from the lesson before grading, so edits there never change a score)."""
    if len(metadata) != len(nb.cells):
        raise ValueError(f"{len(metadata)} cells of metadata for a notebook of {len(nb.cells)} cells")
    for cell, nbgrader in zip(nb.cells, metadata, strict=True):
        cell.metadata["nbgrader"] = dict(nbgrader)
        if student:
            cell.metadata["deletable"] = False
            if student_may_not_edit(cell, nbgrader):
                cell.metadata["editable"] = False


def student_may_not_edit(cell: nbformat.NotebookNode, nbgrader: dict) -> bool:
    """A check (autograder test) or the lesson's text: locked in the student's editor."""
    return nbgrader["grade"] or (nbgrader["locked"] and cell.cell_type == "markdown")


def mark_lesson(nb: nbformat.NotebookNode, where: str = "notebook") -> nbformat.NotebookNode:
    """Give lesson `nb` its nbgrader metadata in place (idempotent); returns it."""
    apply_metadata(nb, cell_metadata(nb, where))
    return nb
