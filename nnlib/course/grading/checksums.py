"""nbgrader's cell checksums, written into the student notebooks so that an edited or deleted
check shows, and read back by the student's self-check (`python -m nnlib.course.grading validate`).

`nbgrader generate_assignment` stores in every graded, answer and locked cell an MD5 checksum of
its source, type, role, grade id and points (`nbgrader.utils.compute_checksum`);
`nbgrader validate` recomputes it and refuses a notebook whose locked cell changed. `checksum`
computes the very same value without nbgrader (students' .venv has none; a test in the nbgrader
round trip compares the two), so `make exercises` gives `exercises/` what `generate_assignment`
gives its `release/` copy. The list of check cells also goes into the notebook's metadata, so
that a deleted check cell is noticed too (nbgrader's validate does not notice a missing cell).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nbformat

# The notebook-level list of the grade ids of its check cells.
CHECKS_KEY = "nnlib_checks"


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_locked(cell: nbformat.NotebookNode) -> bool:
    """nbgrader's rule: a check is locked, an answer is not, others as their metadata says."""
    meta = _nbgrader(cell)
    if not meta or meta.get("solution"):
        return False
    return bool(meta.get("grade") or meta.get("locked"))


def checksum(cell: nbformat.NotebookNode) -> str:
    """nbgrader's checksum of `cell` (nbgrader.utils.compute_checksum, nbgrader 0.9)."""
    meta = _nbgrader(cell)
    digest = hashlib.md5()  # noqa: S324  (nbgrader's choice: a fingerprint, not a secret)
    for part in (cell.source, cell.cell_type, str(bool(meta.get("grade", False))),
                 str(bool(meta.get("solution", False))), str(is_locked(cell)), meta["grade_id"]):
        digest.update(part.encode("utf-8"))
    if meta.get("grade"):
        digest.update(str(float(meta["points"])).encode("utf-8"))
    return digest.hexdigest()


def add_checksums(nb: nbformat.NotebookNode) -> None:
    """Store each graded, answer and locked cell's checksum and type, as generate_assignment does,
    and the list of check cells in the notebook's metadata."""
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") or meta.get("solution") or is_locked(cell):
            meta["checksum"] = checksum(cell)
            meta["cell_type"] = cell.cell_type
    nb.metadata[CHECKS_KEY] = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c).get("grade")]


@dataclass
class Tampering:
    """What a student notebook changed in the cells that grading restores or relies on."""

    changed_checks: list[str]  # grade ids of check cells whose source changed
    deleted_checks: list[str]  # grade ids of check cells missing from the notebook
    changed_other: int  # other locked cells changed (nbgrader restores them before grading)

    @property
    def checks_intact(self) -> bool:
        return not self.changed_checks and not self.deleted_checks


def find_tampering(nb: nbformat.NotebookNode) -> Tampering:
    """Compare each locked cell with its stored checksum; find check cells that are missing
    (listed in the notebook's metadata, or named by an answer cell `x` without `check_x`)."""
    changed_checks, changed_other, present = [], 0, set()
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if not meta:
            continue
        present.add(meta.get("grade_id"))
        if is_locked(cell) and "checksum" in meta and meta["checksum"] != checksum(cell):
            if meta.get("grade"):
                changed_checks.append(meta["grade_id"])
            else:
                changed_other += 1
    expected = list(nb.metadata.get(CHECKS_KEY, []))
    expected += [f"check_{_nbgrader(c)['grade_id']}" for c in nb.cells if _nbgrader(c).get("solution")]
    deleted = [grade_id for grade_id in dict.fromkeys(expected) if grade_id not in present]
    return Tampering(changed_checks, deleted, changed_other)
