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

from typing import Any

from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Enum

from nnlib.course.grading.audit import METADATA_KEY, audit_notebook


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
            expected = [cell.name for cell in gradebook.find_notebook(notebook, assignment).grade_cells]
            deleted = [grade_id for grade_id in expected if grade_id not in present]
            for grade_id in deleted:
                reasons.setdefault(grade_id.removeprefix("check_"), []).append(
                    "its check cell was deleted from the notebook")
            for exercise, why in reasons.items():
                self._mark(gradebook, exercise, "; ".join(why), notebook, assignment, student)
            gradebook.db.commit()
        self._annotate(nb, reasons, deleted)
        if reasons:
            self.log.warning("%s/%s: flagged for %s: %s", student, notebook,
                             "manual grading" if self.flagged == "manual" else "zero points",
                             "; ".join(f"{name} ({'; '.join(why)})" for name, why in reasons.items()))
        return nb, resources

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
        nb.metadata[METADATA_KEY] = {
            "flags": {exercise: "; ".join(why) for exercise, why in reasons.items()},
            "deleted_checks": [grade_id.removeprefix("check_") for grade_id in deleted],
            "action": self.flagged,
        }
