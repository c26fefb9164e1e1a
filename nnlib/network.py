"""`Sequential`: layers run forward one after another and backward in reverse; `mlp` builds the
course network. Shapes: inputs `(batch, 784)` float, logits `(batch, 10)`, labels `(batch,)`.

Saving and loading models (and the checks that keep a bad file out) live in `nnlib.modelfiles`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from nnlib.flat import pack_parameters
from nnlib.layers import Dropout, Linear, Parameter, ReLU
from nnlib.losses import softmax
from nnlib.validation import check_finite, check_input, generator, integer, probability


class Layer(Protocol):
    name: str

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray: ...
    def backward(self, dy: np.ndarray) -> np.ndarray: ...
    def parameters(self) -> list[Parameter]: ...
    def spec(self) -> dict: ...


def forward_layers(layers: Sequence[Layer], x: np.ndarray, training: bool = False) -> np.ndarray:
    """Run `x` through `layers` in order, each layer taking the output of the one before; `training`
    goes to every layer (dropout is on only while training). x `(batch, in)` -> `(batch, out)`.
    Built in lesson 03."""
    for layer in layers:
        x = layer.forward(x, training=training)
    return x


def backward_layers(layers: Sequence[Layer], dy: np.ndarray) -> np.ndarray:
    """The backward pass of `forward_layers`: the layers in reverse order, each turning the gradient
    of its output into the gradient of its input (and filling its parameters' `.grad`).
    dy `(batch, out)` -> dx `(batch, in)`. Built in lesson 03."""
    for layer in reversed(layers):
        dy = layer.backward(dy)
    return dy


class Sequential:
    """Layers applied one after another (`forward_layers`); backward runs them in reverse
    (`backward_layers`); `predict_proba` ends with `softmax`. Your network passes your functions."""

    def __init__(self, layers: list[Layer], forward_layers: Callable = forward_layers,
                 backward_layers: Callable = backward_layers, softmax: Callable = softmax) -> None:
        if not isinstance(layers, list | tuple):
            raise ValueError(f"Sequential: expected a list of layers, got {type(layers).__name__}")
        for position, layer in enumerate(layers):
            if not all(callable(getattr(layer, m, None)) for m in ("forward", "backward", "parameters")):
                raise ValueError(f"Sequential: layer {position} ({type(layer).__name__}) is not a layer: "
                                 "it needs forward, backward and parameters methods")
        self.layers, self.softmax = list(layers), softmax
        self.forward_layers, self.backward_layers = forward_layers, backward_layers
        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        self.in_features = linears[0].in_features if linears else None
        trainable = [i for i, layer in enumerate(self.layers) if layer.parameters()]
        self._first_trainable = trainable[0] if trainable else -1
        # The weights' dtype, fixed from here on (None without weights): the parameters share one flat
        # buffer, and new values are copied into it.
        self.dtype = pack_parameters(self.parameters())[0].dtype if trainable else None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x `(batch, in_features)` -> logits `(batch, out_features)`. Built in lesson 03."""
        check_input(x, self.in_features, "network input", self.dtype)
        check_finite(x, "network input")  # NaN would otherwise come out as class 0
        return self.forward_layers(self.layers, x, training)

    __call__ = forward

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy `(batch, out_features)` -> dx `(batch, in_features)`; fills every parameter's `.grad`.
        `need_input_grad=False` (training never needs dx of the images): None."""
        first = self.layers[0] if self.layers else None
        if need_input_grad or self._first_trainable != 0 or not isinstance(first, Linear):
            return self.backward_layers(self.layers, dy)
        # The first layer's input is the data: skip its dx (a product as large as its dW).
        return first.backward(self.backward_layers(self.layers[1:], dy), need_input_grad=False)

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def weights(self) -> list[Parameter]:
        """The weight matrices (what L2 penalises), without the biases."""
        return [layer.W for layer in self.layers if isinstance(layer, Linear)]

    def predict_proba(self, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Class probabilities `(n, classes)` in evaluation mode (no dropout)."""
        batch_size = integer(batch_size, "batch_size", "predict_proba")
        check_input(x, self.in_features, "network input", self.dtype)
        parts = [self.softmax(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=x.dtype)

    def predict(self, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Predicted labels `(n,)`."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def architecture(self) -> list[dict]:
        return [layer.spec() for layer in self.layers]

    def save(self, path: str | os.PathLike) -> None:
        from nnlib.modelfiles import save_model

        save_model(self, path)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def mlp(sizes: tuple[int, ...] | list[int], dropout: float, rng: np.random.Generator,
        dtype: np.dtype | type = np.float32, fns: Any = None) -> Sequential:
    """Linear -> ReLU -> Dropout blocks, ending with a plain Linear (the logits): `mlp((784, 128, 64, 10),
    0.1, rng)` is the course network (no Dropout layers when `dropout == 0`). The layers and the
    network call the functions of the namespace `fns` (nnlib's unless given: your network's are yours)."""
    if not isinstance(sizes, tuple | list) or len(sizes) < 2:
        raise ValueError("mlp: sizes must be a list of at least 2 layer sizes (input and output), "
                         f"got {sizes!r}")
    for size in sizes:
        integer(size, f"every size in sizes {tuple(sizes)}", "mlp")
    dropout = probability(dropout, "dropout", "mlp")
    generator(rng, "rng", "mlp")
    layers: list[Layer] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        layers.append(Linear(n_in, n_out, rng, dtype=dtype, name=f"Linear{index}", fns=fns))
        if index < len(sizes) - 1:
            layers.append(ReLU(name=f"ReLU{index}", fns=fns))
            if dropout > 0:
                layers.append(Dropout(dropout, rng, name=f"Dropout{index}", fns=fns))
    loops = {} if fns is None else {name: getattr(fns, name) for name in
                                    ("forward_layers", "backward_layers", "softmax")}
    return Sequential(layers, **loops)
