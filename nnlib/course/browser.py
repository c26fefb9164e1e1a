"""The course in the browser (JupyterLite's Pyodide kernel, `sys.platform == "emscripten"`).

Pyodide is CPython compiled to WebAssembly (wasm32), run by the browser: no threads, no
native BLAS speed-ups, a 32-bit index type, and a file system (JupyterLite's drive, /drive)
that is the browser's storage. `adapt()` smooths the differences a learner would otherwise
meet as confusing errors or noise; `nnlib.course` calls it on import, in the browser only:

- `np.bincount` of int64 labels: NumPy's index type is int32 on wasm32 and bincount refuses
  to cast int64 to it ("Cannot cast array data from dtype('int64') to dtype('int32')"), so the
  course's own answer to exercise 0.2 failed its check. A wrapper casts integer input that fits
  (every label array of the course) and leaves anything else to NumPy's own error.
- Matplotlib builds its font cache once per browser session (about 10 s) and says so on
  stderr, which a notebook shows like an error: the cache is built here, with a plain note.
- tqdm starts a monitor thread for every progress bar; the browser has no threads, so tqdm
  warned on stderr at each training run (TqdmMonitorWarning). The monitor is switched off.
  And `tqdm.auto` recognises a notebook by IPython's kernel app, which the browser's kernel
  does not have: it drew text bars on stderr (pink, like an error). In a notebook it now gives
  the widget progress bar, as locally.
- The shorter training: `nnlib.train.lesson_epochs(full, browser=n)` gives `n` epochs in the
  browser, what fits in the lesson's Run All of about 3 minutes (the lesson's "In the browser"
  note says how many and what they reach); a learner can ask for another number in a cell:
  `os.environ["NNLIB_EPOCHS"] = "5"`.
- Your `x @ W`: NumPy's `@` has no optimised BLAS in the browser, SciPy's BLAS has
  (`nnlib.blas`), and nnlib's own layers use it. Your `linear_forward` and `linear_backward`
  run unchanged, but the arrays training hands them are `BlasOperand` views, whose `@` (and
  `np.matmul`) is `nnlib.blas.matmul`: the same numbers, 2-3x sooner. Everything else they do
  with them is plain NumPy and gives plain arrays. (`blas_operands`; natively they stay plain.)

What needs no adapting (checked by `make test-lite`): threadpoolctl finds no BLAS to limit and
leaves it; file writes go to the browser's storage.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable

import numpy as np

from nnlib import blas

IN_BROWSER = sys.platform == "emscripten"


def index_safe_bincount(bincount: Callable, index_type: type = np.intp) -> Callable:
    """`bincount` that accepts integer arrays wider than the platform's index type (int64 on
    wasm32, where `index_type` is int32) when every value fits; other input goes to `bincount`
    unchanged, errors and all. x `(n,)` integers >= 0 -> `(max(x) + 1 or minlength,)` counts."""

    @functools.wraps(bincount)
    def wrapper(x, /, weights=None, minlength=0):
        array = np.asarray(x)
        index = np.dtype(index_type)
        if (array.dtype.kind in "iu" and array.dtype.itemsize > index.itemsize
                and (array.size == 0 or (array.min() >= 0 and array.max() <= np.iinfo(index).max))):
            array = array.astype(index)
        return bincount(array, weights=weights, minlength=minlength)

    wrapper.__wrapped_for_browser__ = True
    return wrapper


class BlasOperand(np.ndarray):
    """A view of an array whose matrix product (`@`, `np.matmul`) is `nnlib.blas.matmul` through
    SciPy's BLAS; every other operation on it is NumPy's and returns plain arrays (views of it,
    such as `.T` or a slice, stay operands)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(map(_plain, inputs))
        if "out" in kwargs:
            kwargs["out"] = tuple(map(_plain, kwargs["out"]))
        if ufunc is np.matmul and method == "__call__" and set(kwargs) <= {"out"}:
            out = kwargs.get("out", (None,))
            return blas.matmul(*inputs, out=out[0] if len(out) == 1 else None, backend="scipy")
        return getattr(ufunc, method)(*inputs, **kwargs)


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, BlasOperand) else value


def blas_operands(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """`arrays` as `BlasOperand` views when nnlib's matrix products go through SciPy (the browser,
    or NNLIB_MATMUL=scipy), else unchanged."""
    if blas.BACKEND != "scipy":
        return arrays
    return tuple(a.view(BlasOperand) if type(a) is np.ndarray else a for a in arrays)


def build_font_cache() -> float:
    """Build matplotlib's font cache now, without its stderr warning; return the seconds it took."""
    started = time.monotonic()
    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import matplotlib.font_manager  # noqa: F401  (the import builds the cache when it is missing)
    finally:
        logger.setLevel(level)
    return time.monotonic() - started


def use_notebook_progress_bars() -> bool:
    """Make `tqdm.auto.tqdm` (what nnlib's training uses) the widget bar when running in a
    notebook kernel with ipywidgets; return whether it did."""
    try:
        from IPython import get_ipython
        from tqdm import auto, notebook
    except ImportError:
        return False
    if get_ipython() is None or notebook.IProgress is None:
        return False
    auto.tqdm, auto.trange = notebook.tqdm, notebook.trange
    return True


def adapt() -> None:
    """Apply the browser adaptations (see the module docstring). Idempotent; in the browser only."""
    if not IN_BROWSER:
        return
    if not getattr(np.bincount, "__wrapped_for_browser__", False):
        np.bincount = index_safe_bincount(np.bincount)
    from tqdm.std import tqdm

    tqdm.monitor_interval = 0  # no monitor thread (there are no threads); every bar class inherits this
    use_notebook_progress_bars()
    if "matplotlib.font_manager" not in sys.modules:
        seconds = build_font_cache()
        if seconds > 1:
            print(f"(In the browser: matplotlib set up its fonts, {seconds:.0f} s, once per session.)")
