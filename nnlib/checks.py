"""Exercise checkers: instant, precise feedback on a learner's function.

A checker calls the learner's function on seeded inputs (several shapes and
edge cases), compares with nnlib's own implementation and prints one line:

    ✅ softmax: passed 4 tests (shapes, large logits, ...)
    ⏳ softmax: not implemented yet (the cell above still raises NotImplementedError)

or stops the notebook with one red line (no traceback wall) saying what is
wrong: None returned, wrong shape or dtype, which entries differ and by how
much, and a likely cause when one is recognisable. It never shows the
whole solution; it names the mistake. It also notices a function that
changes its input arrays in place.

Adding a checker: write a function `name(fn)` decorated with `@checker("name")`
that calls `_call(fn, ...)` on each case and `_expect_close(...)` on the result.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Set to 1 when grading (e.g. nbgrader autograde): a not-implemented exercise then fails its check.
STRICT_VARIABLE = "NNLIB_STRICT_CHECKS"

Hint = Callable[[np.ndarray, np.ndarray], str | None]


class CheckFailed(AssertionError):
    """A learner's function gave a wrong answer. IPython shows only the message."""

    def _render_traceback_(self) -> list[str]:  # IPython hook: replaces the traceback
        return [f"\x1b[31m❌ {self}\x1b[0m"]


class _NotImplementedYet(Exception):
    pass


def checker(name: str) -> Callable[[Callable[..., str]], Callable[..., None]]:
    """Turn `check(fn) -> description of what passed` into a checker that prints one line."""

    def wrap(check: Callable[..., str]) -> Callable[..., None]:
        @functools.wraps(check)
        def run(fn: Callable, *args: Any, **kwargs: Any) -> None:
            if not callable(fn):
                raise CheckFailed(f"{name}: expected your function, got {type(fn).__name__}")
            try:
                passed = check(fn, *args, **kwargs)
            except _NotImplementedYet:
                if os.environ.get(STRICT_VARIABLE) == "1":  # grading: unanswered counts as failed
                    raise CheckFailed(f"{name}: not implemented") from None
                print(f"⏳ {name}: not implemented yet (the cell above still raises NotImplementedError); "
                      "fill it in, then run this check again")
                return
            except CheckFailed as err:
                raise CheckFailed(f"{name}: {err}") from None
            print(f"✅ {name}: passed ({passed})")

        return run

    return wrap


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function on copies of the arguments (so it cannot spoil them),
    and fail if it changed one of those array copies in place."""
    copied = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = fn(*copied, **kwargs)
    except NotImplementedError:
        raise _NotImplementedYet from None
    except Exception as err:  # the learner's code failed: say how, in one line
        raise CheckFailed(f"your function raised {type(err).__name__}: {err}") from None
    _expect_inputs_unchanged(fn, args, copied)
    return result


def _expect_inputs_unchanged(fn: Callable, originals: Sequence[Any], passed: Sequence[Any]) -> None:
    """Fail if `fn` changed an array argument in place (e.g. `x[x < 0] = 0`, `z -= z.max()`):
    the caller's array would change too, and later steps need the original (a layer's backward
    pass reads the input its forward pass saw)."""
    for position, (original, seen) in enumerate(zip(originals, passed, strict=True)):
        if not isinstance(original, np.ndarray):
            continue
        nan_equal = original.dtype.kind in "fc"  # NaN == NaN only makes sense for floats
        if seen.shape == original.shape and np.array_equal(seen, original, equal_nan=nan_equal):
            continue
        raise CheckFailed(
            f"your function changed its input {_argument_name(fn, position)} in place; leave the inputs "
            "as they are and return new arrays instead (e.g. y = x - m rather than x -= m): the caller "
            "may still need the original"
        )


def _argument_name(fn: Callable, position: int) -> str:
    """The name of `fn`'s parameter number `position` (`x`, `z`, ...), or 'argument 2'."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # builtins such as np.abs have no readable signature
        names = []
    return f"`{names[position]}`" if position < len(names) else f"(argument {position + 1})"


def _expect_close(
    got: Any,
    expected: np.ndarray,
    case: str,
    hints: Sequence[Hint] = (),
    rtol: float = 1e-5,
    atol: float = 1e-7,
    check_dtype: bool = True,
) -> None:
    """Raise `CheckFailed` with a precise message unless `got` matches `expected`."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
    if np.isscalar(expected) or np.ndim(expected) == 0:
        expected = np.asarray(expected)
    if not isinstance(got, np.ndarray | np.generic | float | int):
        raise CheckFailed(f"{case}: expected a NumPy array, got {type(got).__name__}")
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}")
    if check_dtype and expected.dtype.kind == "f" and got.dtype != expected.dtype:
        raise CheckFailed(
            f"{case}: expected dtype {expected.dtype}, got {got.dtype} "
            "(a float64 constant or np.zeros without dtype= can upcast float32 arrays)"
        )
    if got.dtype.kind == "f" and not np.isfinite(got).all() and np.isfinite(expected).all():
        bad = int(np.count_nonzero(~np.isfinite(got)))
        raise CheckFailed(
            f"{case}: {bad} entries are NaN or infinite (overflow in exp? subtract the max first)"
        )
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    for hint in hints:
        message = hint(got, expected)
        if message:
            raise CheckFailed(f"{case}: {message}")
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    first = tuple(int(i) for i in np.argwhere(wrong)[0]) if got.ndim else ()
    raise CheckFailed(
        f"{case}: {int(wrong.sum())} of {wrong.size} entries differ "
        f"(largest difference {float(np.max(np.abs(got - expected))):.3g}); "
        f"first at index {first}: got {got[first]:.6g}, expected {expected[first]:.6g}"
    )


def hint_scaled(factor: float, cause: str) -> Hint:
    """A hint that fires when `got == factor * expected` (e.g. a missing 1/N)."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        if np.allclose(got, factor * expected, rtol=1e-4, atol=1e-7) and not np.allclose(expected, 0):
            return f"your result is {factor:g} times the expected one: {cause}"
        return None

    return hint


def _cases(seed: int = 0) -> np.random.Generator:
    """The generator every checker draws its inputs from: the same cases every run."""
    return np.random.default_rng(seed)


# --- lessons 00-02: warm-ups, the data, the forward pass ---


def _call_quietly(fn: Callable, *args: Any, error_hints: dict[str, str] | None = None) -> Any:
    """`_call` with NumPy's overflow warnings silenced (the checker reports NaN and inf itself)
    and a hint added when the learner's own error message contains a known phrase."""
    with np.errstate(all="ignore"):
        try:
            return _call(fn, *args)
        except CheckFailed as err:
            for phrase, hint in (error_hints or {}).items():
                if phrase in str(err):
                    raise CheckFailed(f"{str(err).rstrip()}. Hint: {hint}") from None
            raise


def _as_result(got: Any, case: str) -> np.ndarray:
    """The learner's result as an array, or a clear `CheckFailed` (None, a list, ...)."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
    if not isinstance(got, np.ndarray | np.generic | float | int):
        raise CheckFailed(f"{case}: expected a NumPy array, got {type(got).__name__}")
    return np.asarray(got)


def _hint_matches(alternative: Callable[[], np.ndarray], message: str) -> Hint:
    """A hint that fires when the learner's result equals a known wrong `alternative()`."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        try:
            with np.errstate(all="ignore"):
                wrong = np.asarray(alternative())
        except ValueError:  # the wrong answer cannot even be formed for these shapes
            return None
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-4, atol=1e-6):
            return message
        return None

    return hint


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


@checker("normalize_rows")
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


@checker("count_labels")
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
        _expect_close(got, expected, f"on {case}")
    return f"{len(cases)} cases, including classes that never occur and no labels at all"


@checker("scale_images")
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
        _expect_close(
            got, expected, case,
            hints=[
                hint_scaled(255 / 256, "divide by 255 (the largest pixel value), not 256: "
                                       "an ink pixel must become exactly 1.0"),
                hint_scaled(255, "the pixels are not scaled yet: divide by 255 so they lie in [0, 1]"),
            ],
        )
    return f"{len(cases)} batches: float32, flattened, 0 -> 0.0 and 255 -> 1.0"


