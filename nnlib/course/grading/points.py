"""Points per exercise: the single table that nbgrader's test cells take their points from.

Keys are the exercises' function names, which are also their nbgrader grade ids (stable: a
gradebook refers to them). TEACHING.md shows this table; a test keeps the two in step.
"""

from __future__ import annotations

POINTS: dict[str, int] = {
    # 00 start here
    "normalize_rows": 1,
    "count_labels": 1,
    # 01 data
    "scale_images": 1,
    "one_hot": 1,
    "train_val_split": 1,
    # 02 forward pass
    "linear_forward": 1,
    "relu": 1,
    "softmax": 1,
    "cross_entropy": 1,
    # 03 backprop
    "linear_backward": 2,
    "relu_backward": 1,
    "softmax_cross_entropy_backward": 2,
    "numerical_gradient": 2,
    "train_step": 1,
    # 04 dropout
    "dropout_forward": 2,
    "dropout_backward": 1,
    # 05 L2 regularisation
    "l2_penalty": 1,
    "add_l2_grad": 1,
    # 06 optimizers
    "sgd_momentum_step": 1,
    "adam_step": 2,
    "cosine_lr": 1,
    # 07 results
    "accuracy": 1,
    "confusion_matrix": 1,
    "top_confident_mistakes": 1,
}


def points_of(exercise: str) -> int:
    """The points of `exercise`, or a clear error naming the table to extend."""
    try:
        return POINTS[exercise]
    except KeyError:
        raise KeyError(f"exercise {exercise!r} has no points: add it to POINTS in "
                       "nnlib/course/grading/points.py (and to the points table in TEACHING.md)") from None
