"""The student notebooks in exercises/ are generated from the lessons and stay in sync."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from nnlib.course.student_versions import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    GENERATED_HASHES,
    STUDENT_BANNER,
    StudentWorkFound,
    main,
    read_generated_hashes,
    strip_solutions,
    write_exercises,
)

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKER = "PLANTED-SOLUTION-MARKER-4f1c9e"


def solution_regions(source: str) -> list[list[str]]:
    """The lines of each solution region in a cell's source."""
    regions, current = [], None
    for line in source.splitlines():
        if line.strip() == BEGIN_SOLUTION:
            current = []
        elif line.strip() == END_SOLUTION:
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def test_strip_keeps_indentation_and_the_rest():
    source = (
        f"def f(x):\n    '''doc'''\n    {BEGIN_SOLUTION}\n    return x + 1\n    {END_SOLUTION}\n\nprint(f)"
    )
    assert strip_solutions(source) == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f)"
    )


@pytest.mark.parametrize(
    "source, message",
    [
        (f"{BEGIN_SOLUTION}\nx = 1", "never closed"),
        (f"x = 1\n{END_SOLUTION}", "without"),
        (f"{BEGIN_SOLUTION}\n{BEGIN_SOLUTION}\n{END_SOLUTION}", "nested"),
    ],
)
def test_broken_markers_are_reported(source, message):
    with pytest.raises(ValueError, match=message):
        strip_solutions(source, "lesson.ipynb, cell 3")


def test_planted_marker_never_reaches_the_student(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"def relu(x):\n    {BEGIN_SOLUTION}\n    return x  # {MARKER}\n    {END_SOLUTION}"
        ),  # an exercise name with points (nnlib/course/grading/points.py): the metadata needs them
        nbformat.v4.new_code_cell("checks.relu(relu)"),
    ]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text=f"{MARKER}\n")]
    nbformat.write(nb, lessons / "99_test.ipynb")
    (written,) = write_exercises(lessons, tmp_path / "exercises")
    text = written.read_text()
    assert MARKER not in text
    student = nbformat.read(written, as_version=4)
    code = [c.source for c in student.cells if c.cell_type == "code"]
    stub = "def relu(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert code == [stub, "checks.relu(relu)"]


def test_lessons_exist():
    assert len(LESSONS) == 8, [p.name for p in LESSONS]


def learners_work(path: Path) -> bool:
    """Is the student notebook at `path` someone's work in progress (a learner filling in exercises/)?
    It differs from what `make exercises` last wrote there, and it is not what git has committed
    (in a clean checkout, as in CI, a committed hand edit is no learner's work: the tests catch it)."""
    if hashlib.sha256(path.read_bytes()).hexdigest() == read_generated_hashes(path.parent).get(path.name):
        return False
    try:
        diff = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", str(path)],
                              check=False, capture_output=True)
    except OSError:  # no git (a downloaded copy): only a learner changes a student notebook there
        return True
    return diff.returncode != 0


