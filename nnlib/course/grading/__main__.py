"""`python -m nnlib.course.grading`: set up an nbgrader course, mark lessons, report on a class.

    python -m nnlib.course.grading course ../nn-course 02 07  # nbgrader course folder, lessons 02, 07
    python -m nnlib.course.grading autograde ../nn-course --jobs 2  # nbgrader autograde, 2 at once
    python -m nnlib.course.grading autograde ../nn-course 02_forward_pass --force  # regrade all of 02
    python -m nnlib.course.grading report ../nn-course        # what the class got right and wrong
    python -m nnlib.course.grading export-lms ../nn-course    # grades_lms.csv: a row per student
    python -m nnlib.course.grading mark notebooks/*.ipynb     # (re)apply the nbgrader metadata
    python -m nnlib.course.grading validate exercises/02_forward_pass.ipynb  # students, before handing in
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from nnlib.files import atomic_write


def _mark(paths: list[Path]) -> int:
    from nnlib.course.grading.metadata import mark_lesson

    for path in paths:
        nb = mark_lesson(nbformat.read(path, as_version=4), path.name)
        with atomic_write(path) as handle:
            nbformat.write(nb, handle)
        print(f"marked {path}")
    return 0


def _course(folder: Path, lessons: list[str]) -> int:
    from nnlib.course.grading.course import find_lessons, make_course

    for path in make_course(folder, find_lessons(lessons)):
        print(f"wrote {path}")
    print(f"next: cd {folder} && nbgrader generate_assignment <lesson>  (e.g. {path.parent.name})")
    return 0


def _report(where: Path, out: Path | None, plot: bool) -> int:
    from nnlib.course.grading.report import collect, missing_work, write_report

    results = collect(where)
    if not results:
        print(f"no autograded notebooks found under {where}", file=sys.stderr)
        return 1
    print(write_report(results, out or where / "class_report", plot_figure=plot,
                       missing=missing_work(where, results)))
    return 0


def _validate(paths: list[Path], run: bool) -> int:
    from nnlib.course.grading.selfcheck import main as self_check
    from nnlib.course.student_versions import edited_since_generated, read_generated_hashes

    if not paths:  # the student notebooks you worked on
        exercises = Path("exercises")
        generated = read_generated_hashes(exercises)
        paths = [path for path in sorted(exercises.glob("*.ipynb"))
                 if edited_since_generated(path, generated)]
        if not paths:
            print("no notebook in exercises/ differs from the handout yet: nothing to check "
                  "(or name one: python -m nnlib.course.grading validate exercises/02_forward_pass.ipynb)")
            return 0
    return self_check(paths, run=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib.course.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    course = commands.add_parser("course", help="write an nbgrader course folder (config + source/)")
    course.add_argument("folder", type=Path)
    course.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    report = commands.add_parser("report", help="per exercise: outcomes, every recognised mistake and flag, "
                                                     "with the students")
    report.add_argument("where", type=Path, help="a course folder, its autograded/ folder, or any folder "
                                                 "of graded notebooks")
    report.add_argument("--out", type=Path, help="file stem for .md, .csv and .png "
                                                 "(default: <where>/class_report)")
    report.add_argument("--no-plot", action="store_true", help="skip the figure")
    export = commands.add_parser("export-lms", help="one row per student (everyone on the roster), one "
                                 "column per lesson, total, needs-manual-grade, late, missing (for an LMS)")
    export.add_argument("course", type=Path, help="the nbgrader course folder")
    export.add_argument("--out", type=Path, help="the CSV to write (default: <course>/grades_lms.csv)")
    export.add_argument("--roster", type=Path, help="a CSV with an 'id' column (as for `nbgrader db student "
                                                    "import`): students to list besides the gradebook's")
    mark = commands.add_parser("mark", help="apply the nbgrader metadata to lessons in place")
    mark.add_argument("paths", nargs="+", type=Path)
    grade = commands.add_parser("autograde", help="nbgrader autograde in parallel jobs, each on its own "
                                                  "students (safe with the SQLite gradebook)")
    grade.add_argument("course", type=Path, help="the nbgrader course folder")
    grade.add_argument("assignments", nargs="*", help="assignment ids (default: every submitted one)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="nbgrader processes at once (default: the number of CPU cores)")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission, also those graded already (default: only those "
                            "not graded yet or newer than their grade)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run the notebooks without the sandbox (bubblewrap), with your rights: only if "
                            "you accept that risk; the class report says it was used")
    validate = commands.add_parser("validate", help="students: check notebooks as grading will (changed or "
                                                    "deleted checks, each check in grading mode)")
    validate.add_argument("paths", nargs="*", type=Path,
                          help="notebooks (default: those in exercises/ that differ from the handout)")
    validate.add_argument("--no-run", action="store_true", help="only look for changed or deleted checks")
    args = parser.parse_args(argv)
    try:
        if args.command == "course":
            return _course(args.folder, args.lessons)
        if args.command == "report":
            return _report(args.where, args.out, plot=not args.no_plot)
        if args.command == "autograde":
            from nnlib.course.grading.parallel import autograde

            return autograde(args.course, args.jobs, args.assignments or None, force=args.force,
                             sandboxed=not args.no_sandbox)
        if args.command == "export-lms":
            from nnlib.course.grading.export import write_lms_csv

            out = args.out or args.course / "grades_lms.csv"
            rows = write_lms_csv(args.course, out, args.roster)
            attention = sum(bool(r.needs_manual_grade or r.late or r.missing or r.not_graded) for r in rows)
            print(f"wrote {out}: {len(rows)} students, {attention} with work missing, late, not graded "
                  "or to review (see its last four columns)")
            return 0
        if args.command == "validate":
            return _validate(args.paths, run=not args.no_run)
        return _mark(args.paths)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
