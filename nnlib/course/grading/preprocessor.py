"""`AuditAnswers`: a step of nbgrader's autograde pipeline that audits each answer's source.

The course's `nbgrader_config.py` inserts it into `Autograde.autograde_preprocessors` right after
nbgrader's `SaveAutoGrades`, so it runs in nbgrader's process (never in the student's kernel) on
the executed notebook, once the checks' scores are in the gradebook. For each exercise that the
audit flags (`nnlib.course.grading.audit`), and for each check cell missing from the submission:

- `flagged = "manual"` (the default): the check's autograde score becomes 0 and the grade is
  marked "needs manual grade", so formgrader lists it and the points count only once a teacher
  gives them by hand; `"zero"`: the score becomes 0, nothing to review;
- the reason goes into the answer's comment (formgrader and the feedback show it), into the
  check cell's outputs (the feedback), and into the notebook's metadata (the class report).

Imported only by nbgrader (it needs nbgrader, which lives in .venv-grading).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Enum

from nnlib.course.grading import sandbox
from nnlib.course.grading.audit import METADATA_KEY, audit_notebook
from nnlib.course.grading.report import outcome_of_cell as notebook_outcome
from nnlib.course.grading.trusted import PASSED, Trusted, run_trusted, student_sources


class AuditAnswers(NbGraderPreprocessor):
    """Flag answers that are not the student's own work, and deleted checks (see module doc)."""

    flagged = Enum(["manual", "zero"], default_value="manual",
                   help="What a flagged answer or a deleted check gets: 'manual' (score 0 until a "
                        "teacher grades it by hand in formgrader) or 'zero'.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        info = resources["nbgrader"]
        notebook, assignment, student = info["notebook"], info["assignment"], info["student"]
        reasons: dict[str, list[str]] = {}
        for flag in audit_notebook(nb):
            reasons.setdefault(flag.exercise, []).append(flag.reason)
        present = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells}
        with Gradebook(info["db_url"]) as gradebook:
            source = gradebook.find_notebook(notebook, assignment)
            expected = [cell.name for cell in source.grade_cells]
            lesson = [cell.source for cell in source.source_cells if cell.cell_type == "code" and cell.locked]
            exercises = [name.removeprefix("check_") for name in expected if name.startswith("check_")]
            folder = Path(resources.get("metadata", {}).get("path") or ".")
            trusted = run_trusted(folder, lesson, student_sources(nb.cells, lesson), exercises,
                                  sandboxed=not sandbox.disabled())
            deleted = [grade_id for grade_id in expected if grade_id not in present]
            for grade_id in deleted:
                reasons.setdefault(grade_id.removeprefix("check_"), []).append(
                    "its check cell was deleted from the notebook")
            for exercise, result in trusted.items():
                self._score(gradebook, exercise, result, notebook, assignment, student)
            for exercise, why in reasons.items():
                self._mark(gradebook, exercise, "; ".join(why), notebook, assignment, student)
            gradebook.db.commit()
        self._annotate(nb, reasons, deleted)
        self._feedback(nb, trusted)
        self._helpers(nb, folder, notebook)
        if reasons:
            self.log.warning("%s/%s: flagged for %s: %s", student, notebook,
                             "manual grading" if self.flagged == "manual" else "zero points",
                             "; ".join(f"{name} ({'; '.join(why)})" for name, why in reasons.items()))
        return nb, resources

    def _score(self, gradebook: Gradebook, exercise: str, result: Trusted, notebook: str, assignment: str,
               student: str) -> None:
        """The check's score is the trusted run's: all its points if that passed, else 0."""
        try:
            grade = gradebook.find_grade(f"check_{exercise}", notebook, assignment, student)
        except MissingEntry:
            return
        grade.auto_score = float(grade.max_score) if result.status == PASSED else 0.0

    def _feedback(self, nb: NotebookNode, trusted: dict[str, Trusted]) -> None:
        """The trusted results into the notebook's metadata (the class report), and where they
        disagree with the notebook's own check, why, into that check's outputs (the feedback)."""
        audit = nb.metadata.setdefault(METADATA_KEY, {})
        audit["sandbox"] = not sandbox.disabled()
        audit["trusted"] = {name: {"status": r.status, "message": r.message} for name, r in trusted.items()}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            exercise = str(meta.get("grade_id", "")).removeprefix("check_")
            if not meta.get("grade") or exercise not in trusted:
                continue
            result = trusted[exercise]
            shown, _ = notebook_outcome(cell, exercise)
            if (shown == PASSED) == (result.status == PASSED):
                continue
            if result.status == PASSED:
                text = (f"{exercise}: the grader's own run of your function passed, so it scores its points, "
                        "although this cell's output in your notebook did not (other cells' code changed "
                        "what it saw?)")
            else:
                text = (f"{exercise}: this cell said it passed in your notebook, but the grader's own run of "
                        f"your function, from your defs alone in a fresh process, did not: {result.message}. "
                        "That run counts")
            audit.setdefault("disagreements", {})[exercise] = text
            cell.outputs.append(NotebookNode(
                output_type="error", ename="GradedApart", evalue=text,
                traceback=[f"\x1b[31m⚠ {text}\x1b[0m" if result.status != PASSED else f"ℹ {text}"]))

    def _helpers(self, nb: NotebookNode, folder: Path, notebook: str) -> None:
        """Python files handed in beside the notebook are never used: one line says so."""
        found = sorted(path.name for path in folder.iterdir() if path.suffix == ".py" and path.is_file()
                       or path.is_dir() and (path / "__init__.py").is_file()) if folder.is_dir() else []
        if not found:
            return
        text = (f"ℹ the grader uses only this notebook: put helpers in it ({', '.join(found[:5])} beside "
                f"{notebook}.ipynb was not used)")
        nb.metadata.setdefault(METADATA_KEY, {})["helpers"] = text
        first = next((cell for cell in nb.cells if cell.get("cell_type") == "code"), None)
        if first is not None:
            first.setdefault("outputs", []).append(NotebookNode(output_type="stream", name="stdout",
                                                                text=text + "\n"))

    def _mark(self, gradebook: Gradebook, exercise: str, reason: str, notebook: str, assignment: str,
              student: str) -> None:
        try:
            grade = gradebook.find_grade(f"check_{exercise}", notebook, assignment, student)
        except MissingEntry:
            grade = None  # an answer cell without a check in the source: nothing to score
        if grade is not None:
            grade.auto_score = 0.0
            grade.needs_manual_grade = self.flagged == "manual"
        try:
            comment = gradebook.find_comment(exercise, notebook, assignment, student)
        except MissingEntry:
            return
        comment.auto_comment = f"Flagged by the course's audit: {reason}."

    def _annotate(self, nb: NotebookNode, reasons: dict[str, list[str]], deleted: list[str]) -> None:
        """The reasons where the feedback and the class report see them."""
        what = "sent to manual grading (0 points until a teacher grades it)" if self.flagged == "manual" \
            else "scored 0"
        for cell in nb.cells:
            exercise = cell.metadata.get("nbgrader", {}).get("grade_id", "").removeprefix("check_")
            if not cell.metadata.get("nbgrader", {}).get("grade") or exercise not in reasons:
                continue
            text = "; ".join(reasons[exercise])
            cell.metadata[METADATA_KEY] = {"flag": text, "action": self.flagged}
            cell.outputs.append(NotebookNode(
                output_type="error", ename="AnswerFlagged", evalue=f"{exercise}: {text}",
                traceback=[f"\x1b[31m⚠ {exercise}: flagged by the course's audit and {what}: {text}\x1b[0m"]))
        nb.metadata.setdefault(METADATA_KEY, {}).update({
            "flags": {exercise: "; ".join(why) for exercise, why in reasons.items()},
            "deleted_checks": [grade_id.removeprefix("check_") for grade_id in deleted],
            "action": self.flagged,
        })


