"""The round trip of issue 25 (`make test-grading`): tricks that once earned points with stock
`nbgrader autograde` and the course's config, honest styles that were once docked, notebooks that
once stopped the class, odd student ids, and students who plant something for the next student
or the next run. Real nbgrader, the course's config, the sandbox on.

Two runs, in order: stock `nbgrader autograde 00_start_here` (one student after another: the
planter first, then the victim), then the parallel runner over 02_forward_pass (2 jobs). Then:
no trick earns an unflagged point, no honest style is docked or flagged, every student is
graded or refused by name, nothing of the course folder but nbgrader's outputs changed, and no
plant reached the grader's machine.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import pickle
import subprocess
from pathlib import Path

import nbformat
import pytest

from nnlib.course.grading.report import collect, write_report
from tests.grading.classroom import (
    GRADING_BIN,
    fill,
    lesson_answers,
    make_course,
    nbgrader,
    nbgrader_env,
    release,
)
from tests.grading_tricks import HONEST, TRICKS

pytestmark = [pytest.mark.grading, pytest.mark.timeout(2400)]

LESSON_00, LESSON_02 = "00_start_here", "02_forward_pass"
POINTS_02 = {"linear_forward": 1, "relu": 1, "softmax": 1, "cross_entropy": 1}

# What the planter leaves for the next student and the next run, wherever it can write.
PLANT = ("import nnlib.course.checks as c\n"
         "c.normalize_rows = c.count_labels = c.relu = lambda f, **k: print('✅ passed')\n")
PLANTING_CELL = f"""import os, pathlib
PLANT = {PLANT!r}
for target in [os.path.expanduser('~/.ipython/profile_default/startup/00-plant.py'),
               os.environ.get('IPYTHONDIR', '/nowhere') + '/profile_default/startup/00-plant.py',
               '/root/.ipython/profile_default/startup/00-plant.py', '/tmp/nnlib-plant.py', 'plant.py']:
    try:
        pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(target).write_text(PLANT)
    except OSError:
        pass
for config in ['../../../nbgrader_config.py', '../../nbgrader_config.py', '../nbgrader_config.py',
               '/nbgrader_config.py']:
    try:
        with open(config, 'a') as handle:
            handle.write('\\nc.Autograde.autograde_preprocessors = []\\n')
    except OSError:
        pass
