"""Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written file.

Each write goes to a hidden temporary file beside the target, `.<name>.<random>.tmp`, which is
renamed over the target only when complete. What is cleaned up, and what can remain:

- An exception, Ctrl-C (KeyboardInterrupt), or SIGTERM sent to `python -m nnlib` (which turns it
  into an exception) removes the temporary file at once; the target keeps its old content.
- A kill that Python cannot see (`kill -9`, a power cut, the machine running out of memory) leaves
  one temporary file behind. The next save of the same target removes such leftovers: files of
  exactly that naming pattern last modified before the current process started (so a concurrent
  writer's file in progress is never touched). Until then, at most one leftover per killed save
  remains; they are hidden files and can be deleted by hand at any time.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# When this process started, as far as files are concerned: temporary files older than this
# were left by an earlier process (killed mid-write), never by this one.
_PROCESS_STARTED = time.time()
_TMP_SUFFIX = ".tmp"


def _leftover_pattern(target: Path) -> re.Pattern:
    """`.<name>.<mkstemp's 8 random characters>.tmp`, the names `atomic_write` gives its temporary files."""
    return re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}" + re.escape(_TMP_SUFFIX))


def remove_leftover_temporaries(target: str | os.PathLike) -> list[Path]:
    """Delete temporary files that an earlier, killed save of `target` left beside it; return them.

    Only our own naming pattern, and only files last modified before this process started.
    """
    target = Path(target)
    pattern = _leftover_pattern(target)
    removed = []
    try:
        candidates = list(target.parent.iterdir())
    except OSError:  # the folder does not exist (yet) or cannot be listed: nothing to clean
        return removed
    for candidate in candidates:
        if not pattern.fullmatch(candidate.name):
            continue
        try:
            if candidate.is_file() and candidate.stat().st_mtime < _PROCESS_STARTED:
                candidate.unlink()
                removed.append(candidate)
        except OSError:  # vanished meanwhile, or not ours to delete: leave it
            continue
    return removed


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; rename it over `path` on success.

    On any error (or KeyboardInterrupt) the temporary file is removed and `path`
    keeps its old content. The new file gets the usual permissions (0666 minus
    the umask), not mkstemp's private 0600.
    """
    if str(path) == "":
        raise ValueError("atomic_write: the path is empty; expected a file name")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; expected a file path to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftover_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)
