"""A real nbgrader round trip (`make test-grading`): course, release, three students, autograde,
feedback, exact scores, the class report.

Runs stock nbgrader from its own environment (`make grading-env` installs it into .venv-grading),
as a teacher would: the course folder gets the repository's nbgrader_config.py and nothing is set
by hand (NNLIB_STRICT_CHECKS and NNLIB_EPOCHS are removed from the environment on purpose).

The class: ada answers everything right (her lesson 02 is a filled-in exercises/ notebook), bob
makes typical mistakes (and borrows nnlib's answer once), cy hands in untouched stubs.
"""

from __future__ import annotations

import copy
import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nnlib.course.grading.report import collect, summarise, write_report

pytestmark = pytest.mark.grading

REPO = Path(__file__).resolve().parents[2]
GRADING_BIN = Path(os.environ.get("NNLIB_GRADING_VENV", REPO / ".venv-grading")) / "bin"
LESSONS = ("00_start_here", "02_forward_pass", "07_results")
STUDENTS = ("ada", "bob", "cy")

# bob's answers: typical mistakes the checkers recognise, one borrowed nnlib answer, some right.
BOB = {
    "normalize_rows": "def normalize_rows(x):\n    return x / x.sum(axis=1)\n",
    "count_labels": "def count_labels(labels, classes):\n    return np.bincount(labels, minlength=classes)\n",
    "linear_forward": "def linear_forward(x, W, b):\n    return x @ W + b\n",
    "relu": "def relu(x):\n    return np.maximum(x, 0)\n",
    "softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=1, keepdims=True)\n",
    "cross_entropy": ("def cross_entropy(logits, labels):\n"
                      "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
                      "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
                      "    return float(-log_p[np.arange(len(labels)), labels].sum())\n"),
    "accuracy": ("def accuracy(probs, labels):\n"
                 "    return 100 * float(np.mean(probs.argmax(axis=1) == labels))\n"),
    "confusion_matrix": ("def confusion_matrix(pred, labels, classes):\n"
                         "    matrix = np.zeros((classes, classes), dtype=np.int64)\n"
                         "    np.add.at(matrix, (labels, pred), 1)\n    return matrix\n"),
    "top_confident_mistakes": ("import nnlib.course.plots\n\n\n"
                               "def top_confident_mistakes(probs, labels, k):\n"
                               "    return nnlib.course.plots.most_confident_mistakes(probs, labels, k)\n"),
}
# (score, max score) per student and lesson.
EXPECTED = {
    ("ada", "00_start_here"): (2, 2), ("ada", "02_forward_pass"): (4, 4), ("ada", "07_results"): (3, 3),
    ("bob", "00_start_here"): (1, 2), ("bob", "02_forward_pass"): (2, 4), ("bob", "07_results"): (1, 3),
    ("cy", "00_start_here"): (0, 2), ("cy", "02_forward_pass"): (0, 4), ("cy", "07_results"): (0, 3),
}


