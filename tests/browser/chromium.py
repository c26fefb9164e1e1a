"""Debian's Chromium, headless and offline, driven by Playwright: shared by the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; without the background-networking flags it keeps trying
# to reach Google's hosts, which a closed network refuses many times a second.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", ROOT / "build" / "browser-screenshots"))
# CI sets it (.ci/run, the hosted workflow): there a missing browser is a failure, not a skip,
# so that a green run means the browser tests ran.
REQUIRE_VARIABLE = "NNLIB_REQUIRE_BROWSER"


def require_chromium(make_target: str) -> None:
    """Skip the test when Chromium is missing (the make targets install it), naming `make_target`;
    fail instead when $NNLIB_REQUIRE_BROWSER is 1."""
    if CHROMIUM.exists():
        return
    reason = (f"Chromium is not installed at {CHROMIUM} and `{make_target}` could not install it "
              "(apt-get install chromium); the browser test needs it")
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason} ({REQUIRE_VARIABLE}=1: a missing browser fails)", pytrace=False)
    pytest.skip(reason)


def launched_chromium(make_target: str, extra_flags: Sequence[str] = (),
                      shots: Path | None = None) -> Iterator:
    """Yield a Playwright `Browser` (for a module-scoped fixture), or skip (or fail: see
    `require_chromium`) when Chromium is missing; print where `shots` went."""
    require_chromium(make_target)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        flags = [*CHROMIUM_FLAGS, *extra_flags]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        yield browser
        browser.close()
    if shots is not None:
        print(f"\nscreenshots: {shots}")
