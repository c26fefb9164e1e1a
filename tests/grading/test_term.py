"""A teacher's term with stock nbgrader and a local exchange folder (`make test-grading`): each
action of TEACHING.md's "A term with nbgrader" done the way it says, with its outcome checked.

The class of lesson 00 (two exercises, 1 point each), all on nbgrader's roster:
- ann submits right answers on time (release -> fetch -> submit -> collect);
- ben submits the stubs, then right answers, both on time: the newest is collected and graded;
  after grading he submits once more, after the due date: that one is regraded, and late;
- cat submits right answers after the due date: nbgrader's "zero" late penalty applies;
- dan never submits anything;
- eve's notebook is collected by hand (no timestamp), with one answer wrong; she hands in a
  corrected copy by hand, which is graded because it is newer than its grade; then the teacher
  gives her failed check a manual score, as formgrader does;
- the lesson is fixed and released again, and every submission regraded with --force.
The LMS sheet and the class report are checked along the way.
"""

from __future__ import annotations

import csv
import datetime
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.grading.classroom import (
    GRADING_BIN,
    fill,
    lesson_answers,
    make_course,
    nbgrader,
    nbgrader_env,
    release,
    scores,
)

# about 35 nbgrader commands, a few seconds each on a quiet machine, much longer on a busy one
pytestmark = [pytest.mark.grading, pytest.mark.timeout(2400)]

LESSON = "00_start_here"
COURSE_ID = "nn-from-scratch"
RIGHT = lesson_answers(LESSON)
WRONG_COUNT = {**RIGHT,
               "count_labels": "def count_labels(labels, classes):\n    return np.bincount(labels)\n"}
FIX = "Fixed in the re-release: a typo in the introduction."


def parallel(course: Path, *args: str) -> subprocess.CompletedProcess:
    """The course's parallel autograde, with nbgrader's Python, as a teacher runs it."""
    command = [str(GRADING_BIN / "python"), "-m", "nnlib.course.grading", "autograde", str(course), LESSON,
               "--jobs", "2", *args]
    return subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)


