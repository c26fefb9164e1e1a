"""The loss: softmax, cross-entropy, their fused gradient, and the L2 penalty with its gradient.

Shapes: logits `(batch, classes)`, labels `(batch,)` integers in `0..classes-1`. `SoftmaxCrossEntropy`
is the loss as a thin class: it checks its inputs in one call and calls the functions of its
namespace `fns` (this module unless given).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import numpy as np

from nnlib.layers import Parameter
from nnlib.validation import check_logits, check_logits_and_labels, parameter_list, real


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax `(batch, classes) -> (batch, classes)`; subtracting each row's maximum first
    changes nothing mathematically but keeps `exp` from overflowing. Built in lesson 02."""
    check_logits(logits, "softmax")
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    exps /= exps.sum(axis=1, keepdims=True)
    return exps


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise `log(softmax(logits))` via log-sum-exp, finite even where softmax underflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy `-(1/N) sum_i log softmax(logits)_i[labels_i]`. Built in lesson 02."""
    check_logits_and_labels(logits, labels, "cross_entropy")
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The gradient of the mean cross-entropy with respect to the logits, `(softmax - onehot) / N`,
    `(batch, classes)`: simpler and more stable than chaining two derivatives. Built in lesson 03."""
    grad = np.exp(log_softmax(logits))  # softmax, as cross_entropy computes it
    grad[np.arange(len(labels)), labels] -= 1.0
    grad *= 1.0 / len(labels)
    return grad


def l2_penalty(params: Iterable[Parameter], lam: float) -> float:
    """`0.5 * lam * sum(W**2)` over the weight matrices (2-D) among `params`; biases (1-D) are not
    penalised. Built in lesson 05."""
    lam = real(lam, "lam (the L2 strength)", "l2_penalty", low=0.0)
    weights = [p.value for p in parameter_list(params, "l2_penalty", Parameter) if p.value.ndim == 2]
    return 0.5 * lam * sum(float(np.vdot(w, w)) for w in weights) if lam else 0.0


def add_l2_grad(params: Iterable[Parameter], lam: float) -> None:
    """Add the penalty's gradient `lam * W` to each weight matrix's `.grad`, in place. Built in lesson 05."""
    lam = real(lam, "lam (the L2 strength)", "add_l2_grad", low=0.0)  # a Python float keeps W's dtype
    for w in parameter_list(params, "add_l2_grad", Parameter):
        if lam and w.value.ndim == 2:
            w.grad += lam * w.value


# The functions the loss calls unless given others (`fns=`): "your network" passes yours.
FUNCTIONS = SimpleNamespace(softmax=softmax, cross_entropy=cross_entropy,
                            softmax_cross_entropy_backward=softmax_cross_entropy_backward,
                            l2_penalty=l2_penalty, add_l2_grad=add_l2_grad)


class SoftmaxCrossEntropy:
    """Softmax + mean cross-entropy as one layer: `forward(logits, labels) -> loss` (a float) is
    `cross_entropy`; `backward() -> dlogits` is `softmax_cross_entropy_backward` on the same batch."""

    def __init__(self, fns: Any = None) -> None:
        self.fns = fns or FUNCTIONS
        self._logits: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        check_logits_and_labels(logits, labels, "SoftmaxCrossEntropy")
        self._logits, self._labels = logits, np.asarray(labels)
        return float(self.fns.cross_entropy(logits, self._labels))

    def backward(self) -> np.ndarray:
        if self._logits is None or self._labels is None:
            raise RuntimeError("SoftmaxCrossEntropy: call forward before backward")
        return self.fns.softmax_cross_entropy_backward(self._logits, self._labels)