@checker("one_hot")
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
                lambda got, expected: None if np.allclose(got.sum(axis=1), 1)
                else "each row must hold exactly one 1, at the column of its label",
            ],
        )
    return f"{len(cases)} cases: float32, one row per label, a single 1 per row at the label's column"


@checker("train_val_split")
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
            same_rows = part.shape == want.shape and np.array_equal(np.sort(part, 0), np.sort(want, 0))
            if name[0] == "x" and same_rows and not np.array_equal(part, want):
                raise CheckFailed(f"{case}: {name} holds the right samples in another order: keep the "
                                  "order (no shuffling), so the split is the same on every run")
            _expect_close(part, want, f"{case}, {name}")
    return f"{len(cases)} splits, including validation=0; the validation set is the end, in order"


@checker("linear_forward")
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
            error_hints={"mismatch": "x is (N, n_in) and W is (n_in, n_out); their product in that "
                                     "order is (N, n_out)",
                         "not aligned": "x is (N, n_in) and W is (n_in, n_out); their product in that "
                                        "order is (N, n_out)"},
        )
        _expect_close(
            _as_result(got, f"on {case}"), layer.forward(x), f"on {case}",
            rtol=1e-4 if dtype == np.float32 else 1e-7, atol=1e-5 if dtype == np.float32 else 1e-9,
            hints=[
                _hint_matches(lambda x=x, W=W: x @ W, "the bias b is missing: add it to every row"),
                _hint_matches(lambda x=x, W=W, b=b: x @ W.T + b, "you used W transposed: W has shape "
                                                                 "(n_in, n_out), so y = x W"),
                _hint_matches(lambda x=x, W=W, b=b: x @ W - b, "add the bias, don't subtract it"),
            ],
        )
    return f"{len(cases)} cases, including a batch of 1 and a square W; matches nnlib.layers.Linear"


@checker("relu")
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


