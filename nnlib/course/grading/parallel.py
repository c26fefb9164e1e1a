"""`python -m nnlib.course.grading autograde COURSE --jobs N [--force]`: stock `nbgrader autograde`,
run as N processes at once, each on its own share of the students.

What is graded: every submission not graded yet, and every submission newer than its grade (a
student who submitted again, collected by nbgrader or copied in by hand); `--force` regrades
all of them (after a lesson was fixed and released again). The summary says how many were
graded, skipped and failed, and the exit status is 1 when one failed or none was graded.

Each job runs one ordinary `nbgrader autograde ASSIGNMENT --force` process per student and
assignment to grade, with that student's id as nbgrader's `student_id` (glob characters
escaped), so every notebook is graded exactly as a single `nbgrader autograde` would grade it,
no two jobs ever touch the same student's files or gradebook rows, and any folder name is a
student: ids with commas, spaces, glob characters or a leading dot (nbgrader's
`student_id_exclude` splits on commas, and its default `*` skips dot-names: both once left
students ungraded, silently). A folder name with a line break or another control character is
refused by name (nbgrader cannot grade it). Every notebook is graded in the sandbox
(`sandbox.py`) unless the teacher chooses `--no-sandbox`.

Why the shared SQLite gradebook stays sound: SQLite lets one writer at a time hold the file's
lock; the others wait. The jobs open it with `?timeout=120`, so a writer waits up to 120 s for
the lock instead of failing after SQLite's 5 s default (a write transaction of nbgrader's takes
milliseconds). Python's sqlite3 driver, under SQLAlchemy, begins a transaction only at its first
write, so no job ever holds a read lock that it then has to upgrade, the one case in which SQLite
gives up at once instead of waiting. And before the jobs start, the gradebook is opened once
alone (`nbgrader db student list`), so creating or migrating it never races.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# How long a job's gradebook write waits for another job's (seconds; SQLite's default is 5).
BUSY_TIMEOUT_SECONDS = 120


def nbgrader_command() -> str:
    """The `nbgrader` beside this Python (.venv-grading/bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "nbgrader"
    found = str(beside) if beside.exists() else shutil.which("nbgrader")
    if not found:
        raise FileNotFoundError("nbgrader is not installed here: run `make grading-env` and use "
                                ".venv-grading/bin/python (see TEACHING.md, 'Grading, step by step')")
    return found


def students_of(course: Path) -> list[str]:
    """The students with a submission: the folders in `course/submitted` (any name, a leading dot
    too; not Jupyter's .ipynb_checkpoints)."""
    submitted = course / "submitted"
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} does not exist: collect the students' notebooks into "
                                "submitted/<student>/<assignment>/ first")
    return sorted(path.name for path in submitted.iterdir()
                  if path.is_dir() and not path.is_symlink() and path.name != ".ipynb_checkpoints")


def refusal(student: str) -> str:
    """Why nbgrader cannot grade a student of this id ("" when it can): a line break or another
    control character (nbgrader's path pattern never matches it)."""
    if any(ord(character) < 32 or ord(character) == 127 for character in student):
        return "its folder name has a line break or another control character, which nbgrader cannot grade"
    return ""


def share(students: list[str], jobs: int) -> list[list[str]]:
    """Students dealt round-robin into at most `jobs` non-empty groups (similar work each)."""
    groups = [students[k::jobs] for k in range(jobs)]
    return [group for group in groups if group]


def _environment(nbgrader: str) -> dict[str, str]:
    """nbgrader runs its helper `alembic` from PATH: put nbgrader's folder first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(nbgrader).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _notebook_times(folder: Path) -> list[int]:
    return [path.stat().st_mtime_ns for path in folder.glob("*.ipynb")]


def _timestamp(folder: Path) -> str | None:
    """The text of nbgrader's `timestamp.txt` in `folder` (written by `nbgrader collect`)."""
    path = folder / "timestamp.txt"
    return (path.read_text().strip() or None) if path.is_file() else None


def is_current(course: Path, student: str, assignment: str) -> bool:
    """Is `student`'s submission of `assignment` graded already, by a grade newer than it?

    With nbgrader's timestamps (`nbgrader collect` writes one; autograde copies it), a graded
    submission is current while both say the same time. A submission collected by hand has
    none: it is current while no submitted notebook is newer than the autograded ones."""
    submitted = course / "submitted" / student / assignment
    graded = course / "autograded" / student / assignment
    graded_times = _notebook_times(graded) if graded.is_dir() else []
    if not graded_times:
        return False
    new, old = _timestamp(submitted), _timestamp(graded)
    if new is not None and old is not None:
        return new == old
    return max(_notebook_times(submitted), default=0) <= min(graded_times)


