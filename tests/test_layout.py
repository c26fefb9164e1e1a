"""nnlib/ is the network a learner reads in an evening; the course machinery sits in nnlib/course/.

The core (`nnlib/*.py`) never imports `nnlib.course`. Its reading path (the modules that hold the network:
`Linear`, `Sequential`, `fit`, `Adam`, `load_mnist`, `numerical_gradient`) stays under its line budget; the
harness (files, checks, the command line) lives in modules of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NNLIB = Path(__file__).resolve().parent.parent / "nnlib"
CORE = sorted(NNLIB.glob("*.py"))
READING_PATH = ("data", "layers", "losses", "network", "optim", "train", "gradcheck")
LINE_BUDGET = 1100  # COURSE_DESIGN.md, section 4: the reading path


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


def test_the_reading_path_stays_within_its_line_budget():
    lines = {name: len((NNLIB / f"{name}.py").read_text().splitlines()) for name in READING_PATH}
    total = sum(lines.values())
    largest = sorted(lines.items(), key=lambda kv: -kv[1])[:4]
    biggest = ", ".join(f"{name}.py {count}" for name, count in largest)
    assert total <= LINE_BUDGET, f"the reading path: {total} lines (budget {LINE_BUDGET}); largest: {biggest}"


def test_the_reading_path_holds_the_network():
    import nnlib.data
    import nnlib.gradcheck
    import nnlib.network
    import nnlib.optim
    import nnlib.train

    holders = {nnlib.network.Linear: "layers", nnlib.network.Sequential: "network", nnlib.train.fit: "train",
               nnlib.optim.Adam: "optim", nnlib.data.load_mnist: "data",
               nnlib.gradcheck.numerical_gradient: "gradcheck"}
    for thing, module in holders.items():
        assert thing.__module__ == f"nnlib.{module}", f"{thing.__qualname__} is not in nnlib/{module}.py"


def test_the_machinery_lives_in_nnlib_course():
    for name in ("checks", "grading", "assemble.py", "plots.py", "notebook_tools.py"):
        assert (NNLIB / "course" / name).exists(), f"nnlib/course/{name} is missing"
        assert not (NNLIB / name).exists(), f"nnlib/{name} is back at the old place (no shims)"
