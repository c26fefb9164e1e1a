"""Optimizers (`SGD`, `Adam`) and learning-rate schedules.

The update rules match `torch.optim.SGD` (momentum, no dampening) and `torch.optim.Adam` step for step,
given the same gradients. Optimizers read `Parameter.grad` and update `Parameter.value` in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnlib.layers import Parameter, pack_parameters
from nnlib.validation import integer, real

FLUSH_EVERY = 20
FLUSH_BELOW = 1e-20


def flush_tiny(arrays: list[np.ndarray], below: float = FLUSH_BELOW) -> None:
    """Set entries with `|x| < below` to zero, in place (float32 arrays only).

    Why: with L2, weights that never receive a data gradient (border pixels that are always 0) decay
    geometrically, and so do Adam's moments. In float32 they reach the subnormal range (below ~1.2e-38),
    where the CPU handles every operation on them in slow microcode: late epochs ran 1.4-2.6x slower than
    early ones. Values below 1e-20 are far too small to change any prediction, so zeroing them every few
    steps keeps the epoch time flat without changing accuracy. float64 never gets there in practice, so it
    is left alone (gradient checks run in float64 and stay exact).
    """
    for array in arrays:
        if array.dtype == np.float32:
            array[np.abs(array) < below] = 0.0


class Optimizer:
    """Base class: holds the flat parameter/gradient vectors and the step count."""

    def __init__(self, params: list[Parameter], lr: float) -> None:
        where = type(self).__name__
        self.params = _parameter_list(params, where)
        self.lr = real(lr, "lr (the learning rate)", where, low=0.0, low_open=True)
        self.values, self.grads = pack_parameters(self.params)
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


def _parameter_list(params: object, where: str) -> list[Parameter]:
    """`params` as a list of `Parameter`s, or an error naming what came instead (a model, the method
    `model.parameters` without its call, bare arrays)."""
    hint = ""
    if callable(params):
        hint = ": call it, model.parameters()"
    elif hasattr(params, "parameters"):
        hint = ": pass model.parameters(), not the model itself"
    found = list(params) if isinstance(params, list | tuple) else None
    if found is None or not found or not all(isinstance(p, Parameter) for p in found):
        what = type(params).__name__ if found is None else (
            f"a {type(params).__name__} of {len(found)} items" + (" (not all Parameters)" if found else ""))
        raise ValueError(f"{where}: params must be a non-empty list of Parameters such as "
                         f"model.parameters(), got {what}{hint}")
    return found


class SGD(Optimizer):
    """SGD with optional momentum (PyTorch's form):

        v <- momentum * v + g
        w <- w - lr * v

    With `momentum=0` this is plain `w <- w - lr * g`.
    """

    def __init__(self, params: list[Parameter], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = real(momentum, "momentum", "SGD", 0.0, 1.0, high_open=True)
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
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = real(betas[0], "betas[0] (beta1)", "Adam", 0.0, 1.0, high_open=True)
        self.beta2 = real(betas[1], "betas[1] (beta2)", "Adam", 0.0, 1.0, high_open=True)
        # eps > 0 keeps the step finite where v is 0 (a unit that never got a gradient)
        self.eps = real(eps, "eps", "Adam", low=0.0, low_open=True)
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
    lr = real(lr, "lr", "constant_schedule", low=0.0, low_open=True)
    return lambda step: lr


def cosine_schedule(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    """Half a cosine from `lr` at step 0 down to `final_lr` at `total_steps`.

    Large steps early explore; small steps late settle into a minimum (worth a few tenths of a percent here).
    """
    lr = real(lr, "lr", "cosine_schedule", low=0.0, low_open=True)
    total_steps = integer(total_steps, "total_steps", "cosine_schedule")
    final_lr = real(final_lr, "final_lr", "cosine_schedule", low=0.0, high=lr)

    def at(step: int) -> float:
        progress = min(step, total_steps) / total_steps
        return final_lr + 0.5 * (lr - final_lr) * (1.0 + math.cos(math.pi * progress))

    return at


def step_schedule(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Multiply the learning rate by `gamma` every `step_size` steps."""
    lr = real(lr, "lr", "step_schedule", low=0.0, low_open=True)
    step_size = integer(step_size, "step_size", "step_schedule")
    gamma = real(gamma, "gamma (the factor per step_size steps)", "step_schedule", low=0.0, low_open=True)
    return lambda step: lr * gamma ** (step // step_size)
