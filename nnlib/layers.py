"""The layers of the network: their math as functions, then `Parameter`, `Linear`, `ReLU`, `Dropout`.

Each layer is a forward/backward pair of functions, as the lessons build them (CS231n's `layers.py`
style): forward takes the input, backward takes `dy` (the loss's gradient with respect to the output)
and what forward saw, and returns the gradients. Shapes: `x` `(batch, features)`; `dy` has the shape
of the output, `dx` that of `x`.

The classes are thin: a layer checks its input in one call, keeps what backward needs, and calls the
functions of its namespace `fns` (this module unless given). "Your network" is the same classes with
your functions in `fns` (`nnlib.course.assemble`).
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import numpy as np

from nnlib.blas import matmul
from nnlib.validation import check_array, check_gradient, check_input, generator, integer, probability


def linear_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`y = x @ W + b`: x `(N, in)`, W `(in, out)`, b `(out,)` -> y `(N, out)`.
    Built in lesson 02."""
    y = matmul(x, W)  # x @ W (through SciPy's BLAS in the browser: nnlib.blas)
    y += b  # in place: no second (N, out) array
    return y


def linear_backward(dy: np.ndarray, x: np.ndarray, W: np.ndarray, need_dx: bool = True, out=None):
    """dy `(N, out)`, the forward's x `(N, in)` and W `(in, out)` -> `(dx, dW, db)`, shaped like x, W, b.
    Built in lesson 03. Two options make training faster: `need_dx=False` skips dx (None; the first
    layer's dx, a gradient of the images, is never used: a third of that layer's work), and
    `out=(dW, db)` writes the gradients into those arrays (the parameters' `.grad`) instead of new ones."""
    dW, db = (None, None) if out is None else out
    return (matmul(dy, W.T) if need_dx else None), matmul(x.T, dy, out=dW), np.sum(dy, axis=0, out=db)


