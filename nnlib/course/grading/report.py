"""The class report: per exercise, how many students passed, and the mistakes the checkers
recognised most often, from a class's autograded notebooks.

nbgrader's gradebook keeps only scores; the checkers' messages ("missing 1/N", "dW is
transposed", ...) are in the autograded notebooks, as the error of each failed check cell. So the
report reads `autograded/<student>/<assignment>/*.ipynb` (or any folder of executed notebooks
that carry the course's nbgrader metadata) and writes a markdown table, a CSV and a figure.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from nnlib.course.checks.grading import HIDDEN_PREFIX

NOT_IMPLEMENTED = "not implemented"
# The generic message of a wrong result whose cause no hint recognised.
_UNRECOGNISED = re.compile(r"\d+ of \d+ entries differ")
_SCALED = re.compile(r"^your result is \S+ times the expected one: ")
TOP_MISTAKES = 3


@dataclass(frozen=True)
class Outcome:
    """One student's result on one exercise."""

    student: str
    lesson: str
    exercise: str
    points: float
    status: str  # "passed", "failed" or "not implemented"
    mistake: str = ""  # what the checker said, without the case (failed only)


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
    case, separator, cause = text.partition(": ")
    if separator and (case.startswith(("on ", "step ", "total=")) or "example" in case):
        text = cause
    # The recognised cause, without what varies with the input (a factor, NumPy's shapes).
    text = _SCALED.sub("", text)
    if ". Hint: " in text:
        text = "Hint: " + text.split(". Hint: ", 1)[1]
    return text


def _check_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def outcomes_of(nb: nbformat.NotebookNode, student: str, lesson: str) -> list[Outcome]:
    """Each graded check of an executed notebook: passed, failed with what, or not implemented."""
    found = []
    for cell in _check_cells(nb):
        meta = cell.metadata["nbgrader"]
        exercise = meta["grade_id"].removeprefix("check_")
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        status, mistake = "passed", ""
        if errors:
            error = errors[0]
            message = error.get("evalue", "")
            if error.get("ename") != "CheckFailed":
                status, mistake = "failed", f"{error.get('ename', 'an error')} (the check could not run)"
            elif message.strip() == f"{exercise}: {NOT_IMPLEMENTED}":
                status = NOT_IMPLEMENTED
            else:
                status, mistake = "failed", mistake_of(exercise, message)
        elif cell.execution_count is None and not cell.get("outputs"):
            status = NOT_IMPLEMENTED  # never ran (e.g. the notebook stopped before it)
        found.append(Outcome(student, lesson, exercise, float(meta.get("points", 0)), status, mistake))
    return found


def collect(where: Path) -> list[Outcome]:
    """The outcomes of every graded notebook under `where`: a course folder (its autograded/),
    an autograded/ folder (student/assignment/notebook), or a flat folder of notebooks."""
    root = where / "autograded" if (where / "autograded").is_dir() else where
    outcomes = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        parts = path.relative_to(root).parts
        student = parts[0] if len(parts) >= 3 else path.stem
        outcomes.extend(outcomes_of(nbformat.read(path, as_version=4), student, path.stem))
    return outcomes


@dataclass
class ExerciseSummary:
    lesson: str
    exercise: str
    points: float
    students: int
    passed: int
    failed: int
    not_implemented: int
    mistakes: list[tuple[str, int]]


