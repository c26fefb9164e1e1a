"""Grading: the nbgrader metadata of the lessons and student notebooks, the points table, the
checkers' grading mode and the class report (the real nbgrader round trip: tests/grading)."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnlib.course import checks, exercises
from nnlib.course.checks import CheckFailed, grading
from nnlib.course.grading.metadata import cell_metadata, find_exercises
from nnlib.course.grading.report import mistake_of, outcomes_of, summarise

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))

# The grade ids are part of every gradebook made with the course: renaming an exercise
# changes them. The frozen list changes only on purpose.
GRADE_IDS = json.loads((REPO / "nnlib/course/grading/frozen_grade_ids.json").read_text())
POINTS = exercises.points()


def nbgrader_cells(nb):
    return [cell.metadata.get("nbgrader") for cell in nb.cells]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lessons_carry_their_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert nbgrader_cells(nb) == cell_metadata(nb, path.name), "run `make notebooks`"
    solutions = [m["grade_id"] for m in nbgrader_cells(nb) if m["solution"]]
    tests = [(m["grade_id"], m["points"]) for m in nbgrader_cells(nb) if m["grade"]]
    assert solutions == GRADE_IDS[path.stem]
    assert tests == [(f"check_{name}", POINTS[name]) for name in solutions]
    ids = [m["grade_id"] for m in nbgrader_cells(nb)]
    assert len(ids) == len(set(ids)), "grade ids must be unique in a notebook"
    assert all(m["locked"] for m in nbgrader_cells(nb) if not m["solution"])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_student_notebooks_carry_the_same_metadata(path):
    """exercises/ is gradable as handed out: the lesson's metadata, cell for cell (after the banner)."""
    lesson = nbformat.read(path, as_version=4)
    student = nbformat.read(REPO / "exercises" / path.name, as_version=4)
    banner, *cells = student.cells
    assert "nbgrader" not in banner.metadata
    added = ("checksum", "cell_type")  # what generate_assignment adds too (tests/test_selfcheck.py)
    without_checksums = [{k: v for k, v in cell.metadata["nbgrader"].items() if k not in added}
                         for cell in cells]
    assert without_checksums == nbgrader_cells(lesson)
    for cell in cells:
        assert cell.metadata["deletable"] is False
        nbgrader = cell.metadata["nbgrader"]
        is_check_or_text = nbgrader["grade"] or cell.cell_type == "markdown"
        assert cell.metadata.get("editable", True) is (not is_check_or_text), (
            "checks and text are locked; solutions and the other code cells stay editable (Try this)")


def test_the_registry_keeps_every_frozen_grade_id():
    """Gradebooks refer to these ids: one renamed, moved to another lesson or gone fails here."""
    registry = {e.name: e.lesson for e in exercises.all_exercises()}
    frozen = {name: lesson for lesson, names in GRADE_IDS.items() for name in names}
    assert registry == frozen, "a grade id changed: gradebooks depend on them (frozen_grade_ids.json)"
    for lesson, names in GRADE_IDS.items():
        assert [e.name for e in exercises.of_lesson(lesson)] == names, "the registry's order is the lesson's"


def test_a_changed_grade_id_is_caught(monkeypatch):
    renamed = exercises.exercise("relu")
    monkeypatch.setitem(exercises._declared, "relu", dataclasses.replace(renamed, name="rectifier"))
    monkeypatch.setitem(exercises._declared, "rectifier", exercises._declared.pop("relu"))
    with pytest.raises(AssertionError, match="a grade id changed"):
        test_the_registry_keeps_every_frozen_grade_id()


def test_teaching_shows_the_registrys_points_table():
    teaching = (REPO / "TEACHING.md").read_text()
    assert exercises.with_points_table(teaching) == teaching, "run `make exercises` (it writes the table)"
    rows = dict(re.findall(r"^\| \d\.\d `(\w+)` \| \w+ \| (\d+) \|", teaching, flags=re.MULTILINE))
    assert {name: int(points) for name, points in rows.items()} == POINTS


def test_an_exercise_is_declared_once_with_a_known_lesson():
    relu = exercises.exercise("relu")
    with pytest.raises(ValueError, match="declared twice"):
        exercises.declare(dataclasses.replace(relu, checker=_stand_in_checker))
    with pytest.raises(ValueError, match="unknown lesson '02_forward'"):
        exercises.declare(dataclasses.replace(relu, lesson="02_forward"))
    with pytest.raises(ValueError, match="unknown stage 'forward'"):
        exercises.declare(dataclasses.replace(relu, piece="forward"))


