"""The class report: per exercise, how many students passed, and the mistakes the checkers
recognised most often, from a class's autograded notebooks.

nbgrader's gradebook keeps only scores; the checkers' messages ("missing 1/N", "dW is
transposed", ...) are in the autograded notebooks, as the error of each failed check cell, and
so are the audit's flags and the deleted checks (`preprocessor.AuditAnswers`). So the report
reads `autograded/<student>/<assignment>/*.ipynb` (or any folder of executed notebooks that carry
the course's nbgrader metadata) and writes a markdown table, a CSV per exercise, a CSV per
student and exercise, and a figure.
"""

from __future__ import annotations

import ast
import csv
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from nnlib.course import exercises
from nnlib.course.checks.grading import HIDDEN_PREFIX
from nnlib.course.grading.audit import METADATA_KEY
from nnlib.course.grading.checksums import find_tampering
from nnlib.course.grading.export import spreadsheet_safe
from nnlib.files import atomic_write

NOT_IMPLEMENTED = "not implemented"
FLAGGED = "flagged"
CHECK_DELETED = "check deleted"
TIMED_OUT = "timed out"
# Outcomes in the order the table and the figure show them.
STATUSES = ("passed", "failed", NOT_IMPLEMENTED, FLAGGED, CHECK_DELETED, TIMED_OUT)
# The generic message of a wrong result whose cause no hint recognised.
_UNRECOGNISED = re.compile(r"\d+ of \d+ entries differ")
_SCALED = re.compile(r"^your result is \S+ times the expected one: ")
_NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")
_TIMEOUT_ERRORS = ("CellTimeoutError", "TimeoutError", "DeadKernelError")
_TIMEOUT = "the check did not finish in time (an endless loop?)"


@dataclass(frozen=True)
class Outcome:
    """One student's result on one exercise."""

    student: str
    lesson: str
    exercise: str
    points: float
    status: str  # one of STATUSES
    mistake: str = ""  # what the checker said, without the case (failed, flagged or timed out)
    flag: str = ""  # why the audit flagged the answer (flagged, check deleted)
    check_edited: bool = False  # the submission changed the check cell (grading restored it)
    sandboxed: bool = True  # False: graded with --no-sandbox (the teacher's choice)


def _is_case(part: str) -> bool:
    """Is this `: `-separated part of a message the input a check failed on (which varies between
    students) rather than the cause? `on x (4, 5)`, `step 3 of 7`, `37 examples`, `first step
    (t = 1), lr=0.01`, or the name of one returned array (`m`, `dW`)."""
    return (part.startswith(("on ", "step ", "total=")) or "example" in part or "=" in part
            or "shape" in part or len(part) <= 2)


def mistake_of(exercise: str, message: str) -> str:
    """The cause in a checker's message, without the checker's name and the input it failed on,
    so that the same mistake reads the same for every student."""
    text = message.strip()
    if text.startswith(f"{exercise}: "):
        text = text[len(exercise) + 2:]
    hidden = text.startswith(HIDDEN_PREFIX)
    if hidden:
        text = text[len(HIDDEN_PREFIX):]
    if _UNRECOGNISED.search(text):
        return "wrong values, no recognised cause" + (" (hidden cases only)" if hidden else "")
    if ". Hint: " in text:
        return "Hint: " + text.split(". Hint: ", 1)[1]
    parts = text.split(": ")
    while len(parts) > 1 and _is_case(parts[0]):
        parts.pop(0)
    # The recognised cause, without what varies with the input (a factor, NumPy's shapes).
    return _SCALED.sub("", ": ".join(parts))


def cause_key(mistake: str) -> str:
    """Mistakes with the same cause share this key (numbers that vary with the case ignored)."""
    return _NUMBER.sub("#", mistake)


def _check_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def outcome_of_cell(cell: nbformat.NotebookNode, exercise: str) -> tuple[str, str]:
    """(status, mistake) of one executed check cell as the notebook showed it, before the audit's
    and the trusted run's word."""
    errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"
              and output.get("ename") not in ("AnswerFlagged", "GradedApart")]
    if errors:
        error = errors[0]
        message = error.get("evalue", "")
        if error.get("ename") in _TIMEOUT_ERRORS:
            return TIMED_OUT, _TIMEOUT
        if error.get("ename") != "CheckFailed":
            return "failed", f"{error.get('ename', 'an error')} (the check could not run)"
        if message.strip() == f"{exercise}: {NOT_IMPLEMENTED}":
            return NOT_IMPLEMENTED, ""
        if "interrupted while checking" in message or "did not finish within" in message:
            return TIMED_OUT, _TIMEOUT
        return "failed", mistake_of(exercise, message)
    if cell.execution_count is None and not cell.get("outputs"):
        return NOT_IMPLEMENTED, ""  # never ran (e.g. the notebook stopped before it)
    return "passed", ""


