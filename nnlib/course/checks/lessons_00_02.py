"""Checkers of lessons 00-02: NumPy warm-ups, the data, the forward pass."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import numpy as np

from nnlib.course.checks.core import (
    CheckFailed,
    Hint,
    _as_result,
    _call_quietly,
    _cases,
    _expect_close,
    _hint_matches,
    _matmul_shape_hints,
    checker,
    hint_scaled,
)


def _hint_rows_sum_to_one(message_if_columns: str, message_if_neither: str) -> Hint:
    """For results that should be probabilities per row."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        rows_ok = np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
        if not rows_ok and got.shape[0] > 1 and np.allclose(got.sum(axis=0), 1.0, atol=1e-5):
            return message_if_columns
        if not rows_ok:
            sums = ", ".join(f"{s:.3g}" for s in got.sum(axis=1)[:3])
            return f"{message_if_neither} (your first row sums: {sums})"
        return None

    return hint


@checker("normalize_rows", lesson="00_start_here", points=1)
def normalize_rows(fn: Callable) -> str:
    """Warm-up: `normalize_rows(x)` divides each row of a non-negative `(n, k)` array by its sum."""
    rng = _cases(1)
    cases = [
        ("a (4, 3) array", rng.random((4, 3)) + 0.1),
        ("a square (5, 5) array", rng.random((5, 5)) + 0.1),
        ("a single row (1, 6)", rng.random((1, 6)) + 0.1),
        ("a float32 (3, 10) array", (rng.random((3, 10)) + 0.1).astype(np.float32)),
    ]
    for case, x in cases:
        got = _call_quietly(
            fn, x, error_hints={"broadcast": "x.sum(axis=1) has shape (n,); keepdims=True keeps it (n, 1) "
                                             "so that it divides each row"}
        )
        expected = x / x.sum(axis=1, keepdims=True)
        _expect_close(
            _as_result(got, f"on {case}"), expected, f"on {case}",
            hints=[
                _hint_matches(lambda x=x: x / x.sum(axis=0, keepdims=True),
                              "each column sums to 1 instead of each row: sum along axis=1"),
                _hint_matches(lambda x=x: x / x.sum(),
                              "you divided by the sum of the whole array; divide each row by its own sum"),
                _hint_matches(lambda x=x: x / x.sum(axis=1),
                              "the row sums were divided across columns: keep them as a column "
                              "with keepdims=True so that row i is divided by sum i"),
            ],
        )
    return f"{len(cases)} arrays, each row sums to 1, float32 stays float32"


@checker("count_labels", lesson="00_start_here", points=1)
def count_labels(fn: Callable) -> str:
    """Warm-up: `count_labels(labels, classes)` -> `(classes,)` integer counts of each label."""
    rng = _cases(2)
    cases = [
        ("1,000 labels in 0..9", rng.integers(0, 10, 1000), 10),
        ("labels where 7, 8 and 9 never occur", rng.integers(0, 7, 50), 10),
        ("3 classes", np.array([2, 0, 2, 2, 1]), 3),
        ("uint8 labels (as stored in the MNIST file)", rng.integers(0, 10, 30).astype(np.uint8), 10),
        ("an empty array of labels", np.zeros(0, dtype=np.int64), 4),
    ]
    for case, labels, classes in cases:
        got = _as_result(_call_quietly(fn, labels, classes), f"on {case}")
        expected = np.bincount(labels, minlength=classes)
        if got.shape != expected.shape:
            hint = ""
            if got.ndim == 1 and len(got) < classes:
                hint = f": a class that never occurs still needs its count 0, so there are always {classes}"
            raise CheckFailed(f"on {case}: expected shape {expected.shape}, got {got.shape}{hint}")
        if not np.issubdtype(got.dtype, np.integer):
            raise CheckFailed(f"on {case}: counts should be integers, got dtype {got.dtype}")
        _expect_close(got, expected, f"on {case}", hints=[
            _hint_matches(lambda e=expected: (e > 0).astype(e.dtype),
                          "every count is 0 or 1: counts[labels] += 1 adds 1 once per distinct label, "
                          "however often it repeats (fancy indexing); use np.add.at(counts, labels, 1), "
                          "np.bincount or a loop"),
        ])
    return f"{len(cases)} cases, including classes that never occur and no labels at all"