"""
ENDLESS_CELL = "while True:\n    pass\n"
DYING_CELL = "import os\nos._exit(0)\n"
WRONG_00 = {"normalize_rows": "def normalize_rows(x):\n    return x / x.sum(axis=1)\n"}

# Lesson 02: student -> {exercise: trick}; every other answer right.
TRICKSTERS = {
    "ns": {"relu": "user_ns checker patch", "softmax": "%config line",
           "linear_forward": "numpy patched through an alias"},
    "gl": {"relu": "__globals__ by getattr", "softmax": "pickle via np.load"},
    "hx": {"relu": "hex run_cell", "softmax": "reads the teacher's source"},
}
# Right answers in styles of their own: student -> {exercise: style}.
HONEST_STUDENTS = {"hon": {"relu": "lambda", "softmax": "np.errstate decorator",
                           "cross_entropy": "sys.float_info.epsilon"},
                   "hn2": {"relu": "prints its __doc__", "softmax": "math constant"},
                   "hn3": {"relu": "helper function"}}
# Right answers, odd folder names: each is graded under its own name.
ODD_IDS = ("a,b", "sp ace", ".dot", "gl*ob", '=HYPERLINK("x")')
REFUSED_ID = "new\nline"


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return nb.cells.index(_cell(nb, grade_id))


def _with_cell(nb: nbformat.NotebookNode, after: str, source: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    nb.cells.insert(_index(nb, after) + 1, nbformat.v4.new_code_cell(source))
    return nb


def _write(course: Path, student: str, lesson: str, nb: dict) -> Path:
    """As a student's file may be: written without nbformat's validation (duplicate ids stay)."""
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lesson}.ipynb").write_text(json.dumps(nb))
    return folder


class _Patch:
    """A pickle that, loaded, replaces the checker (what `np.load(..., allow_pickle=True)` runs)."""

    def __reduce__(self):
        return exec, ("import nnlib.course.checks as c\n"
                      "c.softmax = lambda f, **k: print('✅ softmax: passed')",)


def lesson_02_submissions(course: Path) -> dict[str, set[str]]:
    """Write every lesson-02 submission; student -> the exercises that must score 0."""
    base = release(course, LESSON_02)
    right = lesson_answers(LESSON_02)
    zeros: dict[str, set[str]] = {}
    for student, chosen in TRICKSTERS.items():
        tricks = {name: TRICKS[name][trick] for name, trick in chosen.items()}
        folder = _write(course, student, LESSON_02, fill(base, {**right, **tricks}))
        zeros[student] = set(chosen)
        if student == "gl":
            (folder / "helper.npy").write_bytes(pickle.dumps(_Patch()))
    for student, chosen in HONEST_STUDENTS.items():
        styles = {name: HONEST[name][style] for name, style in chosen.items()}
        folder = _write(course, student, LESSON_02, fill(base, {**right, **styles}))
        zeros[student] = set()
    (folder / "helpers.py").write_text("def relu(x):\n    return x\n")  # hn3: a helper module beside
    # an nnlib/ package beside untouched stubs, made to pass every check if it were imported
    folder = _write(course, "pkg", LESSON_02, base)
    (folder / "nnlib" / "course").mkdir(parents=True)
    (folder / "nnlib" / "__init__.py").write_text("")
    (folder / "nnlib" / "course" / "__init__.py").write_text("")
    (folder / "nnlib" / "course" / "checks.py").write_text(
        "def __getattr__(name):\n    return lambda f, **k: print(f'✅ {name}: passed')\n")
    zeros["pkg"] = set(POINTS_02)
    # borrowed answers whose metadata was removed or changed (the audit once never read them)
    meta = fill(base, {**right, "relu": TRICKS["relu"]["bound method"],
                       "softmax": TRICKS["softmax"]["import nnlib"]})
    del _cell(meta, "relu").metadata["nbgrader"]
    _cell(meta, "softmax").metadata["nbgrader"]["solution"] = False
    _write(course, "meta", LESSON_02, meta)
    zeros["meta"] = {"relu", "softmax"}
    # copy-paste mistakes that once stopped the class: a check cell twice (and a cell id twice)
    dup = fill(base, right)
    twice = copy.deepcopy(_cell(dup, "check_relu"))
    dup.cells.insert(_index(dup, "check_relu") + 1, twice)  # same cell id, same grade id
    third = copy.deepcopy(twice)
    third["id"] = "pasted01"
    dup.cells.insert(_index(dup, "check_softmax") + 1, third)
    _write(course, "dup", LESSON_02, dup)
    # an answer's grade id changed, another answer marked as a graded cell
    gid = fill(base, right)
    _cell(gid, "relu").metadata["nbgrader"]["grade_id"] = "relu_v2"
    _cell(gid, "softmax").metadata["nbgrader"].update(grade=True, points=1)
    _write(course, "gid", LESSON_02, gid)
    # a kernel that dies, a cell that never ends: graded as far as they can be
    _write(course, "die", LESSON_02, _with_cell(fill(base, right), "check_softmax", DYING_CELL))
    _write(course, "zzz", LESSON_02, _with_cell(fill(base, right), "check_relu", ENDLESS_CELL))
    for student in (*ODD_IDS, REFUSED_ID):
        _write(course, student, LESSON_02, fill(base, right))
    zeros.update({student: set() for student in ("dup", "gid", "die", "zzz", *ODD_IDS)})
    _write(course, "p2-victim", LESSON_02, base)  # the victim's stubs, graded in the next run
    zeros["p2-victim"] = set(POINTS_02)
    return zeros


def course_files(course: Path) -> dict[str, str]:
    """sha256 of every file of the course folder but nbgrader's outputs."""
    outputs = {"autograded", "feedback", "autograde_logs", "gradebook.db", "grades.csv", ".nbgrader.log",
               "report"}
    return {str(path.relative_to(course)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(course.rglob("*"))
            if path.is_file() and path.relative_to(course).parts[0] not in outputs}


def gradebook_scores(course: Path) -> dict[tuple[str, str, str], tuple[float, bool]]:
    """(student, assignment, exercise) -> (score, needs a manual grade), read with nbgrader's own
    API (`nbgrader export` writes ids with commas unquoted)."""
    code = ("import json, sys\nfrom nbgrader.api import Gradebook\nout = []\n"
            "with Gradebook('sqlite:///' + sys.argv[1]) as gb:\n"
            "    for a in gb.assignments:\n        for s in gb.assignment_submissions(a.name):\n"
            "            for nb in s.notebooks:\n                for g in nb.grades:\n"
            "                    out.append([s.student.id, a.name, g.name.removeprefix('check_'), g.score,"
            " g.needs_manual_grade])\nprint(json.dumps(out))\n")
    done = subprocess.run([str(GRADING_BIN / "python"), "-c", code, str(course / "gradebook.db")],
                          capture_output=True, text=True, check=True)
    return {(s, a, e): (float(score), bool(manual)) for s, a, e, score, manual in json.loads(done.stdout)}


def _home_startup() -> set[str]:
    folder = Path.home() / ".ipython" / "profile_default" / "startup"
    return set(os.listdir(folder)) if folder.is_dir() else set()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("tricks")
    make_course(course, (LESSON_00, LESSON_02))
    right_00 = lesson_answers(LESSON_00)
    base_00 = release(course, LESSON_00)
    planter = _with_cell(fill(base_00, right_00), "check_count_labels", PLANTING_CELL)
    _write(course, "p1-plant", LESSON_00, planter)
    _write(course, "p2-victim", LESSON_00, fill(base_00, WRONG_00))
    zeros = lesson_02_submissions(course)
    before, home_before = course_files(course), _home_startup()
    first = nbgrader(course, "autograde", LESSON_00)  # run 1: stock nbgrader, planter before victim
    command = [str(GRADING_BIN / "python"), "-m", "nnlib.course.grading", "autograde", str(course),
               LESSON_02, "--jobs", "2"]
    second = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=3600)
    return {"course": course, "zeros": zeros, "before": before, "home_before": home_before,
            "first": first, "second": second}