def nbgrader_env() -> dict[str, str]:
    """The environment a teacher has: nbgrader's env first on PATH (nbgrader runs `alembic` from
    it), none of the course's variables set by hand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "NBGRADER_"))}
    env["PATH"] = f"{GRADING_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def nbgrader(course: Path, *args: str) -> str:
    """Run a stock nbgrader command in the course folder; its output (stdout and stderr)."""
    done = subprocess.run([str(GRADING_BIN / "nbgrader"), *args], cwd=course, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-3000:]}"
    return output


def solution_body(source: str) -> str:
    """A lesson's solution cell as a student would hand it in: the markers removed."""
    return "\n".join(line for line in source.split("\n") if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def fill(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `nb` with `answers` (exercise -> source) in its autograded answer cells."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def lesson_answers(lesson: str) -> dict[str, str]:
    nb = nbformat.read(REPO / "notebooks" / f"{lesson}.ipynb", as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: solution_body(cell.source) for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def submit(course: Path, student: str, lesson: str, nb: nbformat.NotebookNode) -> None:
    target = course / "submitted" / student / lesson / f"{lesson}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def scores(course: Path) -> dict[tuple[str, str], tuple[float, float]]:
    nbgrader(course, "export")
    with (course / "grades.csv").open() as handle:
        return {(row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    assert (GRADING_BIN / "nbgrader").exists(), "nbgrader is not installed: run `make grading-env` first"
    course = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, "-m", "nnlib.course.grading", "course", str(course), *LESSONS],
                   check=True)
    for lesson in LESSONS:
        nbgrader(course, "generate_assignment", lesson)
        release = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        handout = nbformat.read(REPO / "exercises" / f"{lesson}.ipynb", as_version=4)
        right = lesson_answers(lesson)
        # ada: lesson 02 is the exercises/ notebook as handed out, filled in; the others the release
        submit(course, "ada", lesson, fill(handout if lesson == "02_forward_pass" else release, right))
        submit(course, "bob", lesson, fill(release, {k: BOB[k] for k in right}))
        submit(course, "cy", lesson, handout if lesson == "02_forward_pass" else release)
    for lesson in LESSONS:
        start = time.perf_counter()
        nbgrader(course, "autograde", lesson)
        seconds = time.perf_counter() - start
        print(f"autograde {lesson}: {seconds:.1f} s for {len(STUDENTS)} students "
              f"({seconds / len(STUDENTS):.1f} s each)")
        nbgrader(course, "generate_feedback", lesson)
    return course


def test_exact_scores(graded_course):
    got = scores(graded_course)
    assert {key: got[(key[0], key[1])] for key in EXPECTED} == EXPECTED


def test_every_student_gets_feedback(graded_course):
    for student in STUDENTS:
        for lesson in LESSONS:
            assert (graded_course / "feedback" / student / lesson / f"{lesson}.html").is_file()


def test_a_perfect_notebook_shows_no_failure(graded_course):
    """Lesson 00's demonstration of an unfinished exercise never fails a student."""
    for lesson in LESSONS:
        nb = nbformat.read(graded_course / "autograded" / "ada" / lesson / f"{lesson}.ipynb", as_version=4)
        outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
        assert [o for o in outputs if o.output_type == "error"] == []
        text = "".join(o.get("text", "") for o in outputs)
        assert "not implemented" not in text.replace("not implemented yet", "")


def test_borrowed_answer_is_named_in_the_feedback(graded_course):
    html = (graded_course / "feedback" / "bob" / "07_results" / "07_results.html").read_text()
    assert "calls nnlib&#39;s own answer nnlib.course.plots.most_confident_mistakes" in html or \
        "calls nnlib's own answer nnlib.course.plots.most_confident_mistakes" in html


def test_validate_does_not_pass_stubs(graded_course):
    stub = graded_course / "submitted" / "cy" / "02_forward_pass" / "02_forward_pass.ipynb"
    output = subprocess.run([str(GRADING_BIN / "nbgrader"), "validate", str(stub)], cwd=graded_course,
                            env=nbgrader_env(), capture_output=True, text=True, timeout=300).stdout
    assert "Success" not in output
    assert "linear_forward: not implemented" in output


def test_class_report(graded_course):
    summaries = {s.exercise: s for s in summarise(collect(graded_course))}
    assert len(summaries) == 9
    cross = summaries["cross_entropy"]
    assert (cross.students, cross.passed, cross.failed, cross.not_implemented) == (3, 1, 1, 1)
    assert "missing 1/N" in cross.mistakes[0].text and cross.mistakes[0].students == ["bob"]
    assert "NaN or inf" in summaries["softmax"].mistakes[0].text
    assert "percentage" in summaries["accuracy"].mistakes[0].text
    assert "keepdims" in summaries["normalize_rows"].mistakes[0].text
    assert (summaries["relu"].passed, summaries["relu"].not_implemented) == (2, 1)
    text = write_report(collect(graded_course), graded_course / "report" / "class")
    assert re.search(r"\| 02_forward_pass \| cross_entropy \| 1 \| 1/3 \| 1 \| 1 \| .*missing 1/N", text)
    assert (graded_course / "report" / "class.csv").read_text().count("\n") == 10
    assert (graded_course / "report" / "class.png").stat().st_size > 10_000