# nbgrader's cell metadata format (nbgrader.nbgraderformat): what RestoreMetadata writes.
SCHEMA_VERSION = 3


def _restored(kind: str, grade_id: str, points: float = 0.0) -> dict:
    """nbgrader's metadata of a release cell: an answer, a check or a locked lesson cell."""
    meta = {"grade": kind == "check", "grade_id": grade_id, "locked": kind != "answer",
            "solution": kind == "answer", "schema_version": SCHEMA_VERSION}
    if kind == "check":
        meta["points"] = points
    return meta


class RestoreMetadata(NbGraderPreprocessor):
    """First step of nbgrader's sanitizing: every cell's nbgrader metadata comes from the release
    (the gradebook), never from the submission. A cell is the release's cell `g` when it says so
    and `g` is still free, else when its text is that locked cell's text; an answer whose
    metadata was removed, changed (`solution: false`, `grade: true`, another grade id) is the
    nearest unclaimed code cell before its check. Every other cell (a pasted duplicate, a cell
    of the student's own) loses its nbgrader metadata: nbgrader then neither trips over it
    (a duplicate grade id once stopped the whole class) nor grades it; the trusted run still
    reads its defs."""

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            source = gradebook.find_notebook(info["notebook"], info["assignment"])
            kinds: dict[str, tuple[str, float]] = {c.name: ("answer", 0.0) for c in source.solution_cells}
            kinds.update({cell.name: ("check", float(cell.max_score)) for cell in source.grade_cells})
            texts: dict[str, tuple[str, str]] = {}  # grade id -> (cell type, source) of locked cells
            for cell in source.source_cells:
                kinds.setdefault(cell.name, ("locked", 0.0))
                if cell.locked:
                    texts[cell.name] = (cell.cell_type, (cell.source or "").strip())
        owner: dict[int, str] = {}
        taken: set[str] = set()
        for index, cell in enumerate(nb.cells):  # 1. the cell's own claim, when it is free
            claim = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not isinstance(claim, str) or claim not in kinds or claim in taken:
                continue
            wanted_type = texts[claim][0] if claim in texts else "code"
            if cell.get("cell_type") == wanted_type:
                owner[index] = claim
                taken.add(claim)
        by_text: dict[tuple[str, str], list[str]] = {}
        for grade_id, key in texts.items():
            by_text.setdefault(key, []).append(grade_id)
        for index, cell in enumerate(nb.cells):  # 2. a locked cell's text
            if index in owner:
                continue
            free = [g for g in by_text.get((cell.get("cell_type"), _text(cell)), []) if g not in taken]
            if free:
                owner[index] = free[0]
                taken.add(free[0])
        where = {grade_id: index for index, grade_id in owner.items()}
        for name, (kind, _) in kinds.items():  # 3. an answer cell without its metadata
            check = where.get(f"check_{name}")
            if kind != "answer" or name in taken or check is None:
                continue
            before = [i for i in range(check) if i not in owner and nb.cells[i].get("cell_type") == "code"]
            if before:
                owner[before[-1]] = name
                taken.add(name)
        changed = 0
        for index, cell in enumerate(nb.cells):
            old = cell.get("metadata", {}).get("nbgrader")
            if index in owner:
                kind, points = kinds[owner[index]]
                new = _restored(kind, owner[index], points)
                if old is not None and isinstance(old, dict) and "checksum" in old:
                    new["checksum"] = old["checksum"]
                cell.setdefault("metadata", NotebookNode())["nbgrader"] = NotebookNode(new)
            elif old is not None:
                del cell.metadata["nbgrader"]
            changed += old != cell.get("metadata", {}).get("nbgrader")
        if changed:
            self.log.warning("%s/%s: the nbgrader metadata of %d cell(s) restored from the release",
                             info["student"], info["notebook"], changed)
        return nb, resources


