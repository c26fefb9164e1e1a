"""Optimizers (`SGD`, `Adam`) and learning-rate schedules.

The update rules match `torch.optim.SGD` (momentum, no dampening) and
`torch.optim.Adam` step for step, given the same gradients. Optimizers read
`Parameter.grad` and update `Parameter.value` in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnlib.layers import Parameter, pack_parameters

FLUSH_EVERY = 20
FLUSH_BELOW = 1e-20


def flush_tiny(arrays: list[np.ndarray], below: float = FLUSH_BELOW) -> None:
    """Set entries with `|x| < below` to zero, in place (float32 arrays only).

    Why: with L2, weights that never receive a data gradient (border pixels
    that are always 0) decay geometrically, and so do Adam's moments. In
    float32 they reach the subnormal range (below ~1.2e-38), where the CPU
    handles every operation on them in slow microcode: late epochs ran 1.4-2.6x
    slower than early ones. Values below 1e-20 are far too small to change any
    prediction, so zeroing them every few steps keeps the epoch time flat
    without changing accuracy. float64 never gets there in practice, so it is
    left alone (gradient checks run in float64 and stay exact).
    """
    for array in arrays:
        if array.dtype == np.float32:
            array[np.abs(array) < below] = 0.0


class Optimizer:
    """Base class: holds the flat parameter/gradient vectors and the step count."""

    def __init__(self, params: list[Parameter], lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.params = list(params)
        self.values, self.grads = pack_parameters(self.params)
        self.lr = float(lr)
        self.steps = 0

    def zero_grad(self) -> None:
        self.grads.fill(0.0)

    def step(self) -> None:
        self.steps += 1
        self._update(float(self.lr))
        if self.steps % FLUSH_EVERY == 0:
            flush_tiny([self.values, *self._state()])

    def _update(self, lr: float) -> None:
        raise NotImplementedError

    def _state(self) -> list[np.ndarray]:
        return []


class SGD(Optimizer):
    """SGD with optional momentum (PyTorch's form):

        v <- momentum * v + g
        w <- w - lr * v

    With `momentum=0` this is plain `w <- w - lr * g`.
    """

    def __init__(self, params: list[Parameter], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.velocity = np.zeros_like(self.values) if momentum else None

    def _update(self, lr: float) -> None:
        if self.velocity is None:
            self.values -= lr * self.grads
            return
        self.velocity *= self.momentum
        self.velocity += self.grads
        self.values -= lr * self.velocity

    def _state(self) -> list[np.ndarray]:
        return [] if self.velocity is None else [self.velocity]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as in PyTorch:

        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = np.zeros_like(self.values)
        self.v = np.zeros_like(self.values)
        self._scratch = np.empty_like(self.values)

    def _update(self, lr: float) -> None:
        t = self.steps
        b1, b2 = self.beta1, self.beta2
        self.m *= b1
        self.m += (1.0 - b1) * self.grads
        self.v *= b2
        scratch = self._scratch
        np.multiply(self.grads, self.grads, out=scratch)
        scratch *= 1.0 - b2
        self.v += scratch
        # denominator: sqrt(v) / sqrt(1 - b2^t) + eps, built in the scratch buffer
        np.sqrt(self.v, out=scratch)
        scratch *= 1.0 / math.sqrt(1.0 - b2**t)
        scratch += self.eps
        np.divide(self.m, scratch, out=scratch)
        scratch *= lr / (1.0 - b1**t)
        self.values -= scratch

    def _state(self) -> list[np.ndarray]:
        return [self.m, self.v]


Schedule = Callable[[int], float]


def constant_schedule(lr: float) -> Schedule:
    """The same learning rate at every step."""
    return lambda step: lr


def cosine_schedule(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    """Half a cosine from `lr` at step 0 down to `final_lr` at `total_steps`.

    Large steps early explore; small steps late settle into a minimum, which
    is worth a few tenths of a percent of test accuracy here.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")

    def at(step: int) -> float:
        progress = min(step, total_steps) / total_steps
        return final_lr + 0.5 * (lr - final_lr) * (1.0 + math.cos(math.pi * progress))

    return at


def step_schedule(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Multiply the learning rate by `gamma` every `step_size` steps."""
    if step_size <= 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    return lambda step: lr * gamma ** (step // step_size)
