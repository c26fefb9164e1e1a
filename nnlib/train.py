"""Training: `fit` a model with mini-batches, `evaluate` it, keep a `History`.

Shapes: x `(n, features)` float, y `(n,)` integer labels.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nnlib.data import batch_indices
from nnlib.files import kind_of, write_text_atomic
from nnlib.layers import Parameter, check_input
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, check_labels, cross_entropy, l2_penalty
from nnlib.network import Sequential
from nnlib.optim import Optimizer, Schedule
from nnlib.validation import generator, integer, real


@dataclass
class History:
    """Per-epoch metrics. `train_*` are running means over the epoch's batches
    (with dropout on, L2 included in the loss); `val_*` are measured after the
    epoch in evaluation mode (cross-entropy only)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stopped: str = ""  # "", "interrupted" or "diverged"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def interrupted(self) -> bool:
        """True if Ctrl-C (or the CLI's SIGTERM) stopped the run: fewer epochs than asked for."""
        return self.stopped == "interrupted"

    @property
    def diverged(self) -> bool:
        """True if the run stopped because the loss became NaN, infinite or huge."""
        return self.stopped == "diverged"

    def _drop_incomplete_epoch(self) -> None:
        """Keep only whole epochs: `epoch_time` is recorded last, so it counts them. An interrupt
        between two appends would otherwise leave lists of different lengths (unplottable)."""
        complete = len(self.epoch_time)
        for values in (self.train_loss, self.train_acc, self.lr, self.val_loss, self.val_acc):
            del values[complete:]

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        if kind := kind_of(Path(path)):
            raise ValueError(f"{path} is {kind}, not a saved History")
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (TypeError, ValueError) as err:  # broken JSON, other keys
            raise ValueError(f"{path} is not a saved History: {err}") from None


L2Penalty = Callable[[Iterable[Parameter], float], float]  # (weights, lam) -> 0.5 * lam * sum(W**2)
AddL2Grad = Callable[[Iterable[Parameter], float], None]  # (weights, lam): adds lam * W to each .grad

# Environment variable that caps the epochs of every lesson's training runs (a quick run, grading).
EPOCHS_VARIABLE = "NNLIB_EPOCHS"


def lesson_epochs(full: int) -> int:
    """The number of epochs a lesson's training run uses: `full`, or fewer when the
    environment variable NNLIB_EPOCHS is set (a quick run in class, or grading).

    Every training cell of the lessons takes its epoch count from here, so one setting
    shortens them all: `NNLIB_EPOCHS=5 make lab`. A value above `full` changes nothing.
    In the browser (`make lite`; NumPy in WebAssembly is about ten times slower) it is 1.
    """
    setting = os.environ.get(EPOCHS_VARIABLE, "").strip()
    if not setting and (os.environ.get("NBGRADER_EXECUTION") or sys.platform == "emscripten"):
        return 1  # grading (only the checks earn points) or the browser: train as briefly as possible
    if not setting:
        return full
    if not (setting.isdigit() and int(setting) >= 1):
        raise ValueError(f"{EPOCHS_VARIABLE} must be a whole number of epochs, 1 or more; got {setting!r}")
    return min(full, int(setting))


# Cross-entropy this large means the true class gets probability below e^-10000: the
# weights have blown up (a finite loss can stay huge once every ReLU has died).
DIVERGED_LOSS = 1e4


# Inputs whose magnitude exceeds this are far outside the [0, 1] the course network expects.
INPUT_SCALE_LIMIT = 10.0
HISTORY_NOTE = "The history of the completed epochs is in this error's .history."


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. `.history` holds the epochs completed before;
    `.reason` is the message without the note about `.history` (for the command line)."""

    def __init__(self, message: str, history: History, reason: str | None = None) -> None:
        super().__init__(message)
        self.history = history
        self.reason = reason if reason is not None else message


def _divergence(loss: float, data_loss: float, penalty: float, l2: float, lr: float, epoch: int,
                input_scale: float) -> str:
    """Why the loss blew up, as far as can be told: the inputs' scale, L2, or the learning rate."""
    causes = []
    if input_scale > INPUT_SCALE_LIMIT:
        causes.append(f"the inputs reach {input_scale:g}, far outside the [0, 1] this network is made for: "
                      "scale them first (uint8 pixels: nnlib.data.scale_images divides by 255)")
    # L2 is the cause when its penalty outweighs the data loss (or is itself NaN or infinite).
    if l2 > 0 and (not math.isfinite(penalty) or penalty > data_loss):
        causes.append(f"l2 = {l2:g} is too strong: its penalty {penalty:.3g} outweighs the data loss "
                      f"{data_loss:.3g} (the course uses l2 around 1e-4)")
    if not causes:
        causes.append("try a smaller learning rate")
    return (f"the training loss became {loss:.4g} in epoch {epoch} (learning rate {lr:g}); "
            + "; ".join(causes) + ".")


