"""Shared configuration of the nnlib unit tests: one BLAS thread, the data loaded once."""

from __future__ import annotations

import os

# Repeatable numbers and no oversubscription on a 2-core machine (as in the Makefile).
# These only take effect if NumPy has not been imported yet; threadpoolctl below covers the rest.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from nnlib.course.checks import STRICT_VARIABLE  # noqa: E402
from nnlib.data import MNIST, load_mnist  # noqa: E402
from nnlib.datafiles import load_raw  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Agg in this process only: an MPLBACKEND variable would leak into the notebook kernels
# that nbval and the browser test start, and hide their figures.
matplotlib.use("Agg")


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def mnist() -> MNIST:
    """The bundled MNIST as `load_mnist()` returns it (about 1 s, so once per session)."""
    return load_mnist()


@pytest.fixture(scope="session")
def raw_mnist() -> dict[str, np.ndarray]:
    """The bundle as stored (uint8, 28x28), to check `load_mnist` against."""
    return load_raw()


@pytest.fixture(scope="session")
def corrupted_bundle(tmp_path_factory) -> Path:
    """A copy of data/mnist.npz with one byte changed in the middle."""
    data = bytearray((REPO / "data" / "mnist.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path_factory.mktemp("corrupted") / "mnist.npz"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def graded(monkeypatch):
    """What nbgrader's autograde sets in the kernel's environment (the checkers' grading mode)."""
    monkeypatch.delenv(STRICT_VARIABLE, raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")


@pytest.fixture
def scipy_gemm_calls(monkeypatch):
    """nnlib's matrix products through SciPy's BLAS (as in the browser); the list of gemm calls
    (the dtype of each)."""
    from nnlib import blas

    calls = []
    real = blas._gemm()

    def counted(dtype):
        def gemm(*args, **kwargs):
            calls.append(dtype)
            return real[dtype](*args, **kwargs)
        return gemm

    monkeypatch.setattr(blas, "BACKEND", "scipy")
    monkeypatch.setattr(blas, "_gemm", lambda: {dtype: counted(dtype) for dtype in real})
    return calls


@pytest.fixture(scope="session")
def pristine_exercises(tmp_path_factory) -> Path:
    """The student notebooks as `make exercises` makes them from the lessons, in a folder of their own:
    tests that need unfilled exercises read these, so a learner's work in exercises/ changes no test."""
    from nnlib.course.student_versions import write_exercises

    folder = tmp_path_factory.mktemp("exercises")
    write_exercises(REPO / "notebooks", folder)
    return folder