@checker("softmax")
def softmax(fn: Callable) -> str:
    """Lesson 02: `softmax(z (N, classes)) -> (N, classes)`, each row sums to 1."""
    from nnlib.losses import softmax as reference

    rng = _cases(8)
    shifted_rows = rng.standard_normal((2, 5))
    shifted_rows[0] += 1000.0
    shifted_rows[1] -= 1000.0
    overflow = ("NaN or inf for large logits: exp(1000) overflows to inf; subtract each row's maximum "
                "before exp (softmax does not change when a row is shifted)")
    cases = [
        ("logits (3, 4)", rng.standard_normal((3, 4)), overflow),
        ("square logits (4, 4)", rng.standard_normal((4, 4)) * 3, overflow),
        ("a batch of 1", rng.standard_normal((1, 10)), overflow),
        ("large logits (around 1000)", rng.standard_normal((3, 10)) * 5 + 1000.0, overflow),
        ("one row near +1000 and one near -1000", shifted_rows,
         "NaN for the row near -1000: subtract each row's own maximum (one per row, keepdims=True), "
         "not one maximum of the whole array"),
        ("float32 logits (5, 10)", rng.standard_normal((5, 10)).astype(np.float32), overflow),
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


@checker("cross_entropy")
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


# --- lessons 06 and 07: optimizers and results ---------------------------------


def _hint_variant(variant: np.ndarray, cause: str) -> Hint:
    """A hint that fires when the learner's result equals a known wrong `variant`."""

    def hint(got: np.ndarray, expected: np.ndarray) -> str | None:
        variant_array = np.asarray(variant)
        if got.shape == variant_array.shape and np.allclose(got, variant_array, rtol=1e-6, atol=1e-10):
            return cause
        return None

    return hint


def _unpack_tuple(result: Any, names: Sequence[str], case: str) -> tuple:
    """Check that the learner returned a tuple of `len(names)` items and return it."""
    wanted = f"a tuple ({', '.join(names)})"
    if result is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return {', '.join(names)}`?")
    if not isinstance(result, tuple | list) or len(result) != len(names):
        got = f"{type(result).__name__} of length {len(result)}" if isinstance(result, tuple | list) else (
            type(result).__name__)
        raise CheckFailed(f"{case}: expected {wanted}, got {got}")
    return tuple(result)


def _expect_not_reordered(got: tuple, expected: tuple, names: Sequence[str], case: str) -> None:
    """Fail with an "order" hint when the learner returned the right arrays in another order,
    e.g. (v, w) instead of (w, v)."""
    import itertools

    def same(a: Any, b: np.ndarray) -> bool:
        a = np.asarray(a) if isinstance(a, np.ndarray | np.generic | float | int) else None
        return a is not None and a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-6)

    if all(same(a, b) for a, b in zip(got, expected, strict=True)):
        return
    for order in itertools.permutations(range(len(expected))):
        if list(order) != list(range(len(expected))) and all(
            same(got[i], expected[j]) for i, j in enumerate(order)
        ):
            kind = "pair" if len(names) == 2 else "values"
            raise CheckFailed(f"{case}: the right arrays in the wrong order; check the order of the "
                              f"returned {kind}: return ({', '.join(names)})")


def _expect_finite_result(got: Any, case: str, cause: str) -> None:
    if isinstance(got, np.ndarray) and got.dtype.kind == "f" and not np.isfinite(got).all():
        bad = int(np.count_nonzero(~np.isfinite(got)))
        raise CheckFailed(f"{case}: {bad} entries are NaN or infinite; {cause}")


def _momentum_reference(w, g, v, lr, momentum):
    """nnlib's SGD with momentum, one step from velocity `v`: returns (w, v)."""
    from nnlib.layers import Parameter
    from nnlib.optim import SGD

    param = Parameter(w)
    optimizer = SGD([param], lr=lr, momentum=momentum)
    if optimizer.velocity is not None:  # plain SGD (momentum 0) keeps no velocity
        optimizer.velocity[...] = v.reshape(-1)
    param.grad = g
    optimizer.step()
    new_v = g.copy() if optimizer.velocity is None else optimizer.velocity.reshape(w.shape).copy()
    return param.value.copy(), new_v


@checker("sgd_momentum_step")
def sgd_momentum_step(fn: Callable) -> str:
    """Exercise 6.1: `sgd_momentum_step(w, g, v, lr, momentum) -> (w, v)`."""
    rng = _cases(61)
    cases = [
        ("first step (v = 0), shape (4,)", (4,), np.float64, 0.05, 0.9, False),
        ("a later step (v != 0), shape (3, 5)", (3, 5), np.float64, 0.1, 0.9, True),
        ("momentum 0 (plain SGD), shape (6,)", (6,), np.float64, 0.3, 0.0, True),
        ("float32 parameters, shape (2, 3)", (2, 3), np.float32, 0.01, 0.8, True),
    ]
    for case, shape, dtype, lr, mu, moving in cases:
        w = rng.standard_normal(shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        v = (rng.standard_normal(shape) if moving else np.zeros(shape)).astype(dtype)
        new_w, new_v = _unpack_tuple(_call(fn, w, g, v, lr, mu), ("w", "v"), case)
        expected_w, expected_v = _momentum_reference(w, g, v, lr, mu)
        case = f"{case}, lr={lr}, momentum={mu}"
        _expect_not_reordered((new_w, new_v), (expected_w, expected_v), ("w", "v"), case)
        tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {}
        v_hints = [
            _hint_variant(mu * v + lr * g, "the new v is momentum*v + lr*g: that is another textbook form; "
                          "nnlib and PyTorch use v = momentum*v + g and put lr into the w update "
                          "(the two agree only while lr never changes, e.g. not with a schedule)"),
            _hint_variant(v, "v came back unchanged: return the updated velocity"),
            _hint_variant(mu * v - g, "sign error in v: the velocity adds the gradient (v = momentum*v + g)"),
            _hint_variant(g, "the new v ignores the old velocity: keep momentum times the old v"),
            _hint_variant((1 - mu) * g + mu * v, "v = momentum*v + (1-momentum)*g is Adam's running mean; "
                          "SGD momentum adds the full gradient: v = momentum*v + g"),
        ]
        _expect_close(new_v, expected_v, f"{case}: v", hints=v_hints, **tol)
        w_hints = [
            _hint_variant(w + lr * expected_v, "w moved uphill: subtract lr*v"),
            _hint_variant(w - lr * v, "w moved with the old velocity: update v first, then w with the new v"),
            _hint_variant(w - lr * g, "w moved by the gradient alone: use the velocity, w = w - lr*v"),
            _hint_variant(w - expected_v, "w = w - v forgets the learning rate: w = w - lr*v"),
        ]
        _expect_close(new_w, expected_w, f"{case}: w", hints=w_hints, **tol)
    return "first step, later steps, momentum 0, float32; matches nnlib.optim.SGD"


def _adam_reference(w, g, m, v, t, lr, beta1, beta2, eps):
    """nnlib's Adam, step number `t` from moments `m`, `v`: returns (w, m, v)."""
    from nnlib.layers import Parameter
    from nnlib.optim import Adam

    param = Parameter(w)
    optimizer = Adam([param], lr=lr, betas=(beta1, beta2), eps=eps)
    optimizer.m[...] = m.reshape(-1)
    optimizer.v[...] = v.reshape(-1)
    optimizer.steps = t - 1  # step() counts this step as number t
    param.grad = g
    optimizer.step()
    return param.value.copy(), optimizer.m.reshape(w.shape).copy(), optimizer.v.reshape(w.shape).copy()


def _adam_moment_hints(m, v, g, new_m, new_v, t, beta1, beta2) -> tuple[list[Hint], list[Hint]]:
    """Known wrong first and second moments, with what each one means."""
    raw = "(the correction is only used inside the w update)"
    m_hints = [
        _hint_variant(new_m / (1 - beta1**t),
                      f"you returned the bias-corrected m_hat; return the raw m {raw}"),
        _hint_variant(m, "m came back unchanged: return the updated first moment"),
        _hint_variant(beta1 * m + g, "m = beta1*m + g lacks the factor (1 - beta1) on g"),
    ]
    v_hints = [
        _hint_variant(new_v / (1 - beta2**t),
                      f"you returned the bias-corrected v_hat; return the raw v {raw}"),
        _hint_variant(v, "v came back unchanged: return the updated second moment"),
        _hint_variant(beta2 * v + (1 - beta2) * g, "v must average the squared gradient: g**2, not g"),
        _hint_variant(beta2 * v + (1 - beta2) * np.abs(g),
                      "v must average the squared gradient: g**2, not |g|"),
        _hint_variant(beta2 * v + g**2, "v = beta2*v + g**2 lacks the factor (1 - beta2)"),
    ]
    return m_hints, v_hints


def _adam_w_hints(w, g, new_m, new_v, t, lr, beta1, beta2, eps) -> list[Hint]:
    """Known wrong parameter updates (bias correction, eps, sign), with what each one means."""
    correct1, correct2 = 1 - beta1**t, 1 - beta2**t
    m_hat, v_hat = new_m / correct1, new_v / correct2
    if t > 1:
        shifted = w - lr * new_m / (1 - beta1 ** (t - 1)) / (np.sqrt(new_v / (1 - beta2 ** (t - 1))) + eps)
    else:
        shifted = np.full(w.shape, np.nan)  # t - 1 = 0 divides by zero: caught as NaN before the hints
    return [
        _hint_variant(w - lr * new_m / (np.sqrt(new_v) + eps),
                      "no bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t) before the "
                      "update; without it the first steps are several times too large"),
        _hint_variant(w - lr * m_hat / (np.sqrt(new_v) + eps),
                      "only m is bias-corrected: v needs its correction too, v_hat = v / (1 - beta2**t)"),
        _hint_variant(w - lr * m_hat / (np.sqrt(new_v / correct1) + eps),
                      "v is corrected with beta1; use v / (1 - beta2**t)"),
        _hint_variant(shifted, "the bias correction uses t - 1: t counts the steps from 1, so the first "
                      "step divides by 1 - beta**1"),
        _hint_variant(w - lr * (new_m / (1 - beta1 ** (t + 1)))
                      / (np.sqrt(new_v / (1 - beta2 ** (t + 1))) + eps),
                      "the bias correction uses t + 1: t is 1 on the first step already (the caller "
                      "counts from 1), so use 1 - beta**t with t as given"),
        _hint_variant(w - lr * m_hat / np.sqrt(v_hat + eps),
                      "eps is inside the square root: the denominator is sqrt(v_hat) + eps"),
        _hint_variant(w - lr * m_hat / ((np.sqrt(new_v) + eps) / np.sqrt(correct2)),
                      "eps is added before v's bias correction: use sqrt(v_hat) + eps with "
                      "v_hat = v / (1 - beta2**t)"),
        _hint_variant(w - lr * m_hat / np.sqrt(v_hat),
                      "eps is missing: the denominator is sqrt(v_hat) + eps"),
        _hint_variant(w + lr * m_hat / (np.sqrt(v_hat) + eps), "w moved uphill: subtract the step"),
        _hint_variant(w - lr * m_hat / (v_hat + eps), "the denominator needs the square root of v_hat"),
        _hint_variant(w - lr * g, "w moved by lr*g: Adam's step is lr * m_hat / (sqrt(v_hat) + eps)"),
    ]


@checker("adam_step")
def adam_step(fn: Callable) -> str:
    """Exercise 6.2: `adam_step(w, g, m, v, t, lr, beta1, beta2, eps) -> (w, m, v)`."""
    rng = _cases(62)
    cases = [
        # case, shape, dtype, t, lr, eps, gradient scale, moments start at zero
        ("first step (t = 1, m = v = 0), shape (5,)", (5,), np.float64, 1, 0.01, 1e-8, 1.0, True),
        ("step t = 7 with running moments, shape (3, 4)", (3, 4), np.float64, 7, 0.05, 1e-8, 1.0, False),
        ("tiny gradients and eps = 1e-3, t = 3, shape (6,)", (6,), np.float64, 3, 0.1, 1e-3, 1e-3, False),
        ("zero gradient at t = 1, shape (1,)", (1,), np.float64, 1, 0.01, 1e-8, 0.0, True),
        ("float32 parameters, t = 2, shape (2, 2)", (2, 2), np.float32, 2, 0.01, 1e-8, 1.0, False),
    ]
    beta1, beta2 = 0.9, 0.999
    nan_cause = ("does your bias correction use t - 1? At the first step t = 1 (1 - beta**0 = 0 divides "
                 "by zero); and is eps added to the denominator?")
    for case, shape, dtype, t, lr, eps, scale, fresh in cases:
        w = rng.standard_normal(shape).astype(dtype)
        g = (scale * rng.standard_normal(shape)).astype(dtype)
        if fresh:
            m, v = np.zeros(shape, dtype), np.zeros(shape, dtype)
        else:
            m = (0.5 * scale * rng.standard_normal(shape)).astype(dtype)
            v = (scale**2 * rng.uniform(0.2, 2.0, shape)).astype(dtype)
        result = _call_quietly(fn, w, g, m, v, t, lr, beta1, beta2, eps)  # NaN is reported below
        new_w, new_m, new_v = _unpack_tuple(result, ("w", "m", "v"), case)
        expected_w, expected_m, expected_v = _adam_reference(w, g, m, v, t, lr, beta1, beta2, eps)
        case = f"{case}, lr={lr}, eps={eps:g}"
        _expect_not_reordered((new_w, new_m, new_v), (expected_w, expected_m, expected_v), ("w", "m", "v"),
                              case)
        tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {}
        with np.errstate(divide="ignore", invalid="ignore"):  # some wrong variants divide by zero
            m_hints, v_hints = _adam_moment_hints(m, v, g, expected_m, expected_v, t, beta1, beta2)
            w_hints = _adam_w_hints(w, g, expected_m, expected_v, t, lr, beta1, beta2, eps)
        _expect_close(new_m, expected_m, f"{case}: m", hints=m_hints, **tol)
        _expect_close(new_v, expected_v, f"{case}: v", hints=v_hints, **tol)
        _expect_finite_result(new_w, f"{case}: w", nan_cause)
        _expect_close(new_w, expected_w, f"{case}: w", hints=w_hints, **tol)
    return "first step, running moments, tiny gradients, zero gradient, float32; matches nnlib.optim.Adam"


@checker("cosine_lr")
def cosine_lr(fn: Callable) -> str:
    """Exercise 6.3: `cosine_lr(step, total, lr) -> float`, half a cosine from lr to 0."""
    from nnlib.optim import cosine_schedule

    for total, lr in ((100, 0.1), (7, 3.0), (1000, 1e-3)):
        steps = sorted({0, 1, total // 4, total // 3, total // 2, total - 1, total, total + 1, 2 * total})
        got = []
        for step in steps:
            value = _call(fn, step, total, lr)
            if value is None:
                raise CheckFailed(f"step {step} of {total}: your function returned None; "
                                  "did you forget `return`?")
            try:
                got.append(float(value))
            except (TypeError, ValueError):
                raise CheckFailed(
                    f"step {step} of {total}: expected one number, got {type(value).__name__}"
                ) from None
        got_array, steps_array = np.array(got), np.array(steps, dtype=float)
        expected = np.array([cosine_schedule(lr, total)(s) for s in steps])
        clamped = np.minimum(steps_array, total)
        case = f"total={total}, lr={lr}, steps {steps}"
        inside = steps_array <= total
        if not np.allclose(got_array, expected, rtol=1e-6, atol=1e-12) and np.allclose(
            got_array[inside], expected[inside], rtol=1e-6, atol=1e-12
        ):
            raise CheckFailed(f"{case}: right up to step {total}, wrong after it: past the end the learning "
                              "rate should stay at 0 (use min(step, total))")
        hints = [
            hint_scaled(2.0, "the cosine term needs the factor 1/2 (it starts at lr, not 2*lr)"),
            _hint_variant(lr * np.cos(np.pi * clamped / total), "lr * cos(...) goes negative: use "
                          "lr * (1 + cos(pi * step / total)) / 2"),
            _hint_variant(lr * 0.5 * (1 + np.cos(np.pi * clamped)),
                          "divide the step by total inside the cosine"),
            _hint_variant(lr * 0.5 * (1 + np.cos(2 * np.pi * clamped / total)),
                          "2*pi makes a full cosine that climbs back to lr; half a cosine (pi) ends at 0"),
            _hint_variant(lr * 0.5 * (1 - np.cos(np.pi * clamped / total)),
                          "the schedule runs backwards (0 up to lr): use 1 + cos, not 1 - cos"),
        ]
        _expect_close(got_array, expected, case, hints=hints, rtol=1e-6, atol=1e-12, check_dtype=False)
    return "start, middle, end and past the end of three schedules; matches nnlib.optim.cosine_schedule"


@checker("accuracy")
def accuracy(fn: Callable) -> str:
    """Exercise 7.1: `accuracy(probs, labels) -> float`, the fraction of correct predictions."""
    rng = _cases(71)
    for n in (37, 10, 1):
        probs = rng.dirichlet(np.ones(10), size=n).astype(np.float32)
        labels = rng.integers(0, 10, n)
        labels[: n // 2] = probs[: n // 2].argmax(axis=1)  # about half right
        case = f"{n} examples" if n > 1 else "a single example"
        axis_hint = ("take the argmax over axis=1 (the classes of each example); axis=0 gives one "
                     "index per class, not one per example")
        got = _call_quietly(fn, probs, labels, error_hints={"could not be broadcast": axis_hint})
        if isinstance(got, np.ndarray) and got.ndim > 0:
            raise CheckFailed(f"{case}: expected one number, got an array of shape {got.shape}; "
                              "average the correct/incorrect array (e.g. .mean())")
        expected = float(np.mean(probs.argmax(axis=1) == labels))
        hints = [
            hint_scaled(100.0, "that is a percentage; return a fraction between 0 and 1"),
            _hint_variant(np.float64(1 - expected), "that is the error rate (wrong predictions); count the "
                          "correct ones"),
            _hint_variant(np.float64(np.mean(probs.argmax(axis=0) == labels) if n == 10 else np.nan),
                          "argmax over axis 0 picks an example per class; the prediction is the argmax "
                          "of each row (axis=1)"),
            _hint_variant(np.float64(np.sum(probs.argmax(axis=1) == labels)), "that is the number of correct "
                          "predictions; divide by the number of examples"),
            _hint_variant(np.float64(np.mean(probs.argmax() == labels)), "argmax without axis= searches the "
                          "whole array and returns one flat index; use axis=1 (the classes of each example)"),
        ]
        _expect_close(got, np.float64(expected), case, hints=hints, check_dtype=False)
    return "37 examples, 10 examples (square probs), a single example"


@checker("confusion_matrix")
def confusion_matrix(fn: Callable) -> str:
    """Exercise 7.2: `confusion_matrix(pred, labels, classes) -> (classes, classes)` counts."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    rng = _cases(72)
    cases = [
        ("200 examples, 10 classes", 200, 10, 10),
        ("50 examples, 4 classes", 50, 4, 4),
        ("classes 7, 8, 9 never occur", 60, 10, 7),
        ("a single example", 1, 10, 10),
    ]
    for case, n, classes, occurring in cases:
        labels = rng.integers(0, occurring, n)
        pred = np.where(rng.random(n) < 0.7, labels, rng.integers(0, occurring, n))
        expected = sklearn_confusion_matrix(labels, pred, labels=np.arange(classes))
        got = _call(fn, pred, labels, classes)
        if isinstance(got, np.ndarray) and got.shape != expected.shape and got.ndim == 2:
            raise CheckFailed(f"{case}: expected shape {expected.shape}, got {got.shape}; size the matrix "
                              "by `classes`, not by the labels that happen to occur")
        rows = expected.sum(axis=1, keepdims=True)
        hints = [
            _hint_variant(expected.T, "rows and columns are swapped: each row is a true label, each column "
                          "a predicted label"),
            _hint_variant(expected / np.maximum(rows, 1), "those are rates (rows sum to 1); count examples "
                          "instead"),
            _hint_variant(expected / n, "those are fractions of all examples; count examples instead"),
            _hint_variant((expected > 0).astype(expected.dtype),
                          "every cell is 0 or 1: with fancy indexing, matrix[labels, pred] += 1 counts "
                          "repeated index pairs once; use np.add.at or a loop"),
        ]
        _expect_close(got, expected, case, hints=hints, check_dtype=False)
    return "10 and 4 classes, classes that never occur, a single example; matches sklearn.metrics"


@checker("top_confident_mistakes")
def top_confident_mistakes(fn: Callable) -> str:
    """Exercise 7.3: `top_confident_mistakes(probs, labels, k) -> indices (<= k,)`."""
    from nnlib.plots import most_confident_mistakes

    rng = _cases(73)
    cases = [("100 examples, k = 5", 100, 5, 0.6), ("30 examples, only 3 mistakes, k = 10", 30, 10, None),
             ("20 examples, no mistakes, k = 4", 20, 4, 1.0)]
    for case, n, k, right in cases:
        probs = rng.dirichlet(np.full(10, 0.3), size=n)
        predicted = probs.argmax(axis=1)
        if right is None:
            right_mask = np.ones(n, bool)
            right_mask[rng.choice(n, 3, replace=False)] = False
        else:
            right_mask = rng.random(n) < right
        labels = np.where(right_mask, predicted, (predicted + rng.integers(1, 10, n)) % 10)
        expected = most_confident_mistakes(probs, labels, k)
        got = _call(fn, probs, labels, k)
        if isinstance(got, list | tuple):
            got = np.asarray(got, dtype=int)
        mistakes = np.flatnonzero(predicted != labels)
        positions = np.argsort(-probs[mistakes].max(axis=1), kind="stable")[:k]
        if (isinstance(got, np.ndarray) and got.shape == positions.shape and got.size
                and np.array_equal(got, positions) and not np.array_equal(got, expected)):
            raise CheckFailed(f"{case}: these are positions in your list of mistakes, not test indices; "
                              "index that list with them (e.g. wrong[order]) to get the examples' indices")
        if isinstance(got, np.ndarray) and got.ndim == 1 and got.size:
            correct = [int(i) for i in got if 0 <= i < n and predicted[i] == labels[i]]
            if correct:
                raise CheckFailed(f"{case}: example {correct[0]} is classified correctly; keep only the "
                                  "mistakes (argmax of probs != label)")
        if isinstance(got, np.ndarray) and got.shape != expected.shape and len(mistakes) < k:
            raise CheckFailed(f"{case}: there are only {len(mistakes)} mistakes; return all of them "
                              f"(an array of {len(mistakes)} indices), not {k}")
        truth_probability = probs[mistakes, labels[mistakes]]
        by_truth = mistakes[np.argsort(truth_probability, kind="stable")][:k]
        by_truth_descending = mistakes[np.argsort(-truth_probability, kind="stable")][:k]
        hints = [
            _hint_variant(expected[::-1], "the order is reversed: most confident first"),
            _hint_variant(mistakes[np.argsort(probs[mistakes].max(axis=1), kind="stable")][:k],
                          "that is the least confident mistakes: sort by confidence, descending"),
            _hint_variant(by_truth, "you ranked by the probability of the true label; rank by the network's "
                          "confidence, the probability of its predicted class (the row's max)"),
            _hint_variant(by_truth_descending, "you used the probability of the true label as the "
                          "confidence; confidence = the probability of the predicted class (the row's max)"),
        ]
        _expect_close(got, expected, case, hints=hints, check_dtype=False, rtol=0, atol=0)
    return "several mistakes, fewer mistakes than k, no mistakes; matches nnlib.plots.most_confident_mistakes"


# --- lesson 03: backprop ---


def _expect_parts(got: Any, count: int, names: str, case: str) -> tuple:
    """The learner's tuple result, or a clear `CheckFailed` (None, wrong length, ...)."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return {names}`?")
    if not isinstance(got, tuple | list) or len(got) != count:
        what = type(got).__name__
        if isinstance(got, tuple | list):
            what = f"a {what} of {len(got)}"
        raise CheckFailed(f"{case}: expected a tuple of {count} arrays {names}, got {what}")
    return tuple(got)


def _expect_order(parts: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...], case: str) -> None:
    """Name a mix-up of the order of (dx, dW, db): the parts fit the expected shapes only when
    rearranged."""
    import itertools

    shapes = [part.shape for part in parts]
    wanted = [e.shape for e in expected]
    if shapes == wanted:
        return
    for order in itertools.permutations(range(len(parts))):
        if all(parts[i].shape == wanted[k] for k, i in enumerate(order)):
            got_names = ", ".join(("dx", "dW", "db")[i] for i in np.argsort(order))
            raise CheckFailed(f"{case}: your three arrays have the shapes of ({got_names}): return "
                              "(dx, dW, db) in this order")


