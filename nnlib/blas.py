"""The layers' matrix products: NumPy's `@`, or SciPy's BLAS in the browser.

NumPy in Pyodide (the in-browser course) has no optimised BLAS; SciPy there is built against
OpenBLAS and runs the course's products 2-4x faster (benchmarks/browser_bench.py). Natively
NumPy's `@` already uses OpenBLAS. The backend: "scipy" in the browser, "numpy" elsewhere, or
the environment variable NNLIB_MATMUL ("numpy" / "scipy"), read at import.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np

BACKENDS = ("numpy", "scipy")
MATMUL_VARIABLE = "NNLIB_MATMUL"


def default_backend() -> str:
    setting = os.environ.get(MATMUL_VARIABLE, "").strip().lower()
    if setting and setting not in BACKENDS:
        raise ValueError(f"{MATMUL_VARIABLE} must be one of {', '.join(BACKENDS)}; got {setting!r}")
    return setting or ("scipy" if sys.platform == "emscripten" else "numpy")


BACKEND = default_backend()


@functools.cache
def _gemm() -> dict:
    from scipy.linalg.blas import dgemm, sgemm  # on first use: scipy.linalg takes a while to load

    return {np.dtype(np.float32): sgemm, np.dtype(np.float64): dgemm}


def _fortran(m: np.ndarray) -> tuple[np.ndarray, int]:
    """(f, trans): f Fortran-ordered, m = f (trans 0) or f.T (trans 1); a copy only if m is strided."""
    return (m, 0) if m.flags.f_contiguous else (m.T, 1) if m.flags.c_contiguous else (np.asfortranarray(m), 0)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *,
           backend: str | None = None) -> np.ndarray:
    """`a @ b`: a `(m, k)`, b `(k, n)` -> `(m, n)` C-ordered, into `out` if given. "scipy" takes two 2-D
    float32 (sgemm: stays float32) or float64 arrays, transposed views as BLAS flags (no copy);
    anything else (dtypes, shapes, empty, an `out` not C-ordered of the result's dtype and shape)
    goes to NumPy, errors and all."""
    backend = BACKEND if backend is None else backend
    if backend not in BACKENDS:
        raise ValueError(f"matmul: backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    gemm = None
    if (backend == "scipy" and isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.ndim == b.ndim == 2 and a.dtype == b.dtype and a.size and b.size and a.shape[1] == len(b)
            and (out is None or (isinstance(out, np.ndarray) and out.flags.c_contiguous
                                 and out.dtype == a.dtype and out.shape == (a.shape[0], b.shape[1])))):
        gemm = _gemm().get(a.dtype)
    if gemm is None:
        return np.matmul(a, b, out=out)
    # BLAS is column-major: the C-ordered (m, n) result is the Fortran-ordered (n, m) b^T a^T.
    (first, trans_first), (second, trans_second) = _fortran(b.T), _fortran(a.T)
    if out is None:
        return gemm(1.0, first, second, trans_a=trans_first, trans_b=trans_second).T
    # in place (beta = 0: out's old values, even NaN, are not read); were f2py to copy, copy back
    c = gemm(1.0, first, second, beta=0.0, c=out.T, trans_a=trans_first, trans_b=trans_second, overwrite_c=1)
    return out if np.shares_memory(c, out) else np.copyto(out, c.T) or out
