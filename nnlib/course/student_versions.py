"""The student versions of the lessons, and the course as handed out to students.

`python -m nnlib.course.student_versions exercises notebooks exercises` (what `make exercises`
runs) writes the student version of every lesson: each `### BEGIN SOLUTION` ... `### END SOLUTION`
region (nbgrader's markers) becomes `# YOUR CODE HERE` + `raise NotImplementedError()`, outputs
and execution counts are cleared, everything else (the checker calls too) stays. It never destroys
a student's work: the hash of every notebook it writes is kept in `exercises/.generated.sha256`
(`sha256sum -c` format), and a student notebook that differs from what was last generated is left
byte-for-byte unchanged and reported (exit status 1), unless `--force` (`make exercises FORCE=1`).

`python -m nnlib.course.student_versions student-copy TARGET` (what `make student-copy` runs)
copies the course without `notebooks/` (the solutions) into a new folder, with its own README.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

from nnlib.course import exercises
from nnlib.course.grading.checksums import add_checksums
from nnlib.course.grading.metadata import BEGIN_SOLUTION, apply_metadata, cell_metadata
from nnlib.files import atomic_write

REPO = Path(__file__).resolve().parents[2]
STUDENT_README = Path(__file__).resolve().parent / "student_readme.md"
# What a student copy of the course holds: everything to run the exercises, no solutions folder.
# Binder needs `start` and `jupyter-config/`; `.gitignore` keeps .venv out of the published repository.
STUDENT_FILES = ("LICENSE", "requirements.txt", "environment.yml", "postBuild", "start",
                 "pyproject.toml", "Makefile", ".gitignore", "jupyter-config", "data", "exercises", "nnlib")
END_SOLUTION = "### END SOLUTION"
STUDENT_BANNER = (
    "> **Student version** of the lesson `notebooks/{name}`, with the solutions cut out. "
    "Fill in the cells marked `# YOUR CODE HERE` and run the check below each one. "
    "Your edits are safe: `make exercises`, which the course maintainers use to regenerate this "
    "notebook from the lesson, never overwrites a notebook you have changed."
)
# Hashes of the notebooks `write_exercises` last wrote: "<sha256>  <name>" per line.
GENERATED_HASHES = ".generated.sha256"


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace every solution region of a cell's source by a stub, keeping its indentation."""
    lines, out, inside = source.split("\n"), [], False
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError(f"{where}, line {number}: nested {BEGIN_SOLUTION}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN_SOLUTION} is never closed by {END_SOLUTION}")
    return "\n".join(out)