@checker("linear_backward")
def linear_backward(fn: Callable) -> str:
    """Lesson 03: `linear_backward(dy (N, n_out), x (N, n_in), W (n_in, n_out)) -> (dx, dW, db)`."""
    from nnlib.layers import Linear

    rng = _cases(31)
    cases = [
        ("x (5, 4), W (4, 3)", 5, 4, 3, np.float64),
        ("a square W (4, 4)", 6, 4, 4, np.float64),
        ("a batch of 1", 1, 6, 2, np.float64),
        ("float32 x (16, 784), W (784, 128)", 16, 784, 128, np.float32),
    ]
    for case, batch, n_in, n_out, dtype in cases:
        case = f"on {case}"
        layer = Linear(n_in, n_out, rng, dtype=dtype)
        x = rng.standard_normal((batch, n_in)).astype(dtype)
        dy = rng.standard_normal((batch, n_out)).astype(dtype)
        W = layer.W.value
        layer.forward(x)
        expected = (layer.backward(dy), layer.W.grad.copy(), layer.b.grad.copy())
        got = _call_quietly(
            fn, dy, x, W,
            error_hints={"mismatch": "check each product's shapes: dx (N, n_in) = dy (N, n_out) "
                                     "times W transposed (n_out, n_in)",
                         "not aligned": "check each product's shapes: dx (N, n_in) = dy (N, n_out) "
                                        "times W transposed (n_out, n_in)"},
        )
        dx, dW, db = _expect_parts(got, 3, "(dx, dW, db)", case)
        dx, dW, db = (_as_result(part, f"{case}, {name}")
                      for part, name in zip((dx, dW, db), ("dx", "dW", "db"), strict=True))
        _expect_order((dx, dW, db), expected, case)
        if dW.shape == (n_out, n_in) and n_in != n_out:
            raise CheckFailed(f"{case}: dW has shape {dW.shape}, expected {W.shape} (the shape of W, as "
                              "every gradient has the shape of its parameter): did you compute dy^T x "
                              "instead of x^T dy?")
        if db.shape == (batch, n_out) and batch > 1:
            raise CheckFailed(f"{case}: db has shape {db.shape}, expected ({n_out},): b is added to every "
                              "row of the batch, so its gradient sums dy over the batch (axis 0)")
        if db.ndim == 0 or db.shape == (batch,) and batch != n_out:
            raise CheckFailed(f"{case}: db has shape {db.shape}, expected ({n_out},): sum dy over the batch "
                              "axis only (axis=0), one number per output")
        loose = dtype == np.float32
        tolerances = {"rtol": 1e-4 if loose else 1e-7, "atol": 1e-5 if loose else 1e-10}
        _expect_close(dx, expected[0], f"{case}, dx", **tolerances, hints=[
            _hint_matches(lambda dy=dy, W=W: dy @ W, "dx = dy W^T: you used W without transposing it"),
        ])
        _expect_close(dW, expected[1], f"{case}, dW", **tolerances, hints=[
            _hint_matches(lambda e=expected[1]: e.T,
                          "dW is transposed: it must have W's layout (n_in, n_out), i.e. x^T dy, not dy^T x"),
            hint_scaled(1 / batch, "dW was divided by the batch size; don't average: the 1/N of the mean "
                                   "loss is already inside dy"),
        ])
        _expect_close(db, expected[2], f"{case}, db", **tolerances, hints=[
            hint_scaled(1 / batch, "db was averaged over the batch; sum it instead: the 1/N of the mean loss "
                                   "is already inside dy"),
        ])
    return f"{len(cases)} cases, including a batch of 1, a square W and float32; matches nnlib.layers.Linear"


