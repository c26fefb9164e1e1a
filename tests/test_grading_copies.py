"""Copy detection measured (numbers in TEACHING.md, "Flags and manual grades"): realistic copies
of nnlib's answers (tests/copy_corpus.py: renamed, checks dropped, in-place steps folded) against
honest answers (the lessons' solutions and others written without nnlib).

Run with -s to see the rates: `pytest tests/test_grading_copies.py -s`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from nnlib.course import exercises
from nnlib.course.checks import grading
from nnlib.course.grading.audit import (
    MATH_COPY_RATIO,
    SAME_MATH,
    audit_source,
    reference_math,
    similarity,
)
from nnlib.course.grading.copies import math_tokens
from tests.copy_corpus import COPIES, HONEST
from tests.grading.classroom import solution_body
from tests.test_grading_audit import solutions


def _function(source: str, name: str) -> ast.FunctionDef:
    return next(node for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.FunctionDef) and node.name == name)


def _near(source: str, exercise: str) -> bool:
    return any("nnlib's" in reason and ("near-copy" in reason or "math of" in reason)
               for reason in audit_source(source, exercise))


def test_same_math_lists_exactly_the_exercises_whose_honest_answers_are_nnlib_s_math():
    """An exercise is in SAME_MATH when an honest answer (the lesson's own solution, or one of
    HONEST) has the math of one of nnlib's answers: there a copy and an honest answer cannot be
    told apart, so none is flagged."""
    honest = {name: [solution_body(source), *HONEST.get(name, [])] for name, source in solutions().items()}
    same = set()
    for known in exercises.all_exercises():
        for answer in honest[known.name]:
            mine = math_tokens(_function(answer, known.name))
            if any(similarity(mine, theirs) >= MATH_COPY_RATIO for _, theirs in reference_math(known.name)):
                same.add(known.name)
    assert same == set(SAME_MATH)


def test_rates_on_realistic_copies_and_honest_answers():
    copies = [(name, kind, source) for name, kinds in COPIES.items() for kind, source in kinds.items()]
    honest = [(name, source) for name, sources in HONEST.items() for source in sources]
    honest += [(name, solution_body(source)) for name, source in solutions().items()]
    flagged_copies = [(name, kind) for name, kind, source in copies if _near(source, name)]
    flagged_honest = [name for name, source in honest if _near(source, name)]
    told = [(name, kind) for name, kind, _ in copies if name not in SAME_MATH]
    print(f"\ncopies flagged: {len(flagged_copies)} of {len(copies)} "
          f"({len([c for c in flagged_copies if c in told])} of {len(told)} outside SAME_MATH); "
          f"honest answers flagged: {len(flagged_honest)} of {len(honest)}")
    print("not flagged:", sorted({name for name, _ in told} - {name for name, _ in flagged_copies}))
    assert flagged_honest == []
    assert len(flagged_copies) >= 8  # measured: 8 (TEACHING.md)
    for name in ("top_confident_mistakes", "adam_step", "numerical_gradient", "dropout_forward",
                 "l2_penalty"):
        assert all(_near(source, name) for source in COPIES[name].values()), name


def test_a_verbatim_short_function_is_flagged_where_it_is_distinctive():
    source = textwrap.dedent(inspect.getsource(grading.resolve("nnlib.course.plots:most_confident_mistakes")))
    verbatim = source.replace("def most_confident_mistakes", "def top_confident_mistakes")
    assert any("math of nnlib's nnlib.course.plots.most_confident_mistakes" in reason
               for reason in audit_source(verbatim, "top_confident_mistakes"))


def test_an_honest_counter_is_not_flagged():
    assert audit_source(HONEST["count_labels"][0], "count_labels") == []
