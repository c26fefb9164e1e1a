"""The lessons as a learner meets them: a real JupyterLab in a real (headless) browser.

For each lesson, and for one student notebook, the test opens it in JupyterLab,
runs all cells, waits until the kernel is idle and checks what a learner sees:
no error output, every figure rendered as an image, every slider a live control
(moving it changes the output below), and a progress bar while training runs.
Screenshots go to build/browser-screenshots/ (or $BROWSER_SCREENSHOTS).

Run with `make test-browser`. Skipped, with the reason, only where Chromium is
not installed and could not be installed.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from tests.browser.chromium import SHOTS, launched_chromium
from tests.browser.lab import jupyter_lab, shut_down_kernels

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = [f"notebooks/{p.name}" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
NOTEBOOKS.append("exercises/00_start_here.ipynb")
RUN_TIMEOUT = 420  # seconds for one notebook's Run All (07 trains three networks)
TRAINING_CALLS = re.compile(r"\b(fit|train_run)\(")
NUMBERED_PROMPT = re.compile(r"^\[\d+\]:?$")
# The pop-up of a fresh JupyterLab workspace that jupyter-config/ switches off.
NEWS_PROMPT = re.compile("official Jupyter news")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    # Serve copies: JupyterLab autosaves, and the committed notebooks must keep their clean outputs.
    served = tmp_path_factory.mktemp("served")
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, served / folder)
    with jupyter_lab(served, tmp_path_factory.mktemp("jupyter")) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium("make test-browser", shots=SHOTS)


def stored_figures(relative: str) -> int:
    """Figures in the committed, executed lesson (student notebooks have no outputs: use the lesson)."""
    lesson = ROOT / "notebooks" / Path(relative).name
    nb = nbformat.read(lesson, as_version=4)
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
    )


def code_of(relative: str) -> str:
    nb = nbformat.read(ROOT / relative, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def visible_notebook(page):
    """The notebook on screen (a workspace may hold other, hidden tabs)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first


def run_all(page, expect_progress: bool) -> bool:
    """Run all cells; wait until every code cell has run. Returns whether a progress bar showed while busy."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu").get_by_role("menuitem", name="Run All Cells").first.click()
    saw_progress = False
    notebook = visible_notebook(page)
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in notebook.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
        busy = any("*" in p for p in prompts)
        if busy and expect_progress and not saw_progress:
            saw_progress = notebook.locator(".jp-OutputArea .widget-hprogress").count() > 0
        if prompts and not busy and all(NUMBERED_PROMPT.match(p) for p in prompts):
            break
        if notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count():
            break  # an error stops Run All; report it below instead of waiting for the timeout
        time.sleep(0.2)
    else:
        pytest.fail(f"Run All did not finish within {RUN_TIMEOUT} s")
    wait_until_idle(page)
    return saw_progress


def wait_until_idle(page) -> None:
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=60_000)
    time.sleep(0.5)  # let the last output render


def check_sliders(page, shot_prefix: Path) -> int:
    """Move the first slider of every interactive widget; return how many changed their output."""
    live = 0
    containers = visible_notebook(page).locator(".widget-interact, .widget-vbox:has(.widget-output)")
    for index in range(containers.count()):
        container = containers.nth(index)
        handle = container.locator(".noUi-handle").first
        output = container.locator(".widget-output").first
        if not handle.count() or not output.count():
            continue
        container.scroll_into_view_if_needed()
        before = output.inner_html()
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and output.inner_html() == before:
            time.sleep(0.2)
        assert output.inner_html() != before, f"widget {index}: moving the slider did not change the output"
        wait_until_idle(page)
        page.screenshot(path=f"{shot_prefix}-widget{index}.png")
        live += 1
    return live


@pytest.mark.parametrize("relative", NOTEBOOKS)
def test_run_all_in_jupyterlab(lab, browser, relative):
    workspace = re.sub(r"\W", "-", relative)  # a fresh workspace: no tabs left from earlier notebooks
    SHOTS.mkdir(parents=True, exist_ok=True)
    prefix = SHOTS / relative.replace("/", "__").removesuffix(".ipynb")
    code = code_of(relative)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab}/lab/workspaces/{workspace}/tree/{relative}?reset")
        visible_notebook(page).locator(".jp-CodeCell").first.wait_for(timeout=90_000)
        page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=90_000)
        expect_progress = bool(TRAINING_CALLS.search(code)) and "progress=False" not in code
        saw_progress = run_all(page, expect_progress)
        assert page.get_by_text(NEWS_PROMPT).count() == 0, "JupyterLab asks about Jupyter news"
        page.screenshot(path=f"{prefix}-end.png")

        notebook = visible_notebook(page)
        errors = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert errors.count() == 0, "error output:\n" + "\n---\n".join(errors.all_inner_texts())[-3000:]

        images = notebook.locator('.jp-OutputArea-output[data-mime-type="image/png"] img')
        decoded = images.evaluate_all("imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
        expected = stored_figures(relative)
        assert images.count() >= expected, f"{images.count()} figures rendered, the lesson has {expected}"
        assert decoded == images.count(), f"only {decoded} of {images.count()} figures decoded as images"

        if "interact" in code:
            assert check_sliders(page, prefix) >= 1, "no live slider found"
        if expect_progress:
            assert saw_progress, "no progress bar appeared while training ran"

        notebook.locator(".jp-WindowedPanel-outer").first.evaluate("panel => panel.scrollTo(0, 0)")
        time.sleep(0.3)
        page.screenshot(path=f"{prefix}-top.png")
    finally:
        page.close()
        shut_down_kernels(lab)