def lms(course: Path) -> dict[str, dict[str, str]]:
    command = [str(GRADING_BIN / "python"), "-m", "nnlib.course.grading", "export-lms", str(course),
               "--out", str(course / "lms.csv")]
    done = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with (course / "lms.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


class Student:
    """A student's own folder, where `nbgrader fetch_assignment` and `submit` run."""

    def __init__(self, home: Path, name: str, exchange: Path):
        self.name, self.home, self.exchange = name, home / name, exchange
        self.home.mkdir(parents=True)

    def run(self, command: str) -> str:
        return nbgrader(self.home, command, LESSON, f"--course={COURSE_ID}",
                        f"--Exchange.root={self.exchange}", f"--student={self.name}")

    def fetch(self) -> None:
        self.run("fetch_assignment")

    def submit(self, answers: dict[str, str] | None) -> None:
        path = self.home / LESSON / f"{LESSON}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb if answers is None else fill(nb, answers), path)
        self.run("submit")


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("term")
    course, exchange = root / "course", root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    make_course(course, (LESSON,))
    with (course / "nbgrader_config_local.py").open("w") as handle:  # as TEACHING.md says
        handle.write(f"\nc.Exchange.root = {str(exchange)!r}\n"
                     "c.LateSubmissionPlugin.penalty_method = 'zero'\n")
    for student, last in (("ann", "Ames"), ("ben", "Bell"), ("cat", "Cole"), ("dan", "=HYPERLINK(\"x\")"),
                          ("eve", "Eng")):
        nbgrader(course, "db", "student", "add", student, f"--last-name={last}")
    nbgrader(course, "release_assignment", LESSON)
    students = {name: Student(root / "home", name, exchange) for name in ("ann", "ben", "cat")}
    for student in students.values():
        student.fetch()
    students["ann"].submit(RIGHT)
    students["ben"].submit(None)  # the stubs, then right answers
    students["ben"].submit(RIGHT)
    due = datetime.datetime.now(datetime.UTC)
    students["cat"].submit(RIGHT)  # after the due date set next
    nbgrader(course, "db", "assignment", "add", LESSON, f"--duedate={due.isoformat()}")
    nbgrader(course, "collect", LESSON)
    by_hand = course / "submitted" / "eve" / LESSON / f"{LESSON}.ipynb"
    by_hand.parent.mkdir(parents=True)
    nbformat.write(fill(release(course, LESSON), WRONG_COUNT), by_hand)
    seen: dict = {"first": parallel(course), "again": parallel(course), "scores1": scores(course),
                  "lms1": lms(course)}
    students["ben"].submit(RIGHT)  # once more, late
    nbgrader(course, "collect", "--update", LESSON)
    nbformat.write(fill(release(course, LESSON), RIGHT), by_hand)  # eve's corrected copy, by hand
    seen["resubmitted"] = parallel(course)
    seen["scores2"] = scores(course)
    with (course / "grades.csv").open() as handle:
        seen["raw2"] = {(row["student_id"], row["assignment"]): float(row["raw_score"])
                        for row in csv.DictReader(handle)}
    # Formgrader's manual score, as its "Submission" page saves it (nbgrader's gradebook API).
    from_gradebook = subprocess.run(
        [str(GRADING_BIN / "python"), "-c",
         "import sys; from nbgrader.api import Gradebook\n"
         "with Gradebook('sqlite:///gradebook.db') as gb:\n"
         "    g = gb.find_grade('check_count_labels', sys.argv[1], sys.argv[1], 'ann')\n"
         "    g.manual_score = 0.5; gb.db.commit()\n", LESSON],
        cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    assert from_gradebook.returncode == 0, from_gradebook.stderr
    seen["lms3"] = lms(course)
    # One student regraded by hand (a complaint): the stock command, one student, --force.
    seen["one"] = nbgrader(course, "autograde", LESSON, "--student=eve", "--force")
    source = course / "source" / LESSON / f"{LESSON}.ipynb"
    nb = nbformat.read(source, as_version=4)
    first_text = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    first_text.source += f"\n\n{FIX}"
    nbformat.write(nb, source)
    nbgrader(course, "generate_assignment", LESSON, "--force")
    nbgrader(course, "release_assignment", LESSON, "--force")
    seen["rerelease_unforced"] = parallel(course)
    seen["rerelease"] = parallel(course, "--force")
    seen["scores4"] = scores(course)
    seen["lms4"] = lms(course)
    seen["course"] = course
    return seen


def test_the_parallel_runner_says_what_it_graded_skipped_and_failed(term):
    first, again = term["first"], term["again"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert ("graded 4, skipped 0 (graded already; --force regrades them), failed 0 of 4 submissions"
            in first.stdout)
    assert again.returncode == 1
    assert "graded nothing: all 4 submissions asked for are graded already" in again.stdout
    for log in (term["course"] / "autograde_logs").glob("*.log"):  # kernels over CurveZMQ
        assert "without encryption" not in log.read_text(), log


def test_the_newest_submission_is_graded_and_a_late_one_is_late(term):
    assert term["scores1"]["ben", LESSON] == (2.0, 2.0)  # stubs, then right: the newest counts
    resubmitted = term["resubmitted"]
    assert resubmitted.returncode == 0, resubmitted.stdout + resubmitted.stderr
    # ben (collected again, newer timestamp) and eve (copied in again by hand, newer file)
    assert "graded 2, skipped 2" in resubmitted.stdout
    assert term["scores2"]["ben", LESSON] == (0.0, 2.0)  # his newest came after the due date
    assert term["raw2"]["ben", LESSON] == 2.0
    assert "penalty 2" in term["lms3"]["ben"]["late"]
    assert term["scores1"]["eve", LESSON] == (1.0, 2.0) and term["scores2"]["eve", LESSON] == (2.0, 2.0)


def test_late_work_gets_nbgrader_s_penalty_and_shows_as_late(term):
    assert term["scores1"]["cat", LESSON] == (0.0, 2.0)  # right answers, the "zero" penalty
    assert term["scores1"]["ann", LESSON] == (2.0, 2.0)
    cat = term["lms1"]["cat"]
    assert cat[LESSON] == "0" and cat["late"].startswith(f"{LESSON} (") and "penalty 2" in cat["late"]
    assert term["lms1"]["ann"]["late"] == "" and term["lms1"]["eve"]["late"] == ""


def test_the_lms_sheet_has_everyone_with_what_needs_a_look(term):
    sheet = term["lms1"]
    assert sorted(sheet) == ["ann", "ben", "cat", "dan", "eve"]
    assert [sheet[s][LESSON] for s in sorted(sheet)] == ["2", "2", "0", "0", "1"]
    assert sheet["dan"]["missing"] == LESSON and sheet["dan"]["total"] == "0"
    assert sheet["dan"]["last_name"] == "'=HYPERLINK(\"x\")"  # text, never a formula
    assert all(row["max_total"] == "2" for row in sheet.values())
    assert all(row["needs_manual_grade"] == "" for row in sheet.values())
    assert term["lms3"]["ann"][LESSON] == "1.5"  # a manual score replaces the autograde's


def test_one_student_regraded_by_hand_keeps_the_manual_score_for_review(term):
    assert "eve" in term["one"] and term["lms3"]["ann"][LESSON] == "1.5"
    # regraded after the re-release: nbgrader keeps the manual score and asks for a review again
    assert term["scores4"]["ann", LESSON] == (1.5, 2.0)
    assert term["lms4"]["ann"]["needs_manual_grade"] == LESSON


def test_a_re_released_lesson_regrades_every_submission_with_force(term):
    assert term["rerelease_unforced"].returncode == 1
    done = term["rerelease"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "graded 4, skipped 0" in done.stdout
    for student in ("ann", "ben", "cat", "eve"):
        graded = term["course"] / "autograded" / student / LESSON / f"{LESSON}.ipynb"
        assert FIX in graded.read_text()
    assert {key: value for key, value in term["scores4"].items() if key[0] != "ann"} == {
        ("ben", LESSON): (0.0, 2.0), ("cat", LESSON): (0.0, 2.0), ("dan", LESSON): (0.0, 2.0),
        ("eve", LESSON): (2.0, 2.0)}


def test_a_student_who_never_submitted_is_in_every_list(term):
    assert term["scores4"]["dan", LESSON] == (0.0, 2.0)
    assert term["lms4"]["dan"]["missing"] == LESSON
    shutil.rmtree(term["course"] / "report", ignore_errors=True)
