"""`python -m nnlib.course.grading export-lms COURSE`: the class's grades as one sheet for an LMS.

`nbgrader export` writes one row per student and assignment. An LMS (Moodle, Canvas, ...) wants
one row per student and one column per assignment, and a teacher wants to see at a glance what
is not final yet. So this sheet has, for every student on the roster (nbgrader's gradebook,
`nbgrader db student add/import`, plus an optional roster file), including those who never
submitted anything:

- one column per lesson: the score as `nbgrader export` counts it (the manual score where a
  teacher gave one, else the autograde's; minus nbgrader's late penalty; 0 when not submitted);
- `total` and `max_total`;
- `needs_manual_grade`: the lessons with a flagged answer or a check not reviewed yet (their
  score counts 0 for those checks until a teacher types one in formgrader);
- `late`: the lessons submitted after their due date, with how late and the penalty;
- `missing`: the lessons never submitted; `not_graded`: submitted but not autograded yet.

Every text cell that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`,
a tab or a carriage return) is written with a leading `'`, so a student id or a name such as
`=HYPERLINK(...)` stays text. Needs nbgrader (run it with `.venv-grading/bin/python`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nnlib.files import atomic_write

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text` as a spreadsheet shows it, never run as a formula: a leading `'` where needed."""
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass
class StudentRow:
    """One student's line of the sheet."""

    student: str
    last_name: str = ""
    first_name: str = ""
    email: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # assignment -> score (0 if missing)
    needs_manual_grade: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # "02_forward_pass (3.5 h late, penalty 4)"
    missing: list[str] = field(default_factory=list)
    not_graded: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def read_roster(path: Path) -> list[dict[str, str]]:
    """Students from a roster file: a CSV with an `id` (or `student_id`) column, as for
    `nbgrader db student import`, optionally `first_name`, `last_name`, `email`."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return []
    key = "id" if "id" in rows[0] else "student_id" if "student_id" in rows[0] else None
    if key is None:
        raise ValueError(f"{path}: a roster needs an 'id' or 'student_id' column; it has "
                         f"{', '.join(rows[0])}")
    return [{"id": row[key].strip(), **{name: (row.get(name) or "").strip()
                                        for name in ("first_name", "last_name", "email")}}
            for row in rows if (row.get(key) or "").strip()]


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds / 60:.0f} min"


def gather(course: Path, roster: Path | None = None) -> tuple[list[str], list[float], list[StudentRow]]:
    """(assignments, their max scores, one row per student) from the course's gradebook."""
    try:
        from nbgrader.api import Gradebook, MissingEntry
    except ImportError as err:
        raise FileNotFoundError("export-lms reads nbgrader's gradebook: run it with nbgrader's Python, "
                                ".venv-grading/bin/python (make grading-env)") from err
    database = course / "gradebook.db"
    if not database.is_file():
        raise FileNotFoundError(f"{database} does not exist: generate and autograde an assignment first")
    extra = read_roster(roster) if roster else []
    with Gradebook(f"sqlite:///{database.resolve()}") as gradebook:
        assignments = sorted(gradebook.assignments, key=lambda a: a.name)
        names = [a.name for a in assignments]
        people = {s.id: StudentRow(s.id, s.last_name or "", s.first_name or "", s.email or "")
                  for s in gradebook.students}
        for entry in extra:
            row = people.setdefault(entry["id"], StudentRow(entry["id"]))
            row.first_name = row.first_name or entry["first_name"]
            row.last_name = row.last_name or entry["last_name"]
            row.email = row.email or entry["email"]
        submitted = course / "submitted"
        for folder in sorted(submitted.glob("*")) if submitted.is_dir() else []:
            if folder.is_dir() and not folder.name.startswith("."):
                people.setdefault(folder.name, StudentRow(folder.name))
        for row in people.values():
            for assignment in assignments:
                try:
                    submission = gradebook.find_submission(assignment.name, row.student)
                except MissingEntry:
                    row.scores[assignment.name] = 0.0
                    handed_in = (submitted / row.student / assignment.name).is_dir()
                    (row.not_graded if handed_in else row.missing).append(assignment.name)
                    continue
                penalty = submission.late_submission_penalty or 0.0
                row.scores[assignment.name] = max(0.0, submission.score - penalty)
                if submission.needs_manual_grade:
                    row.needs_manual_grade.append(assignment.name)
                late = submission.total_seconds_late or 0.0
                if late > 0:
                    row.late.append(f"{assignment.name} ({_hours(late)} late, penalty {penalty:g})")
        maxima = [float(a.max_score) for a in assignments]
    return names, maxima, sorted(people.values(), key=lambda r: r.student)


def write_lms_csv(course: Path, out: Path, roster: Path | None = None) -> list[StudentRow]:
    """Write the sheet (see the module's docstring) to `out`; return its rows."""
    names, maxima, rows = gather(course, roster)
    with atomic_write(out) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student_id", "last_name", "first_name", "email", *names, "total", "max_total",
                         "needs_manual_grade", "late", "missing", "not_graded"])
        for row in rows:
            texts = [row.student, row.last_name, row.first_name, row.email]
            notes = ["; ".join(row.needs_manual_grade), "; ".join(row.late), "; ".join(row.missing),
                     "; ".join(row.not_graded)]
            writer.writerow([*(spreadsheet_safe(t) for t in texts),
                             *(f"{row.scores[name]:g}" for name in names), f"{row.total:g}",
                             f"{sum(maxima):g}", *(spreadsheet_safe(t) for t in notes)])
    return rows