def relu(x: np.ndarray) -> np.ndarray:
    """`max(x, 0)` elementwise. Built in lesson 02."""
    return np.maximum(x, 0)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx = dy where the forward's x > 0, else 0 (ReLU's slope). Built in lesson 03."""
    return dy * (x > 0)


def dropout_forward(x: np.ndarray, p: float, rng: np.random.Generator, training: bool):
    """Inverted dropout -> `(y, mask)`. In training, each unit is dropped with probability `p` and
    the survivors scaled by `1 / (1 - p)`: mask holds 0 or `1/(1-p)` (x's dtype) and `y = x * mask`,
    so the expected activation is unchanged. In evaluation (or p = 0): `(x, None)`. Built in lesson 04."""
    if not training or p == 0.0:
        return x, None
    keep = rng.random(x.shape, dtype=np.float32) >= p
    mask = np.multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype)  # in x's dtype, in one pass
    return x * mask, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """dx = dy * mask, the same mask as forward (None in evaluation: dx = dy). Built in lesson 04."""
    return dy if mask is None else dy * mask


# The functions the layers call unless given others (`fns=`): "your network" passes yours.
FUNCTIONS = SimpleNamespace(linear_forward=linear_forward, linear_backward=linear_backward, relu=relu,
                            relu_backward=relu_backward, dropout_forward=dropout_forward,
                            dropout_backward=dropout_backward)


class Parameter:
    """A trainable array `.value` and its gradient `.grad`, of the same shape and dtype.

    Assigning to `.value` or `.grad` copies into the existing array, so an optimizer may keep all
    parameters in one flat vector and hand out views of it (`pack_parameters`)."""

    __slots__ = ("_value", "_grad", "name")

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self._value = np.array(value, copy=True)
        self._grad = np.zeros_like(self._value)
        self.name = name

    @property
    def value(self) -> np.ndarray:
        return self._value

    @value.setter
    def value(self, new: np.ndarray) -> None:
        _copy_into(self._value, new, f"{self.name or 'Parameter'}.value")

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @grad.setter
    def grad(self, new: np.ndarray) -> None:
        _copy_into(self._grad, new, f"{self.name or 'Parameter'}.grad")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    def rebind(self, value_view: np.ndarray, grad_view: np.ndarray) -> None:
        """Make this parameter live in the given arrays (views of a flat buffer)."""
        value_view[...] = self._value
        grad_view[...] = self._grad
        self._value, self._grad = value_view, grad_view

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self._value.dtype})"


def _copy_into(target: np.ndarray, new: np.ndarray, what: str) -> None:
    if new is target:  # `p.grad += g` ends by assigning the same array back
        return
    new = np.asarray(new)
    if new.shape != target.shape:
        raise ValueError(f"{what}: expected shape {target.shape}, got {new.shape}")
    target[...] = new


class Linear:
    """Fully connected layer `y = x @ W + b` (`linear_forward` / `linear_backward`).

    W `(in_features, out_features)`, He-initialised (normal, std sqrt(2/in)), which keeps the scale of
    activations steady through ReLU layers; b `(out_features,)`, zeros."""

    def __init__(self, in_features: int, out_features: int, rng: np.random.Generator,
                 dtype: np.dtype | type = np.float32, name: str = "Linear", fns: Any = None) -> None:
        where = f"Linear({in_features!r}, {out_features!r})"
        in_features = integer(in_features, "in_features", where)
        out_features = integer(out_features, "out_features", where)
        generator(rng, "rng", where)
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(f"{where}: dtype must be a float type such as np.float32, got {np.dtype(dtype)}")
        weights = rng.standard_normal((in_features, out_features)) * np.sqrt(2.0 / in_features)
        self.W = Parameter(weights.astype(dtype), name=f"{name}.W")
        self.b = Parameter(np.zeros(out_features, dtype=dtype), name=f"{name}.b")
        self.in_features, self.out_features, self.name = in_features, out_features, name
        self.fns = fns or FUNCTIONS
        self._options = {"need_dx", "out"} <= set(inspect.signature(self.fns.linear_backward).parameters)
        self._x: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x `(batch, in_features)` -> `(batch, out_features)`."""
        check_input(x, self.in_features, self.name, self.W.value.dtype)
        self._x = x
        return self.fns.linear_forward(x, self.W.value, self.b.value)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy `(batch, out_features)` -> dx `(batch, in_features)`; writes dW and db into `W.grad`
        and `b.grad` (overwriting). `need_input_grad=False`: no dx needed (the first layer)."""
        check_gradient(dy, None if self._x is None else (len(self._x), self.out_features), self.name)
        options = {"need_dx": need_input_grad, "out": (self.W.grad, self.b.grad)} if self._options else {}
        dx, self.W.grad, self.b.grad = self.fns.linear_backward(dy, self._x, self.W.value, **options)
        return dx if need_input_grad else None

    def spec(self) -> dict:
        return {"type": "Linear", "in_features": self.in_features, "out_features": self.out_features}

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU:
    """`y = max(x, 0)` (`relu` / `relu_backward`)."""

    def __init__(self, name: str = "ReLU", fns: Any = None) -> None:
        self.name, self.fns = name, fns or FUNCTIONS
        self._x: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        check_array(x, self.name)
        self._x = x
        return self.fns.relu(x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        check_gradient(dy, None if self._x is None else self._x.shape, self.name)
        return self.fns.relu_backward(dy, self._x)

    def spec(self) -> dict:
        return {"type": "ReLU"}

    def __repr__(self) -> str:
        return "ReLU()"


class Dropout:
    """Inverted dropout with drop probability `p` (`dropout_forward` / `dropout_backward`); the masks
    come from `rng`. `freeze_mask = True` reuses the last mask (gradient checks need one fixed mask)."""

    def __init__(self, p: float, rng: np.random.Generator, name: str = "Dropout", fns: Any = None) -> None:
        self.p = probability(p, "drop probability p", name)
        self.rng = generator(rng, "rng (it draws the dropout masks)", name)
        self.name, self.fns = name, fns or FUNCTIONS
        self.freeze_mask = False
        self.mask: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        check_array(x, self.name)
        if training and self.freeze_mask and self.mask is not None and self.mask.shape == x.shape:
            return x * self.mask  # the frozen mask, applied as dropout_forward does
        y, self.mask = self.fns.dropout_forward(x, self.p, self.rng, training)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.mask is not None:
            check_gradient(dy, self.mask.shape, self.name)
        return self.fns.dropout_backward(dy, self.mask)

    def spec(self) -> dict:
        return {"type": "Dropout", "p": self.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
