"""Set up an nbgrader course folder from the lessons, and a student-only copy of the course.

`make_course(folder, lessons)` writes what `nbgrader` expects: the course's `nbgrader_config.py`
(the repository's) and `source/<lesson>/<lesson>.ipynb` for each lesson, with its metadata.
Assignment ids are the lessons' file names without `.ipynb`, e.g. `02_forward_pass`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from nnlib.files import atomic_write
from nnlib.grading.metadata import mark_lesson
from nnlib.notebook_tools import edited_since_generated, read_generated_hashes

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "nbgrader_config.py"
LESSONS = REPO / "notebooks"
STUDENT_README = Path(__file__).resolve().parent / "student_readme.md"
# What a student copy of the course holds: everything to run the exercises, no solutions folder.
# Binder needs `start` and `jupyter-config/`; `.gitignore` keeps .venv out of the published repository.
STUDENT_FILES = ("LICENSE", "requirements.txt", "environment.yml", "postBuild", "start",
                 "pyproject.toml", "Makefile", ".gitignore", "jupyter-config", "data", "exercises", "nnlib")


def find_lessons(selection: list[str], lessons: Path = LESSONS) -> list[Path]:
    """The lesson files named by `selection` (e.g. "02", "07_results"; all when empty)."""
    available = sorted(lessons.glob("*.ipynb"))
    if not selection:
        return available
    chosen = []
    for wanted in selection:
        matches = [path for path in available if path.stem == wanted or path.stem.startswith(f"{wanted}_")]
        if len(matches) != 1:
            names = ", ".join(path.stem for path in available)
            raise ValueError(f"no single lesson matches {wanted!r}; the lessons are {names}")
        chosen.append(matches[0])
    return chosen


def make_course(folder: Path, lessons: list[Path], config: Path = CONFIG) -> list[Path]:
    """Write the course's config and each lesson as nbgrader source; return the source paths.
    Existing source notebooks are replaced (the lessons are the truth), nothing else is touched."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, folder / "nbgrader_config.py")
    written = []
    for lesson in lessons:
        nb = mark_lesson(nbformat.read(lesson, as_version=4), lesson.name)
        target = folder / "source" / lesson.stem / lesson.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as handle:
            nbformat.write(nb, handle)
        written.append(target)
    return written


def make_student_copy(target: Path, repo: Path = REPO) -> list[Path]:
    """Copy the course without `notebooks/` (the solutions) into `target`; return what was copied.
    nnlib's source comes along: the lessons import it, so its reference code is there too."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; choose a new folder")
    exercises = repo / "exercises"
    generated = read_generated_hashes(exercises)
    changed = [path.name for path in sorted(exercises.glob("*.ipynb"))
               if edited_since_generated(path, generated)]
    if changed:  # someone's answers (yours?) would go out to every student
        raise ValueError(f"exercises/ differs from what `make exercises` generated ({', '.join(changed)}): "
                         "move that work out of exercises/ (or `make exercises FORCE=1`) before copying")
    copied = []
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in STUDENT_FILES:
        source = repo / name
        if not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
        copied.append(target / name)
    # The course README links the lessons with solutions, TEACHING.md and results/: not there.
    shutil.copyfile(STUDENT_README, target / "README.md")
    copied.append(target / "README.md")
    return copied
