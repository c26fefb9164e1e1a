"""`python -m nnlib.course.grading autograde COURSE --jobs N`: stock `nbgrader autograde`, run as N
processes at once, each on its own share of the students.

Each job is one ordinary `nbgrader autograde` process over every assignment (or those named) with
`--CourseDirectory.student_id_exclude` leaving out the other jobs' students, so every notebook is
graded exactly as a single `nbgrader autograde` would grade it, and no two jobs ever touch the
same student's files or gradebook rows.

Why the shared SQLite gradebook stays sound: SQLite lets one writer at a time hold the file's
lock; the others wait. The jobs open it with `?timeout=120`, so a writer waits up to 120 s for
the lock instead of failing after SQLite's 5 s default (a write transaction of nbgrader's takes
milliseconds). Python's sqlite3 driver, under SQLAlchemy, begins a transaction only at its first
write, so no job ever holds a read lock that it then has to upgrade, the one case in which SQLite
gives up at once instead of waiting. And before the jobs start, the gradebook is opened once
alone (`nbgrader db student list`), so creating or migrating it never races.
"""

from __future__ import annotations

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
    """The students with a submission: the folders in `course/submitted`."""
    submitted = course / "submitted"
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} does not exist: collect the students' notebooks into "
                                "submitted/<student>/<assignment>/ first")
    return sorted(path.name for path in submitted.iterdir()
                  if path.is_dir() and not path.name.startswith("."))


def share(students: list[str], jobs: int) -> list[list[str]]:
    """Students dealt round-robin into at most `jobs` non-empty groups (similar work each)."""
    groups = [students[k::jobs] for k in range(jobs)]
    return [group for group in groups if group]


def _environment(nbgrader: str) -> dict[str, str]:
    """nbgrader runs its helper `alembic` from PATH: put nbgrader's folder first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(nbgrader).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def autograde(course: Path, jobs: int, assignments: list[str] | None = None) -> int:
    """Autograde every submission in `course` with `jobs` nbgrader processes; 0 if all succeeded."""
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    course = course.resolve()
    nbgrader, students = nbgrader_command(), students_of(course)
    if not students:
        print(f"no submissions in {course / 'submitted'}")
        return 1
    env = _environment(nbgrader)
    subprocess.run([nbgrader, "db", "student", "list"], cwd=course, env=env, check=True,
                   capture_output=True)  # creates or migrates the gradebook, alone
    database = f"sqlite:///{course / 'gradebook.db'}?timeout={BUSY_TIMEOUT_SECONDS}"
    logs = course / "autograde_logs"
    logs.mkdir(exist_ok=True)
    groups = share(students, jobs)
    planned = []
    for number, group in enumerate(groups, start=1):
        others = ",".join(student for student in students if student not in group)
        commands = [[nbgrader, "autograde", assignment, f"--CourseDirectory.db_url={database}",
                     *([f"--CourseDirectory.student_id_exclude={others}"] if others else [])]
                    for assignment in (assignments or ["*"])]
        log = logs / f"job{number}.log"
        planned.append((log, commands))
        print(f"job {number}: {len(group)} students ({group[0]} ... {group[-1]}), log {log}")
    start = time.perf_counter()
    with ThreadPoolExecutor(len(planned)) as pool:  # threads only wait: each job is its own process
        codes = list(pool.map(lambda job: _run_job(job[0], job[1], course, env), planned))
    failed = [number for number, code in enumerate(codes, start=1) if code]
    for number in failed:
        print(f"job {number} failed (exit status {codes[number - 1]}); see {planned[number - 1][0]}",
              file=sys.stderr)
    print(f"autograded {len(students)} students in {time.perf_counter() - start:.0f} s with {len(planned)} "
          f"jobs" + (f"; {len(failed)} job(s) failed" if failed else ""))
    return 1 if failed else 0


def _run_job(log: Path, commands: list[list[str]], course: Path, env: dict[str, str]) -> int:
    """A job's nbgrader commands one after another (one per assignment named); its exit status."""
    with log.open("w") as handle:
        for command in commands:
            code = subprocess.run(command, cwd=course, env=env, stdout=handle,
                                  stderr=subprocess.STDOUT).returncode
            if code:
                return code
    return 0