@checker("scale_images", lesson="01_data", points=1, references=("nnlib.data:scale_images",))
def scale_images(fn: Callable) -> str:
    """Lesson 01: uint8 images `(n, height, width)` -> float32 rows `(n, height * width)` in [0, 1]."""
    from nnlib.data import scale_images as reference

    rng = _cases(3)
    batch = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    batch[0, 0, 0], batch[0, 0, 1] = 0, 255  # a white and a black pixel for sure
    cases = [
        ("5 random 28x28 images", batch),
        ("a single all-ink image (every pixel 255)", np.full((1, 28, 28), 255, dtype=np.uint8)),
        ("3 images of 8x8 pixels", rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)),
    ]
    for case, images in cases:
        got = _call_quietly(fn, images, error_hints={
            "cannot reshape": "the images may have any size (height, width): don't write 784 into the code"})
        got = _as_result(got, f"on {case}")
        expected = reference(images)
        case = f"on {case}"
        if got.shape == images.shape:
            raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}: "
                              "flatten each image into one row of pixels")
        if got.dtype == np.float64:
            raise CheckFailed(f"{case}: your result is float64. Dividing a uint8 array by 255 gives float64 "
                              "(twice the memory of float32): convert to float32 first, then scale")
        if got.dtype.kind in "iub":
            raise CheckFailed(f"{case}: your result has dtype {got.dtype}; it must be float32 in [0, 1]")
        if got.dtype == np.float32 and _makes_float64_copy(fn, images):
            raise CheckFailed(f"{case}: right values, but on the way your function makes a float64 copy of "
                              "the images (dividing uint8 by 255 gives float64, twice the memory of "
                              "float32): convert to float32 first, then divide")
        _expect_close(
            got, expected, case,
            hints=[
                hint_scaled(255 / 256, "divide by 255 (the largest pixel value), not 256: "
                                       "an ink pixel must become exactly 1.0"),
                hint_scaled(255, "the pixels are not scaled yet: divide by 255 so they lie in [0, 1]"),
            ],
        )
    return f"{len(cases)} batches: float32, flattened, 0 -> 0.0 and 255 -> 1.0"


