"""Each graded notebook's kernel, and each trusted run of its answers, in a sandbox of its own.

The sandbox is bubblewrap (`bwrap`, Debian's package `bubblewrap`): Linux namespaces, no daemon,
no image to build, started in milliseconds, the tool Flatpak runs its apps in. Inside it:

- no network (`--unshare-net`: only a loopback of its own), its own process and IPC namespaces,
  and no capabilities (a user namespace; the student's code runs as an ordinary user, uid 1000);
- the course read-only: Python, the environment's packages, `nnlib/` and `data/`, nothing else
  of the repository (not `notebooks/`, where the solutions are);
- a private, empty HOME (with IPYTHONDIR and matplotlib's settings in it) and /tmp, in memory,
  gone when the notebook ends: a startup file planted there reaches no later kernel;
- the student's own folder read-only at the neutral path /submission (the working folder): files
  handed in beside the notebook can be read as data. Nothing else of the course folder is there
  (`source/`, `release/`, `gradebook.db`, `nbgrader_config.py`, other students);
- Python runs isolated (`-I`): the working folder is not on `sys.path`, so an `nnlib/` folder
  handed in beside the notebook is never imported in place of the course's.

How the kernel talks to nbgrader without a network: over ZeroMQ's `ipc` transport, Unix sockets
in a folder of their own (`configure` makes one per nbgrader process and points Jupyter's runtime
folder at it), the one folder bound read-write into the sandbox, emptied before each kernel
starts. TCP on loopback cannot work here: the kernel's loopback is not the grader's.

`configure(c)` (called by the course's nbgrader_config.py) selects the sandboxed kernel for
`nbgrader autograde` and `nbgrader validate`; `python -m nnlib.course.grading.sandbox kernel -f
<connection file>` is that kernel's command. `NNLIB_NO_SANDBOX=1` (the parallel runner's
`--no-sandbox`) grades without it: the teacher's explicit choice, recorded in every notebook and
named by the class report.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "nnlib-sandbox"
# Prefix of the private folders `configure` makes (the launcher empties only such a folder).
MARKER = "nnlib-grading-"
NO_SANDBOX_VARIABLE = "NNLIB_NO_SANDBOX"
WORKDIR = "/submission"
HOME = "/home/student"
INSTALL_HINT = ("grading runs every notebook in a sandbox (bubblewrap), which is missing or cannot start "
                "here: install it with `sudo apt-get install bubblewrap` (Debian, Ubuntu; `dnf install "
                "bubblewrap` on Fedora), or grade without it, accepting the risk, with --no-sandbox "
                "(stock nbgrader: NNLIB_NO_SANDBOX=1)")
# Variables the sandboxed code may see (all others are cleared); the course's own NNLIB_* too.
PASSED_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NBGRADER_EXECUTION",
                    "NBGRADER_VALIDATING", "MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION", "LANG", "LC_ALL")


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot start; the message says how to install it."""


def disabled() -> bool:
    """Has the teacher chosen to grade without the sandbox (NNLIB_NO_SANDBOX=1)?"""
    return os.environ.get(NO_SANDBOX_VARIABLE, "") not in ("", "0")


def bwrap() -> str:
    """The bwrap program, or SandboxUnavailable with the one line that says how to install it."""
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(INSTALL_HINT)
    return found


def check_sandbox() -> None:
    """Start an empty sandbox once; SandboxUnavailable (one line) if bwrap is missing or fails
    (for example where user namespaces are switched off)."""
    command = [*sandbox_prefix(workdir=None), sys.executable, "-I", "-c", "pass"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SandboxUnavailable(f"{INSTALL_HINT} ({err})") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["exit status " + str(done.returncode)])[-1]
        raise SandboxUnavailable(f"{INSTALL_HINT} (bwrap: {why})")


def _course_paths() -> list[Path]:
    """What the sandbox sees of the course, read-only: the Python environment and its base
    installation, the nnlib package, the data folder."""
    import nnlib
    from nnlib import data

    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent,
             Path(nnlib.__file__).resolve().parent, data.DEFAULT_PATH.resolve().parent]
    return list(dict.fromkeys(path for path in paths if path.exists()))