def evaluate(
    model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 10_000,
    loss_fn: SoftmaxCrossEntropy | None = None,
) -> tuple[float, float]:
    """Mean loss (`loss_fn.forward`, default cross-entropy) and accuracy of `model` on `(x, y)`,
    in evaluation mode."""
    batch_size = integer(batch_size, "batch_size", "evaluate")
    _check_dataset(model, x, y, "evaluate")
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb)
        loss_sum += (loss_fn.forward(logits, yb) if loss_fn else cross_entropy(logits, yb)) * len(xb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    if not math.isfinite(loss_sum):  # the inputs are finite (checked): the weights are not
        raise ValueError(f"evaluate: the loss is {loss_sum}: the model's weights hold NaN or infinite values")
    return loss_sum / len(x), correct / len(x)


def predict(model: Sequential, x: np.ndarray) -> np.ndarray:
    """Predicted labels `(n,)`."""
    return model.predict(x)


def _check_dataset(model: Sequential, x: np.ndarray, y: np.ndarray, where: str) -> float:
    """Check a dataset against the model; return the largest magnitude among the inputs."""
    if not isinstance(model, Sequential):
        raise ValueError(f"{where}: model must be a Sequential such as nnlib.mlp(...), "
                         f"got {type(model).__name__}")
    check_input(x, model.in_features, f"{where}: x", model.dtype)
    if not isinstance(y, np.ndarray):
        raise ValueError(f"{where}: y must be a NumPy array of labels, got {type(y).__name__}")
    if len(x) == 0:
        raise ValueError(f"{where}: got an empty dataset")
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} samples but y has {len(y)} labels; they must match")
    classes = getattr(model.layers[-1], "out_features", 10) if model.layers else 10
    try:
        check_labels(np.asarray(y), len(x), classes)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    # min and max propagate NaN and show inf, without a boolean mask of the whole set (~40 MB).
    low, high = float(x.min()), float(x.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{where}: x contains NaN or infinite values")
    return max(abs(low), abs(high))


def _check_optimizer(model: Sequential, optimizer: Optimizer) -> None:
    """The optimizer must update this model's parameters: one built on an earlier model (a notebook's
    model cell re-run, the optimizer cell not) would train nothing here, silently."""
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError("fit: optimizer must be an optimizer such as SGD(model.parameters(), lr=0.1), "
                         f"got {type(optimizer).__name__}")
    params = getattr(optimizer, "params", None)
    if params is None:  # another optimizer class: nothing to compare
        return
    own = {id(p) for p in model.parameters()}
    foreign = [p for p in params if id(p) not in own]
    if foreign:
        name = type(optimizer).__name__
        raise ValueError(
            "fit: the optimizer was built on another model's parameters "
            f"({len(foreign)} of its {len(params)} "
            f"are not this model's, e.g. {foreign[0].name or 'a Parameter'}), so training would change "
            f"nothing here; build it from this model: {name}(model.parameters(), ...) (in a notebook, "
            "re-run the optimizer cell after the model cell)"
        )


def train_epoch(
    model: Sequential, loss_fn: SoftmaxCrossEntropy, x: np.ndarray, y: np.ndarray, batch_size: int,
    lr: float, rng: np.random.Generator, step: Callable,
) -> tuple[float, float]:
    """One epoch: `step(model, loss_fn, xb, yb, lr) -> (loss, logits)` on every mini-batch of
    `batch_indices(len(x), batch_size, rng)` (a new order each epoch, the last batch kept).

    x `(n, features)`, y `(n,)`. Returns the epoch's mean loss (each batch's mean loss weighted by
    its size) and accuracy, counted from the logits each step returned (in training mode, as the
    step ran them: `fit` measures validation afterwards, in evaluation mode). Lesson 03 builds it.
    """
    loss_sum, correct = 0.0, 0
    for index in batch_indices(len(x), batch_size, rng):
        xb, yb = x[index], y[index]
        loss, logits = step(model, loss_fn, xb, yb, lr)
        loss_sum += loss * len(index)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
    return loss_sum / len(x), correct / len(x)


def _harness_step(optimizer: Optimizer, step: Callable | None, schedule: Schedule | None, l2: float,
                  l2_functions: tuple[L2Penalty, AddL2Grad], weights: list[Parameter], history: History,
                  input_scale: float) -> Callable:
    """The step an epoch runs on each batch: `step` (or, without it, forward, loss with L2, backward
    and `optimizer.step()`), inside the harness: the schedule sets the learning rate first (it
    overrides the `lr` passed in), and a NaN, infinite or huge loss stops training at once."""
    penalty_of, add_penalty_grad = l2_functions

    def one_step(model: Sequential, loss_fn: SoftmaxCrossEntropy, xb: np.ndarray, yb: np.ndarray,
                 lr: float) -> tuple[float, np.ndarray]:
        if schedule is not None:
            optimizer.lr = schedule(optimizer.steps)
        if step is None:
            logits = model.forward(xb, training=True)
            data_loss, penalty = loss_fn.forward(logits, yb), penalty_of(weights, l2)
        else:  # counted first: an optimizer the step consults sees the number of this step
            optimizer.steps += 1
            (data_loss, logits), penalty = step(model, loss_fn, xb, yb, float(optimizer.lr)), 0.0
        loss = data_loss + penalty
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            reason = _divergence(loss, data_loss, penalty, l2, float(optimizer.lr), history.epochs + 1,
                                 input_scale)
            raise TrainingDiverged(f"{reason} {HISTORY_NOTE}", history, reason)
        if step is None:
            model.backward(loss_fn.backward(), need_input_grad=False)
            add_penalty_grad(weights, l2)
            optimizer.step()
        return loss, logits

    return one_step


def fit(
    model: Sequential,
    optimizer: Optimizer,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    epochs: int,
    rng: np.random.Generator,
    batch_size: int = 128,
    l2: float = 0.0,
    schedule: Schedule | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    progress: bool = True,
    history: History | None = None,
    loss_fn: SoftmaxCrossEntropy | None = None,
    l2_functions: tuple[L2Penalty, AddL2Grad] = (l2_penalty, add_l2_grad),
    step: Callable | None = None,
    epoch_loop: Callable | None = None,
) -> History:
    """Train `model` for `epochs` passes over `(x_train, y_train)`; return the `History`.

    - `rng` shuffles the batches (dropout masks come from the model's own rng).
    - `l2` adds `0.5 * l2 * sum(W**2)` over the weight matrices.
    - `schedule(step) -> lr` sets the learning rate before every step.
    - Ctrl-C stops cleanly after the current batch and returns the history of
      the complete epochs (`history.interrupted` is True; an epoch's metrics are
      recorded all together or not at all).
    - A NaN/inf loss raises `TrainingDiverged` at once; its `.history` keeps
      the completed epochs.
    - Pass an existing `history` to continue it.
    - `loss_fn` (default `SoftmaxCrossEntropy()`) and `l2_functions` (default nnlib's
      `(l2_penalty, add_l2_grad)`) can be swapped for other implementations with the same
      interface: `nnlib.course.assemble` passes the learner's own here.
    - `step(model, loss_fn, xb, yb, lr) -> (loss, logits)`, when given, does the forward, loss,
      backward and update of each batch instead (the learner's own; L2 is then its job).
    - `epoch_loop` (default `train_epoch`) runs each epoch's batches; fit's harness (the
      schedule, the divergence check, the history, the progress bar, Ctrl-C) stays around it.
    """
    epochs = integer(epochs, "epochs", "fit", minimum=0)
    batch_size = integer(batch_size, "batch_size", "fit")
    generator(rng, "rng (it shuffles the batches every epoch)", "fit")
    l2 = real(l2, "l2 (the L2 strength)", "fit", low=0.0)
    if schedule is not None and not callable(schedule):
        raise ValueError(f"fit: schedule must be a function step -> lr such as cosine_schedule(0.1, steps), "
                         f"got {type(schedule).__name__}")
    if history is not None and not isinstance(history, History):
        raise ValueError(f"fit: history must be a History to continue, got {type(history).__name__}")
    input_scale = _check_dataset(model, x_train, y_train, "fit")
    if (x_val is None) != (y_val is None):
        raise ValueError("fit: give both x_val and y_val, or neither")
    if x_val is not None:
        _check_dataset(model, x_val, y_val, "fit (validation)")
    _check_optimizer(model, optimizer)
    if step is not None and l2:
        raise ValueError("fit: with step=..., adding L2 is the step's job (it owns the loss); pass l2=0")
    history = history if history is not None else History()
    loss_fn = loss_fn if loss_fn is not None else SoftmaxCrossEntropy()
    weights = model.weights()
    run_epoch = epoch_loop if epoch_loop is not None else train_epoch
    one_step = _harness_step(optimizer, step, schedule, l2, l2_functions, weights, history, input_scale)
    bar = _progress_bar(epochs, progress)
    try:
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
            if bar is not None:
                bar.set_postfix_str(_summary(history), refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        history._drop_incomplete_epoch()
        history.stopped = "interrupted"
        print(f"Training interrupted after {history.epochs} complete epochs; returning the history so far "
              "(history.interrupted is True).")
    except TrainingDiverged:
        history._drop_incomplete_epoch()
        history.stopped = "diverged"
        raise
    finally:
        if bar is not None:
            bar.close()
    return history


def _summary(history: History) -> str:
    text = f"loss {history.train_loss[-1]:.4f}"
    if history.val_acc:
        text += f", val acc {history.val_acc[-1]:.2%}"
    return text


def _progress_bar(epochs: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # the notebook widget in Jupyter, text in a terminal

    return tqdm(total=epochs, unit="epoch", desc="training")