class _Watched(np.ndarray):
    """The images, watched: `record` (shared with their views and casts) holds their size and the shapes
    of the float64 arrays as large as all the images that an operation on them made. Watching operations,
    not memory, leaves alone what else a correct function does (printing, building a list)."""

    def __array_finalize__(self, parent) -> None:
        self.record = getattr(parent, "record", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [x.view(np.ndarray) if isinstance(x, _Watched) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, _Watched) else x for x in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        for part in result if isinstance(result, tuple) else (result,):
            self._note(part)
        return result

    def astype(self, dtype, *args, **kwargs):
        return self._note(super().astype(dtype, *args, **kwargs))

    def _note(self, array):
        if self.record is not None and isinstance(array, np.ndarray) and array.dtype == np.float64 \
                and array.size >= self.record["size"]:
            self.record["float64"].append(array.shape)
        return array


def _makes_float64_copy(fn: Callable, images: np.ndarray) -> bool:
    """Does `fn(images)` make a float64 array as large as the images on the way (say `images / 255`,
    before converting to float32)?"""
    watched = images.copy().view(_Watched)
    watched.record = {"size": images.size, "float64": []}
    try:
        with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            fn(watched)
    except Exception:  # the normal call already succeeded; a failure here says nothing
        return False
    return bool(watched.record["float64"])


@checker("one_hot", lesson="01_data", points=1, references=("nnlib.data:one_hot",))
def one_hot(fn: Callable) -> str:
    """Lesson 01: `one_hot(labels (n,), classes) -> (n, classes)` float32."""
    from nnlib.data import one_hot as reference

    rng = _cases(4)
    cases = [
        ("6 labels, 10 classes", rng.integers(0, 10, 6), 10),
        ("4 labels, 4 classes", np.array([3, 0, 2, 2]), 4),
        ("a single label 9", np.array([9]), 10),
        ("uint8 labels (as stored in the MNIST file)", rng.integers(0, 10, 12).astype(np.uint8), 10),
    ]
    for case, labels, classes in cases:
        got = _as_result(_call_quietly(fn, labels, classes), f"on {case}")
        expected = reference(labels, classes)
        case = f"on {case}"
        if got.shape == expected.T.shape and got.shape != expected.shape:
            raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}: your result is "
                              "transposed; one row per label, one column per class")
        if got.shape == expected.shape and got.dtype != np.float32:
            raise CheckFailed(f"{case}: expected dtype float32, got {got.dtype}: the one-hot rows meet "
                              "float32 probabilities, and another dtype would upcast or truncate them")
        _expect_close(
            got, expected, case,
            hints=[
                _hint_matches(lambda e=expected: e.T, "your result is transposed: row i must be the "
                                                       "one-hot vector of label i"),
                _hint_matches(lambda e=expected: np.roll(e, -1, axis=1),
                              "each 1 sits one column to the left: label k belongs in column k"),
                _hint_matches(lambda e=expected: np.roll(e, 1, axis=1),
                              "each 1 sits one column to the right: label k belongs in column k"),
                _hint_skipped_row(labels),
                lambda got, expected: None if np.allclose(got.sum(axis=1), 1)
                else "each row must hold exactly one 1, at the column of its label",
            ],
        )
    return f"{len(cases)} cases: float32, one row per label, a single 1 per row at the label's column"