def test_no_plant_reaches_the_next_student_the_next_run_or_the_grader(graded):
    course = graded["course"]
    scores = gradebook_scores(course)
    assert scores["p1-plant", LESSON_00, "normalize_rows"] == (1.0, False)  # the planter's own answers
    assert scores["p2-victim", LESSON_00, "normalize_rows"][0] == 0.0  # graded after the plant: still wrong
    assert scores["p2-victim", LESSON_00, "count_labels"][0] == 0.0
    assert all(scores["p2-victim", LESSON_02, name][0] == 0.0 for name in POINTS_02)  # the next run too
    assert course_files(course) == graded["before"]  # nbgrader_config.py, source/, release/, submitted/
    assert _home_startup() == graded["home_before"] and not Path("/tmp/nnlib-plant.py").exists()


def test_no_trick_earns_an_unflagged_point_and_no_honest_style_is_docked(graded):
    scores = gradebook_scores(graded["course"])
    for student, zeros in graded["zeros"].items():
        for exercise, points in POINTS_02.items():
            score, _ = scores[student, LESSON_02, exercise]
            assert score == (0.0 if exercise in zeros else float(points)), (student, exercise, score)
    flagged = {(o.student, o.exercise) for o in collect(graded["course"]) if o.flag}
    for student in (*HONEST_STUDENTS, "dup", "gid", "die", "zzz", *ODD_IDS):
        assert not {key for key in flagged if key[0] == student}, student
    for student, chosen in TRICKSTERS.items():
        for exercise in chosen:
            assert (student, exercise) in flagged, (student, exercise)
    assert ("meta", "relu") in flagged and ("meta", "softmax") in flagged


def test_every_student_is_graded_or_refused_by_name(graded):
    second = graded["second"]
    assert second.returncode == 1, second.stdout + second.stderr
    assert "refused: student 'new\\nline'" in second.stderr
    autograded = {path.name for path in (graded["course"] / "autograded").iterdir()}
    expected = set(graded["zeros"]) - {"p1-plant"}
    assert expected <= autograded and REFUSED_ID not in autograded


def test_feedback_and_report_say_what_happened(graded):
    course = graded["course"]

    def notebook(student: str) -> nbformat.NotebookNode:
        return nbformat.read(course / "autograded" / student / LESSON_02 / f"{LESSON_02}.ipynb", as_version=4)

    for student in ("pkg", "hn3"):
        assert "the grader uses only this notebook: put helpers in it" in notebook(student).metadata[
            "nnlib_audit"]["helpers"]
    assert "nnlib_audit" in notebook("die").metadata and notebook("die").metadata["nnlib_audit"]["sandbox"]
    text = json.dumps(notebook("ns").metadata["nnlib_audit"]["trusted"])
    assert "relu" in text and '"status": "failed"' in text
    write_report(collect(course), course / "report" / "class", plot_figure=False)
    with (course / "report" / "class_students.csv").open() as handle:
        students = {row["student"] for row in csv.DictReader(handle)}
    assert "'=HYPERLINK(\"x\")" in students and "a,b" in students and ".dot" in students
