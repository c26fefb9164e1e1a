"""`make lab` as a learner meets it: it starts (also as root), serves the repository so the
file browser reaches notebooks/ and exercises/, and JupyterLab asks no "Jupyter news?" question."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.browser.lab import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
NOTIFICATIONS = "@jupyterlab/apputils-extension:notification"


def make_lab_command() -> list[str]:
    """The command `make lab` runs (its last line under `make -n`), as a list with its variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    # The environment running these tests: .venv, or .venv-3.13 under `make test VENV=.venv-3.13`.
    venv = f"VENV={sys.prefix}"
    dry_run = subprocess.run(["make", "--no-print-directory", "-n", "lab", venv], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
    line = dry_run.stdout.strip().splitlines()[-1]
    assert " lab " in line, f"`make -n lab` ends with {line!r}"
    return shlex.split(line)


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory):
    """A server started with `make lab`'s own command, with a free port and no browser."""
    scratch = tmp_path_factory.mktemp("make-lab")
    words = make_lab_command()
    variables = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    command = [word for word in words if word not in {f"{k}={v}" for k, v in variables.items()}]
    port = free_port()
    env = dict(
        os.environ, **variables,
        JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
    )
    command += ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
                "--ServerApp.ip=127.0.0.1"]
    log_path = scratch / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server, log_path)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=20) as response:
        return json.load(response)


def test_the_file_browser_reaches_lessons_and_exercises(make_lab):
    for folder in ("notebooks", "exercises"):
        listing = get_json(f"{make_lab}/api/contents/{folder}")
        names = {item["name"] for item in listing["content"]}
        assert "00_start_here.ipynb" in names, f"{folder}/ as served by make lab: {sorted(names)}"


def test_no_news_prompt_and_no_update_check(make_lab):
    settings = get_json(f"{make_lab}/lab/api/settings/{NOTIFICATIONS}")
    properties = settings["schema"]["properties"]
    assert properties["fetchNews"]["default"] == "false", "JupyterLab would ask about Jupyter news"
    assert properties["checkForUpdates"]["default"] is False