def submissions_of(course: Path, assignments: list[str] | None) -> list[tuple[str, str]]:
    """(student, assignment) of every submission in `course/submitted` (of `assignments` only)."""
    found = [(student, path.name) for student in students_of(course)
             for path in sorted((course / "submitted" / student).iterdir())
             if path.is_dir() and not path.name.startswith(".")
             and (assignments is None or path.name in assignments)]
    for assignment in assignments or []:
        if not any(name == assignment for _, name in found):
            raise FileNotFoundError(f"nobody submitted {assignment!r}: no folder "
                                    f"{course / 'submitted' / '<student>' / assignment}")
    return found


def autograde(course: Path, jobs: int, assignments: list[str] | None = None, force: bool = False,
              sandboxed: bool = True) -> int:
    """Autograde the submissions in `course` with `jobs` nbgrader processes: those not graded yet
    and those newer than their grade (every one with `force`). Prints how many were graded,
    skipped (already graded), failed or refused; returns 0 only if nothing failed or was refused
    and something was graded. `sandboxed=False` (--no-sandbox): the teacher's explicit choice."""
    from nnlib.course.grading import sandbox

    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    course = course.resolve()
    nbgrader, students = nbgrader_command(), students_of(course)
    if not students:
        print(f"no submissions in {course / 'submitted'}")
        return 1
    asked = submissions_of(course, assignments)
    refused = {student: why for student in students if (why := refusal(student))}
    for student, why in refused.items():
        print(f"refused: student {student!r}: {why}; rename the folder in submitted/", file=sys.stderr)
    asked = [(student, name) for student, name in asked if student not in refused]
    todo = [pair for pair in asked if force or not is_current(course, *pair)]
    skipped = len(asked) - len(todo)
    if not todo:
        print(f"graded nothing: all {len(asked)} submissions asked for are graded already and none is "
              "newer than its grade (--force regrades them)")
        return 1
    env = _environment(nbgrader)
    if sandboxed:
        env.pop(sandbox.NO_SANDBOX_VARIABLE, None)
        try:
            sandbox.check_sandbox()
        except sandbox.SandboxUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    else:
        env[sandbox.NO_SANDBOX_VARIABLE] = "1"
        print("--no-sandbox: the notebooks run with your rights, without the sandbox (your choice; the "
              "class report says so)")
    subprocess.run([nbgrader, "db", "student", "list"], cwd=course, env=env, check=True,
                   capture_output=True)  # creates or migrates the gradebook, alone
    database = f"sqlite:///{course / 'gradebook.db'}?timeout={BUSY_TIMEOUT_SECONDS}"
    logs = course / "autograde_logs"
    logs.mkdir(exist_ok=True)
    planned = []
    for number, group in enumerate(share(sorted({student for student, _ in todo}), jobs), start=1):
        # --force: whether to grade was decided above; each student by name, glob characters escaped
        commands = [[nbgrader, "autograde", assignment, "--force", f"--CourseDirectory.db_url={database}",
                     f"--CourseDirectory.student_id={glob.escape(student)}"]
                    for student, assignment in sorted(todo) if student in group]
        log = logs / f"job{number}.log"
        planned.append((log, commands))
        print(f"job {number}: {len(group)} students ({group[0]!r} ... {group[-1]!r}), log {log}")
    start_ns, start = time.time_ns(), time.perf_counter()
    with ThreadPoolExecutor(len(planned)) as pool:  # threads only wait: each job is its own process
        codes = list(pool.map(lambda job: _run_job(job[0], job[1], course, env), planned))
    graded = [(s, a) for s, a in todo
              if any(t >= start_ns for t in _notebook_times(course / "autograded" / s / a))]
    failed = sorted(set(todo) - set(graded))
    for number, code in enumerate(codes, start=1):
        if code:
            print(f"job {number} failed (exit status {code}); see {planned[number - 1][0]}", file=sys.stderr)
    if failed:
        print("not graded (see the job logs): " + ", ".join(f"{s}/{a}" for s, a in failed), file=sys.stderr)
    refusals = f", refused {len(refused)} student(s)" if refused else ""
    seconds = time.perf_counter() - start
    print(f"graded {len(graded)}, skipped {skipped} (graded already; --force regrades them), failed "
          f"{len(failed)} of {len(asked)} submissions{refusals}, in {seconds:.0f} s with {len(planned)} jobs"
          + ("" if sandboxed else " (without the sandbox: --no-sandbox)"))
    return 1 if failed or refused or any(codes) or not graded else 0


def _run_job(log: Path, commands: list[list[str]], course: Path, env: dict[str, str]) -> int:
    """A job's nbgrader commands one after another (one per student and assignment); the first
    failure's exit status (the others are still graded)."""
    status = 0
    with log.open("w") as handle:
        for command in commands:
            code = subprocess.run(command, cwd=course, env=env, stdout=handle,
                                  stderr=subprocess.STDOUT).returncode
            status = status or code
    return status
