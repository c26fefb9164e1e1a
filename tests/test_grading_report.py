"""The class report names everyone who needs help (without nbgrader: hand-made graded notebooks).

A course folder of lesson 02 with five students on the gradebook's roster: ann right, ben with a
`pass` stub and an edited check, cat with a timeout and a flag, dan who never handed in, eve
whose submission was never graded. Also: the figure ranks causes by students, ties kept.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import nbformat

from nnlib.course.grading.checksums import add_checksums
from nnlib.course.grading.report import (
    DID_NOT_HAND_IN,
    NOT_GRADED,
    NOT_IMPLEMENTED,
    collect,
    is_unwritten,
    missing_work,
    needs_help,
    ranked,
    roster,
    summarise,
    write_report,
)

LESSON = "02_forward_pass"
NAMES = ("relu", "softmax", "linear_forward")


def _notebook(answers: dict[str, str], errors: dict[str, tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for name in NAMES:
        answer = nbformat.v4.new_code_cell(answers.get(name, f"def {name}(x):\n    return x\n"))
        answer.metadata["nbgrader"] = {"grade": False, "grade_id": name, "solution": True, "locked": False}
        check = nbformat.v4.new_code_cell(f"checks.{name}({name})", execution_count=1)
        check.metadata["nbgrader"] = {"grade": True, "grade_id": f"check_{name}", "points": 1,
                                      "solution": False, "locked": True}
        if name in errors:
            check.outputs = [nbformat.v4.new_output("error", ename=errors[name][0], evalue=errors[name][1],
                                                    traceback=[])]
        nb.cells += [answer, check]
    add_checksums(nb)
    return nb


def _write(course: Path, folder: str, student: str, nb: nbformat.NotebookNode) -> None:
    path = course / folder / student / LESSON / f"{LESSON}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    pass_stub = "def relu(x):\n    \"\"\"x: any shape.\"\"\"\n    pass\n"
    returned_none = ("CheckFailed", "relu: on x (4, 5): your function returned None; did you forget "
                                    "`return`?")
    graded = {
        "ann": _notebook({}, {}),
        "ben": _notebook({"relu": pass_stub}, {"relu": returned_none}),
        "cat": _notebook({}, {"softmax": ("CellTimeoutError", "")}),
    }
    graded["cat"].cells[1].metadata["nnlib_audit"] = {"flag": "imports nnlib.layers", "action": "manual"}
    for student, nb in graded.items():
        _write(course, "autograded", student, nb)
        submitted = nbformat.from_dict(nb)
        if student == "ben":  # he had edited the check of softmax; grading restored it
            submitted.cells[3].source = 'print("✅ softmax: passed")'
        _write(course, "submitted", student, submitted)
    _write(course, "submitted", "eve", _notebook({}, {}))  # handed in, never graded
    with sqlite3.connect(course / "gradebook.db") as db:  # nbgrader's roster: dan is on it only
        db.execute("CREATE TABLE student (id VARCHAR(128) PRIMARY KEY)")
        db.executemany("INSERT INTO student VALUES (?)", [(s,) for s in ("ann", "ben", "cat", "dan")])
    return course


def test_a_pass_stub_is_not_written_not_a_forgotten_return():
    assert is_unwritten("def relu(x):\n    pass\n", "relu")
    assert is_unwritten("def relu(x):\n    '''doc'''\n    ...\n", "relu")
    assert is_unwritten("def relu(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n", "relu")
    assert not is_unwritten("def relu(x):\n    y = x\n", "relu")  # written, forgot return
    assert not is_unwritten("def other(x):\n    pass\n", "relu")


def test_the_report_names_everyone_who_needs_help(tmp_path):
    course = _course(tmp_path)
    assert roster(course) == ["ann", "ben", "cat", "dan", "eve"]
    outcomes = collect(course)
    ben = {o.exercise: o for o in outcomes if o.student == "ben"}
    assert ben["relu"].status == NOT_IMPLEMENTED and ben["relu"].mistake == ""
    assert ben["softmax"].check_edited and not ben["relu"].check_edited
    missing = missing_work(course, outcomes)
    assert [(m.student, m.why) for m in missing] == [("dan", DID_NOT_HAND_IN), ("eve", NOT_GRADED)]
    rows = needs_help(outcomes, missing)
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("ben", "relu", "not answered"), ("ben", "softmax", "check edited"),
        ("cat", "relu", "flagged"), ("cat", "softmax", "timed out"),
        ("dan", "", DID_NOT_HAND_IN), ("eve", "", NOT_GRADED)]
    text = write_report(outcomes, course / "report" / "class", missing=missing)
    assert "forget `return`" not in text
    assert "| dan | 02_forward_pass |  | did not hand in |  |" in text
    assert "| cat | 02_forward_pass | relu | flagged | imports nnlib.layers |" in text
    with (course / "report" / "class_needs_help.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 6


def test_the_figure_ranks_by_students_and_keeps_ties():
    causes = [(1, "00 a", "red"), (3, "07 b", "red"), (1, "01 c", "red"), (2, "02 d", "purple"),
              (1, "07 e", "orange")]
    assert ranked(causes, most=2, cap=10) == ([causes[1], causes[3]], 3)
    kept, left_out = ranked(causes, most=3, cap=10)  # the third place is a tie of three: all kept
    assert [c[1] for c in kept] == ["07 b", "02 d", "00 a", "01 c", "07 e"] and left_out == 0
    kept, left_out = ranked(causes, most=3, cap=4)  # a tie too large for the figure goes whole
    assert [c[1] for c in kept] == ["07 b", "02 d"] and left_out == 3


def test_the_summary_counts_a_pass_stub_as_not_implemented(tmp_path):
    summaries = {s.exercise: s for s in summarise(collect(_course(tmp_path)))}
    assert summaries["relu"].not_implemented == 1 and summaries["relu"].mistakes == []
