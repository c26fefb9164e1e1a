"""The course site (make site) as a reader meets it: served on localhost, read in headless Chromium.

Every request that is not to localhost is blocked (and counted as a failure). On every page:
nothing failed to load and the console has no errors; every image loaded and has alt text;
every formula is typeset (no raw TeX left in the visible text); every internal link resolves
(its anchor too); at a 390-pixel-wide viewport the page does not scroll sideways (code blocks,
formulas and tables may scroll inside themselves); axe-core finds no violation of the WCAG 2.0
and 2.1 A and AA rules (among them: a keyboard reaches every block that scrolls). Across pages:
previous/next walk the lessons in order, and search finds the right lessons. Screenshots of a
lesson page, wide and narrow (and dark), go to build/browser-screenshots/ (or $BROWSER_SCREENSHOTS).

Run with `make test-site` (builds the site first).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import axe
from tests.browser.chromium import ROOT, SHOTS, launched_chromium

pytestmark = pytest.mark.browser

SITE = ROOT / "build" / "site"
LESSONS = [f"notebooks/{p.stem}.html" for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
PAGES = ["index.html", *LESSONS, "TEACHING.html", "search.html", "genindex.html"]
if (ROOT / "benchmarks" / "README.md").exists():
    PAGES.insert(-2, "benchmarks/README.html")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
WIDE, NARROW = {"width": 1400, "height": 1000}, {"width": 390, "height": 844}
RAW_TEX = re.compile(r"\\(frac|sum|begin|mathbf|partial|left|right|cdot)\b"  # a TeX command
                     r"|\\\(|\\\[|\$\$|\$[^\s$][^$\n]{0,80}\$")  # math delimiters
# The focused element is one of course.js's blocks (marked, so it takes focus) that is wider than its box.
SCROLLS_SIDEWAYS = ("(e => e.dataset.courseScrolls === '1' && e.scrollWidth > e.clientWidth + 1)"
                    "(document.activeElement)")
SCREENSHOT_LESSONS = ("notebooks/02_forward_pass.html", "notebooks/07_results.html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The built site on a free localhost port."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site in {SITE.relative_to(ROOT)}/: run `make site` (or `make test-site`)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium("make test-site")


class Reader:
    """A browser page that blocks other hosts and records everything that went wrong."""

    def __init__(self, browser, viewport: dict, color_scheme: str = "light") -> None:
        self.context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        self.problems: list[str] = []
        self.context.route("**/*", self._only_localhost)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} ({r.failure})"))
        self.page.on("response",
                     lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def _only_localhost(self, route) -> None:
        url = route.request.url
        if urlparse(url).scheme in ("http", "https") and urlparse(url).hostname not in LOCAL_HOSTS:
            self.problems.append(f"blocked request to another host: {url}")
            route.abort()
        else:
            route.continue_()

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="load")
        self.page.evaluate(  # wait until MathJax has typeset the page
            "async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise; }")
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def reader(browser):
    opened = Reader(browser, WIDE)
    yield opened
    opened.close()


def visible_prose(page) -> str:
    """The page's visible text without code (code may hold a literal $ or backslash)."""
    return page.evaluate("""() => {
        const main = document.querySelector('article') || document.body;
        const copy = main.cloneNode(true);
        copy.querySelectorAll('pre, code, .highlight, script, style, mjx-container').forEach(e => e.remove());
        return copy.textContent;
    }""")


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly_with_images_math_and_links(site, reader, path):
    assert (SITE / path).exists(), f"{path} was not built"
    reader.open(site + path)
    page = reader.page

    images = page.evaluate("""() => [...document.images].map(i => ({
        src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0, alt: (i.alt || '').trim()}))""")
    for image in images:
        assert image["loaded"], f"image did not load: {image['src']}"
        assert image["alt"], f"image without alt text: {image['src']}"
    if path in LESSONS:
        assert page.locator(".cell_output img").count() >= 1, "a lesson page shows no figure"
        assert page.get_by_text("Launch on Binder").count() == 1, "no Binder launch links"
        in_browser = page.locator("a[href*='lite/lab/index.html?path=']").evaluate_all(
            "links => links.map(a => a.href)")
        assert any(h.endswith(f"notebooks/{Path(path).stem}.ipynb") for h in in_browser), \
            "no 'Run in your browser' link"
        downloads = page.locator("a.download").evaluate_all("links => links.map(a => a.href)")
        assert any(d.endswith(Path(path).stem + ".ipynb") for d in downloads), "no notebook download link"

    leftovers = sorted({m.group(0) for m in RAW_TEX.finditer(visible_prose(page))})
    assert not leftovers, f"raw TeX in the visible text (not typeset): {leftovers[:10]}"
    if page.locator(".math").count():
        assert page.locator("mjx-container").count() >= page.locator(".math").count(), "formulas not typeset"

    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for link in {urljoin(site + path, href) for href in links}:
        if not link.startswith(site):
            continue
        target, _, anchor = link.partition("#")
        file = SITE / urlparse(target).path.removeprefix(urlparse(site).path)
        file = file / "index.html" if file.is_dir() else file
        assert file.is_file(), f"internal link to a missing page: {link}"
        if anchor and file.suffix == ".html":
            html = file.read_text(encoding="utf-8")
            assert f'id="{anchor}"' in html, f"internal link to a missing anchor: {link}"
    assert not reader.problems, "\n".join(reader.problems)