def test_committed_exercises_are_in_sync(tmp_path):
    """Every student notebook is what `make exercises` makes of its lesson; for one a learner is working
    on, the hash `make exercises` recorded for it is."""
    written = write_exercises(ROOT / "notebooks", tmp_path)
    committed = sorted((ROOT / "exercises").glob("*.ipynb"))
    assert [p.name for p in committed] == [p.name for p in written], "run `make exercises`"
    recorded = read_generated_hashes(ROOT / "exercises")
    for fresh in written:
        stored = ROOT / "exercises" / fresh.name
        if learners_work(stored):
            assert recorded[fresh.name] == hashlib.sha256(fresh.read_bytes()).hexdigest(), fresh.name
        else:
            assert stored.read_bytes() == fresh.read_bytes(), f"{fresh.name} is stale: run `make exercises`"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_has_checked_exercises_and_no_solution_leaks(lesson, pristine_exercises):
    nb = nbformat.read(lesson, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    solved = [i for i, src in enumerate(code) if BEGIN_SOLUTION in src]
    assert len(solved) >= 2, f"{lesson.name}: needs at least two exercises"
    for i in solved:
        following = "\n".join(code[i + 1 : i + 3])
        assert re.search(r"checks\.\w+\(", following), f"{lesson.name}: code cell {i} has no check"
    student_text = (pristine_exercises / lesson.name).read_text()  # exercises/ is the same when in sync
    outside = "\n".join(strip_solutions(src) for src in code)
    for src in code:
        for region in solution_regions(src):
            for line in region:
                text = line.strip()
                if len(text) > 12 and not text.startswith("#") and text not in outside:
                    assert text not in student_text, f"{lesson.name}: solution line leaks: {text!r}"
    student = nbformat.read(pristine_exercises / lesson.name, as_version=4)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert "widgets" not in student.metadata


def make_lesson(folder: Path, body: str = "return x") -> Path:
    """A one-exercise lesson in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    solution = f"def relu(x):\n    {BEGIN_SOLUTION}\n    {body}\n    {END_SOLUTION}"
    nb.cells = [nbformat.v4.new_code_cell(solution),
                nbformat.v4.new_code_cell("checks.relu(relu)")]  # an exercise needs its check and points
    path = folder / "99_lesson.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_changed_student_notebook_is_never_overwritten(tmp_path, capsys):
    lessons, target = tmp_path / "lessons", tmp_path / "exercises"
    make_lesson(lessons)
    (student,) = write_exercises(lessons, target)
    work = student.read_bytes().replace(b"raise NotImplementedError()", b"return x * 2  # my answer")
    student.write_bytes(work)
    make_lesson(lessons, "return x + 0")  # the lesson changes too: the maintainers' usual case

    status = main(["exercises", str(lessons), str(target)])

    assert status == 1
    assert student.read_bytes() == work, "the student's work was changed"
    message = capsys.readouterr().err
    assert str(student) in message and "FORCE=1" in message
    assert f"cp -r {target} my_{target.name}" in message, "keep the folder together (03 reads 02 beside it)"
    with pytest.raises(StudentWorkFound):
        write_exercises(lessons, target)


def test_an_untouched_student_notebook_follows_its_lesson(tmp_path):
    lessons, target = tmp_path / "lessons", tmp_path / "exercises"
    make_lesson(lessons)
    write_exercises(lessons, target)
    lesson = nbformat.read(lessons / "99_lesson.ipynb", as_version=4)
    lesson.cells.append(nbformat.v4.new_markdown_cell("A new paragraph of the lesson."))
    nbformat.write(lesson, lessons / "99_lesson.ipynb")

    assert main(["exercises", str(lessons), str(target)]) == 0
    assert "A new paragraph" in (target / "99_lesson.ipynb").read_text()


def test_force_discards_the_changes(tmp_path):
    lessons, target = tmp_path / "lessons", tmp_path / "exercises"
    make_lesson(lessons)
    (student,) = write_exercises(lessons, target)
    generated = student.read_bytes()
    student.write_bytes(generated.replace(b"raise NotImplementedError()", b"return 1"))
    assert main(["exercises", str(lessons), str(target), "--force"]) == 0
    assert student.read_bytes() == generated


def test_without_lessons_nothing_is_written(tmp_path, capsys):
    # A student copy has exercises/ but no notebooks/: `make exercises` there must say so and
    # leave the student notebooks and their hashes alone (it used to empty the hash file).
    lessons, target = tmp_path / "lessons", tmp_path / "exercises"
    make_lesson(lessons)
    write_exercises(lessons, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    assert main(["exercises", str(tmp_path / "notebooks"), str(target)]) == 1

    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert "no lessons" in capsys.readouterr().err


def test_committed_hashes_are_those_of_the_committed_exercises():
    recorded = read_generated_hashes(ROOT / "exercises")
    notebooks = [p for p in (ROOT / "exercises").glob("*.ipynb") if not learners_work(p)]  # see the sync test
    committed = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in notebooks}
    recorded = {name: digest for name, digest in recorded.items() if name in committed}
    assert recorded == committed, f"exercises/{GENERATED_HASHES} is stale: run `make exercises`"


def test_the_banner_does_not_forbid_what_it_asks_for():
    assert "YOUR CODE HERE" in STUDENT_BANNER
    assert "do not edit" not in STUDENT_BANNER.lower()
