"""A real nbgrader round trip (`make test-grading`): a course of lessons 00, 02 and 07, a class of
17, autograde (stock nbgrader for 00, the parallel command for 02 and 07), feedback, exact scores,
the audit's flags, the class report and CSV, and a tampered handout that fails validation.

Runs stock nbgrader from its own environment (`make grading-env` installs it into .venv-grading),
as a teacher would: the course folder gets the repository's nbgrader_config.py and nothing is set
by hand (NNLIB_STRICT_CHECKS and NNLIB_EPOCHS are removed from the environment on purpose).

The class: ada answers everything right (her lesson 02 is a filled-in exercises/ notebook), dee
too in other words, cy hands in untouched stubs, bob makes typical mistakes (and borrows nnlib's
answer once); eleven more answer right except for one or two borrowing or tampering tricks
each (tests/grading_tricks.py); one more deletes a check cell, and one writes an endless loop.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nnlib.course import exercises
from nnlib.course.grading.checksums import find_tampering
from nnlib.course.grading.report import FLAGGED, collect, summarise, write_report
from tests.grading.classroom import (
    REPO,
    autograde_in_parallel,
    fill,
    handout,
    lesson_answers,
    make_course,
    nbgrader,
    release,
    scores,
    submit,
    without_cell,
)
from tests.grading_tricks import TRICKS

# Every notebook runs in the sandbox, and each answer once more in the trusted run: on a shared
# two-core machine the class takes minutes, the first test waits for all of it.
pytestmark = [pytest.mark.grading, pytest.mark.timeout(2400)]

LESSONS = ("00_start_here", "02_forward_pass", "07_results")
EXERCISES = {lesson: list(lesson_answers(lesson)) for lesson in LESSONS}

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
BOB_WRONG = {"normalize_rows", "softmax", "cross_entropy", "accuracy", "top_confident_mistakes"}

# dee: every answer right, in words of her own (none of them may be flagged).
DEE = {
    "normalize_rows": "def normalize_rows(x):\n    return x / np.sum(x, axis=1)[:, None]\n",
    "count_labels": ("def count_labels(labels, classes):\n    counts = np.zeros(classes, dtype=np.int64)\n"
                     "    for label in labels:\n        counts[label] += 1\n    return counts\n"),
    "linear_forward": "def linear_forward(x, W, b):\n    return np.dot(x, W) + b\n",
    "relu": "def relu(x):\n    return np.where(x > 0, x, 0)\n",
    "softmax": ("def softmax(z):\n    z = z - np.max(z, axis=1, keepdims=True)\n    e = np.exp(z)\n"
                "    return e / np.sum(e, axis=1, keepdims=True)\n"),
    "cross_entropy": ("def cross_entropy(logits, labels):\n    n = logits.shape[0]\n"
                      "    m = logits.max(axis=1, keepdims=True)\n"
                      "    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))\n"
                      "    return float(np.mean(lse - logits[np.arange(n), labels]))\n"),
    "accuracy": "def accuracy(probs, labels):\n    return float((probs.argmax(1) == labels).mean())\n",
    "confusion_matrix": ("def confusion_matrix(pred, labels, classes):\n"
                         "    m = np.zeros((classes, classes), dtype=np.int64)\n"
                         "    for t, p in zip(labels, pred):\n        m[t, p] += 1\n    return m\n"),
    "top_confident_mistakes": (
        "def top_confident_mistakes(probs, labels, k):\n    pred = probs.argmax(axis=1)\n"
        "    conf = probs.max(axis=1)\n"
        "    idx = [i for i in np.argsort(-conf, kind='stable') if pred[i] != labels[i]]\n"
        "    return np.array(idx[:k], dtype=np.int64)\n"),
}

# The tricksters: exercise -> trick (tests/grading_tricks.py); everything else answered right.
TRICKSTERS = {
    "imp": {"softmax": "import nnlib", "accuracy": "sklearn"},
    "par": {"softmax": "partial"},
    "met": {"relu": "bound method"},
    "obj": {"relu": "callable object"},
    "chk": {"relu": "replaced checker"},
    "off": {"cross_entropy": "grading mode off"},
    "env": {"cross_entropy": "environment"},
    "exe": {"cross_entropy": "exec"},
    "npy": {"linear_forward": "numpy patched"},
    "ref": {"softmax": "patched reference", "linear_forward": "reference list cleared"},
    "sci": {"softmax": "scipy", "confusion_matrix": "lesson's sklearn import"},
}
DELETES_CHECK = ("del", "02_forward_pass", "relu")  # right answers, one check cell deleted
# right answers, but a relu that never returns: its check stops it (20 s), the notebook goes on
ENDLESS = ("inf", "02_forward_pass", "relu")
ENDLESS_RELU = "def relu(x):\n    while True:\n        pass\n"
HONEST = ("ada", "cy", "dee", "bob")  # bob's one borrowing is flagged; he is checked apart
STUDENTS = (*HONEST, *TRICKSTERS, DELETES_CHECK[0], ENDLESS[0])


def answers_of(student: str, lesson: str) -> dict[str, str] | None:
    """The student's answers to the lesson (None: the untouched stubs)."""
    right = lesson_answers(lesson)
    if student == "cy":
        return None
    if student == "bob":
        return {name: BOB[name] for name in right}
    if student == "dee":
        return {name: DEE[name] for name in right}
    if (student, lesson) == ENDLESS[:2]:
        return {**right, ENDLESS[2]: ENDLESS_RELU}
    chosen = TRICKSTERS.get(student, {})
    tricks = {name: TRICKS[name][trick] for name, trick in chosen.items() if name in right}
    return {**right, **tricks}