@checker("relu_backward")
def relu_backward(fn: Callable) -> str:
    """Lesson 03: `relu_backward(dy, x) -> dx`, all `(batch, features)`: dy where x > 0, else 0."""
    from nnlib.layers import ReLU

    rng = _cases(32)
    with_zeros = rng.standard_normal((4, 6))
    with_zeros[:, ::2] = 0.0  # exactly at the kink: nnlib (and PyTorch) use the derivative 0 there
    cases = [
        ("x (4, 5)", rng.standard_normal((4, 5))),
        ("x with entries exactly 0", with_zeros),
        ("all-negative x (3, 3)", -rng.random((3, 3)) - 0.1),
        ("a batch of 1", rng.standard_normal((1, 7))),
        ("float32 x (8, 128)", rng.standard_normal((8, 128)).astype(np.float32)),
    ]
    for case, x in cases:
        case = f"on {case}"
        dy = rng.standard_normal(x.shape).astype(x.dtype)
        layer = ReLU()
        layer.forward(x)
        got = _as_result(_call_quietly(fn, dy, x), case)
        if got.dtype == bool:
            raise CheckFailed(f"{case}: you returned True/False (the test x > 0); multiply it with dy")
        _expect_close(got, layer.backward(dy), case, hints=[
            _hint_matches(lambda x=x: (x > 0).astype(x.dtype),
                          "you returned the local derivative (x > 0) alone; the chain rule multiplies it "
                          "with the upstream gradient dy"),
            _hint_matches(lambda x=x, dy=dy: dy * (x >= 0),
                          "at x == 0 the gradient should be 0 (nnlib and PyTorch use x > 0, not x >= 0)"),
            _hint_matches(lambda dy=dy: np.maximum(dy, 0),
                          "you applied ReLU to dy; whether the gradient passes depends on the input x"),
            _hint_matches(lambda x=x, dy=dy: dy * np.maximum(x, 0),
                          "you multiplied dy by relu(x); multiply by the derivative (1 where x > 0, else 0)"),
        ])
    return f"{len(cases)} cases, including x == 0, all-negative inputs and float32; matches nnlib.layers.ReLU"


