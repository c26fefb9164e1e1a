"""What your pieces return, checked where training calls them (`guarded`, used by `assemble`).

A piece that failed its check still trains (so that you see what the bug does); when what it
returns cannot go on (None, a tuple of the wrong length, the wrong shape or dtype, NaN from
finite inputs, an array where one number belongs), training stops at once with a message
that names your function, its lesson and what it returned, instead of a message from
nnlib's layer further down ("Linear2: expected float32 input") or a late
"try a smaller learning rate".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np


class PieceReturnedWrong(ValueError):
    """Your piece returned something training cannot use; the message names the piece."""


class Located(Protocol):
    where: dict[str, str]


def returned(pieces: Located, name: str, value: Any, like: Any, inputs: Sequence[np.ndarray] = (),
             names: Sequence[str] = ()) -> Any:
    """`value`, as returned by your piece `name`, if training can use it, else raise
    `PieceReturnedWrong` naming the piece and its lesson.

    `like`: an array whose shape and dtype the result must have, `float` for one number, or
    `...` for anything; with `names` (a tuple is returned), one of these per name. `inputs`:
    the arrays given to the piece; a NaN or infinity it returns is its own only when they
    are all finite."""
    if not names:
        _check_part(pieces, name, value, like, "", inputs)
        return value
    if not isinstance(value, tuple | list) or len(value) != len(names):
        _wrong(pieces, name, f"{_describe(value)}, expected the {len(names)} values ({', '.join(names)})")
    for part, model, what in zip(value, like, names, strict=True):
        _check_part(pieces, name, part, model, what, inputs)
    return value


def _check_part(pieces: Located, name: str, part: Any, model: Any, what: str,
                inputs: Sequence[np.ndarray]) -> None:
    of = f" as {what}" if what else ""
    if model is ...:
        return
    if model is float:
        number = isinstance(part, int | float | np.generic | np.ndarray) and not isinstance(part, bool)
        if not number or np.ndim(part) != 0 or np.asarray(part).dtype.kind not in "fiu":
            _wrong(pieces, name, f"{_describe(part)}{of}, expected one number (a float)")
        if not np.isfinite(float(part)) and _finite(inputs):
            _wrong(pieces, name, f"{float(part)}{of} from finite inputs")
        return
    if not isinstance(part, np.ndarray):
        _wrong(pieces, name, f"{_describe(part)}{of}, expected a NumPy array of shape {model.shape}")
    array = what or "an array"
    if part.shape != model.shape:
        _wrong(pieces, name, f"{array} of shape {part.shape}, expected {model.shape}")
    if part.dtype != model.dtype:
        _wrong(pieces, name, f"{array} of dtype {part.dtype}, expected {model.dtype}, the dtype of its input "
                             "(an operation made a copy of another dtype)")
    if part.size and not (np.isfinite(part.min()) and np.isfinite(part.max())) and _finite(inputs):
        bad = int(np.count_nonzero(~np.isfinite(part)))
        _wrong(pieces, name, f"{bad} NaN or infinite values{of} from finite inputs")


def _finite(arrays: Sequence[np.ndarray]) -> bool:
    return all(not a.size or (np.isfinite(a.min()) and np.isfinite(a.max()))
               for a in arrays if isinstance(a, np.ndarray))


def _describe(value: Any) -> str:
    if value is None:
        return "None (a missing return?)"
    if isinstance(value, tuple | list):
        return f"a {len(value)}-{type(value).__name__}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _wrong(pieces: Located, name: str, what: str) -> None:
    where = pieces.where.get(name, "your code")
    raise PieceReturnedWrong(f"your {name} ({where}) returned {what}; its check says what is wrong: "
                             "fix it there, save, and run this lesson again")


def _like(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array's shape and dtype, without its memory."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _width(layers: Sequence[Any], attribute: str, last: bool) -> Any:
    sizes = [getattr(layer, attribute) for layer in layers if hasattr(layer, attribute)]
    return (sizes[-1] if last else sizes[0]) if sizes else None


def _batch_of(x: np.ndarray, width: int | None) -> Any:
    """`(len(x), width)` in x's dtype, or anything when the width is unknown."""
    return ... if width is None else _like((len(x), width), x.dtype)


# piece -> (what it must return, like `returned` wants it; the arrays given to it), from its arguments
EXPECTED: dict[str, Callable[..., tuple[Any, tuple]]] = {
    "linear_forward": lambda x, W, b: (_like((len(x), W.shape[1]), x.dtype), (x,)),
    "linear_backward": lambda dy, x, W: ((x, W, _like(W.shape[1:], W.dtype)), (dy, x)),
    "relu": lambda x: (x, (x,)),
    "relu_backward": lambda dy, x: (x, (dy, x)),
    "dropout_forward": lambda x, p, rng, training: ((x, ...), (x,)),
    "dropout_backward": lambda dy, mask: (dy, (dy,)),
    "cross_entropy": lambda logits, labels: (float, (logits,)),
    "softmax_cross_entropy_backward": lambda logits, labels: (logits, (logits,)),
    "sgd_momentum_step": lambda w, g, v, lr, momentum: ((w, v), (w, g)),
    "adam_step": lambda w, g, m, v, *_: ((w, m, v), (w, g)),
    "cosine_lr": lambda step, total, lr: (float, ()),
    "forward_layers": lambda layers, x, training=False: (_batch_of(x, _width(layers, "out_features", True)),
                                                         (x,)),
    "backward_layers": lambda layers, dy: (_batch_of(dy, _width(layers, "in_features", False)), (dy,)),
    "train_epoch": lambda *_: ((float, float), ()),
}
NAMES = {"linear_backward": ("dx", "dW", "db"), "dropout_forward": ("y", "mask"),
         "sgd_momentum_step": ("w", "v"), "adam_step": ("w", "m", "v"), "train_epoch": ("loss", "accuracy")}


def guarded(pieces: Located, name: str, function: Callable) -> Callable:
    """Your piece `name`, whose result is checked (`returned`) before training goes on with it."""
    if name not in EXPECTED:
        return function

    def call(*args: Any) -> Any:
        like, inputs = EXPECTED[name](*args)
        return returned(pieces, name, function(*args), like, inputs, NAMES.get(name, ()))

    return call
