"""Sentences about a lesson's runs, computed from their numbers, so that the text under a run
holds for every learner's pieces (a buggy piece can turn "better" into "worse").
"""

from __future__ import annotations


def change(now: float, before: float, fmt: str = ".3f", lower_is_better: bool = True) -> str:
    """How `now` compares with `before`, e.g. "lower (better): 0.143 against 0.173"."""
    if now == before:
        return f"the same: {now:{fmt}}"
    direction = "lower" if now < before else "higher"
    better = (now < before) == lower_is_better
    return f"{direction} ({'better' if better else 'worse'}): {now:{fmt}} against {before:{fmt}}"