def expected_zeros(student: str, lesson: str) -> set[str]:
    """The exercises of the lesson that must score 0."""
    exercises = set(EXERCISES[lesson])
    if student == "cy":
        return exercises
    if student == "bob":
        return exercises & BOB_WRONG
    if (student, lesson) in (DELETES_CHECK[:2], ENDLESS[:2]):
        return {DELETES_CHECK[2] if student == DELETES_CHECK[0] else ENDLESS[2]}
    return exercises & set(TRICKSTERS.get(student, {}))


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    make_course(course, LESSONS)
    for lesson in LESSONS:
        for student in STUDENTS:
            # ada's lesson 02 is the exercises/ notebook as handed out, filled in; others the release
            from_handout = student in ("ada", "cy") and lesson == "02_forward_pass"
            base = handout(lesson) if from_handout else release(course, lesson)
            answers = answers_of(student, lesson)
            nb = base if answers is None else fill(base, answers)
            if (student, lesson) == DELETES_CHECK[:2]:
                nb = without_cell(nb, f"check_{DELETES_CHECK[2]}")
            submit(course, student, lesson, nb)
    start = time.perf_counter()
    nbgrader(course, "autograde", LESSONS[0])  # the stock command, one student after another
    print(f"\nautograde {LESSONS[0]} (stock nbgrader): {time.perf_counter() - start:.0f} s "
          f"for {len(STUDENTS)} students")
    start = time.perf_counter()
    autograde_in_parallel(course, 2, *LESSONS[1:])
    print(f"autograde {', '.join(LESSONS[1:])} (2 jobs): {time.perf_counter() - start:.0f} s for "
          f"{len(STUDENTS)} students")
    for lesson in LESSONS:
        nbgrader(course, "generate_feedback", lesson)
    return course


def test_exact_scores(graded_course):
    got = scores(graded_course)
    expected = {}
    for student in STUDENTS:
        for lesson in LESSONS:
            total = sum(exercises.points()[name] for name in EXERCISES[lesson])
            lost = sum(exercises.points()[name] for name in expected_zeros(student, lesson))
            expected[student, lesson] = (float(total - lost), float(total))
    assert {key: got[key] for key in expected} == expected


def test_every_trick_is_flagged_with_its_reason_and_no_honest_answer_is(graded_course):
    outcomes = collect(graded_course)
    flagged = {(o.student, o.exercise): o for o in outcomes if o.flag}
    tricks = {(student, name) for student, chosen in TRICKSTERS.items() for name in chosen}
    assert len({trick for chosen in TRICKSTERS.values() for trick in chosen.values()}) >= 8
    for key in tricks:
        assert key in flagged and flagged[key].status == FLAGGED and len(flagged[key].flag) > 10, key
    deleted = flagged[DELETES_CHECK[0], DELETES_CHECK[2]]
    assert deleted.status == "check deleted" and "deleted" in deleted.flag
    assert flagged["bob", "top_confident_mistakes"].flag.startswith("imports nnlib.course.plots")
    honest_flags = [key for key in flagged if key[0] in ("ada", "cy", "dee")]
    assert honest_flags == []
    assert set(flagged) == tricks | {("bob", "top_confident_mistakes"), (DELETES_CHECK[0], DELETES_CHECK[2])}


def test_the_feedback_names_the_flag_and_the_borrowed_answer(graded_course):
    html = (graded_course / "feedback" / "chk" / "02_forward_pass" / "02_forward_pass.html").read_text()
    assert "flagged by the course" in html and "sent to manual grading" in html and "checks.relu" in html
    bob = (graded_course / "feedback" / "bob" / "07_results" / "07_results.html").read_text()
    assert "nnlib.course.plots.most_confident_mistakes" in bob