def student_version(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy of lesson `nb` with solutions stubbed and all outputs cleared."""
    student = copy.deepcopy(nb)
    apply_metadata(student, cell_metadata(nb, name), student=True)  # gradable as handed out
    for index, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name}, cell {index}")
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    banner = nbformat.v4.new_markdown_cell(STUDENT_BANNER.format(name=name))
    banner["id"] = "student-version-banner"
    student.cells.insert(0, banner)
    student.metadata.pop("widgets", None)
    add_checksums(student)  # as nbgrader's generate_assignment: an edited or deleted check shows
    return student


class StudentWorkFound(RuntimeError):
    """Student notebooks differ from what was last generated; nothing was written."""

    def __init__(self, changed: list[Path]):
        self.changed = changed
        names = "\n".join(f"  {path}" for path in changed)
        first = changed[0]
        super().__init__(
            f"Not regenerated: {len(changed)} student notebook(s) differ from what `make exercises` "
            f"last wrote, probably someone's work:\n{names}\n"
            f"Nothing was written. To keep the work, copy the whole {first.parent.name} folder first "
            f"(later lessons read your functions from the earlier notebooks beside them), e.g.\n"
            f"  cp -r {first.parent} my_{first.parent.name}\n"
            f"work on in my_{first.parent.name}/, and run `make exercises` again. "
            f"To discard the work and regenerate anyway: "
            f"`make exercises FORCE=1` (or get the committed version back with `git checkout -- <file>`)."
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CannotWrite(ValueError):
    """A refusal before anything is written (or after undoing it); the message is one line."""


def read_generated_hashes(target: Path) -> dict[str, str]:
    """Notebook name -> sha256 of the version `write_exercises` last wrote into `target`."""
    path = target / GENERATED_HASHES
    if not path.exists():
        return {}
    if not path.is_file():
        raise CannotWrite(f"{path} is not a file; get it back with "
                          f"`git checkout -- {target.name}/{path.name}`")
    hashes = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](\S.*)", line.strip())
        if line.strip() and not match:
            raise CannotWrite(f"{path}, line {number}, is not '<sha256>  <notebook>' but "
                              f"{line.strip()[:40]!r} (a merge conflict?): get it back with "
                              f"`git checkout -- {target.name}/{path.name}`")
        if match:
            hashes[match[2].strip()] = match[1]
    return hashes


def check_target(target: Path, repo: Path, what: str) -> None:
    """Refuse a `target` folder that is a file, or lies inside the course `repo` (a copy of the course
    into itself would copy itself again, and again)."""
    if target.exists() and not target.is_dir():
        raise CannotWrite(f"{what} {target} is a file; expected a folder")
    for path in (target, *target.parents):  # mkdir would say only "File exists"
        if path.is_symlink() and not path.exists():
            raise CannotWrite(f"{what} {target}: {path} is a symbolic link to {os.readlink(path)}, which "
                              "does not exist; give a new folder, or create the one it points to")
        if path.exists():
            break
    inside = target.resolve()
    if inside == repo.resolve() or repo.resolve() in inside.parents:
        raise CannotWrite(f"{what} {target} is inside the course ({repo}); choose a folder outside it, "
                          "e.g. ../course-students")


def edited_since_generated(path: Path, last_generated: dict[str, str], content: bytes | None = None) -> bool:
    """Does the student notebook at `path` (its bytes: `content`, read if not given) differ from
    what `write_exercises` last wrote there (`last_generated`, from `read_generated_hashes`)?"""
    content = path.read_bytes() if content is None else content
    return _sha256(content) != last_generated.get(path.name)


def write_exercises(lessons: Path, target: Path, force: bool = False) -> list[Path]:
    """Write the student version of every `lessons/*.ipynb` into `target`; return the paths.

    A student notebook is replaced only if it is missing, already identical, or exactly
    what was last generated (its hash is in `target/.generated.sha256`). Otherwise, and
    without `force`, nothing at all is written and `StudentWorkFound` names the files.
    """
    if target.exists() and not target.is_dir():
        raise CannotWrite(f"{target} is a file; expected the folder of the student notebooks")
    lesson_paths = sorted(lessons.glob("*.ipynb"))
    if not lesson_paths:  # e.g. a student copy (no notebooks/): write nothing, keep the hashes
        raise FileNotFoundError(f"no lessons (*.ipynb) in {lessons}: the student notebooks are generated "
                                "from the lessons, which this copy of the course does not hold")
    target.mkdir(parents=True, exist_ok=True)
    last_generated = read_generated_hashes(target)
    fresh: dict[Path, bytes] = {}
    for path in lesson_paths:
        nb = nbformat.read(path, as_version=4)
        text = nbformat.writes(student_version(nb, path.name))
        fresh[target / path.name] = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    existing = {out: out.read_bytes() for out in fresh if out.exists()}
    outdated = [out for out, data in fresh.items() if existing.get(out) != data]
    changed = [out for out in outdated
               if out in existing and edited_since_generated(out, last_generated, existing[out])]
    if changed and not force:
        raise StudentWorkFound(changed)
    for out in outdated:
        with atomic_write(out, "wb") as handle:
            handle.write(fresh[out])
    hashes = "".join(f"{_sha256(data)}  {out.name}\n" for out, data in fresh.items())
    with atomic_write(target / GENERATED_HASHES) as handle:
        handle.write(hashes)
    return list(fresh)



def make_student_copy(target: Path, repo: Path = REPO) -> list[Path]:
    """Copy the course without `notebooks/` (the solutions) into `target`; return what was copied.
    nnlib's source comes along: the lessons import it, so its reference code is there too. On an error
    (a full disk, a read-only folder) what was copied is removed again: nothing is left half-done."""
    check_target(target, repo, "TARGET")
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; choose a new folder")
    exercises = repo / "exercises"
    if not exercises.is_dir():
        raise CannotWrite(f"{exercises} is not a folder; expected the student notebooks (make exercises)")
    generated = read_generated_hashes(exercises)
    changed = [path.name for path in sorted(exercises.glob("*.ipynb"))
               if edited_since_generated(path, generated)]
    if changed:  # someone's answers (yours?) would go out to every student
        raise ValueError(f"exercises/ differs from what `make exercises` generated ({', '.join(changed)}): "
                         "move that work out of exercises/ (or `make exercises FORCE=1`) before copying")
    created = not target.exists()
    try:
        return _copy_course(target, repo)
    except OSError as err:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:  # an empty folder given: empty it again
            for path in target.iterdir():
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise CannotWrite(f"cannot copy the course to {target}: {err.strerror or err}; nothing was left "
                          "there") from None


def _copy_course(target: Path, repo: Path) -> list[Path]:
    copied = []
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    target.mkdir(parents=True, exist_ok=True)
    for name in STUDENT_FILES:
        source = repo / name
        if not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
        copied.append(target / name)
    # The course README links the lessons with solutions, TEACHING.md and results/: not there.
    shutil.copyfile(STUDENT_README, target / "README.md")
    copied.append(target / "README.md")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib.course.student_versions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("exercises", help="write the student versions of the lessons")
    student.add_argument("lessons", type=Path, help="folder of the lessons (notebooks)")
    student.add_argument("target", type=Path, help="folder for the student notebooks (exercises)")
    student.add_argument("--force", action="store_true",
                         help="overwrite student notebooks even if they were changed (discards that work)")
    copy_parser = commands.add_parser("student-copy", help="copy the course without notebooks/ (solutions)")
    copy_parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.command == "student-copy":
        try:
            copied = make_student_copy(args.target)
        except (ValueError, FileExistsError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # e.g. the repository cannot be read
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"wrote {args.target}: " + ", ".join(path.name for path in copied))
        return 0
    try:
        written = write_exercises(args.lessons, args.target, force=args.force)
    except (StudentWorkFound, FileNotFoundError) as refusal:
        print(refusal, file=sys.stderr)
        return 1
    except CannotWrite as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    except OSError as err:  # a read-only or full folder: atomic writes leave each notebook whole
        print(f"error: cannot write the student notebooks to {args.target}: {err.strerror or err}",
              file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    _write_points_table(args.lessons.parent / "TEACHING.md")
    return 0


def _write_points_table(teaching: Path) -> None:
    """TEACHING.md's points table, made from the registry (where the course has a TEACHING.md)."""
    if not teaching.is_file():
        return
    text = teaching.read_text(encoding="utf-8")
    updated = exercises.with_points_table(text)
    if updated != text:
        with atomic_write(teaching) as handle:
            handle.write(updated)
        print(f"wrote {teaching}'s points table")


if __name__ == "__main__":
    sys.exit(main())
