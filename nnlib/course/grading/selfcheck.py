"""The student's self-check before handing in: `make check-my-work` or
`python -m nnlib.course.grading validate exercises/02_forward_pass.ipynb`.

It does what `nbgrader validate` does, with the course's own .venv (students have no nbgrader):

1. compares every locked cell with the checksum stored in it (`checksums.find_tampering`): an
   edited or deleted check cell is named (graded, it would be restored or scored 0 and flagged);
2. runs the notebook as it is, top to bottom, in grading mode (`NBGRADER_EXECUTION=validate`:
   an unanswered exercise fails, hidden cases, no calls to nnlib's answers), one epoch of
   training, and says for each check whether it passed and, if not, what it said.

The notebook file is never changed (it runs on a copy in memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets.config import Config

from nnlib.course.grading.checksums import checksum, find_tampering
from nnlib.course.grading.report import outcomes_of

# Per cell, as in the course's nbgrader_config.py.
CELL_TIMEOUT_SECONDS = 60
# The kernel's sockets encrypted with keys made for it, as in nbgrader_config.py: no "Kernel is
# running over TCP without encryption" warning in the student's terminal.
_ENCRYPTED = Config({"KernelManager": {"transport_encryption": "auto"}})


@dataclass
class SelfCheck:
    path: Path
    lines: list[str]
    ok: bool


def run_notebook(nb: nbformat.NotebookNode, folder: Path, timeout: int = CELL_TIMEOUT_SECONDS) -> None:
    """Execute `nb` in place (outputs filled in), in grading mode, in `folder`, errors kept."""
    from nbclient import NotebookClient

    saved = {name: os.environ.get(name) for name in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")}
    os.environ.update(NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1")  # the kernel inherits them
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True, config=_ENCRYPTED,
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def restore_checks(nb: nbformat.NotebookNode, changed: list[str], deleted: list[str]) -> set[str]:
    """Put back, in place, each changed or deleted check cell whose original can be known: a
    check cell is `checks.<name>(<name>)`, confirmed by the checksum stored in a changed cell; a
    deleted one goes back right after its answer cell. The grade ids put back."""
    restored = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in changed:
            name = grade_id.removeprefix("check_")
            original = nbformat.from_dict(cell)
            original.source = f"checks.{name}({name})"
            if checksum(original) == cell.metadata["nbgrader"].get("checksum"):
                cell.source = original.source
                restored.add(grade_id)
    for grade_id in deleted:
        name = grade_id.removeprefix("check_")
        answer = next((k for k, cell in enumerate(nb.cells)
                       if cell.metadata.get("nbgrader", {}).get("grade_id") == name), None)
        if answer is None:
            continue
        check = nbformat.v4.new_code_cell(f"checks.{name}({name})")
        check.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 0, "solution": False,
                                      "locked": True}
        nb.cells.insert(answer + 1, check)
        restored.add(grade_id)
    return restored


def self_check(path: Path, run: bool = True) -> SelfCheck:
    """What a student should know about notebook `path` before handing it in: changed or deleted
    checks, then each check's verdict in grading mode, a changed or deleted check's from the
    original check run on the student's answer."""
    nb = nbformat.read(path, as_version=4)
    tampering = find_tampering(nb)
    lines = []
    for grade_id in tampering.changed_checks:
        lines.append(f"❌ the check cell of {grade_id.removeprefix('check_')} was changed: grading restores "
                     "it, so what you changed there does not count (undo it: Edit > Undo, or copy the "
                     "cell back from a fresh copy of the notebook)")
    for grade_id in tampering.deleted_checks:
        lines.append(f"❌ the check cell of {grade_id.removeprefix('check_')} was deleted: graded, that "
                     "exercise scores 0 until your teacher looks at it (copy the cell back from a fresh "
                     "copy of the notebook)")
    if tampering.changed_other:
        lines.append(f"ℹ {tampering.changed_other} read-only cell(s) differ from the handout (your "
                     "experiments?): grading restores them, which changes nothing in your score")
    ok = tampering.checks_intact
    if run:
        restored = restore_checks(nb, tampering.changed_checks, tampering.deleted_checks)
        run_notebook(nb, path.parent)
        for outcome in outcomes_of(nb, "you", path.stem):
            grade_id = f"check_{outcome.exercise}"
            how = ("what the original check says of your answer: " if grade_id in restored else "")
            if grade_id in tampering.changed_checks and grade_id not in restored:
                lines.append(f"❓ {outcome.exercise}: its check was changed, so this run of it says nothing")
            elif outcome.status == "passed":
                lines.append(f"✅ {outcome.exercise}: {how}passed (with the hidden cases)")
            else:
                ok = False
                detail = f": {outcome.mistake}" if outcome.mistake else ""
                lines.append(f"❌ {outcome.exercise}: {how}{outcome.status}{detail}")
    return SelfCheck(path, lines, ok)


def main(paths: list[Path], run: bool = True) -> int:
    """Print the self-check of each notebook; 0 if all is well, 1 otherwise."""
    all_ok = True
    for path in paths:
        if not path.is_file():
            print(f"{path}: no such notebook")
            all_ok = False
            continue
        print(f"{path}: checking (runs the notebook in grading mode; up to a few minutes)...", flush=True)
        result = self_check(path, run=run)
        print("\n".join(f"  {line}" for line in result.lines))
        print(f"  {'ready to hand in' if result.ok else 'not ready yet: see the ❌ lines above'}")
        all_ok = all_ok and result.ok
    return 0 if all_ok else 1
