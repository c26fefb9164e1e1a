"""One BLAS thread by default, wherever nnlib runs (make, plain Jupyter, nbgrader, Binder).

NumPy hands matrix products to a BLAS library (OpenBLAS, MKL, ...) that starts one thread per core it sees.
For the course's small network one thread is about as fast, keeps timings and results repeatable, and avoids
oversubscription: on a busy 2-core machine an unpinned lesson ran seven times slower, and on Binder OpenBLAS
sees the host's dozens of cores while the session gets one or two.

`import nnlib` calls `limit_blas_threads()`. The environment variable `NNLIB_BLAS_THREADS` chooses another
count (`NNLIB_BLAS_THREADS=2`), or `auto` to leave the libraries' own choice. When it is not set but one of
the usual variables (`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS`) is, that choice is
respected: the libraries read those themselves when they load.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

import numpy  # noqa: F401  (loads NumPy's BLAS, so that threadpoolctl can find and limit it)
from threadpoolctl import threadpool_limits

THREADS_VARIABLE = "NNLIB_BLAS_THREADS"
DEFAULT_THREADS = 1
# Read by the BLAS and OpenMP libraries when they load.
LIBRARY_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
AUTO = "auto"


def chosen_thread_count(environ: MutableMapping[str, str] | None = None) -> int | None:
    """The thread count nnlib should set, or None to leave the libraries alone."""
    environ = os.environ if environ is None else environ
    value = environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        if any(environ.get(name, "").strip() for name in LIBRARY_VARIABLES):
            return None  # somebody chose already; the libraries have read it
        return DEFAULT_THREADS
    if value.lower() == AUTO:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{THREADS_VARIABLE}={value!r}: expected a whole number of threads (1, 2, ...) "
            f"or '{AUTO}' to let BLAS choose; unset it for the default of {DEFAULT_THREADS}"
        )
    return int(value)


def limit_blas_threads(environ: MutableMapping[str, str] | None = None) -> int | None:
    """Limit BLAS and OpenMP to the chosen thread count; return it (None: left alone).

    Libraries already loaded (NumPy's BLAS) are limited through threadpoolctl; the usual variables are set
    too (when unset), for libraries loaded later (SciPy's own OpenBLAS under scikit-learn) and for the
    processes this one starts.
    """
    environ = os.environ if environ is None else environ
    count = chosen_thread_count(environ)
    if count is not None:
        for name in LIBRARY_VARIABLES:
            environ.setdefault(name, str(count))
        threadpool_limits(limits=count)
    return count
