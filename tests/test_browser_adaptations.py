"""The in-browser course's adaptations (nnlib/course/browser.py, the browser branch of
lesson_epochs), tested here by imitating what differs in Pyodide; `make test-lite` runs the
real thing in Chromium."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nnlib.course import browser
from nnlib.train import lesson_epochs


def wasm32_bincount(x, /, weights=None, minlength=0):
    """np.bincount as on wasm32: its index type is int32 and it refuses to cast int64 to it."""
    x = np.asarray(x)
    if x.dtype.itemsize > 4:
        raise TypeError(f"Cannot cast array data from dtype('{x.dtype}') to dtype('int32') according to "
                        "the rule 'safe'")
    return np.bincount(x, weights=weights, minlength=minlength)


def test_bincount_of_int64_labels_works_as_on_a_64_bit_machine():
    labels = np.array([3, 1, 3, 0, 9], dtype=np.int64)
    with pytest.raises(TypeError, match="Cannot cast"):
        wasm32_bincount(labels)
    adapted = browser.index_safe_bincount(wasm32_bincount, index_type=np.int32)
    assert adapted(labels, minlength=10).tolist() == np.bincount(labels, minlength=10).tolist()
    assert adapted(np.zeros(0, dtype=np.int64), minlength=4).tolist() == [0, 0, 0, 0]
    assert adapted(labels, weights=np.ones(5) / 2).tolist() == (np.bincount(labels) / 2).tolist()


def test_bincount_leaves_the_errors_of_wrong_input_to_numpy():
    adapted = browser.index_safe_bincount(wasm32_bincount, index_type=np.int32)
    with pytest.raises(ValueError, match="negative"):
        adapted(np.array([-1, 2], dtype=np.int32))
    with pytest.raises(TypeError):  # too large for int32: not cast, NumPy's own refusal
        adapted(np.array([2**40], dtype=np.int64))


def test_adapt_does_nothing_outside_the_browser():
    before = np.bincount
    browser.adapt()
    assert np.bincount is before and not browser.IN_BROWSER


def test_lesson_epochs_in_the_browser_is_one_unless_nnlib_epochs_says(monkeypatch):
    monkeypatch.delenv("NNLIB_EPOCHS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert lesson_epochs(40) == 40
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert lesson_epochs(40) == 1
    monkeypatch.setenv("NNLIB_EPOCHS", "3")
    assert lesson_epochs(40) == 3