@checker("softmax_cross_entropy_backward")
def softmax_cross_entropy_backward(fn: Callable) -> str:
    """Lesson 03: `softmax_cross_entropy_backward(logits (batch, classes), labels (batch,))`
    -> dlogits `(batch, classes)`, the gradient of the mean cross-entropy: `(softmax - onehot) / batch`."""
    from nnlib.losses import SoftmaxCrossEntropy
    from nnlib.losses import softmax as reference_softmax

    rng = _cases(33)
    cases = [
        ("logits (4, 3)", rng.standard_normal((4, 3)), rng.integers(0, 3, 4)),
        ("logits (8, 10)", rng.standard_normal((8, 10)) * 2, rng.integers(0, 10, 8)),
        ("a batch of 1", rng.standard_normal((1, 10)), np.array([4])),
        ("large logits (around 1000)", rng.standard_normal((5, 10)) * 5 + 1000.0, rng.integers(0, 10, 5)),
        ("float32 logits (32, 10)", rng.standard_normal((32, 10)).astype(np.float32),
         rng.integers(0, 10, 32)),
    ]
    for case, z, labels in cases:
        case = f"on {case}"
        n = len(labels)
        loss = SoftmaxCrossEntropy()
        loss.forward(z, labels)
        expected = loss.backward()
        got = _as_result(_call_quietly(fn, z, labels), case)
        if got.shape == expected.shape and got.dtype.kind == "f" and not np.isfinite(got).all():
            raise CheckFailed(f"{case}: NaN or inf for large logits: exp overflowed; subtract each row's "
                              "maximum before exp (or use nnlib.losses.softmax)")
        if got.shape == expected.shape and got.dtype != expected.dtype and got.dtype.kind == "f":
            raise CheckFailed(f"{case}: expected dtype {expected.dtype} (like the logits), got {got.dtype}: "
                              "a one-hot made with np.eye or np.zeros is float64 unless you pass "
                              "dtype=logits.dtype")
        p = reference_softmax(z.astype(np.float64)).astype(z.dtype)
        onehot = np.eye(z.shape[1], dtype=z.dtype)[labels]
        _expect_close(got, expected, case, rtol=1e-4 if z.dtype == np.float32 else 1e-6, atol=1e-7, hints=[
            hint_scaled(n, "missing 1/N: the loss is the mean over the batch, so each row's gradient is "
                           "divided by the batch size N"),
            hint_scaled(-1, "the sign is flipped: the gradient is (p - onehot) / N, not (onehot - p) / N"),
            _hint_matches(lambda p=p, n=n: p / n,
                          "you forgot to subtract the one-hot labels: (p - onehot) / N"),
            _hint_matches(lambda p=p: p, "you forgot to subtract the one-hot labels and to divide by N"),
            _hint_matches(lambda z=z, onehot=onehot, n=n: (reference_softmax(z.T).T - onehot) / n,
                          "softmax over the wrong axis: each row (one sample) must sum to 1, use axis=1"),
        ])
    return f"{len(cases)} cases, including large logits, a batch of 1 and float32; matches nnlib.losses"


@checker("numerical_gradient")
def numerical_gradient(fn: Callable) -> str:
    """Lesson 03: `numerical_gradient(f, x, eps) -> (same shape as x)`, central differences of
    `f()` (no arguments; it reads `x`), perturbing `x` in place one entry at a time and restoring it."""
    from nnlib.gradcheck import numerical_gradient as reference

    rng = _cases(34)
    weights = rng.standard_normal((3, 4))
    matrix = rng.standard_normal((5, 6))
    cases = [
        ("f = sum(w * sin(x)), x (3, 4), eps 1e-3", rng.standard_normal((3, 4)),
         lambda x: float(np.sum(weights * np.sin(x))), 1e-3),
        ("f = sum((A x)^3), x (6,), eps 1e-2", rng.standard_normal(6),
         lambda x: float(np.sum((matrix @ x) ** 3)), 1e-2),
        ("f = x[0]^2, a single entry, eps 1e-4", np.array([1.5]), lambda x: float(x[0] ** 2), 1e-4),
    ]
    for case, x, formula, eps in cases:
        case = f"on {case}"
        original = x.copy()
        f = functools.partial(formula, x)  # f() reads x, which the learner's function perturbs in place
        try:
            got = fn(f, x, eps)  # not _call: f must see the very array the function perturbs
        except NotImplementedError:
            raise _NotImplementedYet from None
        except Exception as err:
            raise CheckFailed(f"{case}: your function raised {type(err).__name__}: {err}") from None
        if not np.allclose(x, original, rtol=1e-12, atol=1e-12):  # tolerate rounding of x + eps - eps
            raise CheckFailed(f"{case}: x was changed by your function: put each entry back to its original "
                              "value after evaluating f at x + eps and x - eps")
        got = _as_result(got, case)
        expected = reference(f, x, eps)
        forward = _one_sided(f, x, eps, +1)
        backward = _one_sided(f, x, eps, -1)
        _expect_close(got, expected, case, rtol=1e-6, atol=1e-8, check_dtype=False, hints=[
            _hint_matches(lambda forward=forward: forward,
                          "this is the one-sided difference (f(x + eps) - f(x)) / eps, whose error shrinks "
                          "only like eps; use the central difference (f(x + eps) - f(x - eps)) / (2 eps)"),
            _hint_matches(lambda backward=backward: backward,
                          "this is the one-sided difference (f(x) - f(x - eps)) / eps, whose error shrinks "
                          "only like eps; use the central difference (f(x + eps) - f(x - eps)) / (2 eps)"),
            hint_scaled(2, "divide by 2 eps: the two points x + eps and x - eps are 2 eps apart"),
            hint_scaled(0.5, "you divided by 4 eps; the two points x + eps and x - eps are 2 eps apart"),
            hint_scaled(-1, "the sign is flipped: f(x + eps) comes first, "
                            "(f(x + eps) - f(x - eps)) / (2 eps)"),
            _hint_all_zero_gradient,
            lambda got, expected: "perturb one entry at a time: every entry of the result must come from "
                                  "moving that entry alone" if got.size > 1 and np.allclose(got, got.flat[0])
            else None,
        ])
    return f"{len(cases)} functions, x restored each time; matches nnlib.gradcheck.numerical_gradient"


def _hint_all_zero_gradient(got: np.ndarray, expected: np.ndarray) -> str | None:
    """Nudging a copy of x (x.copy(), x.flatten(), np.array(x)) leaves f() unchanged: all zeros."""
    if np.all(got == 0) and not np.allclose(expected, 0):
        return ("your gradient is all zeros, so f() never saw the nudged values: f reads x itself, so "
                "change x in place (x[i] = old + eps), not a copy of it (x.copy(), x.flatten() and "
                "np.array(x) make copies)")
    return None


def _one_sided(f: Callable[[], float], x: np.ndarray, eps: float, direction: int) -> np.ndarray:
    """The one-sided difference a learner may write by mistake (for a hint); restores x."""
    base = f()
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(x.size):
        original = flat_x[i]
        flat_x[i] = original + direction * eps
        flat_grad[i] = direction * (f() - base) / eps
        flat_x[i] = original
    return grad


