"""The grading sandbox (nnlib/course/grading/sandbox.py): what code inside it can and cannot reach.

Needs bubblewrap (`make grading-env` installs it; CI has it): without it these tests fail, on
purpose, with the one line that says how to install it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.course.grading import sandbox

# Needs bubblewrap, which `make test-grading` installs (sandbox-packages): part of that target.
pytestmark = pytest.mark.grading

PROBE = r"""
import json, os, socket, sys
found = {"cwd": os.getcwd(), "files": sorted(os.listdir(".")), "home": os.listdir(os.environ["HOME"]),
         "tmp": os.listdir("/tmp"), "path0": sys.path[0], "uid": os.getuid()}
import nnlib
found["nnlib"] = nnlib.__file__
found["data"] = open("notes.txt").read()
for name, attempt in [("write_here", lambda: open("new.txt", "w")),
                      ("write_course", lambda: open(os.path.dirname(nnlib.__file__) + "/x.py", "w")),
                      ("network", lambda: socket.create_connection(("1.1.1.1", 80), timeout=2)),
                      ("course_folder", lambda: os.listdir(COURSE))]:
    try:
        attempt()
        found[name] = "allowed"
    except OSError as err:
        found[name] = type(err).__name__
print(json.dumps(found))
"""


def course_in_tmp() -> list[str]:
    """What /tmp shows inside the sandbox: nothing, unless the course itself lives under /tmp (a
    clone there): then the top folders of its read-only mounts."""
    return sorted({path.relative_to("/tmp").parts[0] for path in sandbox._course_paths()
                   if path.is_relative_to("/tmp") and path != Path("/tmp")})


@pytest.fixture
def course(tmp_path) -> Path:
    """A course folder with the teacher's files and one student's submission."""
    for name in ("source/02/02.ipynb", "release/02/02.ipynb", "gradebook.db", "nbgrader_config.py",
                 "submitted/other/02/02.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("teacher's")
    mine = tmp_path / "submitted" / "me" / "02"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my data")
    (mine / "nnlib").mkdir()
    (mine / "nnlib" / "__init__.py").write_text("raise SystemExit('the student nnlib was imported')\n")
    return tmp_path


def test_code_in_the_sandbox_sees_only_its_folder_read_only_and_no_network(course):
    mine = course / "submitted" / "me" / "02"
    command = [*sandbox.sandbox_prefix(mine), sys.executable, "-I", "-c",
               PROBE.replace("COURSE", repr(str(course)))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["cwd"] == sandbox.WORKDIR and found["files"] == ["nnlib", "notes.txt"]
    assert found["data"] == "my data"  # handed-in files are readable data ...
    assert found["nnlib"].endswith("nnlib/__init__.py") and not found["nnlib"].startswith(sandbox.WORKDIR)
    assert found["path0"] != "" and not found["path0"].startswith(sandbox.WORKDIR)  # ... never imported
    assert found["write_here"] == "OSError" and found["write_course"] == "OSError"  # read-only
    assert found["network"] == "OSError"  # no route anywhere
    assert found["course_folder"] == "FileNotFoundError"  # source/, gradebook, other students: absent
    assert found["home"] == [".config", ".ipython"] and found["tmp"] == course_in_tmp()  # private and empty
    assert found["uid"] == 1000  # not root, no capabilities
    assert not (mine / "new.txt").exists()


def test_a_file_planted_in_home_or_tmp_is_gone_for_the_next_sandbox(course):
    mine = course / "submitted" / "me" / "02"
    plant = ("import os; os.makedirs(os.environ['IPYTHONDIR'] + '/profile_default/startup');"
             "open(os.environ['IPYTHONDIR'] + '/profile_default/startup/00.py', 'w').write('x');"
             "open('/tmp/plant', 'w').write('x')")
    for code in (plant, "import os; print(os.listdir(os.environ['IPYTHONDIR']), os.listdir('/tmp'))"):
        done = subprocess.run([*sandbox.sandbox_prefix(mine), sys.executable, "-I", "-c", code],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"[] {course_in_tmp()}"


def test_the_kernel_launcher_empties_its_socket_folder_and_refuses_any_other(tmp_path):
    runtime = tmp_path / f"{sandbox.MARKER}x" / "runtime"
    runtime.mkdir(parents=True)
    connection = runtime / "kernel.json"
    connection.write_text("{}")
    (runtime / "kernel-ipc-1").write_text("left by an earlier kernel")
    (runtime / "planted").mkdir()
    command = sandbox.kernel_command(connection, ["--x=1"], tmp_path)
    assert sorted(path.name for path in runtime.iterdir()) == ["kernel.json"]
    assert command[-4:] == ["-f", str(connection), "--IPKernelApp.log_level=CRITICAL", "--x=1"]
    assert ["--bind", str(runtime.resolve()), str(runtime.resolve())] == command[
        command.index("--bind"):command.index("--bind") + 3]
    elsewhere = tmp_path / "runtime"
    elsewhere.mkdir()
    (elsewhere / "kernel.json").write_text("{}")
    with pytest.raises(sandbox.SandboxUnavailable, match="runtime folder"):
        sandbox.kernel_command(elsewhere / "kernel.json", [], tmp_path)


def test_without_bwrap_grading_stops_with_one_line_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        sandbox.check_sandbox()
    assert "apt-get install bubblewrap" in str(raised.value) and "\n" not in str(raised.value)
    done = subprocess.run([sys.executable, "-m", "nnlib.course.grading.sandbox", "check"],
                          capture_output=True, text=True, env={"PATH": "/nonexistent"}, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "bubblewrap" in done.stderr


def test_configure_selects_the_sandboxed_kernel_over_ipc(monkeypatch):
    from traitlets.config import Config

    monkeypatch.delenv(sandbox.NO_SANDBOX_VARIABLE, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", "")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "")
    c = Config()
    folder = sandbox.configure(c)
    assert c.KernelManager.transport == "ipc" and c.Execute.kernel_name == sandbox.KERNEL_NAME
    spec = json.loads((folder / "jupyter" / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text())
    assert spec["argv"][1:5] == ["-I", "-m", "nnlib.course.grading.sandbox", "kernel"]
    monkeypatch.setenv(sandbox.NO_SANDBOX_VARIABLE, "1")
    assert sandbox.configure(Config()) is None


def test_the_report_names_students_graded_without_the_sandbox_and_csv_cells_never_run(tmp_path):
    import csv

    from nnlib.course.grading.export import spreadsheet_safe
    from nnlib.course.grading.report import Outcome, write_report

    outcomes = [Outcome('=HYPERLINK("http://x")', "02_forward_pass", "relu", 1.0, "passed", sandboxed=False),
                Outcome("-ann", "02_forward_pass", "relu", 1.0, "failed", "@sum(A1)", "+flag")]
    text = write_report(outcomes, tmp_path / "class", plot_figure=False)
    assert text.startswith("⚠ Graded without the sandbox (--no-sandbox, the teacher's choice): "
                           '=HYPERLINK("http://x")')
    with (tmp_path / "class_students.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student"] for row in rows] == ["'-ann", "'=HYPERLINK(\"http://x\")"]
    assert rows[0]["mistake"] == "'@sum(A1)" and rows[0]["flag"] == "'+flag"
    assert spreadsheet_safe("ada") == "ada"
