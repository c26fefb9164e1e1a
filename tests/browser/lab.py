"""A throwaway JupyterLab server for the browser test: free loopback port, no
token, settings/workspaces/runtime in a temporary folder, stopped on exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The course's own settings (no "Jupyter news?" prompt), as `make lab` and Binder use them.
COURSE_CONFIG = ROOT / "jupyter-config"
# A setting a learner would not notice, set so the test sees every cell: render every cell
# (JupyterLab 4 otherwise virtualises cells that are out of view).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path, scratch: Path) -> Iterator[str]:
    """Start JupyterLab serving `root`; yield its base URL; always stop it."""
    for name, values in SETTINGS.items():
        path = scratch / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        JUPYTER_CONFIG_PATH=str(COURSE_CONFIG),
    )
    env.pop("MPLBACKEND", None)  # the kernels must use the inline backend, as for a learner
    # What a learner sees (figures, sliders, progress bars) is checked here; how well the
    # network learns in full-length runs is nbval's job, so training stays short.
    env.setdefault("NNLIB_EPOCHS", "3")
    port = free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
        "--ServerApp.disable_check_xsrf=True",  # lets the test stop kernels over the REST API
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(scratch / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server, scratch / "jupyterlab.log")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_until_up(base: str, server: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-2000:]}")


def shut_down_kernels(base: str) -> None:
    """Stop every kernel the test started (each notebook gets its own)."""
    with urllib.request.urlopen(f"{base}/api/kernels", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()
