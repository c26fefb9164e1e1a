"""The test tiers and CI promise what they say: a marker per lesson (`pytest -m lesson03`), a fast
tier without the slow tests (`make test-fast`), and a hosted workflow that lints and tests every
declared Python through the Makefile."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = (ROOT / "Makefile").read_text()
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)


def fake_item(nodeid: str, **params) -> SimpleNamespace:
    path = ROOT / nodeid.partition("::")[0]
    return SimpleNamespace(path=path, nodeid=nodeid, callspec=SimpleNamespace(params=params),
                           fixturenames=())


def test_each_lessons_notebooks_get_its_marker():
    lessons = root_conftest.LESSONS
    assert [lesson[:2] for lesson in lessons] == [f"{n:02d}" for n in range(len(lessons))]
    for lesson in lessons:
        for folder in ("notebooks", "exercises"):
            item = fake_item(f"{folder}/{lesson}.ipynb::Cell 3")
            assert root_conftest.lessons_of(item) == {lesson[:2]}
            assert root_conftest.is_slow(item), "notebooks are never in the fast tier"


def test_a_checker_test_gets_its_checkers_lesson_and_a_named_lesson_its_own():
    def check_dropout_forward(): ...
    check_dropout_forward.__module__ = "nnlib.course.checks.lesson_04"
    item = fake_item("tests/test_checks_03_05.py::test_right_answers_pass[check_dropout_forward]",
                     check=check_dropout_forward)
    assert root_conftest.lessons_of(item) == {"04"}
    assert root_conftest.lessons_of(fake_item("tests/test_checks_03_05.py::test_other")) == {"03", "04", "05"}
    assert root_conftest.lessons_of(fake_item("tests/test_grading.py::test_x[07_results]")) == {"07"}
    assert root_conftest.lessons_of(fake_item("tests/test_layers.py::test_relu")) == set()


def test_the_slow_list_names_existing_test_modules():
    for prefix in root_conftest.SLOW_TESTS:
        assert (ROOT / prefix.partition("::")[0]).is_file(), f"conftest.py SLOW_TESTS: {prefix} is gone"
    assert root_conftest.is_slow(fake_item("tests/test_memory.py::test_peak"))
    assert not root_conftest.is_slow(fake_item("tests/test_layers.py::test_relu"))


def test_the_workflow_lints_and_tests_each_declared_python_with_make():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    job = workflow["jobs"]["test"]
    matrix = job["strategy"]["matrix"]["include"]
    assert {row["python"] for row in matrix} == {"3.11", "3.12", "3.13"}
    assert {"python": "3.11", "target": "test"} in matrix, "the full run on the oldest declared Python"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any(run.startswith("make lint") for run in runs)
    assert any(run.startswith("make ${{ matrix.target }}") for run in runs)
    for target in {row["target"] for row in matrix} | {"lint", "test-versions"}:
        assert re.search(rf"^{re.escape(target)}:", MAKEFILE, re.M), f"no make target {target}"
    requires = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert f"3.{requires[1]}" == min(matrix, key=lambda row: int(row["python"].split(".")[1]))["python"]