def test_every_piece_of_your_network_is_in_a_stage_the_verdicts_name():
    stages = exercises.stages()
    assert sorted(name for names in stages.values() for name in names) == sorted(exercises.pieces())
    assert stages["forward pass"] == ("linear_forward", "relu", "forward_layers", "dropout_forward")
    assert stages["epoch loop"] == ("batch_indices", "train_epoch")
    with pytest.raises(KeyError, match="declared by their checker's decorator"):
        exercises.exercise("brand_new")


def _stand_in_checker(fn=None):
    """A stand-in checker from another module than relu's (for the twice-declared test)."""
    return None


def test_an_exercise_without_its_check_or_points_is_refused():
    nb = nbformat.v4.new_notebook()
    solution = "def relu(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    nb.cells = [nbformat.v4.new_code_cell(solution),
                nbformat.v4.new_code_cell("print(relu(1))")]
    with pytest.raises(ValueError, match=r"must be its check, checks.relu\(relu\)"):
        find_exercises(nb, "lesson.ipynb")
    nb.cells[0].source = nb.cells[0].source.replace("relu", "brand_new")
    nb.cells[1].source = "checks.brand_new(brand_new)"
    with pytest.raises(KeyError, match="declared by their checker's decorator"):
        find_exercises(nb, "lesson.ipynb")


# The checkers in grading mode.

def stub(*args):
    raise NotImplementedError()


def test_unanswered_fails_only_when_graded(graded, monkeypatch, capsys):
    with pytest.raises(CheckFailed, match="^relu: not implemented$"):
        checks.relu(stub)
    checks.relu(stub, demonstration=True)  # lesson 00's demonstration: never graded
    assert "⏳ relu: not implemented yet" in capsys.readouterr().out
    monkeypatch.delenv("NBGRADER_EXECUTION")
    checks.relu(stub)
    assert "⏳" in capsys.readouterr().out


def lesson_solutions(path: Path) -> list[tuple[str, dict]]:
    """Each check call of the lesson, with the namespace right after its solution (the lesson's imports
    and solutions so far)."""
    nb = nbformat.read(path, as_version=4)
    namespace: dict = {}
    calls = []
    for exercise in find_exercises(nb, path.name):
        for cell in nb.cells[: exercise.solution_cell]:
            if cell.cell_type == "code" and not cell.source.lstrip().startswith(("%", "!")):
                tree = ast.parse(cell.source)  # the lesson's imports, nothing else
                imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
                exec(compile(ast.Module(body=imports, type_ignores=[]), path.name, "exec"), namespace)  # noqa: S102
        exec(nb.cells[exercise.solution_cell].source, namespace)  # noqa: S102
        # the check runs right after its solution, as in the lesson: a later cell may import
        # nnlib's version under the same name (lesson 03's numerical_gradient)
        calls.append((nb.cells[exercise.check_cell].source, dict(namespace)))
    return calls


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_lessons_solutions_pass_in_grading_mode(path, graded, capsys):
    """Hidden rounds and the guard against borrowed answers never fail a right answer."""
    calls = lesson_solutions(path)
    for call, namespace in calls:
        exec(call, {**namespace, "checks": checks})  # noqa: S102
    assert capsys.readouterr().out.count("✅") == len(calls)


def test_every_reference_resolves():
    for known in exercises.all_exercises():
        for spec in known.references:
            assert callable(grading.resolve(spec)), spec


def borrowed_softmax(z):
    import nnlib.losses

    return nnlib.losses.softmax(z)


def borrowed_relu(x):
    from nnlib.layers import ReLU

    return ReLU().forward(x)


def borrowed_cosine(step, total, lr):
    from nnlib.optim import cosine_schedule

    return cosine_schedule(lr, total)(step)


def borrowed_linear_backward(dy, x, W):
    from nnlib.layers import Linear

    layer = Linear(W.shape[0], W.shape[1], np.random.default_rng(0), dtype=W.dtype)
    layer.W.value = W
    layer.forward(x)
    return layer.backward(dy), layer.W.grad, layer.b.grad


@pytest.mark.parametrize("check, fn, reference", [
    (checks.softmax, borrowed_softmax, "nnlib.losses.softmax"),
    (checks.relu, borrowed_relu, "nnlib.layers.ReLU.forward"),
    (checks.cosine_lr, borrowed_cosine, "nnlib.optim.cosine_schedule"),
    (checks.linear_backward, borrowed_linear_backward, "nnlib.layers.Linear.backward"),
])
def test_a_borrowed_answer_fails_when_graded(check, fn, reference, graded, monkeypatch, capsys):
    with pytest.raises(CheckFailed, match=f"calls nnlib's own answer {re.escape(reference)}"):
        check(fn)
    monkeypatch.delenv("NBGRADER_EXECUTION")
    check(fn)  # in class it passes: the guard is for grading
    assert "✅" in capsys.readouterr().out


