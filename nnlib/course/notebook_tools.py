"""Execute the lessons in place with clean outputs.

`python -m nnlib.course.notebook_tools execute notebooks/*.ipynb` (what `make notebooks`
runs) executes each notebook with nbclient in its own folder, then cleans it
so GitHub shows real, tidy outputs:

- widget state is removed (it breaks GitHub's renderer and bloats the file);
  a widget's output is replaced by what its Output widgets captured (so the
  default figure of an interactive plot stays visible), and progress bars,
  which would be frozen at "0%", are dropped;
- absolute paths of the machine that ran it are checked for and refused.

The student versions are made by `nnlib.course.student_versions`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from nnlib.course.grading.metadata import mark_lesson
from nnlib.files import atomic_write

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib.course.notebook_tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="execute notebooks in place and store clean outputs")
    run.add_argument("paths", nargs="+", type=Path)
    clean = commands.add_parser("clean", help="only clean stored outputs (no execution)")
    clean.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
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
