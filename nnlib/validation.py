"""Argument checks shared by nnlib's public functions.

Each check raises a one-line `ValueError` (also for a value of the wrong kind, so that one `except
ValueError` catches every bad argument) that names the function, the argument, what was expected and what
came (`fit: batch_size must be a positive integer, got 32.5`): a learner sees their own mistake instead of
a NumPy error from deep inside.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _shown(value: Any) -> str:
    """`value` as the message shows it: short, with its type when that is the surprise."""
    if isinstance(value, str):
        return f"the string {value!r}"
    if callable(value) and not isinstance(value, type):
        name = getattr(value, "__name__", type(value).__name__)
        return f"the function or method {name} (did you forget the () to call it?)"
    text = repr(value)
    if len(text) > 60:
        text = f"a {type(value).__name__}"
    return text


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def integer(value: Any, name: str, where: str, minimum: int = 1) -> int:
    """`value` as an int if it is an integer >= `minimum` (1: a count), else a clear error."""
    if not _is_integer(value) or value < minimum:
        names = {0: "a non-negative integer", 1: "a positive integer"}
        wanted = names.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{where}: {name} must be {wanted}, got {_shown(value)}")
    return int(value)


def real(
    value: Any,
    name: str,
    where: str,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a float if it is a finite real number in the interval, else a clear error.

    The interval is `[low, high]`; `low_open` / `high_open` exclude an end (`(0, inf)` is "positive").
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    if low == 0 and math.isinf(high):
        wanted = "a positive number" if low_open else "a number >= 0"
    else:
        wanted = f"a number in {left}{low:g}, {high:g}{right}"
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not is_number:
        raise ValueError(f"{where}: {name} must be {wanted}, got {_shown(value)}")
    number = float(value)
    if not in_interval(number, low, high, low_open, high_open):
        raise ValueError(f"{where}: {name} must be {wanted}, got {number:g}")
    return number


def in_interval(
    number: float, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> bool:
    """Is `number` finite and inside `[low, high]` (an end excluded when `low_open` / `high_open`)?"""
    return (
        math.isfinite(number)
        and (number > low if low_open else number >= low)
        and (number < high if high_open else number <= high)
    )


def probability(value: Any, name: str, where: str) -> float:
    """A drop probability: a number in [0, 1)."""
    return real(value, name, where, 0.0, 1.0, high_open=True)


def generator(value: Any, name: str, where: str) -> np.random.Generator:
    """An explicit `np.random.Generator` (the course never uses a global seed)."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(
            f"{where}: {name} must be a np.random.Generator, e.g. np.random.default_rng(1), "
            f"got {_shown(value)}"
        )
    return value


# --- arrays: what the layers, losses and training check in one call before the math -----------


