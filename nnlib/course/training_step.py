"""Your training step, as `fit(..., step=...)` runs it for every mini-batch.

Lesson 03's exercise `train_step(model, loss_fn, xb, yb, lr) -> (loss, logits)` is one step of
plain SGD: the forward pass (training mode), the loss, the backward pass, and
`value -= lr * grad` for every parameter. `fit` keeps the rest: shuffling, batches, the
learning-rate schedule, the history, divergence and Ctrl-C.

Lessons 05-07 add L2 and other optimizers without changing your step. `TrainingStep` hands
it the network and the loss through two thin wrappers:

- `LossWithL2.forward` adds your `l2_penalty` to the loss, so the loss your step returns
  (and the training curve) include it, as in nnlib's `fit`;
- `NetworkForStep.backward` runs the network's backward pass, adds the L2 gradient (your
  `add_l2_grad`) and, with an optimizer, replaces each gradient by the direction that
  optimizer moves the parameter: its update applied to a vector of zeros with learning rate 1
  (plain SGD: the gradient; momentum: the velocity; Adam: the corrected m / (sqrt(v) + eps)).
  Your `value -= lr * grad` then takes your optimizer's step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nnlib.harness import check_step_result
from nnlib.layers import Parameter
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty
from nnlib.network import Sequential
from nnlib.optim import FLUSH_EVERY, Optimizer, flush_tiny
from nnlib.train import DIVERGED_LOSS

# train_step(model, loss_fn, xb, yb, lr) -> (loss, logits)
TrainStep = Callable[[Sequential, SoftmaxCrossEntropy, np.ndarray, np.ndarray, float],
                     tuple[float, np.ndarray]]


class LossWithL2:
    """`loss_fn` plus `l2_penalty(weights, lam)` in `forward`; `backward` is `loss_fn`'s (the
    penalty's gradient goes to the weights directly, see `NetworkForStep`)."""

    def __init__(self, loss_fn: SoftmaxCrossEntropy, weights: list[Parameter], lam: float,
                 penalty: Callable) -> None:
        self.loss_fn, self.weights, self.lam, self.penalty = loss_fn, weights, lam, penalty

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        return float(self.loss_fn.forward(logits, labels)) + float(self.penalty(self.weights, self.lam))

    def backward(self) -> np.ndarray:
        return self.loss_fn.backward()

    def __getattr__(self, name: str) -> object:
        """Everything else is `loss_fn`'s (`probs`, ...), as for `NetworkForStep`."""
        if name == "loss_fn":
            raise AttributeError(name)
        return getattr(self.loss_fn, name)


class NetworkForStep:
    """The network as your step sees it: `forward` and `parameters` are the network's;
    `backward` also adds the L2 gradient and turns gradients into the optimizer's direction."""

    def __init__(self, model: Sequential, lam: float, add_grad: Callable,
                 optimizer: Optimizer | None) -> None:
        self.model, self.lam, self.add_grad, self.optimizer = model, lam, add_grad, optimizer

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.model.forward(x, training=training)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        dx = self.model.backward(dy, need_input_grad=need_input_grad)
        if self.lam:
            self.add_grad(self.model.weights(), self.lam)
        if self.optimizer is not None:
            replace_by_direction(self.optimizer)
        return dx

    def parameters(self) -> list[Parameter]:
        return self.model.parameters()

    def weights(self) -> list[Parameter]:
        return self.model.weights()

    def __getattr__(self, name: str) -> object:
        """Everything else is the network's (`layers`, ...): a step that passed its check on a
        `Sequential` in lesson 03 runs unchanged when L2 or an optimizer is plugged in."""
        if name == "model":  # not set yet (copy, pickle): no endless lookup
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"NetworkForStep({self.model!r})"


def replace_by_direction(optimizer: Optimizer) -> None:
    """Put into the gradients the direction `optimizer` steps this time (`optimizer.steps` is the
    number of this step): its update of a zero vector with learning rate 1 is minus it."""
    values = optimizer.values
    optimizer.values = np.zeros_like(values)
    try:
        optimizer._update(1.0)
        optimizer.grads[...] = -optimizer.values
    finally:
        optimizer.values = values


class TrainingStep:
    """What `fit(..., step=...)` calls: `train_step` (yours, or nnlib's reference) on the network
    and loss wrapped for L2 `lam` and `optimizer`; it checks what your step returns. `failed()`
    names your pieces in use that failed their checks: if the loss blows up, they are the
    suspects (fit alone would suggest a smaller learning rate)."""

    def __init__(self, train_step: TrainStep, owner: str, optimizer: Optimizer | None = None,
                 lam: float = 0.0, l2_functions: Sequence[Callable] = (l2_penalty, add_l2_grad),
                 failed: Callable[[], list[str]] = list) -> None:
        self.train_step, self.owner, self.optimizer, self.lam = train_step, owner, optimizer, lam
        self.penalty, self.add_grad = l2_functions
        self.failed = failed

    def __call__(self, model: Sequential, loss_fn: SoftmaxCrossEntropy, xb: np.ndarray, yb: np.ndarray,
                 lr: float) -> tuple[float, np.ndarray]:
        network: Sequential | NetworkForStep = model
        if self.lam or self.optimizer is not None:
            network = NetworkForStep(model, self.lam, self.add_grad, self.optimizer)
        loss = LossWithL2(loss_fn, model.weights(), self.lam, self.penalty) if self.lam else loss_fn
        given = yb.copy()
        result = self.train_step(network, loss, xb, given, lr)
        optimizer = self.optimizer
        if optimizer is not None and optimizer.steps % FLUSH_EVERY == 0:  # why: see nnlib.optim.flush_tiny
            flush_tiny([optimizer.values, *optimizer._state()])
        loss, logits = check_step_result(result, xb, given, yb, self.owner)  # fit's own checks, your name
        suspects = self.failed() if not (math.isfinite(loss) and loss <= DIVERGED_LOSS) else []
        if suspects:
            raise FloatingPointError(
                f"the training loss became {loss:.4g}: training blew up with pieces that failed their checks "
                f"({', '.join(suspects)}); fix them first (each check says what is wrong), a smaller "
                "learning rate will not mend a wrong piece")
        return loss, logits
