"""The student's self-check before handing in: `make check-my-work` or
`python -m nnlib.course.grading validate exercises/02_forward_pass.ipynb`.

It grades as the teacher's grading does, with the course's own .venv (students have no nbgrader),
so that "ready to hand in" means the grade the teacher will see:

1. compares every locked cell with the checksum stored in it (`checksums.find_tampering`): an
   edited or deleted check cell is named (graded, it would be restored or scored 0 and flagged);
2. runs the notebook as it is, top to bottom, in grading mode (`NBGRADER_EXECUTION=validate`),
   in the grading sandbox (`sandbox.py`), one epoch of training: its output is what the
   feedback shows;
3. the audit of the answers' source (`audit.py`): what grading would flag;
4. the trusted run (`trusted.py`): each answer's own defs checked in a fresh sandboxed process,
   which is the score.

A file that is not a notebook, or one whose cells are broken, gets one line, never a traceback;
so does a cell that never ends or kills its kernel. The notebook file is never changed (it runs
on a copy in memory). Without bubblewrap (macOS, say) the same steps run outside the sandbox and
one line says so.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets.config import Config

from nnlib.course.grading import sandbox
from nnlib.course.grading.audit import audit_notebook
from nnlib.course.grading.checksums import find_tampering
from nnlib.course.grading.trusted import NOT_IMPLEMENTED, PASSED, run_trusted, student_sources

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


class NotANotebook(ValueError):
    """The file cannot be checked; the message is the one line that says why."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path`, or NotANotebook with one line (`[]`, no cells, `"cells": null`, a
    cell without source, broken JSON, not UTF-8)."""
    name = path.name
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise NotANotebook(f"{name} cannot be read: {err.strerror or err}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotANotebook(f"{name} is not a notebook: its JSON is broken (a half-saved file?); open it in "
                           "Jupyter and save it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotANotebook(f"{name} is not a notebook: it has no list of cells; get a fresh copy of the "
                           "handout and paste your answers in")
    for number, cell in enumerate(data["cells"], start=1):
        source = cell.get("source") if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotANotebook(f"{name} is not a valid notebook: cell {number} has no source text or type")
    try:
        return nbformat.reads(json.dumps(data), as_version=4)
    except Exception as err:  # noqa: BLE001 - nbformat's many errors: one line
        raise NotANotebook(f"{name} is not a valid notebook: {str(err).splitlines()[0][:200]}") from None


def run_notebook(nb: nbformat.NotebookNode, folder: Path, timeout: int = CELL_TIMEOUT_SECONDS,
                 sandboxed: bool = True) -> str:
    """Execute `nb` in place (outputs filled in), in grading mode, in `folder`, errors kept, in
    the grading sandbox; "" or the one line that says why it stopped early."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    saved = {name: os.environ.get(name) for name in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
                                                     "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")}
    os.environ.update(NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1")  # the kernel inherits them
    config, private = Config(), None
    config.merge(_ENCRYPTED)
    running = {"index": None}

    def started(cell: nbformat.NotebookNode, cell_index: int, **kwargs: object) -> None:
        running["index"] = cell_index

    try:
        if sandboxed:
            private = sandbox.kernel_config(config)
        kernel = sandbox.KERNEL_NAME if sandboxed else "python3"
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                                interrupt_on_timeout=True, config=config, on_cell_execute=started,
                                resources={"metadata": {"path": str(folder)}})
        client.execute()
    except (DeadKernelError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and "Kernel died" not in str(err):
            raise
        cell = running["index"]
        where = f"cell {cell + 1}" if cell is not None else "a cell"
        return (f"the kernel died while running {where} (os._exit, a crash or too much memory?): the cells "
                "after it did not run; grading checks your answers anyway")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
    return ""


def _locked_sources(nb: nbformat.NotebookNode) -> list[str]:
    """The lesson's own code cells: locked, and as handed out (their checksum holds)."""
    from nnlib.course.grading.checksums import checksum, is_locked

    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and is_locked(cell) and meta.get("checksum") == checksum(cell):
            found.append(cell.source)
    return found


def self_check(path: Path, run: bool = True, timeout: int = CELL_TIMEOUT_SECONDS) -> SelfCheck:
    """What a student should know about notebook `path` before handing it in."""
    try:
        nb = read_notebook(path)
    except NotANotebook as problem:
        return SelfCheck(path, [f"❌ {problem}"], False)
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
    if not run:
        return SelfCheck(path, lines, ok)
    sandboxed = _sandbox_works(lines)
    stopped = run_notebook(nb, path.parent, timeout=timeout, sandboxed=sandboxed)
    if stopped:
        lines.append(f"⚠ {stopped}")
    flags: dict[str, list[str]] = {}
    for flag in audit_notebook(nb):
        flags.setdefault(flag.exercise, []).append(flag.reason)
    exercises = [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
                 if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"]
    lesson = _locked_sources(nb)
    trusted = run_trusted(path.parent, lesson, student_sources(nb.cells, lesson), exercises,
                          sandboxed=sandboxed)
    for exercise in exercises:
        result = trusted[exercise]
        if exercise in flags:
            ok = False
            lines.append(f"⚑ {exercise}: grading flags it for your teacher, who grades it by hand (0 points "
                         f"until then): {'; '.join(flags[exercise])}")
        elif result.status == PASSED:
            lines.append(f"✅ {exercise}: passed (with the hidden cases)")
        else:
            ok = False
            message = result.message.removeprefix(f"{exercise}: ")
            detail = "" if result.status == NOT_IMPLEMENTED else f": {message}"
            lines.append(f"❌ {exercise}: {result.status}{detail}")
    beside = [entry for entry in path.parent.iterdir()
              if entry.suffix == ".py" and entry.is_file() or (entry / "__init__.py").is_file()]
    if beside:
        lines.append(f"ℹ the grader uses only this notebook: put helpers in it ({beside[0].name} beside it "
                     "is not used)")
    return SelfCheck(path, lines, ok)


def _sandbox_works(lines: list[str]) -> bool:
    try:
        sandbox.check_sandbox()
    except sandbox.SandboxUnavailable:
        lines.append("ℹ no grading sandbox here (bubblewrap is missing): the same steps run without it")
        return False
    return True


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
        print(f"  {'ready to hand in' if result.ok else 'not ready yet: see the ❌ and ⚑ lines above'}")
        all_ok = all_ok and result.ok
    return 0 if all_ok else 1
