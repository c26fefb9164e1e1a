"""`make student-copy` and `make exercises` on bad targets: a target inside the course (which would copy
itself again and again), a file, a folder that is not empty, read-only or full, a damaged
`.generated.sha256`, `exercises` being a file: each is one line, and nothing is left written
(see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.course import student_versions
from nnlib.course.student_versions import CannotWrite, make_student_copy, write_exercises
from tests.bad_input import Case, ScenarioCase, case_id, expected, outcome

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}) + "\n"


def fake_course(tmp: Path, hashes: str | None = None) -> Path:
    """A tiny course in {tmp}/course: LICENSE, nnlib/, and exercises/ with one generated notebook."""
    course = tmp / "course"
    (course / "exercises").mkdir(parents=True)
    (course / "nnlib").mkdir()
    (course / "nnlib" / "__init__.py").write_text("")
    (course / "LICENSE").write_text("MIT\n")
    (course / "exercises" / "01.ipynb").write_text(NOTEBOOK)
    digest = hashlib.sha256(NOTEBOOK.encode()).hexdigest()
    (course / "exercises" / ".generated.sha256").write_text(hashes if hashes is not None else f"{digest}  01.ipynb\n")
    return course


def copy_to(target: str, hashes: str | None = None, prepare=None):
    """make_student_copy of a fake course into `target` ({tmp} and {course} filled in)."""

    def run(tmp: Path):
        course = fake_course(tmp, hashes)
        if prepare is not None:
            prepare(tmp, course)
        return make_student_copy(Path(target.format(tmp=tmp, course=course)), repo=course)

    return run


def nothing_at(*paths: str):
    return lambda tmp: not any(Path(p.format(tmp=tmp, course=tmp / "course")).exists() for p in paths)


def course_unchanged(tmp: Path) -> bool:
    course = tmp / "course"
    return sorted(p.name for p in course.iterdir()) == ["LICENSE", "exercises", "nnlib"] and sorted(
        p.name for p in (course / "exercises").iterdir()) == [".generated.sha256", "01.ipynb"]


def a_file(tmp: Path, course: Path) -> None:
    (tmp / "file").write_text("not a folder")


def not_empty(tmp: Path, course: Path) -> None:
    (tmp / "students").mkdir()
    (tmp / "students" / "mine.txt").write_text("keep")


def exercises_file(tmp: Path, course: Path) -> None:
    for path in (course / "exercises").iterdir():
        path.unlink()
    (course / "exercises").rmdir()
    (course / "exercises").write_text("not a folder")


def hashes_folder(tmp: Path, course: Path) -> None:
    (course / "exercises" / ".generated.sha256").unlink()
    (course / "exercises" / ".generated.sha256").mkdir()


def learner_work(tmp: Path, course: Path) -> None:
    (course / "exercises" / "01.ipynb").write_text(NOTEBOOK.replace("[]", '[{"cell_type": "code"}]', 1))


def link_into_course(tmp: Path, course: Path) -> None:
    (tmp / "link").symlink_to(course / "nnlib")


def exercises_into(target: str, hashes: str | None = None, setup=None):
    """write_exercises of lessons/ (one tiny lesson) into `target`."""

    def run(tmp: Path):
        import nbformat

        lessons = tmp / "lessons"
        lessons.mkdir()
        nbformat.write(nbformat.v4.new_notebook(), lessons / "01.ipynb")
        out = Path(target.format(tmp=tmp))
        if hashes is not None:
            out.mkdir()
            (out / ".generated.sha256").write_text(hashes)
        if setup is not None:
            setup(tmp)
        return write_exercises(lessons, out)

    return run


def cli(*argv: str, setup=None, fake: bool = False):
    """`python -m nnlib.course.student_versions ARGV` in this process: (exit code, stderr); with `fake`,
    student-copy copies a fake course in {tmp}/course instead of the repository."""

    def run(tmp: Path) -> tuple[int, str]:
        if setup is not None:
            setup(tmp)
        defaults = student_versions.make_student_copy.__defaults__
        if fake:
            student_versions.make_student_copy.__defaults__ = (fake_course(tmp),)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = student_versions.main([part.format(tmp=tmp, repo=REPO) for part in argv])
        finally:
            student_versions.make_student_copy.__defaults__ = defaults
        return code, err.getvalue()

    return run


def in_child(*argv: str, setup=None, file_limit: int = 64_000):
    """The same command in a child process whose writes stop at `file_limit` bytes per file (a disk
    that fills up: EFBIG, as ENOSPC would be); student-copy copies a fake course in {tmp}/course."""

    def run(tmp: Path) -> tuple[int, str]:
        if setup is not None:
            setup(tmp)
        course = fake_course(tmp)

        def limits() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

        code = ("import sys; from pathlib import Path; import nnlib.course.student_versions as s; "
                "s.make_student_copy.__defaults__ = (Path(sys.argv[1]),); sys.exit(s.main(sys.argv[2:]))")
        child = subprocess.run([sys.executable, "-c", code, str(course),
                                *(part.format(tmp=tmp, repo=REPO) for part in argv)],
                               cwd=REPO, preexec_fn=limits, capture_output=True, text=True, timeout=300)
        return child.returncode, child.stderr

    return run


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` as on a read-only mount: creating anything in it fails with EACCES (made here, not with
    chmod, which does not stop root)."""
    real = os.mkdir, os.open
    inside = folder.resolve()

    def guard(call):
        def guarded(path, *args, **kwargs):
            if Path(path).resolve().is_relative_to(inside) and Path(path).resolve() != inside:
                raise PermissionError(13, "Permission denied", str(path))
            return call(path, *args, **kwargs)

        return guarded

    os.mkdir, os.open = guard(os.mkdir), guard(os.open)
    try:
        yield
    finally:
        os.mkdir, os.open = real