def summarise(outcomes: list[Outcome]) -> list[ExerciseSummary]:
    """One summary per exercise, in course order (lesson, then position in the lesson)."""
    by_exercise: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        by_exercise.setdefault((outcome.lesson, outcome.exercise), []).append(outcome)
    summaries = []
    for (lesson, exercise), results in sorted(by_exercise.items(), key=lambda item: item[0][0]):
        statuses = Counter(result.status for result in results)
        mistakes = Counter(result.mistake for result in results if result.status == "failed")
        summaries.append(ExerciseSummary(
            lesson, exercise, results[0].points, len({r.student for r in results}), statuses["passed"],
            statuses["failed"], statuses[NOT_IMPLEMENTED], mistakes.most_common(TOP_MISTAKES)))
    return summaries


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(summaries: list[ExerciseSummary]) -> str:
    """The report as a markdown table (one row per exercise) and the mistakes under it."""
    lines = ["| lesson | exercise | points | passed | failed | not implemented | most common mistake |",
             "|---|---|---|---|---|---|---|"]
    for s in summaries:
        top = f"{_cell(s.mistakes[0][0])} ({s.mistakes[0][1]})" if s.mistakes else ""
        lines.append(f"| {s.lesson} | {s.exercise} | {s.points:g} | {s.passed}/{s.students} | {s.failed} "
                     f"| {s.not_implemented} | {top} |")
    lines += ["", "Recognised mistakes, most common first (students):", ""]
    for s in summaries:
        for mistake, count in s.mistakes:
            lines.append(f"- {s.exercise}: {mistake} ({count})")
    if not any(s.mistakes for s in summaries):
        lines.append("- none")
    return "\n".join(lines) + "\n"


def write_csv(summaries: list[ExerciseSummary], path: Path) -> None:
    """The same numbers as the table, one row per exercise, the top mistakes in columns."""
    header = ["lesson", "exercise", "points", "students", "passed", "failed", "not_implemented"]
    for k in range(1, TOP_MISTAKES + 1):
        header += [f"mistake_{k}", f"count_{k}"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for s in summaries:
            row: list[object] = [s.lesson, s.exercise, f"{s.points:g}", s.students, s.passed, s.failed,
                                 s.not_implemented]
            for k in range(TOP_MISTAKES):
                row += list(s.mistakes[k]) if k < len(s.mistakes) else ["", ""]
            writer.writerow(row)


def plot(summaries: list[ExerciseSummary], path: Path) -> None:
    """Stacked bars per exercise (passed, failed, not implemented), the top mistake beside each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = 0.6 + 0.42 * len(summaries)
    fig = Figure(figsize=(11, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [f"{s.lesson[:2]} {s.exercise}" for s in summaries]
    rows = range(len(summaries))[::-1]
    left = [0] * len(summaries)
    for field, colour, name in (("passed", "#2e9e44", "passed"), ("failed", "#d1362f", "failed"),
                                ("not_implemented", "#b9b9b9", "not implemented")):
        values = [getattr(s, field) for s in summaries]
        ax.barh(list(rows), values, left=left, color=colour, label=name, height=0.7)
        left = [a + b for a, b in zip(left, values, strict=True)]
    most = max((s.students for s in summaries), default=1)
    for row, s in zip(rows, summaries, strict=True):
        if s.mistakes:
            text, count = s.mistakes[0]
            text = text if len(text) <= 70 else text[:67] + "..."
            ax.text(s.students + most * 0.02, row, f"{count}× {text}", va="center", fontsize=8)
    ax.set_yticks(list(rows), labels, fontsize=9)
    ax.set_xlim(0, most * 2.4)
    ax.set_xticks(range(0, most + 1, max(1, most // 5)))
    ax.set_xlabel("students")
    ax.set_title("Class report: checks passed, failed (with the most common recognised mistake), "
                 "not implemented", fontsize=10)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)  # below the axis label
    ax.spines[["top", "right"]].set_visible(False)
    fig.savefig(path, dpi=110)


def write_report(outcomes: list[Outcome], stem: Path, plot_figure: bool = True) -> str:
    """Write `<stem>.md`, `<stem>.csv` (and `<stem>.png`); return the markdown."""
    summaries = summarise(outcomes)
    text = markdown(summaries)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    write_csv(summaries, stem.with_suffix(".csv"))
    if plot_figure:
        plot(summaries, stem.with_suffix(".png"))
    return text
