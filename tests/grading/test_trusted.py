"""The trusted run (nnlib/course/grading/trusted.py): points come from the answers' own defs, in
fresh sandboxed processes; no trick earns a point without a flag, no honest style is docked."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nnlib.course.grading.audit import audit_source, lesson_imports
from nnlib.course.grading.trusted import (
    FAILED,
    NOT_IMPLEMENTED,
    PASSED,
    TIMED_OUT,
    build_functions,
    run_trusted,
    student_sources,
)
from tests.grading.classroom import fill, handout, lesson_answers
from tests.grading_tricks import HONEST, TRICKS

# Needs bubblewrap, which `make test-grading` installs (sandbox-packages): part of that target.
pytestmark = pytest.mark.grading

LESSON_02 = handout("02_forward_pass")
LOCKED = [cell.source for cell in LESSON_02.cells
          if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("locked")]
EXERCISES_02 = ("linear_forward", "relu", "softmax", "cross_entropy")


def answers_02() -> dict[str, str]:
    return lesson_answers("02_forward_pass")


def notebook_with(answers: dict[str, str], extra_cells: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    nb = fill(LESSON_02, answers)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    return nb


def trusted(answers: dict[str, str], folder: Path, extra_cells: tuple[str, ...] = (), **kwargs):
    nb = notebook_with(answers, extra_cells)
    return run_trusted(folder, LOCKED, student_sources(nb.cells, LOCKED), list(EXERCISES_02), **kwargs)


def test_right_answers_pass_and_the_stubs_are_not_implemented(tmp_path):
    assert {name: r.status for name, r in trusted(answers_02(), tmp_path).items()} == dict.fromkeys(
        EXERCISES_02, PASSED)
    assert {name: r.status for name, r in trusted({}, tmp_path).items()} == dict.fromkeys(
        EXERCISES_02, NOT_IMPLEMENTED)


def test_every_honest_style_passes_and_is_not_flagged(tmp_path):
    answers = {**answers_02(), **{name: next(iter(styles.values())) for name, styles in HONEST.items()}}
    styles = [(name, style, source) for name, chosen in HONEST.items() for style, source in chosen.items()]
    rounds = max(len(chosen) for chosen in HONEST.values())
    lesson = lesson_imports(LESSON_02)
    for number in range(rounds):  # every style once, several exercises per run
        answers = {**answers_02(), **{name: list(chosen.values())[number % len(chosen)]
                                      for name, chosen in HONEST.items()}}
        results = trusted(answers, tmp_path)
        assert {name: r.status for name, r in results.items()} == dict.fromkeys(EXERCISES_02, PASSED), results
    for name, style, source in styles:
        assert audit_source(source, name, lesson) == [], (name, style)


def test_a_helper_in_a_cell_of_its_own_is_used(tmp_path):
    helper = "def _shift(z):\n    return z - z.max(axis=1, keepdims=True)\n"
    answer = "def softmax(z):\n    e = np.exp(_shift(z))\n    return e / e.sum(axis=1, keepdims=True)\n"
    results = trusted({**answers_02(), "softmax": answer}, tmp_path, extra_cells=(helper,))
    assert results["softmax"].status == PASSED


TOP_LEVEL_TRICKS = ("replaced checker", "user_ns checker patch", "hex run_cell", "numpy patched",
                    "numpy patched through an alias", "%config line", "import nnlib")


def trick_rounds() -> list[dict[str, str]]:
    """The tricks of lesson 02 in rounds, one per exercise in each: each round is one student."""
    chosen = {name: list(TRICKS[name]) for name in EXERCISES_02 if name in TRICKS}
    return [{name: tricks[number] for name, tricks in chosen.items() if number < len(tricks)}
            for number in range(max(len(tricks) for tricks in chosen.values()))]


@pytest.mark.parametrize("tricks", trick_rounds(), ids=lambda tricks: "+".join(tricks.values()))
def test_no_trick_earns_an_unflagged_point(tricks, tmp_path):
    """Each check's process is fresh, so one round's tricks cannot help each other."""
    (tmp_path / "helper.npy").write_bytes(b"not a pickle")
    chosen = {name: TRICKS[name][trick] for name, trick in tricks.items()}
    results = trusted({**answers_02(), **chosen}, tmp_path)
    for exercise, trick in tricks.items():
        result = results[exercise]
        flags = audit_source(TRICKS[exercise][trick], exercise, lesson_imports(LESSON_02))
        assert result.status != PASSED or flags, (trick, result)
        # the tricks that patch at the top of a cell never run here: the answer's own def is judged
        if trick in TOP_LEVEL_TRICKS:
            assert result.status in (FAILED, NOT_IMPLEMENTED), (trick, result)


def test_top_level_code_never_runs_and_unsafe_definitions_are_refused(tmp_path):
    marker = tmp_path / "ran"
    namespace, refused = build_functions(LOCKED, [
        f"open({str(marker)!r}, 'w')\nimport numpy as np\n\nEPS = 1e-12\nBIG = np.finfo(np.float64).max\n"
        "relu = lambda x: np.maximum(x, 0)\n\n\n@print\ndef softmax(z):\n    return z\n\n\n"
        "def linear_forward(x, W, b, n=len('x')):\n    return x\n\n\n"
        "@np.errstate(over='ignore')\ndef cross_entropy(logits, labels):\n    return 0.0\n"])
    assert not marker.exists()
    assert namespace["EPS"] == 1e-12 and callable(namespace["relu"]) and callable(namespace["cross_entropy"])
    assert "BIG" in refused and "compute it inside your function" in refused["BIG"]
    assert "softmax" not in namespace and "@print" not in refused["softmax"] and "print" in refused["softmax"]
    assert "len('x')" in refused["linear_forward"]
    assert "checks" not in namespace  # the lesson's import of the checkers is not the student's


def test_a_function_that_kills_its_process_or_never_ends_fails_alone(tmp_path):
    answers = {**answers_02(),
               "relu": "import os\n\n\ndef relu(x):\n    os._exit(0)\n",
               "softmax": ("def softmax(z):\n    while True:\n        try:\n            pass\n"
                           "        except BaseException:\n            pass\n")}
    results = trusted(answers, tmp_path, seconds=3)
    assert results["relu"].status == FAILED and "ended without a result" in results["relu"].message
    assert results["softmax"].status == TIMED_OUT
    assert results["linear_forward"].status == PASSED and results["cross_entropy"].status == PASSED


def test_one_check_s_process_cannot_reach_the_next(tmp_path):
    """relu's answer patches NumPy when called; the next exercise's check runs in a fresh process."""
    answers = {**answers_02(),
               "relu": "def relu(x):\n    m = [np][0]\n    m.allclose = lambda *a, **k: True\n    return x\n",
               "softmax": "def softmax(z):\n    return z\n"}
    results = trusted(answers, tmp_path)
    assert results["softmax"].status == FAILED
    assert audit_source(answers["relu"], "relu")  # and relu's patch is flagged
