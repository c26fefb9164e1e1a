"""Special files and shared output folders: no command or function replaces (or reads forever from) a
device, FIFO, socket or folder; one run at a time writes an output folder; a multi-file result is
written all or nothing. Every attack uses FIFOs, sockets and folders made here in a temporary folder,
never a real device (see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnlib.data import load_mnist
from nnlib.files import atomic_write, folder_lock, write_text_atomic
from nnlib.modelfiles import load_model, save_model
from nnlib.network import mlp
from nnlib.train import History
from tests.bad_input import Case, CliCase, ScenarioCase, case_id, expected, outcome, write_tiny_bundle

REPO = Path(__file__).resolve().parent.parent
TRAIN = ("--data", "{data}", "train", "--optimizer", "sgd", "--epochs", "1", "--no-progress")
REPRODUCE = ("--data", "{data}", "reproduce", "--epochs", "1", "--no-progress")
COMPLETE = "| SGD | complete earlier result |\n"
HISTORIES = '[{"earlier": true}]'


def fifo(name: str):
    def setup(tmp: Path) -> None:
        os.mkfifo(tmp / name)

    return setup


def still_fifo(name: str):
    return lambda tmp: stat.S_ISFIFO(os.stat(tmp / name).st_mode)


def unix_socket(name: str):
    def setup(tmp: Path) -> None:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(tmp / name))
        server.close()  # the socket file stays

    return setup


def still_socket(name: str):
    return lambda tmp: stat.S_ISSOCK(os.stat(tmp / name).st_mode)


def earlier(tmp: Path, extra=None) -> None:
    """A complete earlier result in {tmp}/out (and `extra(out)` done there)."""
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    (out / "results.md").write_text(COMPLETE)
    (out / "histories.json").write_text(HISTORIES)
    if extra is not None:
        extra(out)


def earlier_with(extra):
    return lambda tmp: earlier(tmp, extra)


def earlier_kept(tmp: Path) -> bool:
    out = tmp / "out"
    return ((out / "results.md").read_text() == COMPLETE and (out / "histories.json").read_text() == HISTORIES
            and not list(out.glob(".*.tmp")))


def locked(tmp: Path) -> None:
    earlier(tmp)
    (tmp / "out" / ".nnlib.lock").write_text("")


def symlink(name: str, to: str):
    def setup(tmp: Path) -> None:
        (tmp / name).symlink_to(tmp / to)

    return setup


def both(*setups):
    def setup(tmp: Path) -> None:
        for one in setups:
            one(tmp)

    return setup


# --- API cases -------------------------------------------------------------------------------------


def api_on(setup, call):
    def run(tmp: Path):
        setup(tmp)
        return call(tmp)

    return run


def tiny_model():
    return mlp((784, 4, 10), 0.0, np.random.default_rng(0))


def write_atomic(name: str, mode: str = "w"):
    def call(tmp: Path) -> None:
        with atomic_write(tmp / name, mode) as handle:
            handle.write("x" if mode == "w" else b"x")

    return call


def text_file(name: str, content: str | bytes):
    def setup(tmp: Path) -> None:
        path = tmp / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)

    return setup


def random_bytes(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())

    return setup


def second_lock(tmp: Path) -> None:
    with folder_lock(tmp / "out"), folder_lock(tmp / "out"):
        pass


def lock_released(tmp: Path) -> bool:
    return not (tmp / "out" / ".nnlib.lock").exists()


def nothing(_: Path) -> None:
    return None


# --- scenarios in a child process --------------------------------------------------------------------


def child(tmp: Path, argv: list[str], file_limit: int | None = None) -> subprocess.Popen:
    """`python -m nnlib ARGV` in a child, optionally with writes limited to `file_limit` bytes per file
    (a disk that fills up: the write fails with EFBIG as it would with ENOSPC)."""

    def limit() -> None:
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "-m", "nnlib", *argv], cwd=REPO, env=env, preexec_fn=limit,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def full_disk(tmp: Path) -> tuple[int, str]:
    """reproduce into a folder with complete earlier results, on a 'disk' that takes 12 kB per file:
    results.md and histories.json fit, learning_curves.png does not."""
    data = write_tiny_bundle(tmp / "tiny.npz")
    earlier(tmp)
    (tmp / "out" / "learning_curves.png").write_bytes(b"earlier figure")
    run = child(tmp, ["--data", str(data), "reproduce", "--epochs", "1", "--no-progress", "--out",
                      str(tmp / "out")], file_limit=12_000)
    _, stderr = run.communicate(timeout=300)
    return run.returncode, stderr


def full_disk_kept(tmp: Path) -> bool:
    return earlier_kept(tmp) and (tmp / "out" / "learning_curves.png").read_bytes() == b"earlier figure"


def two_runs(tmp: Path) -> tuple[int, str]:
    """Two `train` runs with the same --out at once: one writes, the other refuses at the start (the first
    trains for some seconds, far longer than the second needs to start)."""
    data = write_tiny_bundle(tmp / "tiny.npz", train=2000)
    argv = ["--data", str(data), "train", "--optimizer", "sgd", "--epochs", "300", "--no-progress",
            "--out", str(tmp / "out")]
    first = child(tmp, argv)
    for _ in range(600):  # the first holds the lock once it has checked its options
        if (tmp / "out" / ".nnlib.lock").exists() or first.poll() is not None:
            break
        time.sleep(0.05)
    second = child(tmp, argv)
    _, second_err = second.communicate(timeout=300)
    first_out, _ = first.communicate(timeout=300)
    wrote = first_out.count("Wrote") == 1 and (tmp / "out" / "results.md").is_file()
    return (second.returncode if wrote else -1), second_err


CASES = [
    # --- the command line never replaces a FIFO, socket or folder, nor writes into a system folder ----
    CliCase("--save is a FIFO", (*TRAIN, "--out", "{tmp}/out", "--save", "{tmp}/pipe"), 2, ("--save", "FIFO"), setup=fifo("pipe"), kept=still_fifo("pipe")),
    CliCase("--save is a socket", (*TRAIN, "--out", "{tmp}/out", "--save", "{tmp}/sock"), 2, ("--save", "socket"), setup=unix_socket("sock"), kept=still_socket("sock")),
    CliCase("--save is a symlink to a FIFO", (*TRAIN, "--out", "{tmp}/out", "--save", "{tmp}/link.npz"), 2, ("--save", "FIFO"), setup=both(fifo("pipe"), symlink("link.npz", "pipe")), kept=still_fifo("pipe")),
    CliCase("--save is a symlink loop", (*TRAIN, "--out", "{tmp}/out", "--save", "{tmp}/loop.npz"), 2, ("--save", "symbolic links"), setup=symlink("loop.npz", "loop.npz")),
    CliCase("--out is a FIFO", (*TRAIN, "--out", "{tmp}/pipe"), 2, ("--out", "FIFO", "expected a folder"), setup=fifo("pipe"), kept=still_fifo("pipe")),
    CliCase("--out is a socket", (*REPRODUCE, "--out", "{tmp}/sock"), 2, ("--out", "socket"), setup=unix_socket("sock"), kept=still_socket("sock")),
    CliCase("--out holds a FIFO (a system folder)", (*TRAIN, "--out", "{tmp}/out"), 2, ("--out", "system folder"), setup=earlier_with(lambda out: os.mkfifo(out / "initctl")), kept=earlier_kept),
    CliCase("reproduce --out holds a socket", (*REPRODUCE, "--out", "{tmp}/out"), 2, ("--out", "system folder"), setup=earlier_with(lambda out: unix_socket("log")(out)), kept=earlier_kept),
    CliCase("results.md in --out is a FIFO", (*TRAIN, "--out", "{tmp}/out"), 2, ("--out", "system folder"), setup=both(earlier_with(lambda out: (out / "results.md").unlink()), lambda tmp: os.mkfifo(tmp / "out" / "results.md")), kept=lambda tmp: still_fifo("out/results.md")(tmp) and (tmp / "out" / "histories.json").read_text() == HISTORIES),
    CliCase("learning_curves.png in --out is a folder", (*TRAIN, "--out", "{tmp}/out"), 2, ("learning_curves.png", "is a folder"), setup=earlier_with(lambda out: (out / "learning_curves.png").mkdir()), kept=earlier_kept),
    CliCase("histories.json in --out is a folder", (*REPRODUCE, "--out", "{tmp}/out"), 2, ("histories.json", "is a folder"), setup=earlier_with(lambda out: ((out / "histories.json").unlink(), (out / "histories.json").mkdir())), kept=lambda tmp: (tmp / "out" / "results.md").read_text() == COMPLETE),
    # --- one writer per output folder ------------------------------------------------------------
    CliCase("--out is locked by another run", (*TRAIN, "--out", "{tmp}/out"), 2, ("--out", "another nnlib run", ".nnlib.lock"), setup=locked, kept=earlier_kept),
    CliCase("reproduce --out is locked", (*REPRODUCE, "--out", "{tmp}/out"), 2, ("--out", "another nnlib run"), setup=locked, kept=earlier_kept),
    CliCase("a run that fails early releases its lock", (*TRAIN, "--out", "{tmp}/out", "--data", "{tmp}/nothing.npz"), 2, ("not found",), setup=earlier, kept=lambda tmp: earlier_kept(tmp) and lock_released(tmp)),
    CliCase("a run that fails early leaves no new folder", (*TRAIN, "--out", "{tmp}/new", "--data", "{tmp}/nothing.npz"), 2, ("not found",), kept=lambda tmp: not (tmp / "new").exists()),
    CliCase("a finished run releases its lock", (*TRAIN, "--out", "{tmp}/out"), 0, (), kept=lambda tmp: lock_released(tmp) and (tmp / "out" / "results.md").read_text() != COMPLETE),
    ScenarioCase("two train runs with the same --out", two_runs, 2, ("--out", "another nnlib run"), kept=lambda tmp: (tmp / "out" / "results.md").is_file() and lock_released(tmp)),
    # --- all or nothing ---------------------------------------------------------------------------
    ScenarioCase("reproduce on a disk that fills up", full_disk, 1, ("error:", "File too large"), kept=full_disk_kept),
    # --- --data never reads a special file ------------------------------------------------------------
    CliCase("--data is a FIFO", ("--data", "{tmp}/pipe", "train", "--optimizer", "sgd", "--out", "{tmp}/out"), 2, ("FIFO", "expected an MNIST .npz file"), setup=fifo("pipe"), kept=still_fifo("pipe")),
    CliCase("--data is a socket", ("--data", "{tmp}/sock", "train", "--optimizer", "sgd", "--out", "{tmp}/out"), 2, ("socket",), setup=unix_socket("sock")),
    CliCase("--data is a symlink loop", ("--data", "{tmp}/loop.npz", "train", "--optimizer", "sgd", "--out", "{tmp}/out"), 2, ("loop.npz", "symbolic links"), setup=symlink("loop.npz", "loop.npz")),
    CliCase("--data is 2 GB of zeros (sparse)", ("--data", "{tmp}/big.npz", "train", "--optimizer", "sgd", "--out", "{tmp}/out"), 2, ("big.npz", "far larger than an MNIST bundle"), setup=lambda tmp: _sparse(tmp / "big.npz", 2**31)),
    CliCase("--data is a symlink to a FIFO", ("--data", "{tmp}/link.npz", "train", "--optimizer", "sgd", "--out", "{tmp}/out"), 2, ("FIFO",), setup=both(fifo("pipe"), symlink("link.npz", "pipe"))),
    # --- the API: atomic writes replace only regular files ----------------------------------------------
    Case("save_model over a FIFO", api_on(fifo("model.npz"), lambda tmp: save_model(tiny_model(), tmp / "model.npz")), ValueError, ("model.npz", "FIFO", "only files are replaced"), kept=still_fifo("model.npz")),
    Case("Sequential.save over a socket", api_on(unix_socket("model.npz"), lambda tmp: tiny_model().save(tmp / "model.npz")), ValueError, ("socket",), kept=still_socket("model.npz")),
    Case("History.save over a FIFO", api_on(fifo("h.json"), lambda tmp: History().save(tmp / "h.json")), ValueError, ("h.json", "FIFO"), kept=still_fifo("h.json")),
    Case("write_text_atomic over a FIFO", api_on(fifo("results.md"), lambda tmp: write_text_atomic(tmp / "results.md", "x")), ValueError, ("FIFO",), kept=still_fifo("results.md")),
    Case("atomic_write over a folder", api_on(lambda tmp: (tmp / "dir").mkdir(), write_atomic("dir")), ValueError, ("dir", "is a folder"), kept=lambda tmp: (tmp / "dir").is_dir() and not list(tmp.glob(".*.tmp"))),
    Case("atomic_write (binary) over a symlink to a FIFO", api_on(both(fifo("pipe"), symlink("link", "pipe")), write_atomic("link", "wb")), ValueError, ("FIFO",), kept=still_fifo("pipe")),
    Case("save_model into an existing file's 'folder' (issue 27)", api_on(text_file("good.npz", "a model"), lambda tmp: save_model(tiny_model(), tmp / "good.npz" / "x.npz")), ValueError, ("cannot write", "good.npz is a file, not a folder"), kept=lambda tmp: (tmp / "good.npz").read_text() == "a model"),
    Case("History.save two levels below a file", api_on(text_file("h.json", "{}"), lambda tmp: History().save(tmp / "h.json" / "sub" / "new.json")), ValueError, ("h.json is a file, not a folder",), kept=lambda tmp: (tmp / "h.json").read_text() == "{}"),
    Case("atomic_write over a regular file", api_on(text_file("plain.txt", "old"), write_atomic("plain.txt")), None, (), kept=lambda tmp: (tmp / "plain.txt").read_text() == "x"),
    Case("a second lock on a folder", second_lock, ValueError, ("another nnlib run",), kept=lock_released),
    # --- the API: reads are bounded and say what the file is ------------------------------------------
    Case("load_model of a FIFO", api_on(fifo("model.npz"), lambda tmp: load_model(tmp / "model.npz")), ValueError, ("model.npz", "FIFO", "not a model file")),
    Case("load_model of a socket", api_on(unix_socket("model.npz"), lambda tmp: load_model(tmp / "model.npz")), ValueError, ("socket",)),
    Case("load_model of a symlink loop", api_on(symlink("model.npz", "model.npz"), lambda tmp: load_model(tmp / "model.npz")), ValueError, ("symbolic links",)),
    Case("load_model of 2 GB of zeros (sparse)", api_on(lambda tmp: _sparse(tmp / "big.npz", 2**31), lambda tmp: load_model(tmp / "big.npz")), ValueError, ("big.npz", "not a valid nnlib model file")),
    Case("load_mnist of a FIFO", api_on(fifo("mnist.npz"), lambda tmp: load_mnist(tmp / "mnist.npz")), RuntimeError, ("FIFO",)),
    Case("load_mnist of a symlink loop", api_on(symlink("mnist.npz", "mnist.npz"), lambda tmp: load_mnist(tmp / "mnist.npz")), RuntimeError, ("symbolic links",)),
    Case("load_mnist of random bytes (unverified)", api_on(random_bytes("mnist.npz"), lambda tmp: _no_pickle_hint(load_mnist, tmp / "mnist.npz", verify=False)), RuntimeError, ("mnist.npz", "not an .npz archive")),
    Case("History.load of a FIFO", api_on(fifo("h.json"), lambda tmp: History.load(tmp / "h.json")), ValueError, ("h.json", "FIFO")),
    Case("History.load of broken JSON", api_on(text_file("h.json", '{"train_loss": [0.5'), lambda tmp: History.load(tmp / "h.json")), ValueError, ("h.json", "not a saved History")),
    Case("History.load of non-UTF-8 bytes", api_on(text_file("h.json", b"\xff\xfe\x00"), lambda tmp: History.load(tmp / "h.json")), ValueError, ("h.json", "not a saved History")),
    Case("History.load of a JSON list", api_on(text_file("h.json", "[1, 2]"), lambda tmp: History.load(tmp / "h.json")), ValueError, ("h.json", "not a saved History")),
    Case("History.load of a folder", api_on(lambda tmp: (tmp / "h.json").mkdir(), lambda tmp: History.load(tmp / "h.json")), ValueError, ("h.json", "folder")),
]


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


def _no_pickle_hint(load, path: Path, **kwargs):
    try:
        return load(path, **kwargs)
    except Exception as err:
        if "pickle" in str(err):
            raise AssertionError(f"suggests pickle: {err}") from None
        raise


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_special_files_are_never_replaced_or_read(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_the_results_of_a_finished_run_are_whole(tmp_path):
    """Guards the all-or-nothing write: without a fault, all three files are new and no lock is left."""
    from tests.bad_input import run_cli

    data = write_tiny_bundle(tmp_path / "tiny.npz")
    earlier(tmp_path)
    code, out, err = run_cli(["--data", str(data), "train", "--optimizer", "sgd", "--epochs", "1",
                              "--no-progress", "--out", str(tmp_path / "out")])
    assert code == 0, err
    written = tmp_path / "out"
    assert (written / "results.md").read_text() != COMPLETE
    assert json.loads((written / "histories.json").read_text())[0]["config"]["optimizer"] == "sgd"
    assert (written / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in written.iterdir()) == ["histories.json", "learning_curves.png", "results.md"]
