"""Shared machinery of the bad-input tests (tests/test_bad_input_*.py) and their tally.

Each test module holds a table `CASES` of `Case`s (or `CliCase`s): one bad input or fault each, the
failure it must cause (exception type and key words, or exit code and key words on stderr) and,
where work could be lost, a check that it was not. `outcome` runs a case and classifies it:

- "clear": the expected failure, in one line that holds the key words;
- "ok": a case that must not fail (error None: e.g. a magic line gather must skip) did not, and
  its `kept` check holds;
- "unclear": the expected failure type, but several lines or without the key words;
- "silent": no failure where one was due;
- "lost": whatever the message, something that should have been kept was not;
- "crash": another exception type escaped, or a traceback was printed.

The tests assert "clear" or "ok" for every case; `tests/bad_input_tally.py` prints the counts.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OUTCOMES = ("clear", "ok", "unclear", "silent", "lost", "crash")


@dataclass(frozen=True)
class Case:
    """An API call that must raise `error` with all `words` (case-insensitive) in a one-line message
    (`error` None: that must succeed)."""

    name: str
    run: Callable[[Path], Any]  # gets a fresh temporary folder
    error: type[BaseException] | tuple[type[BaseException], ...] | None
    words: tuple[str, ...]
    kept: Callable[[Path], bool] | None = None  # True when nothing was lost


@dataclass(frozen=True)
class CliCase:
    """`python -m nnlib ARGV` (in-process, `{tmp}` and `{data}` filled in) must exit with `code`,
    print at most `max_lines` lines on stderr, and name all `words` there."""

    name: str
    argv: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    max_lines: int = 1
    setup: Callable[[Path], None] | None = None
    kept: Callable[[Path], bool] | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScenarioCase:
    """A fault played out (e.g. a real SIGINT to a child process): `run(tmp)` returns (exit code,
    stderr); judged like a `CliCase`."""

    name: str
    run: Callable[[Path], tuple[int, str]]
    code: int
    words: tuple[str, ...]
    max_lines: int = 1
    kept: Callable[[Path], bool] | None = None


def _words_in(message: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w.lower() not in message.lower()]


def outcome(case: Case | CliCase, tmp_path: Path) -> tuple[str, str]:
    """(classification, explanation) of running `case` in `tmp_path`."""
    if isinstance(case, CliCase | ScenarioCase):
        return _cli_outcome(case, tmp_path)
    try:
        with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            case.run(tmp_path)
    except BaseException as err:  # noqa: BLE001 - KeyboardInterrupt too: it must not escape either
        message = str(err)
        missing = _words_in(message, case.words)
        if case.error is None or not isinstance(err, case.error):
            kind, why = "crash", f"raised {type(err).__name__}: {message[:200]}"
        elif missing or "\n" in message.strip():
            kind, why = "unclear", f"message lacks {missing} or is not one line: {message[:300]}"
        else:
            kind, why = "clear", message
    else:
        kind, why = ("ok", "no error, as it should") if case.error is None else ("silent", "no error")
    if not _kept(case, tmp_path):
        kind, why = "lost", f"something was lost ({why})"
    return kind, why


def _kept(case: Case | CliCase | ScenarioCase, tmp_path: Path) -> bool:
    """The case's check that nothing was lost; a file it cannot even read counts as lost."""
    if case.kept is None:
        return True
    try:
        return bool(case.kept(tmp_path))
    except (OSError, ValueError, KeyError, IndexError):
        return False


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`python -m nnlib` in this process: (exit code, stdout, stderr)."""
    from nnlib.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), np.errstate(all="ignore"):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as error:  # noqa: BLE001 - an escaped exception is a finding, not a crash
            import traceback

            err.write("Traceback (most recent call last):\n" + "".join(traceback.format_exception(error)))
            code = 1
    return code, out.getvalue(), err.getvalue()


def _cli_outcome(case: CliCase | ScenarioCase, tmp_path: Path) -> tuple[str, str]:
    if isinstance(case, ScenarioCase):
        code, stderr = case.run(tmp_path)
    else:
        data = tmp_path / "tiny.npz"
        if not data.exists():
            write_tiny_bundle(data)
        if case.setup is not None:
            case.setup(tmp_path)
        argv = [part.format(tmp=tmp_path, data=data) for part in case.argv]
        code, _, stderr = run_cli(argv)
    # argparse prints its usage line first: count the lines that are not the usage block
    lines = [line for line in stderr.splitlines() if line.strip()]
    error_lines = [line for line in lines if not line.startswith(("usage:", " "))]
    missing = _words_in(stderr, case.words)
    if code == 0 and case.code != 0:
        kind, why = "silent", "exit code 0"
    elif "Traceback" in stderr:
        kind, why = "crash", f"exit {code}, stderr: {stderr[-400:]}"
    elif code != case.code or len(error_lines) > case.max_lines or missing:
        kind, why = "unclear", f"exit {code}, missing {missing}, stderr: {stderr[-400:]}"
    elif case.code == 0:
        kind, why = "ok", "exit 0, as it should"
    else:
        kind, why = "clear", " | ".join(error_lines)
    if not _kept(case, tmp_path):
        kind, why = "lost", f"something was lost ({why})"
    return kind, why


def write_tiny_bundle(path: Path, train: int = 240, test: int = 60, seed: int = 0) -> Path:
    """A bundle in the course's format with random digits: enough for the command line to run."""
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, train).astype(np.uint8),
        x_test=rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, test).astype(np.uint8),
    )
    return path


def expected(case: Case | CliCase | ScenarioCase) -> str:
    """The outcome a case must have: "ok" for one that must succeed, "clear" for the others."""
    if isinstance(case, Case):
        return "ok" if case.error is None else "clear"
    return "ok" if case.code == 0 else "clear"


def case_id(case: Case | CliCase | ScenarioCase) -> str:
    return case.name
