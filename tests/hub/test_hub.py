"""A class on a real JupyterHub (`make test-hub`): hub/jupyterhub_config.py on localhost, with
configurable-http-proxy, local processes for the users' servers, and a shared password.

The teacher generates and releases lesson 02 through formgrader; three students log in with
headless Chromium, fetch it in their Assignment List (a click), fill it in (one right, one wrong,
one blank: the notebook saved through Jupyter's contents API, as the editor saves it) and submit
it (a click); the teacher collects, autogrades and generates and releases the feedback through
formgrader's API; each student fetches the feedback (a click) and opens it. Every step is an
HTTP request or a click; no file is copied by hand. The scores are exact.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.browser.chromium import launched_chromium
from tests.grading.classroom import lesson_answers

pytestmark = [pytest.mark.hub, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
HUB_VENV = Path(os.environ.get("NNLIB_HUB_VENV", REPO / ".venv-hub"))
PROXY = Path(os.environ.get("NNLIB_HUB_PROXY", REPO / ".hub-node" / "node_modules" / ".bin" /
                            "configurable-http-proxy"))
LESSON = "02_forward_pass"
TEACHER = "teacher"
PASSWORD = "class-password"
RIGHT = lesson_answers(LESSON)
WRONG = {**RIGHT,  # softmax without the max subtracted: NaN for large logits
         "softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=1, keepdims=True)\n"}
# student -> (answers, expected score of 4); None: the blank handout, submitted as fetched
STUDENTS = {"ann": (RIGHT, 4.0), "bob": (WRONG, 3.0), "cyd": (None, 0.0)}
SLOW = 240_000  # ms: a shared two-core machine starts a Jupyter server slowly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The hub running; yields its base URL."""
    for needed in (HUB_VENV / "bin" / "jupyterhub", PROXY):
        assert needed.exists(), f"{needed} is missing: run `make test-hub` (it installs the hub)"
    root = tmp_path_factory.mktemp("hub")
    homes, exchange, state = root / "homes", root / "exchange", root / "state"
    for folder in (homes, exchange, state):
        folder.mkdir()
    exchange.chmod(0o777)
    course = homes / TEACHER  # the teacher's home folder is the course folder
    subprocess.run([str(HUB_VENV / "bin" / "python"), "-m", "nnlib.course.grading", "course", str(course),
                    LESSON], check=True, capture_output=True, cwd=REPO)
    for student in STUDENTS:
        (homes / student).mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "NBGRADER_", "JUPYTER"))}
    env.update(NNLIB_HUB_PORT=str(port), NNLIB_HUB_HUB_PORT=str(_free_port()),
               NNLIB_HUB_API_PORT=str(_free_port()), NNLIB_HUB_STATE=str(state),
               NNLIB_HUB_HOMES=str(homes),
               NNLIB_HUB_EXCHANGE=str(exchange), NNLIB_HUB_TEACHER=TEACHER,
               NNLIB_HUB_STUDENTS=",".join(STUDENTS), NNLIB_HUB_PASSWORD=PASSWORD, NNLIB_HUB_PROXY=str(PROXY),
               PATH=f"{HUB_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    log = (root / "hub.log").open("w")
    command = [str(HUB_VENV / "bin" / "jupyterhub"), "-f", str(REPO / "hub" / "jupyterhub_config.py")]
    process = subprocess.Popen(command, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/hub/health", 120)
        yield {"base": base, "course": course, "homes": homes, "log": root / "hub.log"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        print(f"\nhub log: {root / 'hub.log'}")


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium("make test-hub")


def log_in(browser, base: str, name: str):
    """A browser context of user `name`, logged in, with the server started; (context, page)."""
    context = browser.new_context()
    context.set_default_timeout(SLOW)
    page = context.new_page()
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{name}/lab.*"), timeout=SLOW)
    page.wait_for_selector("#jp-main-dock-panel", timeout=SLOW)
    return context, page


def _xsrf(context) -> str:
    return next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "_xsrf")


def api(context, base: str, user: str, path: str, method: str = "GET", data: dict | None = None):
    """An HTTP call to `user`'s Jupyter server, with that user's login (cookies and XSRF token)."""
    url = f"{base}/user/{user}/{path}"
    headers = {"X-XSRFToken": _xsrf(context)}
    response = context.request.fetch(url, method=method, headers=headers,
                                     data=json.dumps(data) if data is not None else None, timeout=SLOW)
    assert response.ok, f"{method} {url}: {response.status} {response.text()[:2000]}"
    return response.json() if response.text() else None


def open_assignment_list(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.locator("#released_assignments_list").wait_for()


def test_a_class_on_jupyterhub(hub, browser):
    base = hub["base"]
    start = time.perf_counter()
    teacher, _ = log_in(browser, base, TEACHER)
    assert api(teacher, base, TEACHER, f"formgrader/api/assignment/{LESSON}/assign", "POST")["success"]
    released = api(teacher, base, TEACHER, f"formgrader/api/assignment/{LESSON}/release", "POST")
    assert released["success"], released

    for student, (answers, _) in STUDENTS.items():
        context, page = log_in(browser, base, student)
        open_assignment_list(page)
        page.locator("#released_assignments_list button", has_text="Fetch").click()
        page.locator("#fetched_assignments_list .list_item", has_text=LESSON).first.wait_for()
        path = f"{LESSON}/{LESSON}.ipynb"
        if answers is not None:  # what saving in the editor does: a PUT of the notebook
            model = api(context, base, student, f"api/contents/{path}?content=1")
            nb = nbformat.from_dict(model["content"])
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
                    cell.source = answers[grade_id]
            api(context, base, student, f"api/contents/{path}", "PUT",
                {"type": "notebook", "format": "json", "content": nb})
        page.locator("#fetched_assignments_list button", has_text="Submit").first.click()
        page.locator("#submitted_assignments_list .list_item", has_text=LESSON).first.wait_for()
        context.close()

    collected = api(teacher, base, TEACHER, f"formgrader/api/assignment/{LESSON}/collect", "POST")
    assert collected["success"], collected
    for student in STUDENTS:
        graded = api(teacher, base, TEACHER, f"formgrader/api/submission/{LESSON}/{student}/autograde",
                     "POST")
        assert graded["success"], graded
    submissions = api(teacher, base, TEACHER, f"formgrader/api/submissions/{LESSON}")
    scores = {row["student"]: (row["score"], row["max_score"]) for row in submissions}
    assert scores == {student: (score, 4.0) for student, (_, score) in STUDENTS.items()}
    for step in ("generate_feedback", "release_feedback"):
        done = api(teacher, base, TEACHER, f"formgrader/api/assignment/{LESSON}/{step}", "POST")
        assert done["success"], done

    for student, (_, score) in STUDENTS.items():
        context, page = log_in(browser, base, student)
        open_assignment_list(page)
        page.locator("#submitted_assignments_list button", has_text="Fetch Feedback").first.click()
        page.locator("#submitted_assignments_list a", has_text="view feedback").first.click()
        folders = api(context, base, student, f"api/contents/{LESSON}/feedback")["content"]
        html = f"{folders[0]['path']}/{LESSON}.html"
        page.goto(f"{base}/user/{student}/files/{html}")  # the feedback, as the file browser opens it
        shown = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", page.inner_text("body"))
        assert shown and (float(shown[1]), float(shown[2])) == (score, 4.0), student
        context.close()
    teacher.close()
    print(f"\nhub round trip: {time.perf_counter() - start:.0f} s")
