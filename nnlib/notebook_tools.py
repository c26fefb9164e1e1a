"""Execute the lessons in place with clean outputs; generate the student versions.

`python -m nnlib.notebook_tools execute notebooks/*.ipynb` (what `make notebooks`
runs) executes each notebook with nbclient in its own folder, then cleans it
so GitHub shows real, tidy outputs:

- widget state is removed (it breaks GitHub's renderer and bloats the file);
  a widget's output is replaced by what its Output widgets captured (so the
  default figure of an interactive plot stays visible), and progress bars,
  which would be frozen at "0%", are dropped;
- absolute paths of the machine that ran it are checked for and refused.

`python -m nnlib.notebook_tools exercises notebooks exercises` (what
`make exercises` runs) writes the student version of every lesson: each
`### BEGIN SOLUTION` ... `### END SOLUTION` region (nbgrader's markers) becomes
`# YOUR CODE HERE` + `raise NotImplementedError()`, outputs and execution
counts are cleared, everything else (the checker calls too) stays. It never
destroys a student's work: the hash of every notebook it writes is kept in
`exercises/.generated.sha256` (`sha256sum -c` format), and a student notebook
that differs from what was last generated is left byte-for-byte unchanged and
reported (exit status 1), unless `--force` (`make exercises FORCE=1`) is given.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from pathlib import Path

import nbformat

from nnlib.files import atomic_write
from nnlib.grading.metadata import BEGIN_SOLUTION, apply_metadata, cell_metadata, mark_lesson

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REF = re.compile(r"IPY_MODEL_(\w+)")
# Absolute paths that give away the machine: home folders, temp folders, virtual envs.
MACHINE_PATH = re.compile(r"(/home/|/root/|/Users/|/tmp/|/work/|[A-Za-z]:\\\\Users|site-packages)")
TIMEOUT_SECONDS = 600


def _referenced_models(value: object) -> list[str]:
    """Model ids referenced in a widget's state (children, layout, ...), in order."""
    if isinstance(value, str):
        return MODEL_REF.findall(value)
    if isinstance(value, list):
        return [m for item in value for m in _referenced_models(item)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _referenced_models(item)]
    return []


def _captured_outputs(model_id: str, states: dict, seen: set[str] | None = None) -> list[dict]:
    """Outputs captured by the Output widgets inside the widget `model_id`."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in states:
        return []
    seen.add(model_id)
    state = states[model_id].get("state", {})
    if states[model_id].get("model_name") == "OutputModel":
        return list(state.get("outputs", []))
    outputs: list[dict] = []
    for child in _referenced_models(state.get("children", [])):
        outputs.extend(_captured_outputs(child, states, seen))
    return outputs


def _merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same stream: how prints are split into
    chunks depends on timing, and would make every re-execution a spurious diff."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] = previous["text"] + output["text"]
        else:
            merged.append(output)
    return merged


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace widget views by their captured outputs, drop widget state and cell ids' noise."""
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cleaned = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                cleaned.append(output)
                continue
            cleaned.extend(nbformat.from_dict(o) for o in _captured_outputs(view["model_id"], states))
        cell.outputs = _merge_streams(cleaned)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def machine_paths(nb: nbformat.NotebookNode) -> list[str]:
    """Snippets of outputs that contain absolute paths of the machine."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = nbformat.writes(nbformat.from_dict({"o": output}))
            for match in MACHINE_PATH.finditer(text):
                found.append(text[max(0, match.start() - 40) : match.end() + 40].replace("\n", " "))
    return found


def execute(path: Path, timeout: int = TIMEOUT_SECONDS) -> None:
    """Run `path` top to bottom in its own folder and write it back cleaned (atomically)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    mark_lesson(nb, path.name)  # nbgrader metadata from the solution markers (fails early if malformed)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    clean_notebook(nb)
    leaks = machine_paths(nb)
    if leaks:
        raise RuntimeError(f"{path.name}: outputs contain machine paths: {leaks[:3]}")
    with atomic_write(path) as handle:
        nbformat.write(nb, handle)


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


def read_generated_hashes(target: Path) -> dict[str, str]:
    """Notebook name -> sha256 of the version `write_exercises` last wrote into `target`."""
    path = target / GENERATED_HASHES
    if not path.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib.notebook_tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="execute notebooks in place and store clean outputs")
    run.add_argument("paths", nargs="+", type=Path)
    clean = commands.add_parser("clean", help="only clean stored outputs (no execution)")
    clean.add_argument("paths", nargs="+", type=Path)
    student = commands.add_parser("exercises", help="write the student versions of the lessons")
    student.add_argument("lessons", type=Path, help="folder of the lessons (notebooks)")
    student.add_argument("target", type=Path, help="folder for the student notebooks (exercises)")
    student.add_argument("--force", action="store_true",
                         help="overwrite student notebooks even if they were changed (discards that work)")
    args = parser.parse_args(argv)
    if args.command == "exercises":
        try:
            written = write_exercises(args.lessons, args.target, force=args.force)
        except (StudentWorkFound, FileNotFoundError) as refusal:
            print(refusal, file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
        return 0
    missing = [str(path) for path in args.paths if not path.is_file()]
    if missing:  # e.g. `make notebooks` in a student copy, which has no notebooks/
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 1
    for path in args.paths:
        print(f"{args.command}: {path}", flush=True)
        if args.command == "execute":
            execute(path)
        else:
            nb = clean_notebook(nbformat.read(path, as_version=4))
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
