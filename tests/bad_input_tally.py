"""Print the tally of the bad-input cases (clear, ok, unclear, silent, lost, crash: see tests/bad_input.py).
Runs every case of tests/test_bad_input_*.py (the same tables the tests assert on):

    .venv/bin/python tests/bad_input_tally.py          # counts per category and in total
    .venv/bin/python tests/bad_input_tally.py -v       # also every case that is not as expected
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.bad_input import OUTCOMES, expected, outcome  # noqa: E402

CATEGORIES = ("cli", "api", "data_files", "model_files", "signals", "checkers")
# The surfaces of the second round (issue "Bad input on the new surfaces").
NEW_CATEGORIES = ("gather", "pieces", "special_files", "student_copy", "old_gaps")


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    verbose = "-v" in argv
    as_expected = True
    print(f"{'category':<14} " + " ".join(f"{o:>8}" for o in OUTCOMES) + f" {'cases':>6}")
    for title, categories in (("old cases", CATEGORIES), ("new cases", NEW_CATEGORIES)):
        total = dict.fromkeys(OUTCOMES, 0)
        for category in categories:
            module = importlib.import_module(f"tests.test_bad_input_{category}")
            counts = dict.fromkeys(OUTCOMES, 0)
            for case in module.CASES:
                with tempfile.TemporaryDirectory() as folder:
                    kind, why = outcome(case, Path(folder))
                counts[kind] += 1
                as_expected &= kind == expected(case)
                if verbose and kind != expected(case):
                    print(f"  {kind}: {category}: {case.name}: {why}")
            for kind in OUTCOMES:
                total[kind] += counts[kind]
            row = " ".join(f"{counts[o]:>8}" for o in OUTCOMES)
            print(f"{category:<14} {row} {sum(counts.values()):>6}")
        print(f"{title:<14} " + " ".join(f"{total[o]:>8}" for o in OUTCOMES) + f" {sum(total.values()):>6}")
    return 0 if as_expected else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
