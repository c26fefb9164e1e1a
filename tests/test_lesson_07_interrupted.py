"""Lesson 07 after an interrupted training run says so, instead of failing an accuracy assert."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "07_results.ipynb"


def outputs_after_an_interrupt(monkeypatch) -> str:
    """Run 07 up to the comparison with nnlib's Adam (one epoch per run), marking the SGD run
    as interrupted (what Kernel > Interrupt during its training leaves), and return the text
    the comparison cells print."""
    monkeypatch.setenv("NNLIB_EPOCHS", "1")
    notebook = nbformat.read(LESSON, as_version=4)
    comparison = next(i for i, cell in enumerate(notebook.cells) if "stopped_early" in cell.source)
    last = next(i for i, cell in enumerate(notebook.cells) if "your_result.partial" in cell.source)
    interrupt = nbformat.v4.new_code_cell('results[0].history.stopped = "interrupted"')
    notebook.cells = [*notebook.cells[:comparison], interrupt, *notebook.cells[comparison:last + 1]]
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(LESSON.parent)}}).execute()
    return "".join(output.get("text", "") for cell in notebook.cells[comparison + 1:]
                   for output in cell.get("outputs", []))


def test_lesson_07_names_the_interrupted_run_and_skips_the_comparison(monkeypatch):
    text = outputs_after_an_interrupt(monkeypatch)
    assert "SGD stopped after 1 of 1 epochs (interrupted)" in text
    assert "run the training cell again and let it finish" in text
    assert "a run was interrupted: the comparison with nnlib's Adam needs both runs complete" in text
    assert "beats the original project" not in text
