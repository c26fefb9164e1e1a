"""The harness around `fit` (outside the reading path): what keeps a training run safe and clear.

- `check_fit` checks every argument of `fit` in one call, with messages in the learner's terms;
- `check_loss` stops a run whose loss became NaN, infinite or huge (`TrainingDiverged`), saying why
  as far as can be told (the inputs' scale, L2, or the learning rate);
- `epochs_guard` draws the progress bar and handles Ctrl-C: the history keeps only whole epochs and
  says it was interrupted;
- `save_history` / `load_history` write and read a `History` as JSON (atomically);
- `lesson_epochs` is the epoch count of every lesson's training cell (NNLIB_EPOCHS shortens them all).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.files import kind_of, write_text_atomic
from nnlib.validation import check_input, check_labels, generator, integer, real

# Cross-entropy this large means the true class gets probability below e^-10000: the
# weights have blown up (a finite loss can stay huge once every ReLU has died).
DIVERGED_LOSS = 1e4
# Inputs whose magnitude exceeds this are far outside the [0, 1] the course network expects.
INPUT_SCALE_LIMIT = 10.0
HISTORY_NOTE = "The history of the completed epochs is in this error's .history."
# Environment variable that caps the epochs of every lesson's training runs (a quick run, grading).
EPOCHS_VARIABLE = "NNLIB_EPOCHS"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. `.history` holds the epochs completed before;
    `.reason` is the message without the note about `.history` (for the command line)."""

    def __init__(self, message: str, history: Any, reason: str | None = None) -> None:
        super().__init__(message)
        self.history = history
        self.reason = reason if reason is not None else message


def check_loss(data_loss: float, penalty: float, l2: float, lr: float, history: Any,
               input_scale: float) -> None:
    """Raise `TrainingDiverged` if the batch's loss is NaN, infinite or above `DIVERGED_LOSS`."""
    loss = data_loss + penalty
    if math.isfinite(loss) and loss <= DIVERGED_LOSS:
        return
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
    reason = (f"the training loss became {loss:.4g} in epoch {history.epochs + 1} (learning rate "
              f"{float(lr):g}); " + "; ".join(causes) + ".")
    raise TrainingDiverged(f"{reason} {HISTORY_NOTE}", history, reason)


def checked_step(step: Any, model: Any, loss_fn: Any, xb: np.ndarray, yb: np.ndarray,
                 lr: float) -> tuple[float, np.ndarray]:
    """`step(model, loss_fn, xb, yb, lr)` as `fit(step=...)` runs it: on a copy of `yb` (the accuracy is
    counted against `yb`), its result checked by `check_step_result`."""
    given = yb.copy()
    return check_step_result(step(model, loss_fn, xb, given, lr), xb, given, yb, step_owner(step))


def step_owner(step: Any) -> str:
    """How messages name a step passed to `fit(step=...)`: its own `owner` (the course's wrapper of a
    learner's train_step) or its function name."""
    return getattr(step, "owner", None) or f"fit's step {getattr(step, '__name__', type(step).__name__)}"


def check_step_result(result: Any, xb: np.ndarray, given: np.ndarray, labels: np.ndarray,
                      owner: str) -> tuple[float, np.ndarray]:
    """`(loss, logits)` from what a step returned for the batch `xb`, as `fit` needs them, or a
    `ValueError` that names `owner` and what is wrong. `given`: the labels the step was given, which
    must still equal `labels` (a step only reads its batch; fit counts the accuracy against them)."""
    must = ("; it must return (loss, logits): the batch's loss (one number) and the logits of its "
            "forward pass (batch, classes)")
    if not np.array_equal(given, labels):
        changed = int(np.count_nonzero(given != labels)) if given.shape == labels.shape else len(labels)
        raise ValueError(f"{owner} changed yb, the batch's labels ({changed} of {len(labels)}): a step only "
                         "reads them (fit counts the accuracy against them)")
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise ValueError(f"{owner} returned {_described(result)}{must}")
    loss, logits = result
    if isinstance(loss, np.ndarray) and loss.ndim == 2 and np.ndim(logits) == 0:
        raise ValueError(f"{owner} returned (logits, loss); return (loss, logits), in this order")
    if (isinstance(loss, bool | str | bytes) or np.ndim(loss) != 0
            or np.asarray(loss).dtype.kind not in "fiu"):
        raise ValueError(f"{owner} returned a loss that is {_described(loss)}{must}")
    if not isinstance(logits, np.ndarray) or logits.ndim != 2 or len(logits) != len(xb):
        raise ValueError(f"{owner} returned logits that are {_described(logits)}, expected an array "
                         f"(batch {len(xb)}, classes){must}")
    loss = float(loss)
    if math.isfinite(loss) and not np.isfinite(logits).all():  # a blown-up loss is check_loss's to explain
        bad = int(np.count_nonzero(~np.isfinite(logits)))
        raise ValueError(f"{owner} returned logits with {bad} NaN or infinite values of {logits.size}, "
                         f"with a finite loss {loss:.4g}: return the output of the forward pass")
    return loss, logits


