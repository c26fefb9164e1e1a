"""Lesson 07 fits in Binder's memory: executed headless, its kernel peaks under 1.5 GB.

Memory is dominated by the data and the three networks, not by the number of
epochs, so the lesson runs with NNLIB_EPOCHS=2 here (nbval runs it in full).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 1500
RUNNER = """
import resource, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}})
client.execute()
# The kernel is this process's child: its peak resident memory, in kB on Linux.
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def test_results_lesson_peaks_under_binder_limit():
    lesson = ROOT / "notebooks" / "07_results.ipynb"
    env = dict(os.environ, NNLIB_EPOCHS="2")
    env.pop("MPLBACKEND", None)
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(lesson), str(lesson.parent)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    peak_mb = int(done.stdout.strip().splitlines()[-1])
    print(f"peak memory of the 07_results kernel: {peak_mb} MB")
    assert 100 < peak_mb < LIMIT_MB, f"07_results peaked at {peak_mb} MB (limit {LIMIT_MB} MB)"
