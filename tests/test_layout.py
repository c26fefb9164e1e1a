"""nnlib/ is the network a learner reads in an evening; the course machinery sits in nnlib/course/.

The core (`nnlib/*.py`) never imports `nnlib.course`, and it stays under its line budget.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NNLIB = Path(__file__).resolve().parent.parent / "nnlib"
CORE = sorted(NNLIB.glob("*.py"))
# COURSE_DESIGN.md, section 4; +70 for nnlib/blas.py (the browser's BLAS route, issue 28);
# +60 for the loops the learner writes in lesson 03 (batch_indices, forward/backward_layers, train_epoch);
# +160 for the command line's Ctrl-C handling (nnlib/interrupts.py and its use, issue 27)
LINE_BUDGET = 2900


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, at any depth (also inside functions), as dotted names."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_the_core_never_imports_the_course_machinery(path):
    course = [name for name in imported_modules(path)
              if name == "nnlib.course" or name.startswith("nnlib.course.")]
    assert not course, f"nnlib/{path.name} imports {course}: the core must not depend on nnlib/course/"


def test_the_import_check_sees_a_course_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from nnlib.course import checks\n    return checks\n")
    assert "nnlib.course.checks" in imported_modules(planted)


def test_the_core_stays_within_its_line_budget():
    lines = {path.name: len(path.read_text().splitlines()) for path in CORE}
    total = sum(lines.values())
    biggest = ", ".join(f"{name} {count}" for name, count in sorted(lines.items(), key=lambda kv: -kv[1])[:4])
    assert total < LINE_BUDGET, f"nnlib/*.py has {total} lines (budget {LINE_BUDGET}); largest: {biggest}"


def test_the_machinery_lives_in_nnlib_course():
    for name in ("checks", "grading", "assemble.py", "plots.py", "notebook_tools.py"):
        assert (NNLIB / "course" / name).exists(), f"nnlib/course/{name} is missing"
        assert not (NNLIB / name).exists(), f"nnlib/{name} is back at the old place (no shims)"