def _described(value: Any) -> str:
    if value is None:
        return "None (a missing return?)"
    if isinstance(value, tuple):
        return f"a {len(value)}-tuple"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, str | bytes):
        return f"a {type(value).__name__} ({value!r:.20})"
    return f"a {type(value).__name__}"


def check_dataset(model: Any, x: np.ndarray, y: np.ndarray, where: str) -> float:
    """Check a dataset against the model; return the largest magnitude among the inputs."""
    from nnlib.network import Sequential

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


def check_optimizer(model: Any, optimizer: Any) -> None:
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


def check_fit(model: Any, optimizer: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: Any, y_val: Any,
              *, epochs: int, rng: Any, batch_size: int, l2: float, schedule: Any, history: Any,
              step: Any, history_type: type) -> float:
    """Check `fit`'s arguments; return the largest magnitude among the training inputs."""
    integer(epochs, "epochs", "fit", minimum=0)
    integer(batch_size, "batch_size", "fit")
    generator(rng, "rng (it shuffles the batches every epoch)", "fit")
    l2 = real(l2, "l2 (the L2 strength)", "fit", low=0.0)
    if schedule is not None and not callable(schedule):
        raise ValueError(f"fit: schedule must be a function step -> lr such as cosine_schedule(0.1, steps), "
                         f"got {type(schedule).__name__}")
    if history is not None and not isinstance(history, history_type):
        raise ValueError(f"fit: history must be a History to continue, got {type(history).__name__}")
    input_scale = check_dataset(model, x_train, y_train, "fit")
    if (x_val is None) != (y_val is None):
        raise ValueError("fit: give both x_val and y_val, or neither")
    if x_val is not None:
        check_dataset(model, x_val, y_val, "fit (validation)")
    check_optimizer(model, optimizer)
    if step is not None and not callable(step):
        raise ValueError("fit: step must be a function (model, loss_fn, xb, yb, lr) -> (loss, logits) such "
                         f"as your train_step, got {type(step).__name__}")
    if step is not None and l2:
        raise ValueError("fit: with step=..., adding L2 is the step's job (it owns the loss); pass l2=0")
    return input_scale


@contextmanager
def epochs_guard(history: Any, epochs: int, progress: bool) -> Iterator[Callable[[], None]]:
    """Around `fit`'s epochs: yields `epoch_done()`, which advances the progress bar. Ctrl-C stops
    cleanly, keeping only whole epochs (`history.interrupted`); `TrainingDiverged` keeps them too."""
    bar = None
    if progress:
        from tqdm.auto import tqdm  # the notebook widget in Jupyter, text in a terminal

        bar = tqdm(total=epochs, unit="epoch", desc="training")

    def epoch_done() -> None:
        if bar is not None:
            text = f"loss {history.train_loss[-1]:.4f}"
            if history.val_acc:
                text += f", val acc {history.val_acc[-1]:.2%}"
            bar.set_postfix_str(text, refresh=False)
            bar.update(1)

    try:
        yield epoch_done
    except KeyboardInterrupt:
        drop_incomplete_epoch(history)
        history.stopped = "interrupted"
        print(f"Training interrupted after {history.epochs} complete epochs; returning the history so far "
              "(history.interrupted is True).")
    except TrainingDiverged:
        drop_incomplete_epoch(history)
        history.stopped = "diverged"
        raise
    finally:
        if bar is not None:
            bar.close()


def drop_incomplete_epoch(history: Any) -> None:
    """Keep only whole epochs: `epoch_time` is recorded last, so it counts them. An interrupt
    between two appends would otherwise leave lists of different lengths (unplottable)."""
    complete = len(history.epoch_time)
    for values in (history.train_loss, history.train_acc, history.lr, history.val_loss, history.val_acc):
        del values[complete:]


def save_history(history: Any, path: str | os.PathLike) -> None:
    write_text_atomic(Path(path), json.dumps(history.to_dict(), indent=1))


def load_history(cls: type, path: str | os.PathLike) -> Any:
    if kind := kind_of(Path(path)):
        raise ValueError(f"{path} is {kind}, not a saved History")
    try:
        return cls(**json.loads(Path(path).read_text()))
    except (TypeError, ValueError) as err:  # broken JSON, other keys
        raise ValueError(f"{path} is not a saved History: {err}") from None


def lesson_epochs(full: int, browser: int = 1) -> int:
    """The number of epochs a lesson's training run uses: `full`, or fewer when the
    environment variable NNLIB_EPOCHS is set (a quick run in class, or grading).

    Every training cell of the lessons takes its epoch count from here, so one setting
    shortens them all: `NNLIB_EPOCHS=5 make lab`. A value above `full` changes nothing.
    In the browser (`make lite`, slower) it is `browser` (at most `full`), what fits in the
    lesson's Run All of about 3 minutes there.
    """
    setting = os.environ.get(EPOCHS_VARIABLE, "").strip()
    if not setting and os.environ.get("NBGRADER_EXECUTION"):
        return 1  # grading: only the checks earn points, train as briefly as possible
    if not setting:
        return min(full, browser) if sys.platform == "emscripten" else full
    if not (setting.isdigit() and int(setting) >= 1):
        raise ValueError(f"{EPOCHS_VARIABLE} must be a whole number of epochs, 1 or more; got {setting!r}")
    return min(full, int(setting))