@pytest.mark.parametrize("path", PAGES)
def test_no_sideways_scrolling_on_a_phone(site, browser, path):
    phone = Reader(browser, NARROW)
    try:
        phone.open(site + path)
        overflow = phone.page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const inScroller = e => e.closest(
                'pre, .highlight, .table-wrapper, mjx-container, .math-wrapper, div.math');
            const wide = [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > width + 1 && !inScroller(e))
                .map(e => e.tagName + '.' + e.className);
            return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
        }""")
        assert overflow["scroll"] <= overflow["width"], f"the page scrolls sideways at 390 px: {overflow}"
        assert not phone.problems, "\n".join(phone.problems)
    finally:
        phone.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_accessibility_violations_on_a_phone(site, browser, axe_script, path):
    """At 390 px more blocks scroll sideways: each still takes keyboard focus."""
    phone = Reader(browser, NARROW)
    try:
        phone.open(site + path)
        violations = axe_violations(phone.page, axe_script)
        assert not violations, f"axe-core {axe.VERSION} on {path}, 390 px: " + "\n".join(map(str, violations))
    finally:
        phone.close()


@pytest.fixture(scope="module")
def axe_script() -> str:
    """axe-core's script, fetched beforehand (the test itself is offline)."""
    if not axe.SCRIPT.exists():
        pytest.fail(f"axe-core is not in {axe.SCRIPT}: "
                    "run `python -m tests.browser.axe` (make test-site does)")
    return axe.SCRIPT.read_text(encoding="utf-8")


def axe_violations(page, script: str) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on `page`: rule, impact, count, first elements."""
    page.add_script_tag(content=script)
    return page.evaluate("""async tags => {
        const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
        const result = await axe.run(document, options);
        return result.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                                            where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""", list(axe.WCAG_TAGS))


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_accessibility_violations(site, reader, axe_script, path):
    reader.open(site + path)
    violations = axe_violations(reader.page, axe_script)
    assert not violations, f"axe-core {axe.VERSION} on {path}: " + "\n".join(map(str, violations))
    assert not reader.problems, "\n".join(reader.problems)


def test_axe_finds_the_violations_it_is_here_for(browser, axe_script):
    """The check can fail: a page with the site's old faults (a code block that scrolls but takes
    no focus, an image without alt text) gets axe's violations."""
    page = browser.new_page()
    try:
        page.set_content("""<html lang="en"><head><title>faults</title></head><body><main>
            <div style="overflow-x: auto; width: 100px"><pre>""" + "x" * 400 + """</pre></div>
            <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="10" height="10">
            </main></body></html>""")
        rules = {v["rule"] for v in axe_violations(page, axe_script)}
    finally:
        page.close()
    assert {"scrollable-region-focusable", "image-alt"} <= rules, rules


