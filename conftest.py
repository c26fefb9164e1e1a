"""pytest configuration for the notebooks (nbval over notebooks/ and exercises/).

tests/conftest.py configures the unit tests; a conftest there does not reach the notebooks.
"""

from __future__ import annotations

import os

import pytest

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
