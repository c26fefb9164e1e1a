"""`make student-copy`: the course without notebooks/, with what students and Binder need."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from nnlib.course.student_versions import STUDENT_FILES, make_student_copy, write_exercises

ROOT = Path(__file__).resolve().parent.parent


def fake_course(folder: Path) -> Path:
    """A copy of the repository's small files (no data), with the exercises as `make exercises` makes
    them (a learner's work in exercises/ is not the course's), to copy from."""
    for name in STUDENT_FILES + ("notebooks",):
        source = ROOT / name
        if name in ("data", "exercises") or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    write_exercises(folder / "notebooks", folder / "exercises")
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


def test_the_copy_has_a_students_readme_whose_links_all_resolve(tmp_path):
    course = fake_course(tmp_path / "course")
    make_student_copy(tmp_path / "students", repo=course)
    readme = (tmp_path / "students" / "README.md").read_text()
    assert "notebooks/" not in readme and "TEACHING" not in readme, "no pointers to what the copy lacks"
    links = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert len(links) == 8, links  # the eight exercises
    for link in links:
        assert (tmp_path / "students" / link).exists(), f"the students' README links {link}, not in the copy"
