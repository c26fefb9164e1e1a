"""The in-browser course (build/lite/, `make lite`) in a real, offline, headless Chromium.

The site is served from localhost; every other request is blocked (and counted as a failure).
Two notebooks run with Run All, as a learner would click it: the student version of lesson
02 (its checkers answer "not implemented yet", nothing crashes) and the lesson with solutions
in LESSON (its checks pass, its training learns in a quick run of 1 epoch, with progress bar widgets;
`make bench-lite-lessons` runs every lesson with its own browser epochs). One slider is
moved and must redraw its figure. No Python error may show, no request may fail. Screenshots go to
build/browser-screenshots/lite/ (or $BROWSER_SCREENSHOTS/lite/); timings are printed.

Run with `make test-lite` (after `make lite`).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser.chromium import SHOTS as BROWSER_SHOTS
from tests.browser.chromium import launched_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "lite"
# Offline at the browser's level too (workers and the service worker included): no name resolves.
OFFLINE_FLAGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
SHOTS = BROWSER_SHOTS / "lite"
STUDENT = "exercises/02_forward_pass.ipynb"
LESSON = "notebooks/03_backprop.ipynb"
KERNEL_TIMEOUT = 180  # seconds until the kernel is idle after a cold load (measured 19-35 s)
RUN_TIMEOUT = 600  # seconds for one notebook's Run All in the browser
NUMBERED_PROMPT = re.compile(r"^\[\d+\]:?$")
PYTHON_ERROR = re.compile(r"Traceback|Error\b|Exception\b")
ACCURACY = re.compile(r"validation accuracy (\d+\.\d+)%")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "application/javascript", ".mjs": "application/javascript",
                      ".json": "application/json"}

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE.relative_to(ROOT)}/ is not built: run `make lite` first (make test-lite does)")
    handler = functools.partial(QuietHandler, directory=SITE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium("make test-lite", OFFLINE_FLAGS, shots=SHOTS)


class Watched:
    """A fresh browser context (empty storage, as a new learner) whose requests are watched:
    anything not to the local site is aborted and recorded, and so is every failed request."""

    def __init__(self, browser, site: str) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.external: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.context.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.context.on("response", self._response)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def _route(self, route) -> None:
        url = route.request.url
        if urlparse(url).netloc == urlparse(self.site).netloc or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def close(self) -> None:
        self.context.close()


def notebook(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first


def wait_for_idle_kernel(page, timeout: float) -> float:
    """Seconds until the kernel of the open notebook is idle."""
    started = time.monotonic()
    page.get_by_text(re.compile(r"Pyodide\)? \| Idle$")).first.wait_for(timeout=timeout * 1000)
    return time.monotonic() - started


def open_notebook(watched: Watched, relative: str) -> float:
    """Open `relative` on a cold site; return the seconds until its kernel is idle."""
    started = time.monotonic()
    watched.page.goto(f"{watched.site}/lab/index.html?path={relative}")
    notebook(watched.page).locator(".jp-CodeCell").first.wait_for(timeout=KERNEL_TIMEOUT * 1000)
    wait_for_idle_kernel(watched.page, KERNEL_TIMEOUT)
    return time.monotonic() - started


def quick_run(page, epochs: int) -> None:
    """Insert a first cell that sets NNLIB_EPOCHS (as a learner may), so that Run All trains `epochs`
    epochs instead of the lesson's browser count (lesson 03 trains its full 6 there: too long for CI)."""
    notebook(page).locator(".jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("a")  # a new cell above, in command mode
    page.keyboard.press("Enter")
    page.keyboard.type(f'import os; os.environ["NNLIB_EPOCHS"] = "{epochs}"')
    page.keyboard.press("Escape")


def run_all(page) -> float:
    """Run all cells; wait until every code cell has run. Returns the seconds it took."""
    started = time.monotonic()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu").get_by_role("menuitem", name="Run All Cells").first.click()
    prompts = notebook(page).locator(".jp-CodeCell .jp-InputPrompt")
    deadline = started + RUN_TIMEOUT
    while time.monotonic() < deadline:
        texts = [p.strip() for p in prompts.all_inner_texts()]
        if texts and all(NUMBERED_PROMPT.match(t) for t in texts):
            break
        if notebook(page).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                                  ).filter(has_text=PYTHON_ERROR).count():
            break  # an error stops Run All: report it below instead of waiting for the timeout
        time.sleep(0.5)
    else:
        pytest.fail(f"Run All did not finish within {RUN_TIMEOUT} s")
    wait_for_idle_kernel(page, 60)
    return time.monotonic() - started


