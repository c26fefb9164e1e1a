"""The stored-output cleaner: widget views become their captured figures, state goes."""

from __future__ import annotations

import nbformat
import pytest

from nnlib.course.notebook_tools import WIDGET_STATE, WIDGET_VIEW, clean_notebook, machine_paths, main

PNG = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}


def notebook_with_widgets() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("interact(show)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "box"}, "text/plain": "VBox"}),
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "bar"}, "text/plain": "0%|"}),
    ]
    nb.cells = [cell]
    states = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "FloatSliderModel", "state": {}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": PNG, "metadata": {}}]}},
        "bar": {"model_name": "HBoxModel", "state": {"children": []}},
    }
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": states, "version_major": 2, "version_minor": 0}}
    return nb


def test_widget_views_become_their_captured_outputs_and_progress_bars_go():
    nb = clean_notebook(notebook_with_widgets())
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data"]
    assert outputs[1].data == PNG
    assert "widgets" not in nb.metadata


def test_consecutive_prints_are_stored_as_one_output():
    nb = clean_notebook(notebook_with_widgets())
    assert nb.cells[0].outputs[0].text == "a\nb\n"


def test_machine_paths_in_outputs_are_found():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    warning = "/home/ada/course/nnlib/x.py:3: Warning"
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=warning)]
    nb.cells = [cell]
    assert machine_paths(nb)
    cell.outputs[0].text = "all fine"
    assert not machine_paths(nb)


def test_strict_mode_fails_unanswered_exercises(monkeypatch, capsys):
    import pytest

    from nnlib.course import checks
    from nnlib.course.checks.core import _call

    @checks.checker("demo")
    def demo(fn):
        _call(fn)
        return "ok"

    def unanswered():
        raise NotImplementedError()

    demo(unanswered)
    assert "not implemented yet" in capsys.readouterr().out
    monkeypatch.setenv(checks.STRICT_VARIABLE, "1")
    with pytest.raises(checks.CheckFailed, match="demo: not implemented"):
        demo(unanswered)


def test_stored_lessons_are_clean():
    """What GitHub shows: no widget state, no widget views, no machine paths, no errors."""
    from pathlib import Path

    lessons = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    assert lessons
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata, path.name
        assert not machine_paths(nb), (path.name, machine_paths(nb)[:2])
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.output_type != "error", (path.name, output.get("ename"))
                assert WIDGET_VIEW not in output.get("data", {}), path.name
                assert output.get("name") != "stderr", (path.name, output.get("text", "")[:200])


def test_stored_lessons_show_every_figure_as_an_image():
    """A cell whose result is a figure stores a PNG, not just its text form ("<LessonFigure ...>")."""
    from pathlib import Path

    lessons = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    figures = 0
    for path in lessons:
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "Figure size" in data.get("text/plain", ""):
                    assert "image/png" in data, (path.name, cell.source[:80])
                    figures += 1
    assert figures >= 20


def test_every_stored_lesson_figure_carries_its_alt_text():
    """The PNGs stored in the lessons carry their description (nnlib's figures add it), which
    the course site and nbconvert show as the image's alt text."""
    from pathlib import Path

    lessons = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    pictures = 0
    for path in lessons:
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
                    assert len(alt) >= 12, (path.name, cell.source[:80], alt)
                    pictures += 1
    assert pictures >= 20


@pytest.mark.parametrize("command", ["execute", "clean"])
def test_a_missing_notebook_is_one_line_not_a_traceback(command, tmp_path, capsys):
    """`make notebooks` in a student copy passes the literal pattern notebooks/*.ipynb."""
    assert main([command, str(tmp_path / "notebooks" / "*.ipynb")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no such notebook:") and "*.ipynb" in err[0]
