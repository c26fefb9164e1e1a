"""The README's promises: two commands, working Binder links, the reference table, a clean tree."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BINDER = re.compile(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/[\w.-]+\?urlpath=lab/tree/([\w./-]+)")


def test_quick_start_is_two_commands():
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_binder_links_open_the_student_and_the_lesson_notebooks():
    targets = BINDER.findall(README)
    assert "exercises/00_start_here.ipynb" in targets and "notebooks" in targets, targets
    for target in targets:
        assert (ROOT / target).exists(), f"Binder link points at {target}, which does not exist"


def test_results_table_is_the_committed_reference_run():
    """The README's table is the committed reference in results/ (`make reference`), never a learner's run."""
    reference = (ROOT / "results" / "results.md").read_text().strip().splitlines()
    assert len(reference) >= 5, "results/results.md has no table"
    for row in reference[2:]:
        assert row in README, (
            f"README lacks the reference row {row!r}: maintainers, after `make reference`, "
            "copy the table of results/results.md into README.md"
        )


def make_dry_run(target: str, *variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "--no-print-directory", "-n", target, *variables], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_make_run_writes_only_into_a_folder_git_ignores():
    command = make_dry_run("run").split()
    assert "--out" in command, f"`make run` runs {command}: its output folder must be explicit"
    out = command[command.index("--out") + 1]
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{out}/results.md"], cwd=ROOT)
    assert ignored.returncode == 0, f"`make run` writes to {out}/, which git does not ignore"
    assert "--epochs 2" in make_dry_run("run", "EPOCHS=2")


def test_make_test_runs_one_process_per_core_up_to_four(monkeypatch):
    """Whatever OMP_NUM_THREADS says: the Makefile exports 1 to its sub-makes (`make test-versions`),
    and `nproc` would count that variable."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for threads in ("1", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        command = make_dry_run("test").split()
        assert command[command.index("-n") + 1] == str(min(cores, 4)), f"OMP_NUM_THREADS={threads}: {command}"
    assert "-n 0" in make_dry_run("test", "TEST_JOBS=0")


def test_readme_says_how_to_choose_blas_threads_and_how_much_results_vary():
    assert "NNLIB_BLAS_THREADS" in README
    assert "few hundredths of a percent" in README and "seeds" in README


def test_benchmark_details_live_in_benchmarks_readme():
    section = README.split("## Benchmark", 1)[1].split("\n## ", 1)[0]
    assert "benchmarks/README.md" in section and len(section) < 400, "the README keeps one line and a link"
    assert "SkylakeX" in (ROOT / "benchmarks" / "README.md").read_text()


def test_lesson_links_exist():
    for link in re.findall(r"\]\((notebooks/[\w.-]+\.ipynb)\)", README):
        assert (ROOT / link).exists(), link


def _lines(name: str) -> int:
    return len((ROOT / "nnlib" / name).read_text().splitlines())


def test_reading_nnlib_lists_every_core_file_with_its_line_count():
    """The "Reading nnlib" tables name every nnlib/*.py (but __init__) with its line count: exact for
    the reading path (and its total in the text), within 10% for the harness (a row with several
    files gives their total)."""
    from .test_layout import READING_PATH

    section = README.split("## Reading nnlib", 1)[1].split("\n## ", 1)[0]
    reading = {f"{name}.py" for name in READING_PATH}
    listed = set()
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        if len(cells) != 4 or not cells[2].isdigit():
            continue
        files = re.findall(r"\[`(\w+\.py)`\]", cells[1])
        actual = sum(_lines(name) for name in files)
        slack = 0 if set(files) <= reading else max(10, actual // 10)
        assert abs(actual - int(cells[2])) <= slack, f"{files}: README {cells[2]}, files {actual}"
        listed.update(files)
    core = {path.name for path in (ROOT / "nnlib").glob("*.py")} - {"__init__.py"}
    assert listed == core, f"not listed: {sorted(core - listed)}; gone: {sorted(listed - core)}"
    total = sum(_lines(name) for name in reading)
    assert f"is {total:,} lines" in section, f"README's reading path total is not {total:,} lines"
