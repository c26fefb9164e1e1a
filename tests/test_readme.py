"""The README's promises: two commands, working Binder links, the measured table."""

from __future__ import annotations

import re
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


def test_results_table_is_the_measured_one():
    measured = (ROOT / "results" / "results.md").read_text().strip().splitlines()
    for row in measured[2:]:
        assert row in README, f"README lacks the measured row {row!r} (copy results/results.md)"


def test_lesson_links_exist():
    for link in re.findall(r"\]\((notebooks/[\w.-]+\.ipynb)\)", README):
        assert (ROOT / link).exists(), link
