"""Softmax, cross-entropy (fused with softmax for a stable, simple gradient) and L2.

Shapes: logits `(batch, classes)`, labels `(batch,)` integers in `0..classes-1`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nnlib.layers import Parameter
from nnlib.validation import real


def check_logits(logits: np.ndarray, where: str) -> None:
    """Raise a `ValueError` unless `logits` is a 2-D float array `(batch, classes)`."""
    if not isinstance(logits, np.ndarray):
        raise ValueError(f"{where}: expected logits as a NumPy array (batch, classes), "
                         f"got {type(logits).__name__}")
    if logits.ndim != 2:
        hint = "; for one sample use logits[None, :]" if logits.ndim == 1 else ""
        raise ValueError(f"{where}: expected logits of shape (batch, classes), "
                         f"got shape {logits.shape}{hint}")
    if not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(f"{where}: expected float logits, got dtype {logits.dtype}")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax `(batch, classes) -> (batch, classes)`.

    Subtracting each row's maximum first changes nothing mathematically but keeps `exp` from overflowing.
    """
    check_logits(logits, "softmax")
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    exps /= exps.sum(axis=1, keepdims=True)
    return exps


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise `log(softmax(logits))` via log-sum-exp, finite even where softmax underflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_labels(labels: np.ndarray, batch: int, classes: int) -> None:
    """Raise a `ValueError` unless `labels` are `batch` integers in `0..classes-1`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != batch:
        raise ValueError(
            f"labels: expected shape ({batch},) to match the {batch} inputs, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if batch and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"labels: expected values in 0..{classes - 1}, got values from {labels.min()} to {labels.max()}"
        )


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy `-(1/N) sum_i log softmax(logits)_i[labels_i]`."""
    check_logits(logits, "cross_entropy")
    check_labels(labels, logits.shape[0], logits.shape[1])
    rows = np.arange(len(labels))
    return float(-log_softmax(logits)[rows, labels].mean())


class SoftmaxCrossEntropy:
    """Softmax + mean cross-entropy as one layer.

    `forward(logits, labels) -> loss` (a float); `backward() -> dlogits`, which is
    `(softmax(logits) - one_hot(labels)) / batch`: simpler and more stable than chaining two derivatives.
    """

    def __init__(self) -> None:
        self.probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        check_logits(logits, "SoftmaxCrossEntropy")
        check_labels(labels, logits.shape[0], logits.shape[1])
        log_probs = log_softmax(logits)
        self.probs = np.exp(log_probs)
        self._labels = np.asarray(labels)
        rows = np.arange(len(labels))
        return float(-log_probs[rows, self._labels].mean())

    def backward(self) -> np.ndarray:
        if self.probs is None or self._labels is None:
            raise RuntimeError("SoftmaxCrossEntropy: call forward before backward")
        grad = self.probs.copy()
        grad[np.arange(len(self._labels)), self._labels] -= 1.0
        grad *= 1.0 / len(self._labels)
        return grad


def l2_penalty(weights: Iterable[Parameter], lam: float) -> float:
    """`0.5 * lam * sum(W**2)` over the given weight matrices (pass weights only, not biases)."""
    lam = real(lam, "lam (the L2 strength)", "l2_penalty", low=0.0)
    if lam == 0.0:
        return 0.0
    total = sum(float(np.vdot(w.value, w.value)) for w in _parameters(weights, "l2_penalty"))
    return 0.5 * float(lam) * total


def add_l2_grad(weights: Iterable[Parameter], lam: float) -> None:
    """Add the penalty's gradient `lam * W` to each weight's `.grad`, in place."""
    lam = real(lam, "lam (the L2 strength)", "add_l2_grad", low=0.0)
    if lam == 0.0:
        return
    # `real` returns a Python float, which keeps `lam * W` in W's dtype; a NumPy float64 (say from
    # np.logspace) would make a float64 copy of every weight matrix, at every step.
    for w in _parameters(weights, "add_l2_grad"):
        w.grad += lam * w.value


def _parameters(weights: Iterable[Parameter], where: str) -> list[Parameter]:
    """The weights as a list, or a clear error if they are not `Parameter`s (e.g. bare arrays)."""
    try:
        found = list(weights)
    except TypeError:  # not iterable, e.g. one Parameter
        found = None
    if found is None or not all(isinstance(w, Parameter) for w in found):
        raise ValueError(
            f"{where}: weights must be a list of Parameters such as model.weights(), got "
            f"{type(weights).__name__}" + ("" if found is None else " holding other things")
        )
    return found