def test_keyboard_alone_skips_to_the_lesson_scrolls_its_code_and_switches_the_theme(site, browser):
    """Tab from the top: the first stop skips to the content; further Tabs reach a code block that
    scrolls, and arrow keys scroll it (elsewhere they turn the page); the theme button works with Enter."""
    phone = Reader(browser, NARROW)
    page = phone.page
    try:
        phone.open(site + "notebooks/02_forward_pass.html")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
        page.keyboard.press("Enter")
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate(SCROLLS_SIDEWAYS):
                break
        else:
            pytest.fail("60 Tabs after 'Skip to content' reached no code block that scrolls sideways")
        label = page.evaluate("document.activeElement.getAttribute('aria-label')")
        assert label.endswith("(scrolls)"), label
        url = page.url
        for _ in range(10):
            page.keyboard.press("ArrowRight")
        assert page.url == url, "the right arrow key turned the page instead of scrolling the code"
        try:  # Chromium scrolls smoothly: on a busy machine the first frames can take a while
            page.wait_for_function("document.activeElement.scrollLeft > 0", timeout=10_000)
        except PlaywrightTimeout:
            pytest.fail("arrow keys do not scroll the block (scrollLeft still 0 after 10 s)")

        toggle = page.locator(".theme-toggle-header .theme-toggle, button.theme-toggle").first
        before = page.evaluate("document.body.dataset.theme")
        toggle.focus()
        page.keyboard.press("Enter")
        after = page.evaluate("document.body.dataset.theme")
        assert after != before, "Enter on the theme button does nothing"
        assert not phone.problems, "\n".join(phone.problems)
    finally:
        phone.close()


def walk(reader: Reader, start: str, link: str) -> list[str]:
    """Follow the 'next' (or 'previous') link from `start` to the end; return the paths visited."""
    visited = []
    reader.open(start)
    while True:
        step = reader.page.locator(f"a.{link}-page")
        if not step.count():
            return visited
        step.first.click()
        reader.page.wait_for_load_state("load")
        visited.append(urlparse(reader.page.url).path.lstrip("/"))
        assert len(visited) < 50, "previous/next links go round in a circle"


def test_previous_and_next_walk_the_lessons_in_order(site, reader):
    forward = walk(reader, site + "index.html", "next")
    assert [p for p in forward if p in LESSONS] == LESSONS, f"next-links visit {forward}"
    assert forward[: len(LESSONS)] == LESSONS, "the lessons come first, right after the home page"
    backward = walk(reader, site + LESSONS[-1], "prev")
    assert [p for p in backward if p in LESSONS] == LESSONS[-2::-1], f"previous-links visit {backward}"
    assert not reader.problems, "\n".join(reader.problems)


@pytest.mark.parametrize(("word", "lesson"), [("softmax", "02_forward_pass"), ("momentum", "06_optimizers")])
def test_search_finds_the_lesson(site, reader, word, lesson):
    reader.open(f"{site}search.html?q={word}")
    results = reader.page.locator("ul.search li a")
    results.first.wait_for(timeout=15_000)
    found = [urlparse(href).path for href in results.evaluate_all("links => links.map(a => a.href)")]
    assert any(lesson in href for href in found[:3]), f"search for {word!r}: top results {found[:5]}"
    assert not reader.problems, "\n".join(reader.problems)


@pytest.mark.parametrize("lesson", SCREENSHOT_LESSONS)
def test_screenshots_of_a_lesson_wide_narrow_and_dark(site, browser, lesson):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport, scheme in (("wide", WIDE, "light"), ("narrow", NARROW, "light"),
                                   ("dark", WIDE, "dark")):
        shot = Reader(browser, viewport, color_scheme=scheme)
        try:
            shot.open(site + lesson)
            prefix = SHOTS / f"site__{Path(lesson).stem}-{name}"
            shot.page.screenshot(path=f"{prefix}-top.png")
            shot.page.locator(".cell_output img").first.scroll_into_view_if_needed()
            shot.page.screenshot(path=f"{prefix}-figure.png")
            display_math = shot.page.locator("mjx-container[display='true']")
            if display_math.count():  # 07 has inline math only
                display_math.first.scroll_into_view_if_needed()
                shot.page.screenshot(path=f"{prefix}-math.png")
            assert not shot.problems, "\n".join(shot.problems)
        finally:
            shot.close()