def on_read_only(run, folder: str):
    def wrapped(tmp: Path):
        (tmp / folder).mkdir(exist_ok=True)
        with read_only(tmp / folder):
            return run(tmp)

    return wrapped


def lessons_only(tmp: Path) -> None:
    import nbformat

    (tmp / "lessons").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp / "lessons" / "01.ipynb")


def read_only_kept(tmp: Path) -> bool:
    return not any((tmp / "read-only").iterdir())


def make_dry_run(target: str) -> tuple[int, str]:
    """The command `make student-copy TARGET=...` would run (make -n: nothing runs)."""
    run = subprocess.run(["make", "-n", "-s", "student-copy", f"TARGET={target}"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})
    return run.returncode, run.stdout


def target_quoted(_: Path):
    code, commands = make_dry_run("my course/students")
    if code != 0 or '"my course/students"' not in commands:
        raise AssertionError(f"make student-copy does not quote TARGET: {commands}")


C = CannotWrite
CONFLICT = "<<<<<<< HEAD\n" + "0" * 64 + "  01.ipynb\n=======\n>>>>>>> theirs\n"

CASES = [
    # --- make student-copy TARGET=... --------------------------------------------------------------
    Case("TARGET inside exercises/", copy_to("{course}/exercises/copy"), C, ("TARGET", "inside the course", "outside it"), kept=lambda tmp: nothing_at("{course}/exercises/copy")(tmp) and course_unchanged(tmp)),
    Case("TARGET inside nnlib/", copy_to("{course}/nnlib/students"), C, ("inside the course",), kept=nothing_at("{course}/nnlib/students")),
    Case("TARGET is the course itself", copy_to("{course}"), C, ("inside the course",), kept=course_unchanged),
    Case("TARGET is the course with a trailing /.", copy_to("{course}/."), C, ("inside the course",), kept=course_unchanged),
    Case("TARGET through a symlink into the course", copy_to("{tmp}/link/students", prepare=link_into_course), C, ("inside the course",), kept=nothing_at("{course}/nnlib/students")),
    Case("TARGET through .. back into the course", copy_to("{tmp}/elsewhere/../course/exercises/x"), C, ("inside the course",), kept=nothing_at("{course}/exercises/x")),
    Case("TARGET is a file", copy_to("{tmp}/file", prepare=a_file), C, ("TARGET", "is a file", "expected a folder"), kept=lambda tmp: (tmp / "file").read_text() == "not a folder"),
    Case("TARGET under a file", copy_to("{tmp}/file/students", prepare=a_file), C, ("cannot copy", "nothing was left"), kept=lambda tmp: (tmp / "file").read_text() == "not a folder"),
    Case("TARGET is a dangling symlink (issue 27)", copy_to("{tmp}/students", prepare=lambda tmp, course: (tmp / "students").symlink_to(tmp / "gone")), C, ("TARGET", "symbolic link", "gone", "does not exist", "new folder"), kept=lambda tmp: (tmp / "students").is_symlink() and not (tmp / "gone").exists()),
    Case("TARGET under a dangling symlink", copy_to("{tmp}/link/students", prepare=lambda tmp, course: (tmp / "link").symlink_to(tmp / "gone")), C, ("link is a symbolic link", "does not exist")),
    Case("TARGET is a symlink loop", copy_to("{tmp}/loop", prepare=lambda tmp, course: (tmp / "loop").symlink_to(tmp / "loop")), C, ("loop is a symbolic link", "does not exist")),
    ScenarioCase("make student-copy TARGET=<dangling symlink>", cli("student-copy", "{tmp}/students", setup=lambda tmp: (tmp / "students").symlink_to(tmp / "gone"), fake=True), 2, ("error:", "symbolic link", "does not exist")),
    Case("TARGET not empty", copy_to("{tmp}/students", prepare=not_empty), FileExistsError, ("not empty", "new folder"), kept=lambda tmp: (tmp / "students" / "mine.txt").read_text() == "keep"),
    Case("exercises is a file", copy_to("{tmp}/students", prepare=exercises_file), C, ("exercises", "not a folder"), kept=nothing_at("{tmp}/students")),
    Case(".generated.sha256 with a merge conflict", copy_to("{tmp}/students", hashes=CONFLICT), C, (".generated.sha256", "line 1", "merge conflict", "git checkout"), kept=nothing_at("{tmp}/students")),
    Case(".generated.sha256 with a cut hash", copy_to("{tmp}/students", hashes="abc123  01.ipynb\n"), C, (".generated.sha256", "line 1")),
    Case(".generated.sha256 of binary bytes", copy_to("{tmp}/students", hashes="\x00\x01\x02\n"), C, (".generated.sha256", "line 1")),
    Case(".generated.sha256 is a folder", copy_to("{tmp}/students", prepare=hashes_folder), C, (".generated.sha256", "not a file"), kept=nothing_at("{tmp}/students")),
    Case("a learner's work in exercises/", copy_to("{tmp}/students", prepare=learner_work), ValueError, ("01.ipynb", "move that work out"), kept=nothing_at("{tmp}/students")),
    Case("TARGET with a space", copy_to("{tmp}/my course/students"), None, (), kept=lambda tmp: (tmp / "my course" / "students" / "exercises" / "01.ipynb").is_file()),
    Case("make quotes TARGET", target_quoted, None, ()),
    ScenarioCase("student-copy into the repository's exercises/", cli("student-copy", "{repo}/exercises/copy"), 2, ("error:", "inside the course"), kept=lambda tmp: not (REPO / "exercises" / "copy").exists()),
    ScenarioCase("student-copy into the repository's nnlib/", cli("student-copy", "{repo}/nnlib/course/copy"), 2, ("error:", "inside the course"), kept=lambda tmp: not (REPO / "nnlib" / "course" / "copy").exists()),
    ScenarioCase("student-copy into the repository", cli("student-copy", "{repo}"), 2, ("error:", "inside the course")),
    ScenarioCase("student-copy to a file", cli("student-copy", "{tmp}/file", setup=lambda tmp: (tmp / "file").write_text("x"), fake=True), 2, ("error:", "is a file")),
    ScenarioCase("student-copy to a full disk", in_child("student-copy", "{tmp}/students", file_limit=2), 2, ("error:", "cannot copy", "File too large", "nothing was left"), kept=nothing_at("{tmp}/students")),
    ScenarioCase("student-copy to a read-only folder", on_read_only(cli("student-copy", "{tmp}/read-only/students", fake=True), "read-only"), 2, ("error:", "cannot copy", "Permission denied"), kept=lambda tmp: not (tmp / "read-only" / "students").exists()),
    # --- make exercises -----------------------------------------------------------------------------
    Case("exercises target is a file", exercises_into("{tmp}/file", setup=lambda tmp: (tmp / "file").write_text("x")), C, ("is a file", "expected the folder"), kept=lambda tmp: (tmp / "file").read_text() == "x"),
    Case("exercises with a merge conflict in .generated.sha256", exercises_into("{tmp}/out", hashes=CONFLICT), C, (".generated.sha256", "merge conflict"), kept=lambda tmp: not (tmp / "out" / "01.ipynb").exists()),
    ScenarioCase("make exercises into a file", cli("exercises", "{tmp}/lessons", "{tmp}/file", setup=lambda tmp: (lessons_only(tmp), (tmp / "file").write_text("x"))), 2, ("error:", "is a file")),
    ScenarioCase("make exercises with a damaged .generated.sha256", cli("exercises", "{tmp}/lessons", "{tmp}/out", setup=lambda tmp: (lessons_only(tmp), (tmp / "out").mkdir(), (tmp / "out" / ".generated.sha256").write_text(CONFLICT))), 2, ("error:", "merge conflict")),
    ScenarioCase("make exercises into a read-only folder", on_read_only(cli("exercises", "{tmp}/lessons", "{tmp}/read-only", setup=lessons_only), "read-only"), 1, ("error:", "cannot write the student notebooks", "Permission denied"), kept=read_only_kept),
    ScenarioCase("make exercises on a full disk", in_child("exercises", "{tmp}/lessons", "{tmp}/out", setup=lessons_only, file_limit=200), 1, ("error:", "cannot write the student notebooks", "File too large"), kept=lambda tmp: not list((tmp / "out").glob("*.ipynb"))),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_target_is_one_line_and_writes_nothing(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why