def check_array(x: Any, where: str) -> None:
    """Raise a `ValueError` unless `x` is a NumPy array."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{where}: expected a NumPy array, got {type(x).__name__}")


def check_input(x: np.ndarray, features: int | None, layer: str, dtype: np.dtype | None = None) -> None:
    """Raise a `ValueError` unless `x` is a 2-D float array with `features` columns (and of `dtype`, when
    given: a float64 batch in a float32 network would silently compute in float64)."""
    check_array(x, layer)
    if x.dtype.kind != "f":  # not np.issubdtype: this runs for every layer of every batch
        raise ValueError(
            f"{layer}: expected a float array, got dtype {x.dtype}"
            " (scale images to [0, 1] floats first, e.g. with nnlib.data.load_mnist)"
        )
    if dtype is not None and x.dtype != dtype:
        raise ValueError(
            f"{layer}: expected {np.dtype(dtype)} input (the dtype of the weights), got {x.dtype};"
            f" convert it with x.astype(np.{np.dtype(dtype)}), or build the network with dtype=np.{x.dtype}"
        )
    if x.ndim != 2 or (features is not None and x.shape[1] != features):
        wanted = f"(batch, {features})" if features is not None else "(batch, features)"
        hint = ""
        if x.ndim == 3 and features == x.shape[1] * x.shape[2]:
            hint = f"; flatten the images first: x.reshape(len(x), {features})"
        raise ValueError(f"{layer}: expected input of shape {wanted}, got {x.shape}{hint}")


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise a `ValueError` if `x` holds NaN or inf. A finite sum of squares proves there are none in one
    pass (`np.vdot`, a BLAS dot natively: twice as quick as min and max, three times as a sum); only when
    it is not finite (NaN, inf, or squares too large for the dtype) do min and max decide."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite = not x.size or np.isfinite(np.vdot(x, x)) or (np.isfinite(x.min()) and np.isfinite(x.max()))
    if not finite:
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{what}: contains {bad} NaN or infinite values; expected finite numbers")


def check_gradient(dy: np.ndarray, shape: tuple[int, ...] | None, layer: str) -> None:
    """Raise unless forward ran (`shape` is its output's, None before) and `dy` has that shape."""
    if shape is None:
        raise RuntimeError(f"{layer}: call forward before backward")
    if not isinstance(dy, np.ndarray):
        raise ValueError(f"{layer}.backward: expected dy as a NumPy array, got {type(dy).__name__}")
    if dy.shape != shape:
        raise ValueError(
            f"{layer}.backward: expected dy of shape {shape} (the shape of the forward output), "
            f"got {dy.shape}"
        )


def check_logits(logits: np.ndarray, where: str) -> None:
    """Raise a `ValueError` unless `logits` is a 2-D float array `(batch, classes)`."""
    if not isinstance(logits, np.ndarray):
        raise ValueError(f"{where}: expected logits as a NumPy array (batch, classes), "
                         f"got {type(logits).__name__}")
    if logits.ndim != 2:
        hint = "; for one sample use logits[None, :]" if logits.ndim == 1 else ""
        raise ValueError(f"{where}: expected logits of shape (batch, classes), "
                         f"got shape {logits.shape}{hint}")
    if logits.dtype.kind != "f":
        raise ValueError(f"{where}: expected float logits, got dtype {logits.dtype}")


def check_labels(labels: np.ndarray, batch: int, classes: int) -> None:
    """Raise a `ValueError` unless `labels` are `batch` integers in `0..classes-1`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != batch:
        raise ValueError(
            f"labels: expected shape ({batch},) to match the {batch} inputs, got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if batch and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"labels: expected values in 0..{classes - 1}, got values from {labels.min()} to {labels.max()}"
        )


def check_logits_and_labels(logits: np.ndarray, labels: np.ndarray, where: str) -> None:
    """`check_logits`, then `check_labels` against the logits' batch and classes."""
    check_logits(logits, where)
    check_labels(labels, logits.shape[0], logits.shape[1])


def parameter_list(weights: Any, where: str, parameter_type: type) -> list:
    """The weights as a list, or a clear error if they are not `Parameter`s (e.g. bare arrays)."""
    try:
        found = list(weights)
    except TypeError:  # not iterable, e.g. one Parameter
        found = None
    if found is None or not all(isinstance(w, parameter_type) for w in found):
        raise ValueError(
            f"{where}: weights must be a list of Parameters such as model.weights(), got "
            f"{type(weights).__name__}" + ("" if found is None else " holding other things")
        )
    return found


def optimizer_parameters(params: Any, where: str, parameter_type: type) -> list:
    """`params` as a list of `Parameter`s, or an error naming what came instead (a model, the method
    `model.parameters` without its call, bare arrays)."""
    hint = ""
    if callable(params):
        hint = ": call it, model.parameters()"
    elif hasattr(params, "parameters"):
        hint = ": pass model.parameters(), not the model itself"
    found = list(params) if isinstance(params, list | tuple) else None
    if found is None or not found or not all(isinstance(p, parameter_type) for p in found):
        what = type(params).__name__ if found is None else (
            f"a {type(params).__name__} of {len(found)} items" + (" (not all Parameters)" if found else ""))
        raise ValueError(f"{where}: params must be a non-empty list of Parameters such as "
                         f"model.parameters(), got {what}{hint}")
    return found
