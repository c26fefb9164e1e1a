"""The registry of exercises: each one declared once, where its checker is written.

A checker's decorator is the declaration:

    @checker("relu", lesson="02_forward_pass", points=1, references=("nnlib.layers:relu",))
    def relu(fn): ...

and everything else that needs to know the exercises reads it from here: grading's points and
references (an answer may not call nnlib's version), the audit's allow-list, the lesson each
piece of "your network" is read from, TEACHING.md's points table and the exercise numbers.
The grade ids that gradebooks depend on are frozen in `grading/frozen_grade_ids.json`; a test
fails when one changes.

A new exercise touches four files: the lesson notebook, its checker module, its test, and
`frozen_grade_ids.json`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

# The parts of a training run, in the order a verdict names them; each piece belongs to one.
STAGES = ("forward pass", "loss", "probabilities", "backward pass", "L2", "training step", "epoch loop")

# The lessons in course order (notebook file stems).
LESSONS = ("00_start_here", "01_data", "02_forward_pass", "03_backprop", "04_dropout",
           "05_l2_regularization", "06_optimizers", "07_results")


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course.

    `name`: the function the learner writes; also the nbgrader grade id of its answer cell (the
    check cell's is `check_<name>`). `lesson`: the notebook's file stem. `references`: nnlib's
    (or a library's) own versions as "module:qualified.name"; calling one cannot earn the points,
    and a pasted copy of one is flagged. `piece`: the stage of a training run (`STAGES`) it does
    in "your network" from lesson 03 on, or None when it is not part of that network.
    `may_use`: names the lesson imports that the answer is meant to call (the audit allows them).
    """

    name: str
    lesson: str
    points: int
    references: tuple[str, ...]
    piece: str | None
    may_use: frozenset[str]
    checker: Callable[..., None]

    @property
    def grade_id(self) -> str:
        return self.name

    @property
    def check_id(self) -> str:
        return f"check_{self.name}"

    @property
    def notebook(self) -> str:
        return f"{self.lesson}.ipynb"

    @property
    def number(self) -> str:
        """"2.3" for the third exercise of lesson 02."""
        siblings = [other.name for other in of_lesson(self.lesson)]
        return f"{LESSONS.index(self.lesson)}.{siblings.index(self.name) + 1}"


# Filled by `declare` as the checker modules are imported (nnlib.course.checks imports them all).
_declared: dict[str, Exercise] = {}
_declaration_order: dict[str, int] = {}  # name -> when first declared (a lesson's order within it)


def declare(exercise: Exercise) -> None:
    """Add `exercise` (called by the checker decorator); a name declared twice is a mistake."""
    if exercise.lesson not in LESSONS:
        raise ValueError(f"exercise {exercise.name!r}: unknown lesson {exercise.lesson!r}; "
                         f"the lessons are {', '.join(LESSONS)}")
    if exercise.piece is not None and exercise.piece not in STAGES:
        raise ValueError(f"exercise {exercise.name!r}: unknown stage {exercise.piece!r}; "
                         f"the stages are {', '.join(STAGES)}")
    if exercise.points < 1:
        raise ValueError(f"exercise {exercise.name!r}: points must be 1 or more, got {exercise.points}")
    known = _declared.get(exercise.name)
    if known is not None and known.checker.__module__ != exercise.checker.__module__:
        raise ValueError(f"exercise {exercise.name!r} is declared twice: in {known.checker.__module__} "
                         f"and in {exercise.checker.__module__}")
    _declared[exercise.name] = exercise
    _declaration_order.setdefault(exercise.name, len(_declaration_order))


def all_exercises() -> tuple[Exercise, ...]:
    """Every exercise, in course order (lesson, then the order of the checker modules)."""
    importlib.import_module("nnlib.course.checks")  # the declarations
    def course_order(e: Exercise) -> tuple[int, int]:
        return LESSONS.index(e.lesson), _declaration_order.get(e.name, len(_declared))

    return tuple(sorted(_declared.values(), key=course_order))


def exercise(name: str) -> Exercise:
    """The exercise called `name`, or a KeyError that says where exercises are declared."""
    for known in all_exercises():
        if known.name == name:
            return known
    raise KeyError(f"no exercise {name!r}: exercises are declared by their checker's decorator, "
                   "@checker(name, lesson=..., points=...) in nnlib/course/checks/")


def of_lesson(lesson: str) -> tuple[Exercise, ...]:
    """The exercises of one lesson (file stem, e.g. "03_backprop"), in order."""
    return tuple(e for e in all_exercises() if e.lesson == lesson)


def points() -> dict[str, int]:
    """Exercise name -> points, in course order."""
    return {e.name: e.points for e in all_exercises()}


def pieces() -> dict[str, str]:
    """The pieces of "your network": name -> the notebook file it is written in, in course order."""
    return {e.name: e.notebook for e in all_exercises() if e.piece}


TABLE_START = ("<!-- points table: generated from nnlib/course/exercises.py by `make exercises`; "
               "do not edit -->")
TABLE_END = "<!-- end of points table -->"


def stages() -> dict[str, tuple[str, ...]]:
    """Each stage of a training run -> the pieces that do it, in course order."""
    return {stage: tuple(e.name for e in all_exercises() if e.piece == stage) for stage in STAGES}


def points_table() -> str:
    """TEACHING.md's points table (Markdown), made from the registry."""
    rows = ["| exercise | lesson | points |", "|---|---|---|"]
    rows += [f"| {e.number} `{e.name}` | {e.lesson} | {e.points} |" for e in all_exercises()]
    return "\n".join(rows)


def with_points_table(teaching: str) -> str:
    """`teaching` (TEACHING.md's text) with the table between its markers made anew."""
    start, end = teaching.find(TABLE_START), teaching.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError("TEACHING.md has lost its points-table markers: "
                         f"put back {TABLE_START} and {TABLE_END}")
    return teaching[: start + len(TABLE_START)] + "\n" + points_table() + "\n" + teaching[end:]
