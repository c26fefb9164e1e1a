"""Ctrl-C and SIGTERM for the command line (`python -m nnlib`): one press stops the whole command cleanly,
and more presses cannot break it, whenever they come.

- While Python imports nnlib (the first second): the command ends at once, exit code 130, nothing written.
- During training (anywhere inside `nnlib.train.fit`): the press raises KeyboardInterrupt there; `fit` keeps
  the completed epochs and returns.
- Anywhere else (loading the data, evaluating, importing matplotlib, writing): the press is noted and acts
  where it is safe: at once if training starts meanwhile, else at the command's next check. An exception
  raised in the middle of an import leaves a half-initialised module behind (matplotlib then fails with
  "has no attribute 'get_data_path'"), so it is never raised there.
- Once the command is stopping, further presses are counted, never raised: the completed part is written
  whole.

Only the command installs these handlers; `import nnlib` in a notebook or a script changes nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterable
from types import CodeType, FrameType

# How often a noted press looks again whether training has started (seconds).
RECHECK = 0.05


def started_as_command(argv: list[str] | None = None) -> bool:
    """True while `python -m nnlib` imports the package (runpy sets sys.argv[0] to "-m" until then)."""
    argv = list(getattr(sys, "orig_argv", [])) if argv is None else argv
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return sys.argv[:1] == ["-m"] and any((a, b) == ("-m", "nnlib") or a == "-mnnlib" for a, b in pairs)


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"stopped (interrupted) while starting: nothing was trained or written\n")
    os._exit(128 + signum)  # nothing to clean up yet; an exception here would break an import half-way


def stop_cleanly_while_starting() -> None:
    """Under `python -m nnlib`, Ctrl-C (or SIGTERM) before the command has started ends it with exit code
    130 (143) and one line, instead of a traceback from inside NumPy's import."""
    if started_as_command():
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # a background job's ignored Ctrl-C stays so
                signal.signal(signum, _stop_while_starting)


class StopRequests:
    """Ctrl-C and SIGTERM while the command runs (see the module docstring).

    `requested`: a press came; the command checks it between its steps (`stop_here()`), and calls
    `settle()` once it is stopping, after which no press raises. `signals` lists what came, in order."""

    def __init__(self, interruptible: Iterable[CodeType] | None) -> None:
        self.interruptible = None if interruptible is None else frozenset(interruptible)
        self.signals: list[int] = []
        self.raised = False
        self.settled = False
        self._told = False

    @property
    def requested(self) -> bool:
        return bool(self.signals)

    @property
    def terminated(self) -> bool:
        """True if a SIGTERM (not a Ctrl-C) came: the exit code is then 143."""
        return signal.SIGTERM in self.signals

    def settle(self) -> None:
        """The command is stopping (or done): from now on presses are only counted."""
        self.settled = True
        _arm(0.0)

    def stop_here(self) -> bool:
        """At a check between the command's steps: True (and settled) if a press came."""
        if self.requested:
            self.settle()
        return self.requested

    def _inside_training(self, frame: FrameType | None) -> bool:
        if self.interruptible is None:  # a command that may stop anywhere
            return True
        while frame is not None:
            if frame.f_code in self.interruptible:
                return True
            frame = frame.f_back
        return False

    def _raise_if_training(self, frame: FrameType | None) -> None:
        if self._inside_training(frame):
            self.raised = True
            _arm(0.0)
            raise KeyboardInterrupt
        _arm(RECHECK)  # look again soon: training may start before the command's next check

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        if len(self.signals) > 1 and not self._told:
            self._told = True
            os.write(2, b"already stopping: the completed part is written first; more presses are ignored\n")
        if not (self.raised or self.settled):
            self._raise_if_training(frame)

    def on_recheck(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and not (self.raised or self.settled):
            self._raise_if_training(frame)


def _arm(seconds: float) -> None:
    if hasattr(signal, "setitimer"):  # not on Windows: there a noted press waits for the next check
        signal.setitimer(signal.ITIMER_REAL, seconds)


def install(interruptible: Iterable[CodeType] | None) -> tuple[StopRequests, Callable[[], None]]:
    """Handle SIGINT and SIGTERM with a `StopRequests` that raises KeyboardInterrupt only inside the code
    objects `interruptible` (None: anywhere); return it and a function that puts the previous
    handlers back. Outside the main thread nothing is installed (Python delivers signals there only) and the
    StopRequests never sees a press."""
    stops = StopRequests(interruptible)
    wanted = {signal.SIGINT: stops.on_signal, signal.SIGTERM: stops.on_signal}
    if hasattr(signal, "SIGALRM"):
        wanted[signal.SIGALRM] = stops.on_recheck
    try:
        previous = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()
                    if signal.getsignal(signum) is not signal.SIG_IGN}  # a background job's stays ignored
    except ValueError:  # not the main thread
        return stops, lambda: None

    def restore() -> None:
        _arm(0.0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return stops, restore
