"""How long nbgrader takes to grade a class: `make grading-bench STUDENTS=20 JOBS=2`.

Makes an nbgrader course of all eight lessons, a generated class of STUDENTS students (three in
five answer every exercise right, one hands in the stubs, one answers right except a broken
first exercise per lesson), grades it with `python -m nnlib.course.grading autograde --jobs JOBS`
and prints the total time, the time per notebook and per student (median and worst) and the
total extrapolated to 100 students. A notebook's time is the gap between its autograded file and
the one its job wrote before (the first one counts from the start: nbgrader's own start-up is
included), so it is wall time on the machine as it is, shared or not; the CPU time of nbgrader
and its kernels is printed too, which other work on the machine does not inflate. Run it with
nbgrader's Python (.venv-grading), which `make grading-bench` does.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nnlib.course.grading.course import find_lessons  # noqa: E402
from nnlib.course.grading.parallel import autograde, share, students_of  # noqa: E402
from tests.grading.classroom import fill, lesson_answers, make_course, release, submit  # noqa: E402

BROKEN = "def {name}(*args, **kwargs):\n    raise ValueError('not like this')\n"


def answers(student: int, lesson: str) -> dict[str, str] | None:
    """Student number `student`'s answers to `lesson` (None: the untouched stubs)."""
    right = lesson_answers(lesson)
    kind = student % 5
    if kind == 3:
        return None
    if kind == 4:
        first = next(iter(right))
        return {**right, first: BROKEN.format(name=first)}
    return right


def make_class(course: Path, students: int, lessons: list[str]) -> None:
    make_course(course, tuple(lessons))
    for lesson in lessons:
        handout = release(course, lesson)
        for number in range(students):
            chosen = answers(number, lesson)
            submit(course, f"s{number:03d}", lesson, handout if chosen is None else fill(handout, chosen))


def notebook_seconds(course: Path, jobs: int, start: float) -> dict[tuple[str, str], float]:
    """(student, lesson) -> wall seconds, from the autograded files' times, job by job."""
    seconds = {}
    for group in share(students_of(course), jobs):
        written = sorted((path.stat().st_mtime, path.parts[-3], path.parts[-2])
                         for student in group for path in (course / "autograded" / student).glob("*/*.ipynb"))
        previous = start
        for when, student, lesson in written:
            seconds[student, lesson] = when - previous
            previous = when
    return seconds


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (nbgrader and its kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lessons", nargs="*", default=[], help="lesson numbers (default: all eight)")
    parser.add_argument("--out", type=Path, help="course folder to keep (default: a temporary one)")
    args = parser.parse_args()
    lessons = [path.stem for path in find_lessons(args.lessons)]
    with tempfile.TemporaryDirectory() as scratch:
        course = args.out or Path(scratch) / "course"
        make_class(course, args.students, lessons)
        start, cpu_before = time.time(), _children_cpu()
        if autograde(course, args.jobs) != 0:
            return 1
        total, cpu = time.time() - start, _children_cpu() - cpu_before
        seconds = notebook_seconds(course, args.jobs, start)
    per_student: dict[str, float] = {}
    for (student, _), value in seconds.items():
        per_student[student] = per_student.get(student, 0.0) + value
    notebooks = len(seconds)
    print(f"\n{args.students} students x {len(lessons)} lessons = {notebooks} notebooks, {args.jobs} jobs: "
          f"{total:.0f} s")
    print(f"per notebook: median {statistics.median(seconds.values()):.1f} s, "
          f"worst {max(seconds.values()):.1f} s ({max(seconds, key=seconds.get)})")
    print(f"per student ({len(lessons)} lessons): median {statistics.median(per_student.values()):.1f} s, "
          f"worst {max(per_student.values()):.1f} s")
    print(f"100 students x {len(lessons)} lessons, extrapolated: {total * 100 / args.students / 60:.0f} min")
    # CPU time does not grow when other work shares the machine; on two cores of its own the class
    # needs at least half of it (more where a job waits instead of computing).
    alone = cpu * 100 / args.students / 2 / 60
    print(f"CPU time of nbgrader and the kernels: {cpu:.0f} s ({cpu / notebooks:.1f} s a notebook); "
          f"100 x {len(lessons)} on two unshared cores: at least {alone:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
