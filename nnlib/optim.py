"""Optimizers and learning-rate schedules: the update rules as functions, then `SGD` and `Adam`.

The rules match `torch.optim.SGD` (momentum, no dampening) and `torch.optim.Adam` step for step, given
the same gradients. The classes are thin: they keep all parameters in one flat vector (and the
gradients in another), call the step function of their namespace `fns` (this module unless given) on
those vectors, and copy the result into place, so the layers' `Parameter`s see it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from nnlib.flat import FLUSH_EVERY, flush_tiny, pack_parameters
from nnlib.layers import Parameter
from nnlib.validation import integer, optimizer_parameters, real


def sgd_momentum_step(w: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, momentum: float,
                      inplace: bool = False):
    """One step of SGD with momentum -> `(w, v)`, shaped like w:

        v <- momentum * v + g          w <- w - lr * v

    With `momentum=0` this is plain `w <- w - lr * g`. Built in lesson 06. `inplace=True` updates the
    given w and v (the optimizer's flat vectors) instead of returning new arrays."""
    if not inplace:
        w, v = w.copy(), v.copy()
    v *= momentum
    v += g
    w -= lr * v
    return w, v


def adam_step(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, lr: float,
              beta1: float, beta2: float, eps: float, inplace: bool = False):
    """Step number `t` (from 1) of Adam (Kingma & Ba, 2015) -> `(w, m, v)`, shaped like w:

        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Built in lesson 06. `inplace=True` updates the given w, m and v instead of returning new arrays."""
    if not inplace:
        w, m, v = w.copy(), m.copy(), v.copy()
    m *= beta1
    m += (1.0 - beta1) * g                                      # m <- b1 m + (1 - b1) g
    step = g * g  # one scratch array, for (1 - b2) g^2 and then for the step itself
    step *= 1.0 - beta2
    v *= beta2
    v += step                                                   # v <- b2 v + (1 - b2) g^2
    np.sqrt(v, out=step)
    step *= 1.0 / math.sqrt(1.0 - beta2**t)
    step += eps                                                 # sqrt(v) / sqrt(1 - b2^t) + eps
    np.divide(m, step, out=step)
    step *= lr / (1.0 - beta1**t)
    w -= step                                                   # w <- w - lr / (1 - b1^t) * m / (...)
    return w, m, v


def cosine_lr(step: int, total: int, lr: float) -> float:
    """Half a cosine from `lr` at step 0 down to 0 at step `total` (and 0 after it). Built in lesson 06."""
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(step, total) / total))


# The functions the optimizers and schedules call unless given others (`fns=`): yours, in your network.
FUNCTIONS = SimpleNamespace(sgd_momentum_step=sgd_momentum_step, adam_step=adam_step, cosine_lr=cosine_lr)


class Optimizer:
    """Base class: the flat parameter and gradient vectors, the learning rate and the step count."""

    def __init__(self, params: list[Parameter], lr: float, fns: Any = None) -> None:
        where = type(self).__name__
        self.params = optimizer_parameters(params, where, Parameter)
        self.lr = real(lr, "lr (the learning rate)", where, low=0.0, low_open=True)
        self.values, self.grads = pack_parameters(self.params)
        self.fns = fns or FUNCTIONS
        self.steps = 0
        self._inplace: dict[Callable, bool] = {}  # step function -> does it take inplace=True?

    def _apply(self, step: Callable, *args: Any) -> tuple[np.ndarray, ...]:
        """`step(values, grads, *state, *args)`, in place when it can (nnlib's can), else its result
        copied into place (the layers' parameters are views of `values`): returns the new state."""
        state = self._state()
        if step not in self._inplace:
            self._inplace[step] = "inplace" in inspect.signature(step).parameters
        if self._inplace[step]:
            step(self.values, self.grads, *state, *args, inplace=True)
            return tuple(state)
        new = step(self.values, self.grads, *state, *args)
        for target, value in zip((self.values, *state), new, strict=True):
            target[...] = value
        return tuple(state)

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
    """SGD with optional momentum (`sgd_momentum_step`); `momentum=0` is plain SGD."""

    def __init__(self, params: list[Parameter], lr: float, momentum: float = 0.0, fns: Any = None) -> None:
        super().__init__(params, lr, fns)
        self.momentum = real(momentum, "momentum", "SGD", 0.0, 1.0, high_open=True)
        self.velocity = np.zeros_like(self.values)

    def _update(self, lr: float) -> None:
        self._apply(self.fns.sgd_momentum_step, lr, self.momentum)

    def _state(self) -> list[np.ndarray]:
        return [self.velocity]


class Adam(Optimizer):
    """Adam (`adam_step`), with PyTorch's defaults."""

    def __init__(self, params: list[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, fns: Any = None) -> None:
        super().__init__(params, lr, fns)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = real(betas[0], "betas[0] (beta1)", "Adam", 0.0, 1.0, high_open=True)
        self.beta2 = real(betas[1], "betas[1] (beta2)", "Adam", 0.0, 1.0, high_open=True)
        # eps > 0 keeps the step finite where v is 0 (a unit that never got a gradient)
        self.eps = real(eps, "eps", "Adam", low=0.0, low_open=True)
        self.m, self.v = np.zeros_like(self.values), np.zeros_like(self.values)

    def _update(self, lr: float) -> None:
        self._apply(self.fns.adam_step, self.steps, lr, self.beta1, self.beta2, self.eps)

    def _state(self) -> list[np.ndarray]:
        return [self.m, self.v]


Schedule = Callable[[int], float]


def constant_schedule(lr: float) -> Schedule:
    """The same learning rate at every step."""
    lr = real(lr, "lr", "constant_schedule", low=0.0, low_open=True)
    return lambda step: lr


def cosine_schedule(lr: float, total_steps: int, final_lr: float = 0.0, fns: Any = None) -> Schedule:
    """`step -> lr` by `cosine_lr`, from `lr` down to `final_lr` at `total_steps`. Large steps early
    explore; small steps late settle into a minimum (worth a few tenths of a percent here)."""
    lr = real(lr, "lr", "cosine_schedule", low=0.0, low_open=True)
    total_steps = integer(total_steps, "total_steps", "cosine_schedule")
    final_lr = real(final_lr, "final_lr", "cosine_schedule", low=0.0, high=lr)
    fns = fns or FUNCTIONS
    return lambda step: final_lr + fns.cosine_lr(step, total_steps, lr - final_lr)


def step_schedule(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Multiply the learning rate by `gamma` every `step_size` steps."""
    lr = real(lr, "lr", "step_schedule", low=0.0, low_open=True)
    step_size = integer(step_size, "step_size", "step_schedule")
    gamma = real(gamma, "gamma (the factor per step_size steps)", "step_schedule", low=0.0, low_open=True)
    return lambda step: lr * gamma ** (step // step_size)
