"""Atomic file writes (a crash or Ctrl-C mid-write never leaves a half-written file), output folder locks.

Each write goes to a hidden temporary file beside the target, `.<name>.<random>.tmp`, renamed over the
target only when complete, and only over a regular file (never a device or FIFO). What can remain:

- An exception, Ctrl-C (KeyboardInterrupt), or SIGTERM sent to `python -m nnlib` (which turns it into an
  exception) removes the temporary file at once; the target keeps its old content.
- A kill that Python cannot see (`kill -9`, a power cut, the machine running out of memory) leaves one
  temporary file behind. The next save of the same target removes such leftovers: files of exactly that
  naming pattern last modified before the current process started (so a concurrent writer's file in progress
  is never touched). They are hidden and can be deleted by hand.
"""

from __future__ import annotations

import os
import re
import stat
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

    Only our own naming pattern, and only files last modified before this process started."""
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

    On any error (or KeyboardInterrupt) the temporary file is removed and `path` keeps its old content. The
    new file gets the usual permissions (0666 minus the umask), not mkstemp's private 0600.
    """
    if str(path) == "":
        raise ValueError("atomic_write: the path is empty; expected a file name")
    target = Path(path)
    _make_folder_for(target)
    remove_leftover_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        if kind := kind_of(target):  # only a regular file is ever replaced, never a device or FIFO
            raise ValueError(f"{target} is {kind}; expected a file path to write (only files are replaced)")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _make_folder_for(target: Path) -> None:
    """Create the folders `target` goes in; a file where a folder is needed is named, not pathlib's
    FileExistsError (`save_model(model, "good.npz/x.npz")`)."""
    folder = target.absolute().parent
    nearest = folder
    while not nearest.exists() and nearest.parent != nearest:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise ValueError(f"cannot write {target}: {nearest} is {kind_of(nearest) or 'a file'}, not a folder; "
                         "choose a path in a folder")
    folder.mkdir(parents=True, exist_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def kind_of(path: Path) -> str:
    """"" for a regular file or a path that does not exist; else what it is ("a FIFO", ...)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return ""
    except OSError as err:  # e.g. a symlink loop
        return f"unreadable ({err.strerror})"
    kinds = {stat.S_IFREG: "", stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}
    return kinds.get(stat.S_IFMT(mode), "a device")


@contextmanager
def folder_lock(folder: Path, option: str = "--out") -> Iterator[None]:
    """Hold `folder/.nnlib.lock` while writing there: a second run gets a clear error, not a race."""
    lock, created = folder / ".nnlib.lock", not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise ValueError(f"{option}: another nnlib run is writing to {folder} (delete {lock.name} there "
                         f"if none is); choose another {option}") from None
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):  # a run that wrote nothing leaves no folder
            folder.rmdir()
