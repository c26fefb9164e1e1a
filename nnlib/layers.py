"""Layers of the network: `Parameter`, `Linear`, `ReLU`, `Dropout`.

Every layer has `forward(x, training=False) -> y` and `backward(dy) -> dx`. `forward` keeps what `backward`
needs, so call them in pairs. Shapes: `x` is `(batch, features)`; `dy` has the shape of `y`, `dx` that of
`x`.
"""

from __future__ import annotations

import numpy as np

from nnlib.blas import matmul
from nnlib.validation import generator, integer, probability


class Parameter:
    """A trainable array and its gradient, of the same shape and dtype.

    Assigning to `.value` or `.grad` copies into the existing array instead of replacing it, so an optimizer
    may keep all parameters in one flat vector and hand out views of it (see `nnlib.optim.pack_parameters`).
    """

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


def check_input(x: np.ndarray, features: int | None, layer: str, dtype: np.dtype | None = None) -> None:
    """Raise a `ValueError` unless `x` is a 2-D float array with `features` columns (and of `dtype`, when
    given: a float64 batch in a float32 network would silently compute in float64)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{layer}: expected a NumPy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{layer}: expected a float array, got dtype {x.dtype}"
            " (scale images to [0, 1] floats first, e.g. with nnlib.data.load_mnist)"
        )
    if dtype is not None and x.dtype != dtype:
        raise ValueError(
            f"{layer}: expected {np.dtype(dtype)} input (the dtype of the weights), got {x.dtype};"
            f" convert it with x.astype(np.{np.dtype(dtype)}), or build the network with dtype=np.{x.dtype}"
        )
    if x.ndim != 2 or (features is not None and x.shape[1] != features):
        wanted = f"(batch, {features})" if features is not None else "(batch, features)"
        hint = ""
        if x.ndim == 3 and features == x.shape[1] * x.shape[2]:
            hint = f"; flatten the images first: x.reshape(len(x), {features})"
        raise ValueError(f"{layer}: expected input of shape {wanted}, got {x.shape}{hint}")


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise a `ValueError` if `x` holds NaN or inf. A finite sum proves there are none in one pass (4x
    quicker than min and max in the browser); only a sum that is not finite needs min and max."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite = not x.size or np.isfinite(x.sum()) or (np.isfinite(x.min()) and np.isfinite(x.max()))
    if not finite:
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{what}: contains {bad} NaN or infinite values; expected finite numbers")


def check_gradient(dy: np.ndarray, shape: tuple[int, ...], layer: str) -> None:
    """Raise a `ValueError` unless the upstream gradient `dy` has `shape` (that of the forward output)."""
    if not isinstance(dy, np.ndarray):
        raise ValueError(f"{layer}.backward: expected dy as a NumPy array, got {type(dy).__name__}")
    if dy.shape != shape:
        raise ValueError(
            f"{layer}.backward: expected dy of shape {shape} (the shape of the forward output), "
            f"got {dy.shape}"
        )


class Linear:
    """Fully connected layer `y = x @ W + b`.

    W: `(in_features, out_features)`, He-initialised (normal, std sqrt(2/in)), which keeps the scale of
    activations steady through ReLU layers. b: `(out_features,)`, zeros.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator,
        dtype: np.dtype | type = np.float32,
        name: str = "Linear",
    ) -> None:
        where = f"Linear({in_features!r}, {out_features!r})"
        in_features = integer(in_features, "in_features", where)
        out_features = integer(out_features, "out_features", where)
        generator(rng, "rng", where)
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(f"{where}: dtype must be a float type such as np.float32, got {np.dtype(dtype)}")
        std = np.sqrt(2.0 / in_features)
        weights = rng.standard_normal((in_features, out_features)) * std
        self.W = Parameter(weights.astype(dtype), name=f"{name}.W")
        self.b = Parameter(np.zeros(out_features, dtype=dtype), name=f"{name}.b")
        self.in_features, self.out_features = in_features, out_features
        self.name = name
        self._x: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: `(batch, in_features)` -> `(batch, out_features)`."""
        check_input(x, self.in_features, self.name, self.W.value.dtype)
        self._x = x
        y = matmul(x, self.W.value)  # x @ W (through SciPy's BLAS in the browser: nnlib.blas)
        y += self.b.value
        return y

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy: `(batch, out_features)` -> dx `(batch, in_features)`.

        Writes dL/dW and dL/db into `W.grad` and `b.grad` (in place, overwriting). The first layer of a
        network needs no dx: skipping it saves a third of that layer's work.
        """
        if self._x is None:
            raise RuntimeError(f"{self.name}: call forward before backward")
        check_gradient(dy, (len(self._x), self.out_features), self.name)
        matmul(self._x.T, dy, out=self.W.grad)
        np.sum(dy, axis=0, out=self.b.grad)
        return matmul(dy, self.W.value.T) if need_input_grad else None

    def spec(self) -> dict:
        return {"type": "Linear", "in_features": self.in_features, "out_features": self.out_features}

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU:
    """`y = max(x, 0)`; its derivative is 1 where x > 0, else 0."""

    def __init__(self, name: str = "ReLU") -> None:
        self.name = name
        self._positive: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{self.name}: expected a NumPy array, got {type(x).__name__}")
        self._positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._positive is None:
            raise RuntimeError(f"{self.name}: call forward before backward")
        check_gradient(dy, self._positive.shape, self.name)
        return dy * self._positive

    def spec(self) -> dict:
        return {"type": "ReLU"}

    def __repr__(self) -> str:
        return "ReLU()"


