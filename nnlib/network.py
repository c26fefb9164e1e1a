"""`Sequential` networks, the `mlp` builder, prediction and save/load.

Shapes: inputs `(batch, 784)` float, logits `(batch, 10)`, labels `(batch,)`.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

from nnlib.files import atomic_write
from nnlib.layers import Dropout, Linear, Parameter, ReLU, check_input, pack_parameters
from nnlib.losses import softmax


class Layer(Protocol):
    name: str

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray: ...
    def backward(self, dy: np.ndarray) -> np.ndarray: ...
    def parameters(self) -> list[Parameter]: ...
    def spec(self) -> dict: ...


class Sequential:
    """Layers applied one after another; backward runs them in reverse."""

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = list(layers)
        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        self.in_features = linears[0].in_features if linears else None
        trainable = [i for i, layer in enumerate(self.layers) if layer.parameters()]
        self._first_trainable = trainable[0] if trainable else -1
        # The dtype of the weights, and of the inputs they accept (None without weights). Fixed
        # from here on: the parameters share one flat buffer, and new values are copied into it.
        self.dtype: np.dtype | None = None
        if trainable:
            values, _ = pack_parameters(self.parameters())
            self.dtype = values.dtype

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: `(batch, in_features)` -> logits `(batch, out_features)`."""
        check_input(x, self.in_features, "network input", self.dtype)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    __call__ = forward

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy: `(batch, out_features)` -> dx `(batch, in_features)`, or None if not needed.

        Fills every parameter's `.grad`. Training never needs dx of the
        input images, so `fit` passes `need_input_grad=False`.
        """
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            if index == self._first_trainable and isinstance(layer, Linear) and not need_input_grad:
                layer.backward(dy, need_input_grad=False)
                return None
            dy = layer.backward(dy)
        return dy

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def weights(self) -> list[Parameter]:
        """The weight matrices (what L2 penalises), without the biases."""
        return [layer.W for layer in self.layers if isinstance(layer, Linear)]

    def predict_proba(self, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Class probabilities `(n, classes)` in evaluation mode (no dropout)."""
        parts = [softmax(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=x.dtype)

    def predict(self, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Predicted labels `(n,)`."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def architecture(self) -> list[dict]:
        return [layer.spec() for layer in self.layers]

    def save(self, path: str | os.PathLike) -> None:
        save_model(self, path)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def mlp(
    sizes: tuple[int, ...] | list[int],
    dropout: float,
    rng: np.random.Generator,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """Build Linear -> ReLU -> Dropout blocks, ending with a plain Linear (the logits).

    `mlp((784, 128, 64, 10), 0.1, rng)` is the course network. Dropout layers
    are left out when `dropout == 0`.
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp: need at least input and output sizes, got {sizes}")
    layers: list[Layer] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        layers.append(Linear(n_in, n_out, rng, dtype=dtype, name=f"Linear{index}"))
        if index < len(sizes) - 1:
            layers.append(ReLU(name=f"ReLU{index}"))
            if dropout > 0:
                layers.append(Dropout(dropout, rng, name=f"Dropout{index}"))
    return Sequential(layers)


# --- save / load -------------------------------------------------------------

FORMAT_VERSION = 1


def save_model(model: Sequential, path: str | os.PathLike) -> None:
    """Write architecture (JSON text) and parameters to an `.npz` file, atomically.

    The file is written to a temporary name beside `path` and renamed, so an
    interrupted save never leaves a half-written model behind.
    """
    arrays = {f"param{i}": p.value for i, p in enumerate(model.parameters())}
    header = {"format": "nnlib-model", "version": FORMAT_VERSION, "layers": model.architecture()}
    arrays["architecture"] = np.array(json.dumps(header))
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def _read_model_file(path: Path) -> tuple[list[dict], list[np.ndarray]]:
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["architecture"]))
            count = len([k for k in data.files if k.startswith("param")])
            params = [data[f"param{i}"] for i in range(count)]
        layers = header["layers"] if header.get("format") == "nnlib-model" else None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, AttributeError, TypeError,
            json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not a readable nnlib model file (truncated or not made by save_model): {err}"
        ) from err
    except ValueError as err:  # NumPy refuses pickled object arrays with allow_pickle=False
        raise ValueError(
            f"{path} holds pickled Python objects, which nnlib never loads (they could run code)"
        ) from err
    if not isinstance(layers, list) or not all(isinstance(spec, dict) for spec in layers):
        raise ValueError(f"{path} is not an nnlib model file (no valid nnlib architecture header)")
    return layers, params


def _build(architecture: list[dict]) -> Sequential:
    rng = np.random.default_rng(0)  # weights are overwritten by the loaded values
    layers: list[Layer] = []
    counts = {"Linear": 0, "ReLU": 0, "Dropout": 0}
    for spec in architecture:
        kind = spec.get("type")
        if kind not in counts:
            raise ValueError(f"unknown layer type in model file: {kind!r}")
        counts[kind] += 1
        name = f"{kind}{counts[kind]}"
        if kind == "Linear":
            layers.append(Linear(spec["in_features"], spec["out_features"], rng, name=name))
        elif kind == "ReLU":
            layers.append(ReLU(name=name))
        else:
            layers.append(Dropout(spec["p"], rng, name=name))
    return Sequential(layers)


def _assign(model: Sequential, params: list[np.ndarray], source: Path) -> None:
    targets = model.parameters()
    if len(targets) != len(params):
        raise ValueError(
            f"{source}: holds {len(params)} parameter arrays, the model has {len(targets)}"
        )
    for target, value in zip(targets, params, strict=True):
        if target.shape != value.shape:
            raise ValueError(
                f"{source}: {target.name} expected shape {target.shape}, file has {value.shape}"
            )
        target.value = value.astype(target.value.dtype, copy=False)


def load_model(path: str | os.PathLike, dropout_rng: np.random.Generator | None = None) -> Sequential:
    """Rebuild a model saved by `save_model` (never unpickles anything)."""
    path = Path(path)
    architecture, params = _read_model_file(path)
    model = _build(architecture)
    if dropout_rng is not None:
        for layer in model.layers:
            if isinstance(layer, Dropout):
                layer.rng = dropout_rng
    _assign(model, params, path)
    return model


def load_weights(model: Sequential, path: str | os.PathLike) -> None:
    """Load saved parameters into an existing model; the architectures must match."""
    path = Path(path)
    architecture, params = _read_model_file(path)
    if architecture != model.architecture():
        raise ValueError(
            f"{path}: architecture mismatch: file has {_describe(architecture)}, "
            f"model is {_describe(model.architecture())}"
        )
    _assign(model, params, path)


def _describe(architecture: list[dict]) -> str:
    sizes = [s["in_features"] for s in architecture if s.get("type") == "Linear"]
    last = [s["out_features"] for s in architecture if s.get("type") == "Linear"][-1:]
    return "-".join(str(n) for n in sizes + last) or "no Linear layers"