def test_a_hard_coded_answer_fails_the_hidden_cases(graded, monkeypatch):
    """An answer that replays the visible cases' results fails on the hidden inputs."""
    from nnlib.losses import softmax

    monkeypatch.delenv("NBGRADER_EXECUTION")
    seen: dict[bytes, np.ndarray] = {}

    def recording(z):
        seen[z.tobytes()] = softmax(z)
        return seen[z.tobytes()]

    checks.softmax(recording)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckFailed, match=r"^softmax: hidden cases \(other random inputs\): .*KeyError"):
        checks.softmax(lambda z: seen[z.tobytes()])


# The class report.

def test_mistakes_read_the_same_for_every_student():
    assert mistake_of("cross_entropy", "cross_entropy: on logits (4, 3): your result is 4 times the expected "
                      "one: missing 1/N") == "missing 1/N"
    assert mistake_of("relu", "relu: on x (4, 5): your function raised ValueError: operands could not be "
                      "broadcast (4,3) (4,). Hint: use keepdims=True") == "Hint: use keepdims=True"
    assert mistake_of("softmax", "softmax: hidden cases (other random inputs): on a batch of 1: 3 of 10 "
                      "entries differ (largest difference 0.1)") == \
        "wrong values, no recognised cause (hidden cases only)"
    assert mistake_of("accuracy", "accuracy: 37 examples: that is a percentage") == "that is a percentage"
    # Adam's hints follow a case that names t, lr, eps and the array: the cause alone remains
    first = ("adam_step: first step (t = 1, m = v = 0), shape (5,), lr=0.01, eps=1e-08: w: the bias "
             "correction uses t + 1: t is 1 on the first step already")
    later = ("adam_step: step t = 7 with running moments, shape (3, 4), lr=0.05, eps=1e-08: w: the bias "
             "correction uses t + 1: t is 1 on the first step already")
    assert mistake_of("adam_step", first) == mistake_of("adam_step", later) == \
        "the bias correction uses t + 1: t is 1 on the first step already"
    assert mistake_of("adam_step", "adam_step: first step (t = 1, m = v = 0), shape (5,), lr=0.01, "
                      "eps=1e-08: m: m = beta1*m + g lacks the factor (1 - beta1) on g") == \
        "m = beta1*m + g lacks the factor (1 - beta1) on g"


def _check_cell(name: str, output: tuple[str, str] | None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(f"checks.{name}({name})", execution_count=1)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check_{name}", "points": 1, "solution": False}
    if output:
        cell.outputs = [nbformat.v4.new_output("error", ename=output[0], evalue=output[1], traceback=[])]
    return cell


def test_the_report_keeps_every_mistake_names_students_and_flags(tmp_path):
    """All mistakes (ties too) with their students, grouped by cause; flags, deleted checks and
    timeouts on rows of their own; a CSV per student; a figure with both panels drawn."""
    from nnlib.course.grading.report import collect, write_report

    messages = {"ann": "on x (4, 5): missing keepdims", "ben": "on x (9, 2): missing keepdims",
                "cat": "on x (4, 5): wrong axis", "dan": "on x (4, 5): returns a list"}
    for student, message in messages.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [_check_cell("softmax", ("CheckFailed", f"softmax: {message}")), _check_cell("relu", None)]
        if student == "dan":
            nb.cells[1].metadata["nnlib_audit"] = {"flag": "imports from nnlib.layers", "action": "manual"}
            nb.metadata["nnlib_audit"] = {"flags": {"cross_entropy": "its check cell was deleted"},
                                          "deleted_checks": ["cross_entropy"]}
        if student == "cat":
            nb.cells[1].outputs = [nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="",
                                                          traceback=[])]
        if student == "ben":  # the check's own time limit (checks.grading.CHECK_SECONDS)
            nb.cells[1].outputs = [nbformat.v4.new_output(
                "error", ename="CheckFailed", evalue=f"relu: {grading.TIMED_OUT_MESSAGE}", traceback=[])]
        path = tmp_path / "autograded" / student / "02_forward_pass" / "02_forward_pass.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    outcomes = collect(tmp_path)
    summaries = {s.exercise: s for s in summarise(outcomes)}
    softmax, relu = summaries["softmax"], summaries["relu"]
    assert [(m.text, m.students) for m in softmax.mistakes] == [
        ("missing keepdims", ["ann", "ben"]), ("returns a list", ["dan"]), ("wrong axis", ["cat"])]
    assert (relu.passed, relu.flagged, relu.timed_out) == (1, 1, 2)
    assert summaries["cross_entropy"].check_deleted == 1
    text = write_report(outcomes, tmp_path / "report" / "class")
    assert "- softmax: missing keepdims (2: ann, ben)" in text and "- softmax: wrong axis (1: cat)" in text
    assert "- relu: flagged: imports from nnlib.layers (1: dan)" in text
    assert "- cross_entropy: check deleted: its check cell was deleted (1: dan)" in text
    with (tmp_path / "report" / "class_students.csv").open() as handle:
        rows = {(row["student"], row["exercise"]): row for row in csv.DictReader(handle)}
    assert len(rows) == 9
    dan = rows["dan", "relu"]
    assert (dan["outcome"], dan["flag"]) == ("flagged", "imports from nnlib.layers")
    assert rows["cat", "relu"]["outcome"] == rows["ben", "relu"]["outcome"] == "timed out"
    assert rows["ben", "softmax"]["mistake"] == "missing keepdims"
    _expect_both_panels_drawn(tmp_path / "report" / "class.png")