class Dropout:
    """Inverted dropout: in training, zero each unit with probability `p` and scale the survivors by
    `1 / (1 - p)`, so the expected activation is the same as in evaluation, where the layer does nothing.

    `freeze_mask = True` reuses the last mask (for gradient checks, where the same random mask must be used
    for every evaluation of the loss).
    """

    def __init__(self, p: float, rng: np.random.Generator, name: str = "Dropout") -> None:
        self.p = probability(p, "drop probability p", name)
        self.rng = generator(rng, "rng (it draws the dropout masks)", name)
        self.name = name
        self.freeze_mask = False
        self.mask: np.ndarray | None = None

    def parameters(self) -> list[Parameter]:
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{self.name}: expected a NumPy array, got {type(x).__name__}")
        if not training or self.p == 0.0:
            self.mask = None
            return x
        if not (self.freeze_mask and self.mask is not None and self.mask.shape == x.shape):
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
            # in x's dtype, in one pass (a NumPy float64 scalar would upcast a plain product)
            self.mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.mask is None:
            return dy
        check_gradient(dy, self.mask.shape, self.name)
        return dy * self.mask

    def spec(self) -> dict:
        return {"type": "Dropout", "p": self.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


def pack_parameters(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    """Put all parameters into one flat value vector and one flat grad vector.

    Returns `(values, grads)`, each `(total_size,)`; every parameter's `.value` and `.grad` become views
    into them. An optimizer step is then a handful of whole-vector operations instead of a handful per
    parameter. Parameters that already sit, in order, in one flat buffer are left where they are.
    """
    if not params:
        raise ValueError("no parameters to optimise")
    dtypes = {p.value.dtype for p in params}
    if len(dtypes) != 1:
        raise ValueError(f"parameters must share one dtype, got {sorted(map(str, dtypes))}")
    existing = _flat_buffers(params)
    if existing is not None:
        return existing
    total = sum(p.value.size for p in params)
    values = np.empty(total, dtype=dtypes.pop())
    grads = np.zeros_like(values)
    offset = 0
    for p in params:
        end = offset + p.value.size
        p.rebind(values[offset:end].reshape(p.shape), grads[offset:end].reshape(p.shape))
        offset = end
    return values, grads


def _flat_buffers(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray] | None:
    """The flat buffers the parameters already live in, in order, or None."""
    found = []
    for attribute in ("value", "grad"):
        arrays = [getattr(p, attribute) for p in params]
        base = arrays[0].base
        if base is None or base.ndim != 1 or base.size != sum(a.size for a in arrays):
            return None
        start = base.__array_interface__["data"][0]
        offset = 0
        for array in arrays:
            if array.base is not base or array.__array_interface__["data"][0] != start + offset:
                return None
            offset += array.nbytes
        found.append(base)
    return found[0], found[1]
