"""pytest configuration for the notebooks (nbval over notebooks/ and exercises/), and the
markers that apply to every test: one per lesson (`pytest -m lesson03`) and `slow` (left out
of `make test-fast`).

tests/conftest.py configures the unit tests; a conftest there does not reach the notebooks.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) or \
    sorted(p.stem for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))  # a student copy
# Test modules about given lessons; a test whose id names a lesson ("03_backprop") gets that
# lesson's marker too. A lesson's marker selects its notebook, its student version and these.
LESSON_TEST_MODULES = {
    "test_checks_00_02.py": ("00", "01", "02"),
    "test_checks_03_05.py": ("03", "04", "05"),
    "test_checks_06_07.py": ("06", "07"),
    "test_lesson_07_interrupted.py": ("07",),
}
# Out of the fast tier (`make test-fast`, under 2 minutes on two cores) besides the notebooks:
# the tests that took 2 s or more there (`pytest tests --durations=80`): kernels, JupyterLab,
# child trainings and full CLI runs. Node-id prefixes; a stale one is reported as a warning.
SLOW_TESTS = (
    "tests/test_memory.py::",
    "tests/test_lesson_07_interrupted.py::",
    "tests/test_bad_input_signals.py::",
    "tests/test_make_lab.py::",
    "tests/test_plots.py::test_two_threads_draw_at_once",
    "tests/test_bad_input_special_files.py::test_special_files_are_never_replaced_or_read[two train runs",
    "tests/test_bad_input_special_files.py::test_special_files_are_never_replaced_or_read[reproduce on a",
    "tests/test_selfcheck.py::test_the_self_check_runs_the_notebook_in_grading_mode",
    "tests/test_selfcheck.py::test_a_changed_or_deleted_check_changes_nothing",
    "tests/test_selfcheck.py::test_the_self_check_flags_what_grading_flags",
    "tests/test_selfcheck.py::test_an_endless_or_kernel_killing_cell",
    "tests/test_selfcheck.py::test_make_check_my_work_ends_with_a_sentence_and_no_kernel_warning",
    "tests/test_grading_report.py::test_the_report_names_everyone_who_needs_help",
    "tests/test_grading_copies.py::",
    "tests/test_honest_verdicts.py::test_reference_answers_train_with_the_learners_step_to_97_percent",
    "tests/test_bad_input_student_copy.py::test_bad_target_is_one_line_and_writes_nothing"
    "[make exercises on a full disk]",
    "tests/test_bad_input_student_copy.py::test_bad_target_is_one_line_and_writes_nothing"
    "[student-copy to a full disk]",
    "tests/test_bad_input_checkers.py::test_the_endless_loop_cases_end_when_sigint_is_ignored",
    "tests/test_assemble.py::test_short_run_histories_agree_within_tolerance",
    "tests/test_environment.py::test_building_nnlib_prints_no_deprecation_warning",
)
SLOW_FIXTURES = frozenset({"train_run"})  # test_cli.py's real `python -m nnlib train`


# A checker's module names its lessons: nnlib.course.checks.lesson_03, ...lessons_00_02.
CHECKS_MODULE = re.compile(r"nnlib\.course\.checks\.lessons?_(\d\d)(?:_(\d\d))?$")


def lessons_of(item: pytest.Item) -> set[str]:
    """The two-digit numbers of the lessons `item` tests."""
    if item.path.suffix == ".ipynb":
        return {item.path.stem[:2]}
    found = set()
    for value in getattr(getattr(item, "callspec", None), "params", {}).values():
        module = CHECKS_MODULE.match(getattr(value, "__module__", None) or "")
        if module:  # a test parametrized by checkers: their lessons, not the whole module's
            first, last = int(module[1]), int(module[2] or module[1])
            found.update(f"{number:02d}" for number in range(first, last + 1))
    found = found or set(LESSON_TEST_MODULES.get(item.path.name, ()))
    found.update(lesson[:2] for lesson in LESSONS if lesson in item.nodeid)
    return found


def pytest_configure(config: pytest.Config) -> None:
    for lesson in LESSONS:
        config.addinivalue_line("markers", f"lesson{lesson[:2]}: {lesson}'s notebooks and its tests")
    config.addinivalue_line("markers", "slow: left out of `make test-fast` (notebooks, kernels, full runs)")


def is_slow(item: pytest.Item) -> bool:
    return (item.path.suffix == ".ipynb" or item.nodeid.startswith(SLOW_TESTS)
            or not SLOW_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    modules = {item.nodeid.partition("::")[0] for item in items}
    for prefix in SLOW_TESTS:  # renamed or removed tests would slip back into the fast tier
        if prefix.partition("::")[0] in modules and not any(i.nodeid.startswith(prefix) for i in items):
            warnings.warn(pytest.PytestConfigWarning(f"conftest.py SLOW_TESTS: no test matches {prefix!r}"),
                          stacklevel=1)
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
        # The browser and grading tests keep to their own make targets: `-m lesson03` stays
        # the quick loop over one lesson.
        if item.get_closest_marker("browser") or item.get_closest_marker("grading"):
            continue
        for number in sorted(lessons_of(item)):
            item.add_marker(getattr(pytest.mark, f"lesson{number}"))

# The student notebooks are tested for running top to bottom unfilled (every piece borrowed
# from nnlib); how well the network learns is the lessons' job (notebooks/, full length).
# Their kernels start during the first cell's setup and inherit this process's environment,
# so a short run is set just before and undone for the lessons.
STUDENT_EPOCHS = "2"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    is_student_notebook = item.path.suffix == ".ipynb" and item.path.parent.name == "exercises"
    if is_student_notebook and "NNLIB_EPOCHS" not in os.environ:
        os.environ["NNLIB_EPOCHS"] = STUDENT_EPOCHS
        item.config.stash[_SET_EPOCHS] = True
    elif not is_student_notebook and item.config.stash.get(_SET_EPOCHS, False):
        del os.environ["NNLIB_EPOCHS"]
        item.config.stash[_SET_EPOCHS] = False


_SET_EPOCHS = pytest.StashKey[bool]()
