"""Without Chromium the browser tests skip on a learner's machine, and fail where CI requires
the browser ($NNLIB_REQUIRE_BROWSER=1), so that a green CI run means they ran."""

from __future__ import annotations

import pytest

from tests.browser import chromium


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(chromium, "CHROMIUM", tmp_path / "no-chromium")


def test_missing_chromium_skips_by_default(no_chromium, monkeypatch):
    monkeypatch.delenv(chromium.REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="make test-site"):
        next(chromium.launched_chromium("make test-site"))


def test_missing_chromium_fails_when_required(no_chromium, monkeypatch):
    monkeypatch.setenv(chromium.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="NNLIB_REQUIRE_BROWSER=1"):
        next(chromium.launched_chromium("make test-browser"))


def test_present_chromium_is_neither_skipped_nor_failed(monkeypatch, tmp_path):
    present = tmp_path / "chromium"
    present.touch()
    monkeypatch.setattr(chromium, "CHROMIUM", present)
    monkeypatch.setenv(chromium.REQUIRE_VARIABLE, "1")
    chromium.require_chromium("make test-site")
