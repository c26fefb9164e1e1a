"""Set up an nbgrader course folder from the lessons.

`make_course(folder, lessons)` writes what `nbgrader` expects: the course's `nbgrader_config.py`
(the repository's) and `source/<lesson>/<lesson>.ipynb` for each lesson, with its metadata.
Assignment ids are the lessons' file names without `.ipynb`, e.g. `02_forward_pass`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from nnlib.course.grading.metadata import mark_lesson
from nnlib.files import atomic_write

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "nbgrader_config.py"
LESSONS = REPO / "notebooks"


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
