"""A fake class for nbgrader: a course folder, the lessons' answers, students' submissions.
Used by the grading tests (the round trips, a term, the trusted run) and the timing of a whole
class (benchmarks/grading_bench.py)."""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
GRADING_BIN = Path(os.environ.get("NNLIB_GRADING_VENV", REPO / ".venv-grading")) / "bin"


def nbgrader_env() -> dict[str, str]:
    """The environment a teacher has: nbgrader's env first on PATH (nbgrader runs `alembic` from
    it), none of the course's variables set by hand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "NBGRADER_"))}
    env["PATH"] = f"{GRADING_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def nbgrader(course: Path, *args: str, check: bool = True) -> str:
    """Run a stock nbgrader command in the course folder; its output (stdout and stderr)."""
    done = subprocess.run([str(GRADING_BIN / "nbgrader"), *args], cwd=course, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=1800)
    output = done.stdout + done.stderr
    assert not check or done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-3000:]}"
    return output


def make_course(course: Path, lessons: tuple[str, ...]) -> None:
    """The course folder (`python -m nnlib.course.grading course`) and each lesson's release."""
    assert (GRADING_BIN / "nbgrader").exists(), "nbgrader is not installed: run `make grading-env` first"
    subprocess.run([sys.executable, "-m", "nnlib.course.grading", "course", str(course), *lessons],
                   check=True, capture_output=True)
    for lesson in lessons:
        nbgrader(course, "generate_assignment", lesson)


def release(course: Path, lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)


def handout(lesson: str) -> nbformat.NotebookNode:
    """The student notebook as in exercises/."""
    return nbformat.read(REPO / "exercises" / f"{lesson}.ipynb", as_version=4)


def solution_body(source: str) -> str:
    """A lesson's solution cell as a student would hand it in: the markers removed."""
    return "\n".join(line for line in source.split("\n") if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def lesson_answers(lesson: str) -> dict[str, str]:
    """exercise -> the lesson's own answer (solution cell without markers)."""
    nb = nbformat.read(REPO / "notebooks" / f"{lesson}.ipynb", as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: solution_body(cell.source) for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def fill(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `nb` with `answers` (exercise -> source) in its autograded answer cells."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def without_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """A copy of `nb` without the cell `grade_id` (a deleted check)."""
    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def submit(course: Path, student: str, lesson: str, nb: nbformat.NotebookNode) -> None:
    target = course / "submitted" / student / lesson / f"{lesson}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def scores(course: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, assignment) -> (score, max score), from `nbgrader export`."""
    nbgrader(course, "export")
    with (course / "grades.csv").open() as handle:
        return {(row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(handle)}


def autograde_in_parallel(course: Path, jobs: int, *assignments: str) -> str:
    """`python -m nnlib.course.grading autograde` with nbgrader's Python, as TEACHING.md says."""
    command = [str(GRADING_BIN / "python"), "-m", "nnlib.course.grading", "autograde", str(course),
               *assignments, "--jobs", str(jobs)]
    done = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=3600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"parallel autograde failed:\n{output[-3000:]}"
    return output
