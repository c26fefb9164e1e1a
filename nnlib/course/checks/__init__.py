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

The machinery lives in `core`; the checkers of each lesson in `lessons_00_02`,
`lesson_03`, `lesson_04`, `lesson_05` and `lessons_06_07`. Adding a checker: in
the lesson's module, write a function `name(fn)` decorated with
`@checker("name")` that calls `_call(fn, ...)` on each case and
`_expect_close(...)` on the result, and export it here.
"""

from nnlib.course.checks.core import (
    STRICT_VARIABLE,
    CheckFailed,
    Hint,
    checker,
    hint_scaled,
)
from nnlib.course.checks.lesson_03 import (
    linear_backward,
    numerical_gradient,
    relu_backward,
    softmax_cross_entropy_backward,
    train_step,
)
from nnlib.course.checks.lesson_04 import (
    dropout_backward,
    dropout_forward,
)
from nnlib.course.checks.lesson_05 import (
    add_l2_grad,
    l2_penalty,
)
from nnlib.course.checks.lessons_00_02 import (
    count_labels,
    cross_entropy,
    linear_forward,
    normalize_rows,
    one_hot,
    relu,
    scale_images,
    softmax,
    train_val_split,
)
from nnlib.course.checks.lessons_06_07 import (
    accuracy,
    adam_step,
    confusion_matrix,
    cosine_lr,
    sgd_momentum_step,
    top_confident_mistakes,
)

__all__ = [
    "STRICT_VARIABLE",
    "CheckFailed",
    "Hint",
    "checker",
    "hint_scaled",
    "normalize_rows",
    "count_labels",
    "scale_images",
    "one_hot",
    "train_val_split",
    "linear_forward",
    "relu",
    "softmax",
    "cross_entropy",
    "linear_backward",
    "relu_backward",
    "softmax_cross_entropy_backward",
    "numerical_gradient",
    "train_step",
    "dropout_forward",
    "dropout_backward",
    "l2_penalty",
    "add_l2_grad",
    "sgd_momentum_step",
    "adam_step",
    "cosine_lr",
    "accuracy",
    "confusion_matrix",
    "top_confident_mistakes",
]
