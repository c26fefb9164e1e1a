"""Print the tally of the bad-input cases: how many fail clearly, confusingly, silently wrong, or lose
something. Runs every case of tests/test_bad_input_*.py (the same tables the tests assert on):

    .venv/bin/python tests/bad_input_tally.py          # counts per category and in total
    .venv/bin/python tests/bad_input_tally.py -v       # also every case that is not clear
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.bad_input import OUTCOMES, outcome  # noqa: E402

CATEGORIES = ("cli", "api", "data_files", "model_files", "signals", "checkers")


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    verbose = "-v" in argv
    total = dict.fromkeys(OUTCOMES, 0)
    print(f"{'category':<12} " + " ".join(f"{o:>14}" for o in OUTCOMES) + f" {'cases':>6}")
    for category in CATEGORIES:
        module = importlib.import_module(f"tests.test_bad_input_{category}")
        counts = dict.fromkeys(OUTCOMES, 0)
        for case in module.CASES:
            with tempfile.TemporaryDirectory() as folder:
                kind, why = outcome(case, Path(folder))
            counts[kind] += 1
            if verbose and kind != "clear":
                print(f"  {kind}: {category}: {case.name}: {why}")
        for kind in OUTCOMES:
            total[kind] += counts[kind]
        row = " ".join(f"{counts[o]:>14}" for o in OUTCOMES)
        print(f"{category:<12} {row} {sum(counts.values()):>6}")
    print(f"{'total':<12} " + " ".join(f"{total[o]:>14}" for o in OUTCOMES) + f" {sum(total.values()):>6}")
    return 0 if total["clear"] == sum(total.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
