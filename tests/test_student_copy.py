"""`make student-copy`: the course without notebooks/, with what students and Binder need."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nnlib.grading.course import STUDENT_FILES, make_student_copy

ROOT = Path(__file__).resolve().parent.parent


def fake_course(folder: Path) -> Path:
    """A copy of the repository's small files and exercises (no data), to copy from."""
    for name in STUDENT_FILES + ("notebooks",):
        source = ROOT / name
        if name == "data" or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    return folder


def test_the_copy_has_no_solutions_and_what_binder_needs(tmp_path):
    course = fake_course(tmp_path / "course")
    copied = {path.name for path in make_student_copy(tmp_path / "students", repo=course)}
    assert "notebooks" not in copied and not (tmp_path / "students" / "notebooks").exists()
    for needed in ("exercises", "nnlib", "Makefile", "start", "jupyter-config", ".gitignore"):
        assert needed in copied


def test_changed_exercises_are_not_handed_out(tmp_path):
    course = fake_course(tmp_path / "course")
    student = course / "exercises" / "02_forward_pass.ipynb"
    student.write_text(student.read_text().replace("raise NotImplementedError()", "return x  # my answer"))
    with pytest.raises(ValueError, match="02_forward_pass"):
        make_student_copy(tmp_path / "students", repo=course)
    assert not (tmp_path / "students").exists()