def test_a_perfect_notebook_shows_no_failure(graded_course):
    """Lesson 00's demonstration of an unfinished exercise never fails a student."""
    for student in ("ada", "dee"):
        for lesson in LESSONS:
            path = graded_course / "autograded" / student / lesson / f"{lesson}.ipynb"
            nb = nbformat.read(path, as_version=4)
            outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
            assert [o for o in outputs if o.output_type == "error"] == []
            text = "".join(o.get("text", "") for o in outputs)
            assert "not implemented" not in text.replace("not implemented yet", "")


def test_the_handouts_carry_generate_assignment_s_checksums(graded_course):
    for lesson in LESSONS:
        ours, theirs = handout(lesson), release(graded_course, lesson)
        assert {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["checksum"]
                for cell in ours.cells if "nbgrader" in cell.metadata} == \
            {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["checksum"]
             for cell in theirs.cells if "nbgrader" in cell.metadata}


def test_an_edited_check_fails_validation_and_the_self_check(graded_course, tmp_path):
    nb = fill(handout("02_forward_pass"), lesson_answers("02_forward_pass"))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "check_softmax":
            cell.source = 'print("✅ softmax: passed")'
    path = tmp_path / "02_forward_pass.ipynb"
    nbformat.write(nb, path)
    assert find_tampering(nb).changed_checks == ["check_softmax"]
    output = nbgrader(graded_course, "validate", str(path), check=False)
    assert "THE CONTENTS OF 1 TEST CELL(S) HAVE CHANGED" in output and "Success" not in output
    mine = subprocess.run([sys.executable, "-m", "nnlib.course.grading", "validate", str(path)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert mine.returncode == 1
    assert "❌ the check cell of softmax was changed" in mine.stdout
    assert "✅ relu: passed (with the hidden cases)" in mine.stdout


def test_validate_does_not_pass_stubs(graded_course):
    stub = graded_course / "submitted" / "cy" / "02_forward_pass" / "02_forward_pass.ipynb"
    output = nbgrader(graded_course, "validate", str(stub), check=False)
    assert "Success" not in output
    assert "linear_forward: not implemented" in output


def test_class_report_and_csv(graded_course):
    summaries = {s.exercise: s for s in summarise(collect(graded_course))}
    assert len(summaries) == 9
    cross = summaries["cross_entropy"]
    assert (cross.students, cross.not_implemented, cross.flagged) == (len(STUDENTS), 1, 3)
    assert [(m.text, m.students) for m in cross.mistakes] == [
        ("missing 1/N: the loss is the mean over the batch, not the sum", ["bob"])]
    assert "NaN or inf" in summaries["softmax"].mistakes[0].text
    assert "percentage" in summaries["accuracy"].mistakes[0].text
    assert "keepdims" in summaries["normalize_rows"].mistakes[0].text
    relu = summaries["relu"]
    assert (relu.passed, relu.flagged, relu.check_deleted, relu.not_implemented, relu.timed_out) == (
        len(STUDENTS) - 6, 3, 1, 1, 1)
    text = write_report(collect(graded_course), graded_course / "report" / "class")
    row = r"\| 02_forward_pass \| cross_entropy \| 1 \| 12/17 \| 1 \| 1 \| 3 \| 0 \| 0 \| missing 1/N"
    assert re.search(row, text)
    assert "- cross_entropy: missing 1/N: the loss is the mean over the batch, not the sum (1: bob)" in text
    assert "- relu: check deleted: its check cell was deleted from the notebook (1: del)" in text
    assert "- relu: the check did not finish in time (an endless loop?) (1: inf)" in text
    assert "calls nnlib's own answer sklearn" not in text
    with (graded_course / "report" / "class_students.csv").open() as handle:
        rows = {(row["student"], row["exercise"]): row for row in csv.DictReader(handle)}
    assert len(rows) == len(STUDENTS) * 9
    assert rows["sci", "confusion_matrix"]["outcome"] == FLAGGED
    assert "sklearn_confusion_matrix" in rows["sci", "confusion_matrix"]["flag"]
    assert rows["bob", "cross_entropy"]["mistake"].startswith("missing 1/N")
    assert rows["inf", "relu"]["outcome"] == "timed out" and rows["inf", "softmax"]["outcome"] == "passed"
    assert (graded_course / "report" / "class.csv").read_text().count("\n") == 10
    assert (graded_course / "report" / "class.png").stat().st_size > 10_000