# --- lesson 04: dropout ---


@checker("dropout_forward")
def dropout_forward(fn: Callable) -> str:
    """Lesson 04: `dropout_forward(x, p, rng, training) -> (y, mask)`, inverted dropout.

    In training: each unit is dropped with probability `p`, the survivors are scaled
    by `1/(1-p)`; `mask` holds 0 or `1/(1-p)` per unit and `y = x * mask`. Not in
    training (or p == 0): `y` is `x` and `mask` is None. Random draws differ from
    nnlib's, so this checks the properties, not the exact mask.
    """
    rng = _cases(41)
    x = (rng.random((200, 500)) + 0.5).astype(np.float32)  # 100,000 units, none exactly 0
    units = x.size
    for p in (0.2, 0.5, 0.9):
        case = f"on x (200, 500) float32, p = {p}, training"
        got = _call_quietly(fn, x, p, np.random.default_rng(7), True)
        y, mask = _expect_parts(got, 2, "(y, mask)", case)
        y = _as_result(y, f"{case}, y")
        if mask is None:
            raise CheckFailed(f"{case}: mask is None, but in training the mask is the array of 0 and 1/(1-p)")
        mask = _as_result(mask, f"{case}, mask")
        if mask.shape in ((x.shape[1],), (1, x.shape[1])):
            raise CheckFailed(f"{case}: your mask has shape {mask.shape}, one mask shared by all rows (every "
                              "example would lose the same units); each example needs its own: draw one "
                              "random number per unit of every row, rng.random(x.shape)")
        if y.shape != x.shape or mask.shape != x.shape:
            raise CheckFailed(f"{case}: y and mask must have x's shape {x.shape}, got {y.shape} and "
                              f"{mask.shape}: draw one random number per unit, rng.random(x.shape)")
        kept = mask != 0
        if np.all(kept == kept[:1]):
            raise CheckFailed(f"{case}: all rows share the same mask, so every example loses the same units; "
                              "each example needs its own mask: draw one random number per unit of every "
                              "row, rng.random(x.shape)")
        if np.all(kept == kept[:, :1]):
            raise CheckFailed(f"{case}: each row of your mask is all kept or all dropped, so whole examples "
                              "vanish; drop units independently: one random number per unit, "
                              "rng.random(x.shape)")
        fraction = float(kept.mean())
        tolerance = 4 * np.sqrt(p * (1 - p) / units) + 1e-3
        if abs(fraction - (1 - p)) > tolerance:
            if abs(fraction - p) <= tolerance:
                raise CheckFailed(f"{case}: you kept {fraction:.1%} of the units, expected {1 - p:.0%}: you "
                                  "drop with probability 1 - p; p is the probability to DROP a unit")
            raise CheckFailed(f"{case}: you kept {fraction:.1%} of the units, expected about {1 - p:.0%} "
                              "(each unit dropped independently with probability p)")
        values = mask[kept].astype(np.float64)
        scale = 1.0 / (1.0 - p)
        if mask.dtype == bool:
            raise CheckFailed(f"{case}: your mask is True/False; return it with the scale included, 0 for a "
                              "dropped unit and 1/(1-p) for a kept one (in x's dtype), so that y = x * mask")
        if not np.allclose(values, scale, rtol=1e-5):
            if np.allclose(values, 1.0):
                raise CheckFailed(f"{case}: the kept units of the mask are 1: you forgot the scale 1/(1-p) "
                                  "of inverted dropout (without it, activations shrink by (1-p) on average "
                                  "in training and the network sees other magnitudes at evaluation)")
            if np.allclose(values, 1.0 / p):
                raise CheckFailed(f"{case}: the kept units are scaled by 1/p; scale by 1/(1-p), one over the "
                                  "probability to keep a unit")
            if np.allclose(values, 1.0 - p):
                raise CheckFailed(f"{case}: the kept units are multiplied by (1-p); inverted dropout divides "
                                  "by (1-p), so that the expected output equals x")
            raise CheckFailed(f"{case}: the kept units of the mask should all be 1/(1-p) = {scale:.6g}, "
                              f"found values from {values.min():.6g} to {values.max():.6g}")
        if y.dtype != x.dtype:
            raise CheckFailed(f"{case}: y has dtype {y.dtype}, expected {x.dtype} like x: a mask made from a "
                              "boolean array divided by (1-p) is float64; convert it with .astype(x.dtype)")
        _expect_close(y, x * mask.astype(x.dtype), f"{case}, y", rtol=1e-6, atol=0,
                      hints=[lambda got, expected: "y must be x * mask (the same mask you return)"])
        again = _call_quietly(fn, x, p, np.random.default_rng(7), True)
        if not np.array_equal(np.asarray(again[1]), mask):
            raise CheckFailed(f"{case}: two calls with the same seed gave different masks: draw the random "
                              "numbers from the rng argument (not np.random.rand)")
        other = _call_quietly(fn, x, p, np.random.default_rng(8), True)
        if np.array_equal(np.asarray(other[1]), mask):
            raise CheckFailed(f"{case}: two different rngs gave the same mask: draw the random numbers from "
                              "the rng argument")
    no_drop = ((0.5, False, "p = 0.5, evaluation (training=False)"), (0.0, True, "p = 0, training"))
    for p, training, what in no_drop:
        case = f"on {what}"
        got = _call_quietly(fn, x, p, np.random.default_rng(7), training)
        y, mask = _expect_parts(got, 2, "(y, mask)", case)
        y = _as_result(y, f"{case}, y")
        if y.shape == x.shape and not np.array_equal(y, x):
            if not training:
                raise CheckFailed(f"{case}: y differs from x: in evaluation mode dropout does nothing, "
                                  "return x unchanged (inverted dropout already did the scaling in training)")
            raise CheckFailed(f"{case}: y differs from x: with p = 0 no unit is dropped")
        _expect_close(y, x, case)
        if mask is not None and not np.all(np.asarray(mask) == 1):
            raise CheckFailed(f"{case}: the mask should be None (nothing is dropped), got an array with "
                              "zeros")
    return ("p = 0.2, 0.5, 0.9: kept fraction, scale 1/(1-p), y = x * mask, uses rng; evaluation and "
            "p = 0 pass x unchanged")


@checker("dropout_backward")
def dropout_backward(fn: Callable) -> str:
    """Lesson 04: `dropout_backward(dy, mask) -> dx`; mask from `dropout_forward` (None in evaluation)."""
    from nnlib.layers import Dropout

    rng = _cases(42)
    cases = []
    settings = ((0.5, (4, 6), np.float64), (0.2, (1, 10), np.float64), (0.3, (16, 128), np.float32))
    for p, shape, dtype in settings:
        layer = Dropout(p, np.random.default_rng(3))
        layer.forward(np.ones(shape, dtype=dtype), training=True)
        cases.append((f"p = {p}, dy {shape} {np.dtype(dtype).name}", layer, p))
    cases.append(("evaluation mode (mask None)", Dropout(0.5, np.random.default_rng(3)), 0.5))
    for case, layer, p in cases:
        case = f"on {case}"
        mask = layer.mask
        dy = rng.standard_normal(mask.shape if mask is not None else (3, 5))
        dy = dy.astype(mask.dtype) if mask is not None else dy
        try:
            got = _call_quietly(fn, dy, None if mask is None else mask.copy())
        except CheckFailed as err:
            if mask is None:
                raise CheckFailed(f"{case}: {err}. Hint: the mask is None in evaluation mode, where dropout "
                                  "passes dy through unchanged") from None
            raise
        got = _as_result(got, case)
        expected = layer.backward(dy)
        hints = [] if mask is None else [
            _hint_matches(lambda mask=mask: mask,
                          "you returned the mask; multiply it with dy (the chain rule)"),
            _hint_matches(lambda dy=dy, mask=mask: dy * (mask != 0),
                          "the gradient must carry the same scale 1/(1-p) as the forward pass; the mask "
                          "already holds it, so dx = dy * mask"),
            _hint_matches(lambda dy=dy, mask=mask, p=p: dy * mask / (1 - p),
                          "the mask already holds the scale 1/(1-p); don't divide again: dx = dy * mask"),
            _hint_matches(lambda dy=dy, mask=mask: dy * (mask == 0),
                          "the gradient flows through the kept units (mask != 0), not the dropped ones"),
        ]
        _expect_close(got, expected, case, hints=hints)
    return f"{len(cases)} cases, including a batch of 1 and evaluation mode; matches nnlib.layers.Dropout"


