"""`import nnlib` pins BLAS to one thread however Python was started (plain Jupyter,
nbgrader, Binder), and NNLIB_BLAS_THREADS chooses another count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nnlib.threads import LIBRARY_VARIABLES, THREADS_VARIABLE, chosen_thread_count

PROBE = (
    "import json, nnlib, threadpoolctl; "
    "print(json.dumps([p['num_threads'] for p in threadpoolctl.threadpool_info()"
    " if p['user_api'] == 'blas']))"
)


def blas_threads_in_fresh_interpreter(**variables: str) -> list[int]:
    """BLAS thread counts after `import nnlib` in a new Python with no thread variables but `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in (*LIBRARY_VARIABLES, THREADS_VARIABLE)}
    env.update(variables)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts, "no BLAS library found after importing nnlib"
    return counts


def test_import_pins_blas_to_one_thread_without_any_variable():
    assert set(blas_threads_in_fresh_interpreter()) == {1}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: BLAS would start one thread anyway")
def test_without_nnlib_blas_would_use_more_threads():
    """The probe can fail: with the pin switched off, OpenBLAS starts one thread per core."""
    assert max(blas_threads_in_fresh_interpreter(**{THREADS_VARIABLE: "auto"})) > 1


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two threads need two cores to be told apart from one")
def test_nnlib_variable_chooses_another_count():
    assert set(blas_threads_in_fresh_interpreter(**{THREADS_VARIABLE: "2"})) == {2}


def test_the_usual_variables_are_respected_when_nnlib_is_not_told():
    assert chosen_thread_count({"OMP_NUM_THREADS": "3"}) is None
    assert chosen_thread_count({"OMP_NUM_THREADS": "3", THREADS_VARIABLE: "2"}) == 2
    assert chosen_thread_count({}) == 1
    assert chosen_thread_count({THREADS_VARIABLE: "auto"}) is None


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_count_is_a_clear_error(value):
    with pytest.raises(ValueError, match=f"{THREADS_VARIABLE}=.*whole number"):
        chosen_thread_count({THREADS_VARIABLE: value})
