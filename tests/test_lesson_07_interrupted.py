"""One Kernel > Interrupt stops a whole training cell (03 trains two networks, 07 three optimizers): the
run keeps its complete epochs, the runs after it are skipped, and every result cell after it says
"interrupted" in words (no bare AssertionError); 07's table marks the interrupted and skipped rows."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# What Kernel > Interrupt does in the second epoch of the first run: KeyboardInterrupt inside fit's loop.
INTERRUPT = '''import nnlib.train
_epochs_started, _train_epoch = [], nnlib.train.train_epoch


def _interrupted_in_epoch_2(*args, **kwargs):
    _epochs_started.append(1)
    if len(_epochs_started) == 2:
        raise KeyboardInterrupt
    return _train_epoch(*args, **kwargs)


nnlib.train.train_epoch = _interrupted_in_epoch_2'''


def run_interrupted(lesson: str, first: str, last: str, monkeypatch) -> list[str]:
    """Run `lesson` (two epochs per run) up to the first cell holding `last`, with an interrupt in the
    second epoch of the training cell (the first cell holding `first`); the text each cell printed or
    displayed, from the training cell on."""
    monkeypatch.setenv("NNLIB_EPOCHS", "2")
    notebook = nbformat.read(NOTEBOOKS / lesson, as_version=4)
    training = next(i for i, cell in enumerate(notebook.cells) if first in cell.source)
    end = next(i for i, cell in enumerate(notebook.cells) if last in cell.source)
    notebook.cells = [*notebook.cells[:training], nbformat.v4.new_code_cell(INTERRUPT),
                      *notebook.cells[training:end + 1]]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return ["".join(output.get("text", "") + output.get("data", {}).get("text/markdown", "")
                    for output in cell.get("outputs", []))
            for cell in notebook.cells[training + 1:] if cell.cell_type == "code"]


def test_lesson_03_skips_your_network_and_says_interrupted(monkeypatch):
    training, results, curves, *_ = run_interrupted("03_backprop.ipynb", "histories = {}",
                                                    "plots.learning_curves", monkeypatch)
    assert "nnlib's network interrupted after 1 of 2 epochs; the runs after it were skipped" in training
    assert "training was interrupted (nnlib's network), so there is no verdict" in results
    assert "your network learned" not in results and "did not finish training" not in results
    assert "Error" not in results + curves


def test_lesson_07_skips_the_other_optimizers_and_marks_them_in_the_table(monkeypatch):
    cells = run_interrupted("07_results.ipynb", "results = []", "plots.learning_curves(histories",
                            monkeypatch)
    text = "\n".join(cells)
    assert "SGD interrupted after 1 of 2 epochs; the runs after it were skipped" in cells[0]
    table = next(cell for cell in cells if "| optimizer |" in cell)
    assert "| SGD (**interrupted**: 1 of 2 epochs) |" in table
    assert "| SGD + momentum (**skipped**: the training cell was interrupted) |" in table
    assert "| Adam (**skipped**" in table
    assert "SGD stopped after 1 of 2 epochs; SGD + momentum skipped; Adam skipped (interrupted)" in text
    assert "run the training cell again and let it finish" in text
    assert "a run was interrupted: the comparison with nnlib's Adam needs both runs complete" in text
    assert "beats the original project" not in text and "Error" not in text
