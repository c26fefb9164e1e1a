"""Run `python -m nnlib ARGS` in this process and press Ctrl-C (a real SIGINT to itself) at a chosen
moment, several times: `python -m tests.interrupt_moments MOMENT ARGS...` (tests/test_bad_input_signals.py).

The first press comes at the moment itself, in the main thread (so it lands exactly there); the others,
0.2 s apart, from a thread, as a learner pressing Ctrl-C again and again. Moments:

- first-run:        during the second epoch's validation of the first run (inside `fit`);
- between-runs:     during the final evaluation of the first run, after its training completed;
- writing-partial:  during the second run's training, then again while matplotlib is first imported to write
                    the partial results (the crash of issue 27: a half-imported matplotlib);
- writing-complete: while matplotlib is first imported to write the complete results.

matplotlib must not be imported here before the command writes: that import is one of the moments.
"""

from __future__ import annotations

import importlib.abc
import os
import signal
import sys
import threading
import time

import nnlib.experiments
import nnlib.train
from nnlib.__main__ import main

PRESSES = 3


def press(more: int = PRESSES - 1) -> None:
    """Ctrl-C now, then `more` times 0.2 s apart."""

    def later() -> None:
        for _ in range(more):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=later, daemon=True).start()
    os.kill(os.getpid(), signal.SIGINT)


def on_call(module, name: str, call: int, action) -> None:
    """Run `action()` at the start of the `call`-th call of `module.name`."""
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            action()
        return real(*args, **kwargs)

    setattr(module, name, wrapper)


class OnImport(importlib.abc.MetaPathFinder):
    """Press Ctrl-C when `module` starts being imported (`times` presses, all inside that import)."""

    def __init__(self, module: str, times: int) -> None:
        self.module, self.times = module, times

    def find_spec(self, fullname, path, target=None):
        if fullname == self.module and self.times:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)
            self.times = 0
        return None  # the usual finders import it


def arrange(moment: str, epochs: int) -> None:
    if moment == "first-run":  # fit validates once per epoch
        on_call(nnlib.train, "evaluate", 2, press)
    elif moment == "between-runs":  # train_run evaluates train, val and test after fit
        on_call(nnlib.experiments, "evaluate", 1, press)
    elif moment == "writing-partial":
        on_call(nnlib.train, "evaluate", epochs + 2, lambda: press(more=0))
        sys.meta_path.insert(0, OnImport("matplotlib.cbook", PRESSES - 1))
    elif moment == "writing-complete":
        sys.meta_path.insert(0, OnImport("matplotlib.cbook", PRESSES))
    else:
        raise SystemExit(f"unknown moment {moment!r}")


if __name__ == "__main__":
    if "matplotlib" in sys.modules:
        raise SystemExit("matplotlib is imported already: the writing moments would not be tested")
    moment, argv = sys.argv[1], sys.argv[2:]
    arrange(moment, int(argv[argv.index("--epochs") + 1]))
    sys.exit(main(argv, keep_handlers=True))
