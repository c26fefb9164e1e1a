"""The student notebooks carry nbgrader's checksums, and the students' self-check
(`make check-my-work`) names an edited or deleted check and each failing check."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import nbformat
import pytest

from nnlib.course.grading.checksums import CHECKS_KEY, checksum, find_tampering
from nnlib.course.grading.selfcheck import self_check

REPO = Path(__file__).resolve().parent.parent
EXERCISES = sorted((REPO / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem)
def test_every_locked_cell_of_the_handouts_carries_its_checksum(path, pristine_exercises):
    # As `make exercises` writes them (exercises/ is the same when in sync, tests/test_exercises.py):
    # a learner's answer in exercises/ changes its cell's checksum, and must not fail `make test`.
    nb = nbformat.read(pristine_exercises / path.name, as_version=4)
    graded = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert graded and nb.metadata[CHECKS_KEY] == [cell.metadata.nbgrader.grade_id for cell in graded]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            assert meta["checksum"] == checksum(cell) and meta["cell_type"] == cell.cell_type
    tampering = find_tampering(nb)
    assert tampering.checks_intact and tampering.changed_other == 0


def _handout(name: str = "02_forward_pass") -> nbformat.NotebookNode:
    return nbformat.read(REPO / "exercises" / f"{name}.ipynb", as_version=4)


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_an_edited_or_deleted_check_is_found_and_an_answer_is_not_tampering():
    nb = _handout()
    _cell(nb, "softmax").source = "def softmax(z):\n    return z\n"  # an answer: the student's to write
    assert find_tampering(nb).checks_intact
    edited = copy.deepcopy(nb)
    _cell(edited, "check_softmax").source = 'print("✅ softmax: passed")'
    assert find_tampering(edited).changed_checks == ["check_softmax"]
    deleted = copy.deepcopy(nb)
    deleted.cells.remove(_cell(deleted, "check_relu"))
    assert find_tampering(deleted).deleted_checks == ["check_relu"]
    deleted.metadata.pop(CHECKS_KEY)  # found from the answer cell without its check, too
    assert find_tampering(deleted).deleted_checks == ["check_relu"]
    tried = copy.deepcopy(nb)  # a "Try this" experiment in a read-only code cell
    next(cell for cell in tried.cells if cell.metadata.get("nbgrader", {}).get("locked")
         and not cell.metadata["nbgrader"]["grade"] and cell.cell_type == "code").source += "\nprint(1)"
    assert find_tampering(tried).checks_intact and find_tampering(tried).changed_other == 1


def test_the_self_check_runs_the_notebook_in_grading_mode(tmp_path):
    """Lesson 00 (seconds to run): its first answer right, its check of the second edited."""
    nb = _handout("00_start_here")
    _cell(nb, "normalize_rows").source = ("def normalize_rows(x):\n"
                                          "    return x / x.sum(axis=1, keepdims=True)\n")
    _cell(nb, "check_count_labels").source = 'print("✅ count_labels: passed")'
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    result = self_check(path)
    assert not result.ok
    assert "✅ normalize_rows: passed (with the hidden cases)" in result.lines
    assert any(line.startswith("❌ the check cell of count_labels was changed") for line in result.lines)
    # the score comes from the trusted run of the answer's own def, whatever the check cell printed
    assert "❌ count_labels: not implemented" in result.lines
    assert path.read_bytes() == before  # the student's file is never changed


def test_the_self_check_flags_what_grading_flags_and_scores_as_grading_does(tmp_path):
    nb = _handout("00_start_here")
    _cell(nb, "normalize_rows").source = ("from nnlib.data import scale_images\n\n\ndef normalize_rows(x):\n"
                                          "    return x / x.sum(axis=1, keepdims=True)\n")
    _cell(nb, "count_labels").source = ("def count_labels(labels, classes):\n    return labels\n\n\n"
                                        "checks.count_labels = lambda f, **k: print('passed')\n")
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(nb, path)
    (tmp_path / "helpers.py").write_text("")
    result = self_check(path)
    assert not result.ok
    assert any(line.startswith("⚑ normalize_rows: grading flags it") and "imports from nnlib.data" in line
               for line in result.lines), result.lines
    assert any(line.startswith("⚑ count_labels") for line in result.lines)
    assert any("the grader uses only this notebook: put helpers in it" in line for line in result.lines)


@pytest.mark.parametrize("text, says", [
    ("[]", "has no list of cells"), ('{"nbformat": 4}', "has no list of cells"),
    ('{"cells": null}', "has no list of cells"), ("{", "its JSON is broken"),
    ('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "cell 1 has no source text"),
])
def test_a_malformed_file_gets_one_line(tmp_path, text, says):
    path = tmp_path / "02_forward_pass.ipynb"
    path.write_text(text)
    result = self_check(path)
    assert not result.ok and len(result.lines) == 1 and says in result.lines[0]


@pytest.mark.parametrize("cell", ["while True:\n    pass\n", "import os\nos._exit(0)\n"])
def test_an_endless_or_kernel_killing_cell_still_gets_its_answers_scored(tmp_path, cell):
    nb = _handout("00_start_here")
    answer = "def normalize_rows(x):\n    return x / x.sum(axis=1, keepdims=True)\n"
    _cell(nb, "normalize_rows").source = answer
    nb.cells.insert(nb.cells.index(_cell(nb, "normalize_rows")) + 1, nbformat.v4.new_code_cell(cell))
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(nb, path)
    result = self_check(path, timeout=10)
    assert "✅ normalize_rows: passed (with the hidden cases)" in result.lines, result.lines
    assert "❌ count_labels: not implemented" in result.lines
    if "_exit" in cell:
        assert any("the kernel died while running cell" in line for line in result.lines)


@pytest.mark.parametrize("nb", ["exercises/02 forward pass (mine).ipynb", ""])
def test_make_check_my_work_passes_nb_as_one_path(nb):
    """Issue 27: NB="a path with space.ipynb" was split in two; without NB every notebook is checked."""
    import os
    import shlex
    import subprocess

    run = subprocess.run(["make", "-n", "-s", "check-my-work", f"NB={nb}"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})
    command = next(line for line in run.stdout.splitlines() if "grading validate" in line)
    words = shlex.split(command, comments=True)
    words = words[:words.index("||")] if "||" in words else words  # then the closing sentence
    assert words[words.index("validate") + 1:] == ([nb] if nb else []), command


def test_a_changed_or_deleted_check_changes_nothing_the_answers_own_defs_are_judged(tmp_path):
    nb = _handout("00_start_here")
    _cell(nb, "normalize_rows").source = "def normalize_rows(x):\n    return x / x.sum()\n"  # wrong
    _cell(nb, "check_normalize_rows").source = 'print("✅ normalize_rows: passed")'
    _cell(nb, "count_labels").source = ("def count_labels(labels, classes):\n"
                                        "    return np.bincount(labels, minlength=classes)\n")
    nb.cells.remove(_cell(nb, "check_count_labels"))
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(nb, path)
    lines = self_check(path).lines
    assert any(line.startswith("❌ the check cell of count_labels was deleted") for line in lines)
    assert any(line.startswith("❌ normalize_rows: failed: ") for line in lines), lines
    assert "✅ count_labels: passed (with the hidden cases)" in lines


def test_make_check_my_work_ends_with_a_sentence_and_no_kernel_warning(tmp_path):
    """Work not ready yet: the last line says what to do (no `make: *** ... Error 1`), and the
    kernel's "running over TCP without encryption" warning is not shown."""
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(_handout("00_start_here"), path)
    done = subprocess.run(["make", "--no-print-directory", "check-my-work", f"NB={path}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert "❌ normalize_rows: not implemented" in output
    assert "make: ***" not in output and "Error 1" not in output
    assert "without encryption" not in output
    last = done.stdout.strip().splitlines()[-1]  # (stderr: pip, when make first refreshes .venv)
    assert last.endswith(".") and "make check-my-work" in last, last