def _hint_skipped_row(labels: np.ndarray) -> Hint:
    """A row left all zeros while the others are right: a loop that skips a row (say range(1, n))."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        empty = np.flatnonzero(~got.any(axis=1))
        others = np.setdiff1d(np.arange(len(got)), empty)
        if len(empty) and np.array_equal(got[others], expected[others]):
            rows = ", ".join(str(int(i)) for i in empty[:3])
            return (f"row {rows} (label {int(labels[empty[0]])}) has no 1: does your loop skip it? "
                    "range(len(labels)) visits every row, from 0")
        return None

    return hint


@checker("train_val_split", lesson="01_data", points=1)
def train_val_split(fn: Callable) -> str:
    """Lesson 01: `train_val_split(x, y, validation) -> (x_train, y_train, x_val, y_val)`,
    the last `validation` samples become the validation set, in order."""
    rng = _cases(5)
    x = rng.random((20, 3)).astype(np.float32)
    y = rng.integers(0, 10, 20)
    cases = [(f"20 samples, validation={v}", v) for v in (5, 1, 0)]
    names = ("x_train", "y_train", "x_val", "y_val")
    for case, validation in cases:
        got = _call_quietly(fn, x, y, validation)
        case = f"on {case}"
        if got is None:
            raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
        if not isinstance(got, tuple | list) or len(got) != 4:
            raise CheckFailed(f"{case}: expected a tuple of 4 arrays (x_train, y_train, x_val, y_val), "
                              f"got {type(got).__name__}")
        cut = len(x) - validation
        expected = (x[:cut], y[:cut], x[cut:], y[cut:])
        if validation == 0 and len(got[2]) == len(x):
            raise CheckFailed(f"{case}: the validation set should be empty but holds all {len(x)} samples: "
                              "x[-0:] is the whole array because -0 == 0; cut at len(x) - validation instead")
        x_val = np.asarray(got[2])
        if validation and x_val.shape == (validation, x.shape[1]) and np.array_equal(x_val, x[:validation]):
            raise CheckFailed(f"{case}: x_val holds the first {validation} samples; the validation "
                              "set is the last ones (the end of the training set)")
        for name, part, want in zip(names, got, expected, strict=True):
            part = _as_result(part, f"{case}, {name}")
            if name[0] == "y" and part.dtype.kind not in "iu":
                raise CheckFailed(f"{case}: {name} has dtype {part.dtype}; labels are class numbers and must "
                                  f"stay integers like y ({y.dtype}): split y without converting it")
            same_rows = part.shape == want.shape and np.array_equal(np.sort(part, 0), np.sort(want, 0))
            if name[0] == "x" and same_rows and not np.array_equal(part, want):
                raise CheckFailed(f"{case}: {name} holds the right samples in another order: keep the "
                                  "order (no shuffling), so the split is the same on every run")
            _expect_close(part, want, f"{case}, {name}")
    return f"{len(cases)} splits, including validation=0; the validation set is the end, in order"


@checker("linear_forward",
         lesson="02_forward_pass",
         points=1,
         references=("nnlib.layers:linear_forward", "nnlib.layers:Linear.forward"),
         piece="forward pass")
def linear_forward(fn: Callable) -> str:
    """Lesson 02: `linear_forward(x (N, n_in), W (n_in, n_out), b (n_out,)) -> (N, n_out)`."""
    from nnlib.layers import Linear

    rng = _cases(6)
    cases = [
        ("x (4, 6), W (6, 3)", 4, 6, 3, np.float64),
        ("a batch of 1", 1, 5, 2, np.float64),
        ("a square W (5, 5)", 3, 5, 5, np.float64),
        ("float32 x (8, 784), W (784, 128)", 8, 784, 128, np.float32),
    ]
    for case, batch, n_in, n_out, dtype in cases:
        layer = Linear(n_in, n_out, rng, dtype=dtype)
        layer.b.value = rng.standard_normal(n_out).astype(dtype)  # nonzero, so a missing b shows
        x = rng.standard_normal((batch, n_in)).astype(dtype)
        W, b = layer.W.value, layer.b.value
        got = _call_quietly(
            fn, x, W, b,
            error_hints=_matmul_shape_hints("x is (N, n_in) and W is (n_in, n_out); their product in that "
                                            "order is (N, n_out)"),
        )
        got = _as_result(got, f"on {case}")
        if got.ndim == 2 and got.shape == (n_out, batch) and n_out != batch:
            raise CheckFailed(f"on {case}: expected shape ({batch}, {n_out}), one row per example, got "
                              f"{got.shape}, its transpose: compute x @ W + b (x first)")
        _expect_close(
            got, layer.forward(x), f"on {case}",
            rtol=1e-4 if dtype == np.float32 else 1e-7, atol=1e-5 if dtype == np.float32 else 1e-9,
            hints=[
                _hint_matches(lambda x=x, W=W: x @ W, "the bias b is missing: add it to every row"),
                _hint_matches(lambda x=x, W=W, b=b: x @ W.T + b, "you used W transposed: W has shape "
                                                                 "(n_in, n_out), so y = x W"),
                _hint_matches(lambda x=x, W=W, b=b: x @ W - b, "add the bias, don't subtract it"),
            ],
        )
    return f"{len(cases)} cases, including a batch of 1 and a square W; matches nnlib.layers.Linear"


@checker("relu", lesson="02_forward_pass", points=1,
         references=("nnlib.layers:relu", "nnlib.layers:ReLU.forward"),
         piece="forward pass")
def relu(fn: Callable) -> str:
    """Lesson 02: `relu(x) -> max(x, 0)`, elementwise, same shape and dtype."""
    from nnlib.layers import ReLU

    rng = _cases(7)
    cases = [
        ("x (4, 5)", rng.standard_normal((4, 5))),
        ("all-negative x (3, 3)", -rng.random((3, 3)) - 0.1),
        ("a batch of 1", rng.standard_normal((1, 7))),
        ("float32 x (6, 128)", rng.standard_normal((6, 128)).astype(np.float32)),
    ]
    for case, x in cases:
        got = _as_result(_call_quietly(fn, x), f"on {case}")
        case = f"on {case}"
        if got.dtype == bool:
            raise CheckFailed(f"{case}: you returned True/False (the test x > 0); return max(x, 0) instead")
        if got.shape != x.shape and got.shape in (x.shape[1:], x.shape[:1]):
            raise CheckFailed(f"{case}: expected shape {x.shape}, got {got.shape}: np.max(x, 0) takes the "
                              "largest value along axis 0; you need the larger of x and 0 for every entry")
        _expect_close(
            got, ReLU().forward(x), case,
            hints=[
                _hint_matches(lambda x=x: np.abs(x), "negative inputs must become 0 (you returned |x|)"),
                _hint_matches(lambda x=x: (x > 0).astype(x.dtype),
                              "you returned 1 where x > 0 (that is the derivative); return x itself there"),
                _hint_matches(lambda x=x: np.minimum(x, 0), "you kept the negative part, not the positive"),
            ],
        )
    return f"{len(cases)} cases, including all-negative inputs and float32; matches nnlib.layers.ReLU"


_KEEPDIMS_HINT = ("a row's maximum or sum, z.max(axis=1) or .sum(axis=1), has shape (N,); add "
                  "keepdims=True to keep it as a column (N, 1), so that every row is shifted and divided "
                  "by its own numbers")


@checker("softmax",
         lesson="02_forward_pass",
         points=1,
         references=("nnlib.losses:softmax", "nnlib.losses:log_softmax"),
         piece="probabilities")
def softmax(fn: Callable) -> str:
    """Lesson 02: `softmax(z (N, classes)) -> (N, classes)`, each row sums to 1."""
    from nnlib.losses import softmax as reference

    rng = _cases(8)
    shifted_rows = rng.standard_normal((2, 5))
    shifted_rows[0] += 1000.0
    shifted_rows[1] -= 1000.0
    overflow = ("NaN or inf for large logits: exp(1000) overflows to inf; subtract each row's maximum "
                "before exp (softmax does not change when a row is shifted)")
    # Logits of size ~1: exp cannot overflow there, so a NaN or inf has another cause.
    ordinary = ("NaN or inf for ordinary logits (around 1, where exp cannot overflow): a division by zero "
                "(a sum over the wrong axis, or of the wrong array?) or a log of 0")
    cases = [
        ("logits (3, 4)", rng.standard_normal((3, 4)), ordinary),
        ("square logits (4, 4)", rng.standard_normal((4, 4)) * 3, ordinary),
        ("a batch of 1", rng.standard_normal((1, 10)), ordinary),
        ("large logits (around 1000)", rng.standard_normal((3, 10)) * 5 + 1000.0, overflow),
        ("one row near +1000 and one near -1000", shifted_rows,
         "NaN for the row near -1000: subtract each row's own maximum (one per row, keepdims=True), "
         "not one maximum of the whole array"),
        ("rows spanning from 0 to 800", np.array([[0.0, 400.0, 800.0], [800.0, 0.0, 5.0]]),
         "NaN or inf for rows spanning 0 to 800: after subtracting a row's minimum its largest logit is "
         "still 800 and exp(800) overflows; subtract each row's maximum (then every exponent is <= 0)"),
        ("float32 logits (5, 10)", rng.standard_normal((5, 10)).astype(np.float32), ordinary),
    ]
    for case, z, nan_message in cases:
        got = _as_result(_call_quietly(fn, z, error_hints={"broadcast": _KEEPDIMS_HINT}), f"on {case}")
        case = f"on {case}"
        if got.shape == z.shape and got.dtype.kind == "f" and not np.isfinite(got).all():
            raise CheckFailed(f"{case}: {nan_message}")
        _expect_close(
            got, reference(z), case,
            hints=[
                _hint_rows_sum_to_one(
                    "each column sums to 1 instead of each row: softmax runs over the classes of one "
                    "sample (axis=1)",
                    "each row must sum to 1: divide by the row's sum of exponentials"),
                lambda got, expected: "each row sums to 1 but the values differ: shift each row by its "
                                      "own maximum (keepdims=True) and exponentiate every entry",
            ],
        )
    return f"{len(cases)} cases, including logits near 1000 and float32; matches nnlib.losses.softmax"


@checker("cross_entropy",
         lesson="02_forward_pass",
         points=1,
         references=("nnlib.losses:cross_entropy", "nnlib.losses:log_softmax",
                     "nnlib.losses:SoftmaxCrossEntropy.forward"),
         piece="loss")
def cross_entropy(fn: Callable) -> str:
    """Lesson 02: `cross_entropy(logits (N, classes), labels (N,)) -> float`, the mean loss."""
    from nnlib.losses import cross_entropy as reference
    from nnlib.losses import log_softmax

    rng = _cases(9)
    extreme = rng.standard_normal((5, 10))
    extreme_labels = rng.integers(0, 10, 5)
    extreme[[0, 1], extreme_labels[[0, 1]]] = -1000.0  # confidently wrong: p(true class) rounds to 0
    extreme[2] += 1000.0  # large but harmless after subtracting the max
    cases = [
        ("logits (4, 3)", rng.standard_normal((4, 3)), rng.integers(0, 3, 4)),
        ("a batch of 1", rng.standard_normal((1, 10)), np.array([7])),
        ("logits (8, 10)", rng.standard_normal((8, 10)) * 2, rng.integers(0, 10, 8)),
        ("extreme logits (a true class at -1000, a row near +1000)", extreme, extreme_labels),
        ("float32 logits (16, 10)", rng.standard_normal((16, 10)).astype(np.float32),
         rng.integers(0, 10, 16)),
    ]
    for case, z, labels in cases:
        got = _call_quietly(fn, z, labels, error_hints={"broadcast": _KEEPDIMS_HINT})
        got = _as_result(got, f"on {case}")
        case = f"on {case}"
        if got.size != 1:
            raise CheckFailed(f"{case}: expected one number (the mean loss over the batch), got an array of "
                              f"shape {got.shape}: average the per-sample losses")
        value = float(got.reshape(()))
        if np.isinf(value):
            raise CheckFailed(f"{case}: your loss is infinite: a probability rounded to 0 and log(0) = -inf. "
                              "Compute the log-probabilities with log-sum-exp instead of taking log(softmax)")
        if np.isnan(value) and np.abs(z).max() < 50:  # no exp can overflow for these logits
            raise CheckFailed(f"{case}: your loss is NaN although these logits are small (exp cannot "
                              "overflow): np.log of a negative number is NaN; did you take the log of the "
                              "raw logits? Take it of the softmax probabilities (better: log-sum-exp)")
        if np.isnan(value):
            raise CheckFailed(f"{case}: your loss is NaN: exp overflowed for large logits; subtract each "
                              "row's maximum first (log-sum-exp)")
        n, log_p = len(labels), log_softmax(z.astype(np.float64))
        _expect_close(
            np.asarray(value), np.asarray(reference(z, labels)), case, check_dtype=False,
            rtol=1e-4 if z.dtype == np.float32 else 1e-6, atol=1e-6,
            hints=[
                hint_scaled(n, "missing 1/N: the loss is the mean over the batch, not the sum"),
                hint_scaled(-1, "the loss is -log p (positive); the minus sign is missing"),
                hint_scaled(1 / np.log(10), "use the natural logarithm np.log, not log10"),
                _hint_matches(lambda log_p=log_p, labels=labels: -log_p[:, labels].mean(),
                              "[:, labels] picks whole columns (every sample's p for every label); pick one "
                              "entry per row: row i, column labels[i]"),
                _hint_matches(lambda log_p=log_p: -log_p.max(axis=1).mean(),
                              "you used the predicted class (the largest probability); use the true label"),
                _hint_matches(lambda log_p=log_p: -log_p.mean(),
                              "you averaged -log p over all classes; only the true class's p counts"),
            ],
        )
    return f"{len(cases)} cases, including extreme logits, a batch of 1; matches nnlib.losses.cross_entropy"