def _system_binds() -> list[str]:
    """The system's programs and libraries, read-only (merged-/usr symlinks kept as symlinks)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
                 "alternatives", "fonts", "mime.types"):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def sandbox_prefix(workdir: Path | None, runtime: Path | None = None,
                   environment: dict[str, str] | None = None) -> list[str]:
    """The bwrap command line up to the program to run: see the module docstring. `workdir`: the
    student's folder, bound read-only at /submission; `runtime`: the kernel's socket folder,
    bound read-write at its own path."""
    args = [bwrap(), "--die-with-parent", "--unshare-all", "--unshare-net", "--unshare-user",
            "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL",
            "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--tmpfs", "/home", "--dir", HOME, "--dir", f"{HOME}/.ipython", "--dir", f"{HOME}/.config",
            *_system_binds()]
    for path in _course_paths():
        args += ["--ro-bind", str(path), str(path)]
    if runtime is not None:
        args += ["--bind", str(runtime), str(runtime)]
    if workdir is not None:
        args += ["--ro-bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
    else:
        args += ["--chdir", HOME]
    env = {"HOME": HOME, "IPYTHONDIR": f"{HOME}/.ipython", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
           "TMPDIR": "/tmp", "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({name: value for name, value in os.environ.items()
                if name in PASSED_VARIABLES or name.startswith("NNLIB_")})
    env.update(environment or {})
    args.append("--clearenv")
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args


def _own_runtime_folder(connection_file: Path) -> Path:
    """The kernel's socket folder, emptied of anything but this kernel's connection file (a
    planted file or socket of an earlier kernel goes); refused unless `configure` made it."""
    folder = connection_file.resolve().parent
    if not folder.parent.name.startswith(MARKER):
        raise SandboxUnavailable(f"the sandboxed kernel needs the runtime folder that the course's "
                                 f"nbgrader_config.py makes; got {folder}: grade with the course's config")
    for entry in folder.iterdir():
        if entry.name != connection_file.name:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    return folder


def kernel_command(connection_file: Path, extra: list[str], workdir: Path) -> list[str]:
    """bwrap running ipykernel with `connection_file` (ipc transport) for the notebook in `workdir`."""
    runtime = _own_runtime_folder(connection_file)
    return [*sandbox_prefix(workdir, runtime), sys.executable, "-I", "-m", "ipykernel_launcher",
            "-f", str(connection_file), "--IPKernelApp.log_level=CRITICAL", *extra]


def kernelspec() -> dict:
    return {"argv": [sys.executable, "-I", "-m", "nnlib.course.grading.sandbox", "kernel", "-f",
                     "{connection_file}"],
            "display_name": "Python 3 (nnlib, grading sandbox)", "language": "python",
            # Interrupts as messages: a SIGINT to the process group would stop bwrap itself.
            "interrupt_mode": "message",
            "metadata": {"debugger": False}}


def kernel_config(c: object) -> Path:
    """A private folder with the sandboxed kernel's spec and a folder for its sockets, found by
    Jupyter through JUPYTER_PATH and JUPYTER_RUNTIME_DIR (set here), and the ipc transport in
    config `c`. Returns the folder (the caller removes it)."""
    folder = Path(tempfile.mkdtemp(prefix=MARKER))
    spec = folder / "jupyter" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(kernelspec(), indent=1))
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700)
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(folder / "jupyter"), *filter(None, [
        os.environ.get("JUPYTER_PATH")])])
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    # One kernel at a time per nbgrader process: its connection file and sockets in `runtime`.
    c.KernelManager.connection_file = str(runtime / "kernel.json")  # type: ignore[attr-defined]
    c.KernelManager.transport = "ipc"  # type: ignore[attr-defined]
    return folder


def configure(c: object) -> Path | None:
    """Select the sandboxed kernel in nbgrader's config `c` (nbgrader_config.py calls this):
    a private folder for its kernelspec and its kernels' sockets (removed when nbgrader exits),
    the ipc transport, and Execute.kernel_name. Returns the folder (None with NNLIB_NO_SANDBOX=1).
    While nbgrader autogrades or validates, a sandbox that cannot start stops it with one line."""
    if disabled():
        return None
    folder = kernel_config(c)
    atexit.register(shutil.rmtree, folder, True)
    c.Execute.kernel_name = KERNEL_NAME  # type: ignore[attr-defined]
    if len(sys.argv) > 1 and sys.argv[1] in ("autograde", "validate"):
        try:
            check_sandbox()
        except SandboxUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(1) from None
    return folder


def _kernel_main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "-f":
        print("usage: python -m nnlib.course.grading.sandbox kernel -f CONNECTION_FILE [kernel options]",
              file=sys.stderr)
        return 2
    try:
        command = kernel_command(Path(argv[1]), argv[2:], Path.cwd())
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.execv(command[0], command)
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kernel"]:
        return _kernel_main(argv[1:])
    if argv[:1] == ["check"]:
        try:
            check_sandbox()
        except SandboxUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print("the grading sandbox works (bwrap)")
        return 0
    print("usage: python -m nnlib.course.grading.sandbox {check | kernel -f CONNECTION_FILE}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