# --- lesson 05: L2 regularisation ---


def _l2_cases(rng: np.random.Generator) -> list[tuple[str, list, float]]:
    """Parameter lists like `model.parameters()`: weights (2-D) and nonzero biases (1-D)."""
    from nnlib.layers import Parameter

    def params(sizes: tuple[int, ...], dtype: type) -> list[Parameter]:
        found = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            weights = rng.standard_normal((n_in, n_out)).astype(dtype) * 0.3
            found.append(Parameter(weights, f"Linear{index}.W"))
            found.append(Parameter(rng.standard_normal(n_out).astype(dtype), f"Linear{index}.b"))
        return found

    return [
        ("a 4-3-2 network, lam = 0.1", params((4, 3, 2), np.float64), 0.1),
        ("one layer 5-7, lam = 0.01", params((5, 7), np.float64), 0.01),
        ("a 6-5-4-3 network, lam = 0", params((6, 5, 4, 3), np.float64), 0.0),
        ("the course network 784-128-64-10 in float32, lam = 1e-3",
         params((784, 128, 64, 10), np.float32), 1e-3),
    ]


@checker("l2_penalty")
def l2_penalty(fn: Callable) -> str:
    """Lesson 05: `l2_penalty(params, lam) -> float`, `0.5 * lam * sum(W**2)` over the weight
    matrices among `params` (2-D), skipping the biases (1-D)."""
    from nnlib.losses import l2_penalty as reference

    for case, params, lam in _l2_cases(_cases(51)):
        case = f"on {case}"
        got = _call_quietly(fn, params, lam)
        if got is None:
            raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
        if isinstance(got, list | tuple):
            raise CheckFailed(f"{case}: expected one number (the penalty), got a {type(got).__name__}: "
                              "add up the terms of all the weight matrices")
        got = _as_result(got, case)
        if got.size != 1:
            raise CheckFailed(f"{case}: expected one number (the penalty), got an array of shape "
                              f"{got.shape}: add up the squares of all the weights")
        got = np.asarray(float(got.reshape(())))
        weights = [p for p in params if p.value.ndim == 2]
        expected = np.asarray(reference(weights, lam))
        squares = sum(float(np.sum(p.value.astype(np.float64) ** 2)) for p in weights)
        with_biases = sum(float(np.sum(p.value.astype(np.float64) ** 2)) for p in params)
        absolute = sum(float(np.sum(np.abs(p.value.astype(np.float64)))) for p in weights)
        norms = sum(float(np.linalg.norm(p.value.astype(np.float64))) for p in weights)
        last = float(np.sum(weights[-1].value.astype(np.float64) ** 2))
        _expect_close(got, expected, case, rtol=1e-5, atol=1e-12, check_dtype=False, hints=[
            hint_scaled(2, "did you forget the 0.5 in 0.5 * lam * sum(W**2)?"),
            _hint_matches(lambda value=0.5 * lam * with_biases: value,
                          "you included the biases; L2 penalises the weight matrices (2-D) only"),
            _hint_matches(lambda value=lam * with_biases: value,
                          "you included the biases and forgot the 0.5; penalise the weight matrices (2-D) "
                          "only, with 0.5 * lam * sum(W**2)"),
            _hint_matches(lambda value=0.5 * lam * absolute: value,
                          "you summed absolute values (that is L1); L2 sums the squares W**2"),
            _hint_matches(lambda value=lam * absolute: value,
                          "you summed absolute values (that is L1); L2 is 0.5 * lam * sum(W**2)"),
            _hint_matches(lambda value=0.5 * lam * norms: value,
                          "you added the norms ||W||; L2 adds the squared norms, sum(W**2)"),
            _hint_matches(lambda value=0.5 * squares: value,
                          "lam is missing: multiply the sum of squares by 0.5 * lam"),
            _hint_matches(lambda value=0.5 * lam * last: value,
                          "only the last weight matrix counts in your penalty; add up every layer's"),
        ])
    return "4 cases, biases skipped, lam = 0 and float32 included; matches nnlib.losses.l2_penalty"


@checker("add_l2_grad")
def add_l2_grad(fn: Callable) -> str:
    """Lesson 05: `add_l2_grad(params, lam) -> None`: adds `lam * W` in place to the `.grad` of
    every weight matrix (2-D) among `params`, and leaves the biases (1-D) alone."""
    from nnlib.layers import Parameter
    from nnlib.losses import add_l2_grad as reference

    rng = _cases(52)
    cases = _l2_cases(rng)
    for case, params, lam in cases:
        case = f"on {case}"
        for p in params:  # a data gradient from backprop, already there before the L2 term is added
            p.grad = rng.standard_normal(p.value.shape).astype(p.value.dtype)
        values = [p.value.copy() for p in params]
        before = [p.grad.copy() for p in params]
        expected = [Parameter(p.value, p.name) for p in params]
        for e, g in zip(expected, before, strict=True):
            e.grad = g
        reference([e for e in expected if e.value.ndim == 2], lam)
        returned = _call_quietly(fn, params, lam)
        if any(not np.array_equal(p.value, v) for p, v in zip(params, values, strict=True)):
            raise CheckFailed(f"{case}: your function changed the parameters' values; it should change only "
                              "their gradients, p.grad (the optimizer updates the values later)")
        changed = [not np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True)]
        if lam > 0 and not any(changed):
            also = (f" (it returned a {type(returned).__name__}: nobody uses that, the gradients themselves "
                    "must change)") if returned is not None else ""
            raise CheckFailed(f"{case}: no gradient changed{also}: add to each weight's gradient in place, "
                              "p.grad += ...; assigning to a local variable changes nothing")
        for p, e, g in zip(params, expected, before, strict=True):
            where = f"{case}, {p.name}.grad"
            if p.value.ndim == 1:
                if not np.array_equal(p.grad, g):
                    raise CheckFailed(f"{where}: you changed a bias's gradient; L2 penalises the weight "
                                      "matrices (2-D) only, skip the biases (1-D)")
                continue
            W = p.value
            _expect_close(p.grad, e.grad, where, rtol=1e-5, atol=1e-7, hints=[
                _hint_matches(lambda W=W, lam=lam: lam * W,
                              "you replaced the gradient by lam * W; add lam * W to the gradient "
                              "backpropagation already put there (+=)"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + 2 * lam * W,
                              "you added 2 * lam * W; the derivative of (lam/2) * W**2 is lam * W "
                              "(the 1/2 cancels the 2 from the square)"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + 0.5 * lam * W,
                              "you added 0.5 * lam * W; the derivative of (lam/2) * W**2 is lam * W"),
                _hint_matches(lambda W=W, g=g: g + W, "lam is missing: add lam * W, not W"),
                _hint_matches(lambda W=W, g=g, lam=lam: g + lam * np.sign(W),
                              "lam * sign(W) is the gradient of L1; for L2 add lam * W"),
                _hint_matches(lambda W=W, g=g, lam=lam: g - lam * W,
                              "the sign is flipped: the penalty's gradient lam * W is added, not subtracted "
                              "(the optimizer does the subtracting)"),
                _hint_matches(lambda g=g, lam=lam: g + lam * g,
                              "you added lam * grad; the penalty's gradient is lam * W, from the weights' "
                              "values p.value"),
            ])
    return (f"{len(cases)} networks, biases skipped, lam = 0 and float32 included; matches "
            "nnlib.losses.add_l2_grad")