def is_unwritten(source: str, exercise: str) -> bool:
    """Is the answer cell `source` still a stub: `def exercise(...)` whose body is nothing but a
    docstring, `pass`, `...` or `raise NotImplementedError`? (A `pass` stub returns None, which
    the checker can only call "did you forget `return`?".)"""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == exercise]
    if len(defs) != 1:
        return False

    def empty(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Pass):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            return statement.value.value is Ellipsis or isinstance(statement.value.value, str)
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
        return False

    return all(empty(statement) for statement in defs[0].body)


def _trusted_outcome(exercise: str, result: dict, shown: str) -> tuple[str, str]:
    """(status, mistake) from the trusted run; a pass shown by the notebook but not by the
    trusted run says so."""
    status, message = result.get("status", "failed"), result.get("message", "")
    if status == "passed" or status == NOT_IMPLEMENTED:
        return status, ""
    mistake = _TIMEOUT if status == TIMED_OUT else mistake_of(exercise, message)
    if shown == "passed":
        mistake = f"passed in the notebook, not in the grader's own run of its defs: {mistake}"
    return status, mistake


def outcomes_of(nb: nbformat.NotebookNode, student: str, lesson: str) -> list[Outcome]:
    """Each graded check of an executed notebook: passed, failed with what, not implemented
    (also a stub whose body is `pass`), flagged by the audit (with why), timed out; and each check
    cell the student deleted."""
    found = []
    answers = {cell.metadata["nbgrader"].get("grade_id"): cell.source for cell in nb.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    trusted = nb.metadata.get(METADATA_KEY, {}).get("trusted", {})
    sandboxed = nb.metadata.get(METADATA_KEY, {}).get("sandbox") is not False
    for cell in _check_cells(nb):
        meta = cell.metadata["nbgrader"]
        exercise = meta["grade_id"].removeprefix("check_")
        status, mistake = outcome_of_cell(cell, exercise)
        if status == "failed" and is_unwritten(answers.get(exercise, ""), exercise):
            status, mistake = NOT_IMPLEMENTED, ""
        if exercise in trusted:  # the grader's own run of the answer's defs is what counts
            status, mistake = _trusted_outcome(exercise, trusted[exercise], status)
        flag = cell.metadata.get(METADATA_KEY, {}).get("flag", "")
        if flag:
            status = FLAGGED
        found.append(Outcome(student, lesson, exercise, float(meta.get("points", 0)), status, mistake, flag,
                             sandboxed=sandboxed))
    audit = nb.metadata.get(METADATA_KEY, {})
    points = exercises.points()
    for exercise in audit.get("deleted_checks", []):
        found.append(Outcome(student, lesson, exercise, float(points.get(exercise, 0)), CHECK_DELETED, "",
                             audit.get("flags", {}).get(exercise, "its check cell was deleted")))
    return found


def collect(where: Path) -> list[Outcome]:
    """The outcomes of every graded notebook under `where`: a course folder (its autograded/),
    an autograded/ folder (student/assignment/notebook), or a flat folder of notebooks. In a
    course folder, a check cell that the submission had edited (nbgrader restored it before
    grading) is marked `check_edited`."""
    root = where / "autograded" if (where / "autograded").is_dir() else where
    outcomes = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        parts = path.relative_to(root).parts
        student = parts[0] if len(parts) >= 3 else path.stem
        found = outcomes_of(nbformat.read(path, as_version=4), student, path.stem)
        submitted = where / "submitted" / Path(*parts)
        if len(parts) >= 3 and submitted.is_file():
            edited = {grade_id.removeprefix("check_")
                      for grade_id in find_tampering(nbformat.read(submitted, as_version=4)).changed_checks}
            found = [replace(o, check_edited=o.exercise in edited) for o in found]
        outcomes.extend(found)
    return outcomes


def roster(where: Path) -> list[str]:
    """Every student a course folder knows: nbgrader's gradebook (`nbgrader db student add`),
    and whoever has a folder in submitted/ or autograded/."""
    students: set[str] = set()
    for folder in ("submitted", "autograded"):
        if (where / folder).is_dir():
            students |= {path.name for path in (where / folder).iterdir()
                         if path.is_dir() and not path.name.startswith(".")}
    database = where / "gradebook.db"
    if database.is_file():
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            students |= {row[0] for row in connection.execute("SELECT id FROM student")}
    return sorted(students)


@dataclass(frozen=True)
class Missing:
    """A lesson a student has no graded notebook of."""

    student: str
    lesson: str
    why: str  # DID_NOT_HAND_IN or NOT_GRADED


DID_NOT_HAND_IN = "did not hand in"
NOT_GRADED = "handed in, not graded (autograde failed or was not run: see its log)"


def missing_work(where: Path, outcomes: list[Outcome]) -> list[Missing]:
    """For a course folder: each student on the roster without a graded notebook of a lesson that
    others were graded on (every lesson graded so far)."""
    if not (where / "autograded").is_dir():
        return []
    graded = {(o.student, o.lesson) for o in outcomes}
    lessons = sorted({o.lesson for o in outcomes})
    return [Missing(student, lesson, NOT_GRADED if (where / "submitted" / student / lesson).is_dir()
                    else DID_NOT_HAND_IN)
            for student in roster(where) for lesson in lessons if (student, lesson) not in graded]


def needs_help(outcomes: list[Outcome], missing: list[Missing]) -> list[tuple[str, str, str, str, str]]:
    """(student, lesson, exercise, what, detail): one row for each lesson not handed in, each
    exercise not answered, each edited or deleted check, each timeout and each flag."""
    rows = [(m.student, m.lesson, "", m.why, "") for m in missing]
    for o in outcomes:
        if o.status == NOT_IMPLEMENTED:
            rows.append((o.student, o.lesson, o.exercise, "not answered", ""))
        elif o.status == TIMED_OUT:
            rows.append((o.student, o.lesson, o.exercise, "timed out", o.mistake))
        elif o.status in (FLAGGED, CHECK_DELETED):
            rows.append((o.student, o.lesson, o.exercise, o.status, o.flag))
        if o.check_edited:
            rows.append((o.student, o.lesson, o.exercise, "check edited",
                         "the submission changed the check cell; grading ran the original"))
    return sorted(rows)


@dataclass
class Mistake:
    """One cause of failure of one exercise: how it reads, and who made it."""

    text: str
    students: list[str]

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ExerciseSummary:
    lesson: str
    exercise: str
    points: float
    students: int
    counts: dict[str, int]  # status -> number of students
    mistakes: list[Mistake]  # every recognised cause of failure, most common first (ties by text)
    flags: list[Mistake]  # flagged answers and deleted checks, with the audit's reason

    @property
    def passed(self) -> int:
        return self.counts.get("passed", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def not_implemented(self) -> int:
        return self.counts.get(NOT_IMPLEMENTED, 0)

    @property
    def flagged(self) -> int:
        return self.counts.get(FLAGGED, 0)

    @property
    def check_deleted(self) -> int:
        return self.counts.get(CHECK_DELETED, 0)

    @property
    def timed_out(self) -> int:
        return self.counts.get(TIMED_OUT, 0)


def _grouped(pairs: list[tuple[str, str]]) -> list[Mistake]:
    """(text, student) pairs grouped by cause; each group reads as its most common text."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for text, student in pairs:
        groups.setdefault(cause_key(text), []).append((text, student))
    mistakes = []
    for members in groups.values():
        text = Counter(t for t, _ in members).most_common(1)[0][0]
        mistakes.append(Mistake(text, sorted({student for _, student in members})))
    return sorted(mistakes, key=lambda m: (-m.count, m.text))


def summarise(outcomes: list[Outcome]) -> list[ExerciseSummary]:
    """One summary per exercise, in course order (lesson, then position in the lesson)."""
    by_exercise: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        by_exercise.setdefault((outcome.lesson, outcome.exercise), []).append(outcome)
    summaries = []
    for (lesson, exercise), results in sorted(by_exercise.items(), key=lambda item: item[0][0]):
        counts = Counter(result.status for result in results)
        mistakes = _grouped([(r.mistake, r.student) for r in results if r.status in ("failed", TIMED_OUT)])
        flags = _grouped([(f"{r.status}: {r.flag}", r.student) for r in results if r.flag])
        students = len({r.student for r in results})
        summaries.append(ExerciseSummary(lesson, exercise, results[0].points, students, dict(counts),
                                         mistakes, flags))
    return summaries


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(summaries: list[ExerciseSummary], help_rows: list[tuple[str, str, str, str, str]] | None = None
             ) -> str:
    """The report as a markdown table (one row per exercise) and, under it, every recognised
    mistake and every flag with its count and its students, then (`help_rows`, from `needs_help`)
    every student with work missing, unanswered, timed out, flagged or with an edited check."""
    lines = ["| lesson | exercise | points | passed | failed | not implemented | flagged | check deleted "
             "| timed out | most common mistake |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        top = f"{_cell(s.mistakes[0].text)} ({s.mistakes[0].count})" if s.mistakes else ""
        lines.append(f"| {s.lesson} | {s.exercise} | {s.points:g} | {s.passed}/{s.students} | {s.failed} "
                     f"| {s.not_implemented} | {s.flagged} | {s.check_deleted} | {s.timed_out} | {top} |")
    lines += ["", "Recognised mistakes, grouped by cause, most common first (count: students):", ""]
    for s in summaries:
        for mistake in s.mistakes:
            lines.append(f"- {s.exercise}: {mistake.text} ({mistake.count}: {', '.join(mistake.students)})")
    if not any(s.mistakes for s in summaries):
        lines.append("- none")
    lines += ["", "Flagged by the audit or with a deleted check (look at these notebooks; "
              "TEACHING.md, \"Flags and manual grades\"):", ""]
    for s in summaries:
        for flag in s.flags:
            lines.append(f"- {s.exercise}: {flag.text} ({flag.count}: {', '.join(flag.students)})")
    if not any(s.flags for s in summaries):
        lines.append("- none")
    if help_rows is not None:
        lines += ["", "Students who need a look: lessons not handed in, exercises not answered, edited or "
                  "deleted checks, timeouts and flags, one row each:", ""]
        if help_rows:
            lines += ["| student | lesson | exercise | what | detail |", "|---|---|---|---|---|"]
            lines += [f"| {' | '.join(_cell(part) for part in row)} |" for row in help_rows]
        else:
            lines.append("- none")
    return "\n".join(lines) + "\n"


def _safe_row(values: list) -> list:
    """Text cells that a spreadsheet would run as formulas (a student id `=HYPERLINK(...)`) shown."""
    return [spreadsheet_safe(value) if isinstance(value, str) else value for value in values]


def write_csv(summaries: list[ExerciseSummary], path: Path) -> None:
    """The table's numbers, one row per exercise; every mistake with its count in the last column."""
    header = ["lesson", "exercise", "points", "students", *(status.replace(" ", "_") for status in STATUSES),
              "mistakes"]
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for s in summaries:
            writer.writerow(_safe_row([s.lesson, s.exercise, f"{s.points:g}", s.students,
                                       *(s.counts.get(status, 0) for status in STATUSES),
                                       "; ".join(f"{m.text} ({m.count})" for m in s.mistakes)]))


def write_students_csv(outcomes: list[Outcome], path: Path) -> None:
    """One row per student and exercise: the outcome, the mistake, the audit's flag."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student", "lesson", "exercise", "points", "outcome", "mistake", "flag"])
        for o in sorted(outcomes, key=lambda o: (o.student, o.lesson)):
            writer.writerow(_safe_row([o.student, o.lesson, o.exercise, f"{o.points:g}", o.status, o.mistake,
                                       o.flag]))


_COLOURS = {"passed": "#2e9e44", "failed": "#d1362f", NOT_IMPLEMENTED: "#b9b9b9", FLAGGED: "#7b3fb5",
            CHECK_DELETED: "#1f1f1f", TIMED_OUT: "#e69f00"}


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def ranked(causes: list[tuple[int, str, str]], most: int, cap: int) -> tuple[list[tuple[int, str, str]], int]:
    """The `most` causes that touch the most students, with every cause tied with the last of
    them (no tie is broken by lesson order), at most `cap` (a tie too large to show is left out
    whole); and how many causes are not shown."""
    ordered = sorted(causes, key=lambda c: -c[0])  # stable: course order within a count
    if len(ordered) <= most:
        return ordered, 0
    last = ordered[most - 1][0]
    kept = [c for c in ordered if c[0] >= last]
    if len(kept) > cap:
        kept = [c for c in ordered if c[0] > last]
    return kept, len(ordered) - len(kept)


def plot(summaries: list[ExerciseSummary], path: Path, most_mistakes: int = 12, cap: int = 24) -> None:
    """Left: per exercise, a stacked bar of its outcomes. Right: the mistakes, timeouts and flags
    that touch the most students, one bar each (ties with the last one kept, see `ranked`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def colour(text: str) -> str:
        return _COLOURS[TIMED_OUT if text == _TIMEOUT else "failed"]

    causes = [(m.count, f"{s.exercise}: {m.text}", colour(m.text)) for s in summaries for m in s.mistakes]
    causes += [(f.count, f"{s.exercise}: {f.text}", _COLOURS[FLAGGED]) for s in summaries for f in s.flags]
    causes, left_out = ranked(causes, most_mistakes, cap)
    height = 1.2 + 0.36 * max(len(summaries), len(causes), 3)
    fig = Figure(figsize=(13, height), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.25))
    rows = [max(len(summaries), len(causes)) - 1 - k for k in range(len(summaries))]
    start = [0] * len(summaries)
    for status in STATUSES:
        values = [s.counts.get(status, 0) for s in summaries]
        if any(values):
            left.barh(rows, values, left=start, color=_COLOURS[status], label=status, height=0.7)
            start = [a + b for a, b in zip(start, values, strict=True)]
    most = max((s.students for s in summaries), default=1)
    left.set_yticks(rows, [f"{s.lesson[:2]} {s.exercise}" for s in summaries], fontsize=9)
    left.set_xlim(0, most)
    left.set_xlabel("students")
    left.set_title("Outcome per exercise", fontsize=10)
    fig.legend(loc="outside lower center", ncols=len(STATUSES), fontsize=8, frameon=False)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.spines[["top", "right"]].set_visible(False)
    lines = max(len(summaries), len(causes), 1)  # both panels: rows of the same height, from the top
    left.set_ylim(lines - len(summaries) - 0.5, lines - 0.5)
    right.set_ylim(-0.5, lines - 0.5)
    if causes:
        places = [lines - 1 - k for k in range(len(causes))]
        right.barh(places, [c[0] for c in causes], color=[c[2] for c in causes], height=0.7)
        right.set_yticks(places, [_short(c[1], 70) for c in causes], fontsize=8)
        right.set_xlim(0, max(c[0] for c in causes) * 1.1)
        right.set_xlabel("students")
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        right.yaxis.tick_right()
    else:
        right.text(0.5, 0.5, "no recognised mistakes and no flags", ha="center", va="center",
                   transform=right.transAxes)
        right.set_yticks([])
    more = f"\n({left_out} more, each of fewer students: see the report)" if left_out else ""
    right.set_title(f"Mistakes (red), timeouts (orange) and flags (purple), by students{more}", fontsize=10)
    right.spines[["top", "left"]].set_visible(False)
    fig.savefig(path, dpi=110)


def write_help_csv(rows: list[tuple[str, str, str, str, str]], path: Path) -> None:
    """`needs_help`'s rows, one per line (text that a spreadsheet would run as a formula is quoted)."""

    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student", "lesson", "exercise", "what", "detail"])
        writer.writerows([spreadsheet_safe(part) for part in row] for row in rows)


def write_report(outcomes: list[Outcome], stem: Path, plot_figure: bool = True,
                 missing: list[Missing] | None = None) -> str:
    """Write `<stem>.md`, `<stem>.csv`, `<stem>_students.csv`, `<stem>_needs_help.csv` (and
    `<stem>.png`); return the markdown. `missing`: lessons not handed in (`missing_work`)."""
    summaries = summarise(outcomes)
    help_rows = needs_help(outcomes, missing or [])
    text = markdown(summaries, help_rows)
    unsandboxed = sorted({o.student for o in outcomes if not o.sandboxed})
    if unsandboxed:
        text = ("⚠ Graded without the sandbox (--no-sandbox, the teacher's choice): "
                f"{', '.join(unsandboxed)}\n\n" + text)
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(stem.with_suffix(".md")) as handle:
        handle.write(text)
    write_csv(summaries, stem.with_suffix(".csv"))
    write_students_csv(outcomes, stem.with_name(stem.name + "_students.csv"))
    write_help_csv(help_rows, stem.with_name(stem.name + "_needs_help.csv"))
    if plot_figure:
        plot(summaries, stem.with_suffix(".png"))
    return text