def _expect_both_panels_drawn(path: Path) -> None:
    """Each half of the figure has coloured bars (not only text or white)."""
    import matplotlib.image

    image = matplotlib.image.imread(path)[..., :3]
    coloured = (image.max(axis=2) - image.min(axis=2)) > 0.25  # bars; text and axes are grey
    width = coloured.shape[1]
    assert coloured[:, : width // 2].sum() > 500 and coloured[:, width // 2:].sum() > 500


def test_outcomes_of_a_graded_notebook():
    nb = nbformat.v4.new_notebook()
    cells = []
    for name, output in (("relu", None), ("softmax", ("CheckFailed", "softmax: on x: NaN or inf")),
                         ("cross_entropy", ("CheckFailed", "cross_entropy: not implemented")),
                         ("linear_forward", ("NameError", "name 'linear_forward' is not defined"))):
        cell = nbformat.v4.new_code_cell(f"checks.{name}({name})", execution_count=1)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check_{name}", "points": 1,
                                     "solution": False}
        if output:
            cell.outputs = [nbformat.v4.new_output("error", ename=output[0], evalue=output[1], traceback=[])]
        cells.append(cell)
    nb.cells = cells
    outcomes = outcomes_of(nb, "ada", "02_forward_pass")
    assert [(o.exercise, o.status, o.mistake) for o in outcomes] == [
        ("relu", "passed", ""), ("softmax", "failed", "NaN or inf"), ("cross_entropy", "not implemented", ""),
        ("linear_forward", "failed", "NameError (the check could not run)")]
    (summary, *_) = summarise(outcomes + outcomes_of(nb, "bob", "02_forward_pass"))
    assert (summary.exercise, summary.students, summary.passed) == ("relu", 2, 2)


def test_training_runs_one_epoch_while_nbgrader_grades(monkeypatch):
    from nnlib.train import lesson_epochs

    monkeypatch.delenv("NNLIB_EPOCHS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert lesson_epochs(40) == 40
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert lesson_epochs(40) == 1
    monkeypatch.setenv("NNLIB_EPOCHS", "3")  # a teacher's explicit choice wins
    assert lesson_epochs(40) == 3


def test_a_grading_kernel_makes_widgets_and_figures_inert():
    """What nbgrader_config.py runs first in every graded kernel (in a process of its own here)."""
    import subprocess
    import sys

    code = ("from nnlib.course.grading import kernel; kernel.quiet()\n"
            "import ipywidgets\nfrom ipywidgets import interact\nfrom nnlib.course import plots\n"
            "draw = lambda x: x\nassert interact(draw, x=(0, 3)) is draw\n"
            "assert ipywidgets.interact.options()(draw) is draw\n"
            "fig = plots.LessonFigure()\nfig.add_subplot().set_title('loss')\n"
            "bundle, _ = fig._repr_mimebundle_()\n"
            "assert fig._repr_png_() is None and 'image/png' not in bundle\n"
            "print(bundle['text/plain'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[figure, not drawn while grading: ")


def test_parallel_jobs_share_the_students_without_overlap():
    from nnlib.course.grading.parallel import share

    students = [f"s{k:02d}" for k in range(7)]
    groups = share(students, 2)
    assert groups == [["s00", "s02", "s04", "s06"], ["s01", "s03", "s05"]]
    assert share(students[:1], 4) == [["s00"]]
    assert config_text_runs_the_audit_and_quiet_kernels()


def config_text_runs_the_audit_and_quiet_kernels() -> bool:
    text = (REPO / "nbgrader_config.py").read_text()
    return all(part in text for part in ('"nnlib.course.grading.preprocessor.AuditAnswers"',
                                         'c.AuditAnswers.flagged = "manual"', "EXEC_LINES",
                                         "c.Execute.timeout = 60"))
