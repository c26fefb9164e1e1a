"""Training: one step (`train_step`), the epoch loop (`fit`) with its `History`, and `evaluate`.

Shapes: x `(n, features)` float, y `(n,)` integer labels. The harness around the loop (argument
checks, the progress bar, Ctrl-C, divergence, history files) lives in `nnlib.harness`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from nnlib.data import batch_indices
from nnlib.harness import (  # noqa: F401  (DIVERGED_LOSS, EPOCHS_VARIABLE, lesson_epochs: imported from here)
    DIVERGED_LOSS,
    EPOCHS_VARIABLE,
    TrainingDiverged,
    check_dataset,
    check_fit,
    check_loss,
    checked_step,
    epochs_guard,
    lesson_epochs,
    load_history,
    save_history,
)
from nnlib.losses import FUNCTIONS, SoftmaxCrossEntropy
from nnlib.network import Sequential
from nnlib.optim import Optimizer, Schedule
from nnlib.validation import integer


def train_step(model: Sequential, loss_fn: SoftmaxCrossEntropy, xb: np.ndarray, yb: np.ndarray,
               lr: float) -> tuple[float, np.ndarray]:
    """One step of plain SGD on the batch xb `(N, features)`, yb `(N,)`: forward (training mode), loss,
    backward, `value -= lr * grad` for every parameter. Returns the batch's loss and the logits
    `(N, classes)`. Built in lesson 03. (`fit`'s own step adds L2 and lets an optimizer update.)"""
    logits = model.forward(xb, training=True)
    loss = loss_fn.forward(logits, yb)
    model.backward(loss_fn.backward())
    for parameter in model.parameters():
        parameter.value -= lr * parameter.grad
    return loss, logits


@dataclass
class History:
    """Per-epoch metrics. `train_*` are running means over the epoch's batches (dropout on, L2 in the
    loss); `val_*` are measured after the epoch in evaluation mode (cross-entropy only)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stopped: str = ""  # "", "interrupted" (Ctrl-C) or "diverged"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def interrupted(self) -> bool:
        return self.stopped == "interrupted"

    @property
    def diverged(self) -> bool:
        return self.stopped == "diverged"

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        save_history(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        return load_history(cls, path)


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 10_000,
             loss_fn: SoftmaxCrossEntropy | None = None) -> tuple[float, float]:
    """Mean loss (`loss_fn`, default cross-entropy) and accuracy of `model` on `(x, y)`, in evaluation
    mode."""
    batch_size = integer(batch_size, "batch_size", "evaluate")
    check_dataset(model, x, y, "evaluate")
    loss_fn = loss_fn if loss_fn is not None else SoftmaxCrossEntropy()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb)
        loss_sum += loss_fn.forward(logits, yb) * len(xb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    if not np.isfinite(loss_sum):  # the inputs are finite (checked): the weights are not
        raise ValueError(f"evaluate: the loss is {loss_sum}: the model's weights hold NaN or infinite values")
    return loss_sum / len(x), correct / len(x)


def train_epoch(model: Sequential, loss_fn: SoftmaxCrossEntropy, x: np.ndarray, y: np.ndarray,
                batch_size: int, lr: float, rng: np.random.Generator, step: Callable) -> tuple[float, float]:
    """One epoch: `step(model, loss_fn, xb, yb, lr) -> (loss, logits)` on every mini-batch of
    `batch_indices(len(x), batch_size, rng)` (a new order each epoch, the last batch kept).

    x `(n, features)`, y `(n,)`. Returns the epoch's mean loss (each batch's mean loss weighted by
    its size) and accuracy, counted from the logits each step returned (in training mode, as the
    step ran them: `fit` measures validation afterwards, in evaluation mode). Built in lesson 03.
    """
    loss_sum, correct = 0.0, 0
    for index in batch_indices(len(x), batch_size, rng):
        xb, yb = x[index], y[index]
        loss, logits = step(model, loss_fn, xb, yb, lr)
        loss_sum += loss * len(index)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
    return loss_sum / len(x), correct / len(x)


def fit(model: Sequential, optimizer: Optimizer, x_train: np.ndarray, y_train: np.ndarray, *, epochs: int,
        rng: np.random.Generator, batch_size: int = 128, l2: float = 0.0, schedule: Schedule | None = None,
        x_val: np.ndarray | None = None, y_val: np.ndarray | None = None, progress: bool = True,
        history: History | None = None, loss_fn: SoftmaxCrossEntropy | None = None,
        step: Callable | None = None, epoch_loop: Callable | None = None) -> History:
    """Train `model` for `epochs` passes over `(x_train, y_train)` in shuffled mini-batches; return the
    `History` (pass one to continue it).

    Each epoch is `epoch_loop` (default `train_epoch`). Every batch: the learning rate from
    `schedule(step)`, forward (training mode), the loss `loss_fn` (default `SoftmaxCrossEntropy()`) plus
    `0.5 * l2 * sum(W**2)` (the L2 functions of `loss_fn.fns`), backward, the L2 gradient, and the
    optimizer's update. `step(model, loss_fn, xb, yb, lr) -> (loss, logits)`, when given, does all of
    that instead (a learner's `train_step`; L2 is then its job). `rng` shuffles the batches.
    Ctrl-C stops after the current batch and returns the whole epochs (`history.interrupted`); a NaN or
    huge loss raises `TrainingDiverged` (its `.history` keeps the whole epochs).
    """
    input_scale = check_fit(model, optimizer, x_train, y_train, x_val, y_val, epochs=epochs, rng=rng,
                            batch_size=batch_size, l2=l2, schedule=schedule, history=history, step=step,
                            history_type=History)
    history = history if history is not None else History()
    loss_fn = loss_fn if loss_fn is not None else SoftmaxCrossEntropy()
    run_epoch = epoch_loop if epoch_loop is not None else train_epoch
    weights, fns = model.weights(), getattr(loss_fn, "fns", FUNCTIONS)  # L2: the loss's functions

    def one_step(model: Sequential, loss_fn: SoftmaxCrossEntropy, xb: np.ndarray, yb: np.ndarray,
                 lr: float) -> tuple[float, np.ndarray]:
        if schedule is not None:  # the schedule sets the learning rate (it overrides `lr`)
            optimizer.lr = schedule(optimizer.steps)
        if step is not None:  # counted first: an optimizer the step consults sees the number of this step
            optimizer.steps += 1
            loss, logits = checked_step(step, model, loss_fn, xb, yb, float(optimizer.lr))
            check_loss(loss, 0.0, l2, optimizer.lr, history, input_scale)
            return loss, logits
        logits = model.forward(xb, training=True)
        data_loss, penalty = loss_fn.forward(logits, yb), fns.l2_penalty(weights, l2)
        check_loss(data_loss, penalty, l2, optimizer.lr, history, input_scale)
        model.backward(loss_fn.backward(), need_input_grad=False)
        fns.add_l2_grad(weights, l2)
        optimizer.step()
        return data_loss + penalty, logits

    with epochs_guard(history, epochs, progress) as epoch_done:
        for _ in range(epochs):
            started = time.perf_counter()
            train_loss, train_acc = run_epoch(model, loss_fn, x_train, y_train, batch_size,
                                              float(optimizer.lr), rng, one_step)
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.lr.append(float(optimizer.lr))
            if x_val is not None:
                val_loss, val_acc = evaluate(model, x_val, y_val, loss_fn=loss_fn)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
            history.epoch_time.append(time.perf_counter() - started)
            epoch_done()
    return history
