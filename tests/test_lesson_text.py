"""What the lessons say and show before any training: a term is explained where it is first used,
lesson 00's data check gives load_raw's message for a missing bundle (issue 27), and each "In the
browser" note gives the epochs its lesson trains there and a measured Run All (issue 28)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import nnlib.data
from nnlib.data import DataError, load_raw

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))

# term -> words its first use must come with (in the same paragraph): what it means
EXPLAINED = {
    "epoch": ("one pass",),
    "backward pass": ("gradient",),
}


def paragraphs():
    """(notebook, paragraph) of every markdown cell in course order; table rows (lesson 00's plan of
    the course names what later lessons teach) are not uses."""
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for paragraph in re.split(r"\n\s*\n", cell.source):
                lines = [line for line in paragraph.splitlines() if not line.lstrip().startswith("|")]
                if lines:
                    yield path.stem, " ".join(lines)


@pytest.mark.parametrize("term", EXPLAINED)
def test_a_term_is_explained_where_it_is_first_used(term):
    notebook, paragraph = next((nb, p) for nb, p in paragraphs() if re.search(rf"\b{term}", p, re.I))
    missing = [word for word in EXPLAINED[term] if word not in paragraph.lower()]
    assert not missing, f"{notebook} uses {term!r} first without saying what it is ({missing}): {paragraph}"


def test_lesson_00_data_check_says_how_to_get_a_missing_bundle_back(tmp_path, monkeypatch):
    """Its data cell raised a bare FileNotFoundError from sha256_of; now load_raw's own message."""
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem.startswith("00")), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    imports = next(source for source in code if "from nnlib.data import" in source)
    check = next(source for source in code if "verified" in source)
    missing = tmp_path / "mnist.npz"
    monkeypatch.setattr(nnlib.data, "DEFAULT_PATH", missing)
    monkeypatch.setitem(load_raw.__globals__, "DEFAULT_PATH", missing)  # wherever load_raw lives
    namespace: dict = {}
    exec(imports.replace("from nnlib.course import checks, plots\n", ""), namespace)
    with pytest.raises(DataError, match=r"not found.*git checkout -- data/mnist\.npz"):
        exec(check, namespace)


def browser_notes():
    """(lesson, the "In the browser" note, the code of its lesson_epochs(...) line) of each lesson
    that trains."""
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        notes = [c.source for c in cells if c.cell_type == "markdown" and "**In the browser**" in c.source]
        calls = [line for c in cells if c.cell_type == "code" for line in c.source.splitlines()
                 if re.search(r"\blesson_epochs\(", line)]
        if calls:
            yield path.stem, notes, calls


@pytest.mark.parametrize("lesson, notes, calls", [pytest.param(*n, id=n[0]) for n in browser_notes()])
def test_the_browser_note_gives_the_epochs_the_code_trains_and_a_measured_run_all(lesson, notes, calls):
    assert len(notes) == 1 and len(calls) == 1, f"{lesson}: one 'In the browser' note, one lesson_epochs call"
    browser = int(re.search(r"browser=(\d+)", calls[0]).group(1))
    said = re.search(r"\*\*(?:in full: )?(\d+) epochs(?: instead of \d+)?\*\*", notes[0])
    assert said, f"{lesson}: the note does not say in bold how many epochs the browser trains"
    assert int(said.group(1)) == browser, f"{lesson}: the note says {said.group(1)}, the code {browser}"
    assert re.search(r"Run All took \d+ s", notes[0]), f"{lesson}: the note gives no measured Run All time"