def output_text(page) -> str:
    return "\n".join(notebook(page).locator(".jp-OutputArea-output").all_inner_texts())


def python_errors(page) -> list[str]:
    errors = notebook(page).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [text[:800] for text in errors.all_inner_texts() if PYTHON_ERROR.search(text)]


def move_first_slider(page, shot: Path) -> None:
    """Drag the first interactive slider to the right; its readout and the figure below must change."""
    container = notebook(page).locator(".widget-interact:has(.noUi-handle)").first
    container.scroll_into_view_if_needed()
    output = container.locator(".widget-output").first
    readout = container.locator(".widget-readout").first
    before, value_before = output.inner_html(), readout.inner_text()
    handle = container.locator(".noUi-handle").first.bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=6)
    page.mouse.up()
    assert readout.inner_text() != value_before, "dragging the slider did not change its value"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and output.inner_html() == before:
        time.sleep(0.3)
    redrawn = output.inner_html() != before
    assert redrawn, f"moving the slider ({value_before} -> {readout.inner_text()}) did not redraw the figure"
    wait_for_idle_kernel(page, 60)
    page.screenshot(path=str(shot))


def screenshot_of_output(page, text: str, shot: Path) -> None:
    """A screenshot with the first output that contains `text` in view."""
    output = notebook(page).locator(".jp-OutputArea-output").filter(has_text=text).first
    output.scroll_into_view_if_needed()
    page.screenshot(path=str(shot))


def finish(watched: Watched, name: str) -> None:
    watched.page.screenshot(path=str(SHOTS / f"{name}-end.png"), full_page=False)
    errors = python_errors(watched.page)
    assert not errors, f"Python errors in {name}:\n" + "\n".join(errors)
    assert not watched.external, f"requests that left the local site: {watched.external[:10]}"
    assert not watched.failed, f"failed requests: {watched.failed[:10]}"


def test_student_notebook_runs_in_the_browser(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched = Watched(browser, site)
    try:
        load = open_notebook(watched, STUDENT)
        watched.page.screenshot(path=str(SHOTS / "student-02-loaded.png"))
        took = run_all(watched.page)
        print(f"\n{STUDENT}: cold load to an idle kernel {load:.0f} s, Run All {took:.0f} s")
        text = output_text(watched.page)
        assert "not implemented yet" in text, "the student version's checkers should say so"
        screenshot_of_output(watched.page, "not implemented yet", SHOTS / "student-02-checker.png")
        move_first_slider(watched.page, SHOTS / "student-02-slider.png")
        finish(watched, "student-02")
    finally:
        watched.close()


def test_lesson_with_solutions_learns_in_the_browser(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched = Watched(browser, site)
    try:
        load = open_notebook(watched, LESSON)
        quick_run(watched.page, 1)
        took = run_all(watched.page)
        print(f"\n{LESSON}: cold load to an idle kernel {load:.0f} s, Run All {took:.0f} s")
        text = output_text(watched.page)
        assert "✅" in text and "❌" not in text and "not implemented yet" not in text, text[-2000:]
        accuracies = [float(a) for a in ACCURACY.findall(text)]
        assert accuracies and min(accuracies) > 90, f"the browser-sized training did not learn: {accuracies}"
        screenshot_of_output(watched.page, "your network learned", SHOTS / "lesson-03-learned.png")
        assert notebook(watched.page).locator(".widget-hprogress").count() >= 2, \
            "training should show tqdm's progress bar widget (text bars on stderr mean tqdm.auto fell back)"
        finish(watched, "lesson-03")
    finally:
        watched.close()