def _text(cell: NotebookNode) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    return source.strip() if isinstance(source, str) else ""


class ExecuteToTheEnd(Execute):
    """nbgrader's Execute, except that a kernel that dies (`os._exit`, a crash, out of memory)
    does not drop the student: the cell it died in says so, the cells after it stay unrun, and
    grading goes on (the trusted run scores every answer from its defs)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict[str, Any], index: int) -> Any:
        self._running = index
        return super().preprocess_cell(cell, resources, index)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any], km: Any = None) -> Any:
        self._running = None
        try:
            return super().preprocess(nb, resources, km=km)
        except (DeadKernelError, RuntimeError) as err:
            if isinstance(err, RuntimeError) and "Kernel died" not in str(err):
                raise
            index = self._running
            text = ("the kernel died while running this cell (os._exit, a crash or too much memory?): the "
                    "cells after it did not run in the notebook; the grader still checks your answers")
            if index is not None and index < len(nb.cells):
                nb.cells[index].setdefault("outputs", []).append(NotebookNode(
                    output_type="error", ename="DeadKernelError", evalue=text, traceback=[text]))
            nb.metadata.setdefault(METADATA_KEY, {})["dead_kernel"] = index if index is not None else -1
            self.log.warning("%s: the kernel died in cell %s; graded as far as it can be",
                             resources.get("nbgrader", {}).get("student"), index)
            return nb, resources
