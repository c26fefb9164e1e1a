"""Checkers of lesson 03's machinery: the loops over the layers, the mini-batches and the epoch.

Most of what can go wrong in a loop shows in *which* calls it makes, in what order, with what
arguments, rather than in its result alone. So these checkers hand the learner's loop stand-ins
that keep a log (layers that record each forward and backward call, a step that records each
batch) and read the log first: layers not reversed, a layer skipped, `training` not passed on,
the last batch missing, the same order every epoch. Then they compare results, and run the loop
once more on nnlib's real layers.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnlib.course.checks.core import (
    CheckFailed,
    _call_quietly,
    _cases,
    _expect_close,
    _expect_parts,
    _hint_matches,
    _NotImplementedYet,
    checker,
)
from nnlib.network import backward_layers as reference_backward_layers
from nnlib.network import forward_layers as reference_forward_layers
from nnlib.network import mlp

# --- stand-in layers that log their calls ------------------------------------------------------


@dataclass
class _Call:
    kind: str  # "forward" or "backward"
    layer: int  # its position in the list
    array: np.ndarray  # the x or dy it was given (a copy)
    training: object  # what forward was given for training (None for backward)


class _LoggingLayer:
    """A layer for the checks: forward multiplies by a matrix of its own (so running the layers in
    another order gives another result), backward by its transpose; every call goes into `log`."""

    def __init__(self, index: int, matrix: np.ndarray, log: list[_Call]) -> None:
        self.index, self.matrix, self.log = index, matrix, log
        self.name = f"layers[{index}]"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.log.append(_Call("forward", self.index, np.array(x, copy=True), training))
        return x @ self.matrix

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.log.append(_Call("backward", self.index, np.array(dy, copy=True), None))
        return dy @ self.matrix.T

    def parameters(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"LoggingLayer({self.index})"


def _logging_layers(rng: np.random.Generator, count: int,
                    width: int) -> tuple[list[_LoggingLayer], list[_Call]]:
    log: list[_Call] = []
    return [_LoggingLayer(i, rng.standard_normal((width, width)), log) for i in range(count)], log


def _expect_list_unchanged(layers: list, original: list, case: str) -> None:
    """The learner's loop must leave the network's list of layers as it was (`layers.reverse()`
    reverses it in place: the network itself would then run backwards)."""
    if layers == original:
        return
    if layers == original[::-1]:
        raise CheckFailed(f"{case}: your function reversed the list of layers in place (layers.reverse()?): "
                          "the network's own list is now backwards; loop over reversed(layers) or "
                          "layers[::-1] instead, which leave the list as it is")
    raise CheckFailed(f"{case}: your function changed the list of layers; leave it as it is")


def _expect_each_layer_once(calls: list[_Call], count: int, kind: str, case: str) -> list[int]:
    """The order in which the layers' `kind` method ran, after checking each layer ran it once."""
    other = "backward" if kind == "forward" else "forward"
    if any(call.kind == other for call in calls):
        raise CheckFailed(f"{case}: your function called a layer's {other}; {kind}_layers runs each layer's "
                          f"{kind}")
    order = [call.layer for call in calls]
    if not order:
        raise CheckFailed(f"{case}: no layer's {kind} ran: call layer.{kind}(...) for every layer "
                          "of the list")
    twice = sorted({i for i in order if order.count(i) > 1})
    if twice:
        raise CheckFailed(f"{case}: {_names(twice)} ran {kind} more than once; each layer runs once")
    missing = [i for i in range(count) if i not in order]
    if missing:
        why = ""
        if kind == "backward" and missing == [0]:
            why = (" (a loop like range(len(layers) - 1, 0, -1) stops before index 0): the first layer's "
                   "parameters would get no gradient")
        elif missing in ([count - 1], [0]):
            why = " (a loop over layers[1:] or range(len(layers) - 1) leaves one out)"
        raise CheckFailed(f"{case}: {_names(missing)} never ran {kind}{why}; every layer of the list "
                          "must run")
    return order


def _names(indices: list[int]) -> str:
    return ", ".join(f"layers[{i}]" for i in indices)


# --- forward_layers ------------------------------------------------------------------------------


@checker("forward_layers",
         lesson="03_backprop",
         points=1,
         references=("nnlib.network:forward_layers", "nnlib.network:Sequential.forward"),
         piece="forward pass")
def forward_layers(fn: Callable) -> str:
    """Lesson 03: `forward_layers(layers, x (N, in), training) -> y (N, out)`: every layer's
    `forward(x, training=training)`, first to last, each on the output of the one before."""
    rng = _cases(36)
    count, width = 3, 5
    for training in (True, False):
        case = f"on 3 layers that log their calls, training={training}"
        layers, log = _logging_layers(rng, count, width)
        original = list(layers)
        x = rng.standard_normal((4, width))
        got = _call_quietly(fn, layers, x, training)
        _expect_list_unchanged(layers, original, case)
        order = _expect_each_layer_once(log, count, "forward", case)
        if order == list(range(count))[::-1]:
            raise CheckFailed(f"{case}: the layers ran last to first; forward runs them first to last: the "
                              "input goes into layers[0], and the last layer's output is the result")
        if order != sorted(order):
            raise CheckFailed(f"{case}: the layers ran in the order {order}; run them first to last")
        _expect_training_passed_on(log, training, case)
        inputs = [x]
        for layer in layers[:-1]:
            inputs.append(inputs[-1] @ layer.matrix)
        for call, wanted in zip(log[1:], inputs[1:], strict=True):
            if not np.allclose(call.array, wanted):
                if np.allclose(call.array, x):
                    raise CheckFailed(f"{case}: every layer got the original input x; each layer takes the "
                                      "output of the layer before it (x = layer.forward(x, ...))")
                raise CheckFailed(f"{case}: layers[{call.layer}] did not get the output of the layer "
                                  "before it")
        expected = inputs[-1] @ layers[-1].matrix
        _expect_close(got, expected, case, hints=[
            _hint_matches(lambda x=x: x, "you returned the input x; return the last layer's output"),
            _hint_matches(lambda inputs=inputs: inputs[-1],
                          "you returned the output of the layer before the last; return the last layer's"),
        ])
    real = _real_network_forward(fn, rng)
    return (f"layers in order, training passed on in both modes, and {real}; matches "
            "nnlib.network.forward_layers")


def _expect_training_passed_on(log: list[_Call], training: bool, case: str) -> None:
    wrong = [call.layer for call in log if bool(call.training) != training]
    if not wrong:
        return
    if training:
        raise CheckFailed(f"{case}: {_names(wrong)} ran in evaluation mode although training=True: pass it "
                          "on, layer.forward(x, training=training); otherwise dropout is never on while "
                          "training")
    raise CheckFailed(f"{case}: {_names(wrong)} ran in training mode although training=False: pass training "
                      "on as it was given; otherwise dropout stays on when the network is evaluated, and the "
                      "validation accuracy is taken in training mode")


def _real_network_forward(fn: Callable, rng: np.random.Generator) -> str:
    """The learner's loop on nnlib's layers (8-7-6-4 with dropout 0.5, float64), both modes,
    against nnlib's loop on a copy (the same weights and the same dropout masks)."""
    network = mlp((8, 7, 6, 4), dropout=0.5, rng=np.random.default_rng(int(rng.integers(2**32))),
                  dtype=np.float64)
    x = rng.standard_normal((5, 8))
    for training in (True, False):
        case = f"on the layers of a network 8-7-6-4 with dropout 0.5, training={training}"
        layers = network.layers
        expected = reference_forward_layers(copy.deepcopy(layers), x, training)
        got = _call_quietly(fn, layers, x, training)
        _expect_close(got, expected, case, rtol=1e-10, atol=1e-12)
    return "a network 8-7-6-4 with dropout"


# --- backward_layers -----------------------------------------------------------------------------


@checker("backward_layers",
         lesson="03_backprop",
         points=1,
         references=("nnlib.network:backward_layers", "nnlib.network:Sequential.backward"),
         piece="backward pass")
def backward_layers(fn: Callable) -> str:
    """Lesson 03: `backward_layers(layers, dy (N, out)) -> dx (N, in)`: every layer's
    `backward(dy)`, last to first, each on the gradient the layer after it returned."""
    rng = _cases(37)
    width = 5
    for count in (3, 1):
        case = f"on {count} layer{'s' * (count > 1)} that log their calls"
        layers, log = _logging_layers(rng, count, width)
        reference_forward_layers(layers, rng.standard_normal((4, width)), True)
        log.clear()
        original = list(layers)
        dy = rng.standard_normal((4, width))
        got = _call_quietly(fn, layers, dy)
        _expect_list_unchanged(layers, original, case)
        order = _expect_each_layer_once(log, count, "backward", case)
        if count > 1 and order == list(range(count)):
            raise CheckFailed(f"{case}: the layers ran first to last; backward runs them in reverse, "
                              "from the last layer (where the loss's gradient arrives) to the first: "
                              "for layer in reversed(layers)")
        if order != sorted(order, reverse=True):
            raise CheckFailed(f"{case}: the layers ran in the order {order}; run them last to first")
        grads = [dy]
        for layer in layers[:0:-1]:
            grads.append(grads[-1] @ layer.matrix.T)
        for call, wanted in zip(log[1:], grads[1:], strict=True):
            if not np.allclose(call.array, wanted):
                if np.allclose(call.array, dy):
                    raise CheckFailed(f"{case}: every layer got the dy you started with; each layer takes "
                                      "the gradient the layer after it returned (dy = layer.backward(dy))")
                raise CheckFailed(f"{case}: layers[{call.layer}] did not get the gradient of the layer "
                                  "after it")
        expected = grads[-1] @ layers[0].matrix.T
        _expect_close(got, expected, case, hints=[
            _hint_matches(lambda dy=dy: dy, "you returned the dy you were given; return the gradient "
                                            "the first layer's backward returned (dx, of the input)"),
        ])
    real = _real_network_backward(fn, rng)
    return f"layers in reverse, a single layer, and {real}; matches nnlib.network.backward_layers"


def _real_network_backward(fn: Callable, rng: np.random.Generator) -> str:
    """The learner's loop on nnlib's layers after a forward pass in training mode: dx and every
    parameter's gradient against nnlib's loop on a copy."""
    network = mlp((8, 7, 6, 4), dropout=0.5, rng=np.random.default_rng(int(rng.integers(2**32))),
                  dtype=np.float64)
    case = "on the layers of a network 8-7-6-4 with dropout 0.5, after a forward pass in training mode"
    reference_forward_layers(network.layers, rng.standard_normal((5, 8)), True)
    expected_layers = copy.deepcopy(network.layers)
    dy = rng.standard_normal((5, 4))
    expected = reference_backward_layers(expected_layers, dy)
    got = _call_quietly(fn, network.layers, dy)
    _expect_close(got, expected, f"{case}, dx", rtol=1e-10, atol=1e-12)
    for layer, reference in zip(network.layers, expected_layers, strict=True):
        for parameter, wanted in zip(layer.parameters(), reference.parameters(), strict=True):
            _expect_close(parameter.grad, wanted.grad, f"{case}, {parameter.name}.grad", rtol=1e-10,
                          atol=1e-12)
    return "a network 8-7-6-4 with dropout (dx and every gradient)"


# --- batch_indices -------------------------------------------------------------------------------


@checker("batch_indices",
         lesson="03_backprop",
         points=1,
         references=("nnlib.data:batch_indices", "nnlib.data:minibatches"),
         piece="epoch loop")
def batch_indices(fn: Callable) -> str:
    """Lesson 03: `batch_indices(n, batch_size, rng) -> list of index arrays`: 0..n-1 shuffled by
    `rng`, cut into batches of `batch_size`, the last one holding the rest."""
    rng = _cases(38)
    cases = [(10, 4), (12, 4), (5, 8), (1000, 128), (1, 1)]
    for n, size in cases:
        case = f"on n={n}, batch_size={size}"
        seed = int(rng.integers(2**32))
        first = _batches(_call_quietly(fn, n, size, np.random.default_rng(seed)), n, size, case)
        if n < 10:
            continue
        order = np.concatenate(first)
        if np.array_equal(order, np.arange(n)):
            raise CheckFailed(f"{case}: the indices come in order 0, 1, 2, ...; shuffle them first with "
                              "rng.permutation(n), so that every batch is a random sample")
        same_seed = _batches(_call_quietly(fn, n, size, np.random.default_rng(seed)), n, size, case)
        if not np.array_equal(np.concatenate(same_seed), order):
            raise CheckFailed(f"{case}: two generators with the same seed gave different orders: draw the "
                              "order from the rng you are given (rng.permutation(n)), not from np.random")
        generator = np.random.default_rng(seed)
        one = _batches(_call_quietly(fn, n, size, generator), n, size, case)
        two = _batches(_call_quietly(fn, n, size, generator), n, size, case)
        if np.array_equal(np.concatenate(one), np.concatenate(two)):
            raise CheckFailed(f"{case}: two calls with the same rng gave the same order, so every epoch "
                              "would see the batches in the same order: draw a new order from rng on every "
                              "call (did you make a new generator inside, such as np.random.default_rng(0)?)")
    return (f"{len(cases)} cases, including a last smaller batch, a batch larger than n and n=1; every "
            "sample once, a new order every call, like nnlib.data.batch_indices")


def _batches(got: object, n: int, size: int, case: str) -> list[np.ndarray]:
    """The learner's batches as a list of integer arrays, after checking every sample is in exactly
    one of them and the sizes are those of `size`, the last one holding the rest."""
    if got is None:
        raise CheckFailed(f"{case}: your function returned None; did you forget `return`?")
    if isinstance(got, np.ndarray) and got.ndim == 1:
        raise CheckFailed(f"{case}: you returned one array of {len(got)} indices; cut the shuffled order "
                          "into batches of batch_size and return a list of index arrays")
    try:
        batches = [np.asarray(batch) for batch in got]  # a list, a tuple, a generator, or a 2-D array
    except TypeError:
        raise CheckFailed(f"{case}: expected a list of index arrays, got {type(got).__name__}") from None
    for batch in batches:
        if batch.ndim != 1:
            raise CheckFailed(f"{case}: each batch must be a 1-D array of indices, got one of shape "
                              f"{batch.shape}")
        if batch.size and batch.dtype.kind not in "iu":
            raise CheckFailed(f"{case}: the indices have dtype {batch.dtype}; they must be integers "
                              "(x[index] needs integer indices): rng.permutation(n) gives them")
    wanted = [size] * (n // size) + ([n % size] if n % size else [])
    sizes = [len(batch) for batch in batches]
    if n % size and sizes == wanted[:-1]:
        raise CheckFailed(f"{case}: the last, smaller batch is missing: its {n % size} samples would never "
                          "be trained on; keep it (range(0, n, batch_size) gives every start, "
                          "n // batch_size batches drop the rest)")
    if sizes != wanted:
        raise CheckFailed(f"{case}: expected batches of sizes {_sizes(wanted)}, got {_sizes(sizes)}")
    everything = np.concatenate(batches) if batches else np.zeros(0, dtype=int)
    if everything.min() < 0 or everything.max() >= n:
        raise CheckFailed(f"{case}: indices must lie in 0..{n - 1}, got "
                          f"{everything.min()}..{everything.max()}")
    if len(np.unique(everything)) != n:
        raise CheckFailed(f"{case}: some samples appear twice and others never; every sample must be in "
                          "exactly one batch: shuffle with rng.permutation(n) (rng.integers or rng.choice "
                          "draw with replacement)")
    return batches


def _sizes(sizes: list[int]) -> str:
    if len(sizes) <= 6:
        return str(sizes)
    return f"[{sizes[0]}, {sizes[1]}, ... ({len(sizes)} batches), {sizes[-1]}]"


# --- train_epoch ---------------------------------------------------------------------------------


class _LoggingModel:
    """A stand-in network for the epoch checks. Only the step runs the forward pass; the model logs
    any other (an accuracy counted from a second pass), which gives other logits than the step's."""

    def __init__(self, logits_training: np.ndarray, logits_evaluation: np.ndarray) -> None:
        self.tables = {True: logits_training, False: logits_evaluation}
        self.passes: list[bool] = []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.passes.append(bool(training))
        return self.tables[bool(training)][x[:, 0].astype(int)]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy

    def parameters(self) -> list:
        return []


@dataclass
class _Batch:
    ids: np.ndarray
    labels_match: bool
    lr: object
    model_ok: bool
    loss_fn_ok: bool
    loss: float
    logits: np.ndarray


class _LoggingStep:
    """A stand-in `step(model, loss_fn, xb, yb, lr) -> (loss, logits)` that records every batch and
    returns a made-up loss and logits for it (row i of x is sample i: x[:, 0] holds its number)."""

    def __init__(self, y: np.ndarray, losses: np.ndarray, logits: np.ndarray, model: object,
                 loss_fn: object) -> None:
        self.y, self.losses, self.logits, self.model, self.loss_fn = y, losses, logits, model, loss_fn
        self.batches: list[_Batch] = []

    def __call__(self, model: object, loss_fn: object, xb: np.ndarray, yb: np.ndarray,
                 lr: float) -> tuple[float, np.ndarray]:
        ids = np.asarray(xb)[:, 0].astype(int).copy()  # a copy: nnlib's minibatches reuses its buffers
        labels_match = np.shape(yb) == ids.shape and np.array_equal(np.asarray(yb), self.y[ids])
        loss, logits = float(self.losses[ids].mean()), self.logits[ids].copy()
        self.batches.append(_Batch(ids, labels_match, lr, model is self.model, loss_fn is self.loss_fn,
                                   loss, logits))
        return loss, logits


# nnlib.train.train_epoch is not among the references: a right answer is the same few lines, which
# the audit's near-copy rule would flag (importing it into an answer is flagged anyway).
@checker("train_epoch",
         lesson="03_backprop",
         points=2,
         references=("nnlib.train:fit",),
         piece="epoch loop")
def train_epoch(fn: Callable) -> str:
    """Lesson 03: `train_epoch(model, loss_fn, x (n, features), y (n,), batch_size, lr, rng, step)
    -> (loss, accuracy)`: `step` on every mini-batch of a new shuffle, the epoch's mean loss (weighted
    by batch size) and the accuracy counted from the logits the step returned."""
    rng = _cases(39)
    cases = [(10, 4), (12, 4), (5, 8), (300, 32)]
    for n, size in cases:
        case = f"on n={n} samples, batch_size={size}"
        classes = 4
        x = np.column_stack([np.arange(n), rng.standard_normal((n, 2))])
        y = rng.integers(0, classes, n)
        model = _LoggingModel(rng.standard_normal((n, classes)), rng.standard_normal((n, classes)))
        loss_fn, lr = object(), float(rng.choice([0.05, 0.1, 0.5]))
        step = _LoggingStep(y, rng.random(n) * 2, rng.standard_normal((n, classes)), model, loss_fn)
        generator = np.random.default_rng(int(rng.integers(2**32)))
        epochs = []
        for epoch in (1, 2):
            before = len(step.batches)
            model.passes.clear()
            got = _call_telling_what_is_unwritten(fn, model, loss_fn, x, y, size, lr, generator, step)
            batches = step.batches[before:]
            _expect_epoch_batches(batches, n, size, lr, f"{case}, epoch {epoch}")
            _expect_epoch_result(got, batches, model, y, n, f"{case}, epoch {epoch}")
            epochs.append(np.concatenate([batch.ids for batch in batches]))
        if n >= 10 and np.array_equal(epochs[0], np.arange(n)):
            raise CheckFailed(f"{case}: the batches came in order 0, 1, 2, ...: shuffle them every epoch "
                              "(batch_indices(len(x), batch_size, rng))")
        if n >= 10 and np.array_equal(epochs[0], epochs[1]):
            raise CheckFailed(f"{case}: both epochs saw the samples in the same order: draw a new order "
                              "from rng every epoch (pass rng to batch_indices; don't make a new generator "
                              "inside)")
    return (f"{len(cases)} datasets, two epochs each: every sample once per epoch, the last smaller batch "
            "kept, a new order each epoch, loss and accuracy as nnlib.train.train_epoch computes them")


_BATCHES_BY = " (your batch_indices makes them: does it pass its check?)"


def _call_telling_what_is_unwritten(fn: Callable, *args: object) -> object:
    """`_call_quietly`, and when the NotImplementedError comes from a function yours calls (your
    batch_indices, not written yet), a line that says so before the usual "not implemented yet"."""
    try:
        return _call_quietly(fn, *args)
    except _NotImplementedYet as unwritten:
        error = unwritten.__context__
        frames = traceback.extract_tb(error.__traceback__) if error is not None else []
        where = frames[-1].name if frames else ""
        if where and where != getattr(fn, "__name__", where):
            print(f"⏳ train_epoch: your function calls {where}, which is not written yet")
        raise


def _expect_epoch_batches(batches: list[_Batch], n: int, size: int, lr: float, case: str) -> None:
    """What reached the step: every sample once, in batches of `size` with the last one smaller,
    labels that belong to the images, and the model, loss_fn and lr as given."""
    if not batches:
        raise CheckFailed(f"{case}: step was never called: call step(model, loss_fn, xb, yb, lr) on every "
                          "mini-batch")
    if not all(batch.model_ok and batch.loss_fn_ok for batch in batches):
        raise CheckFailed(f"{case}: step did not get the model and loss_fn you were given; pass them on: "
                          "step(model, loss_fn, xb, yb, lr)")
    wrong_lr = [batch.lr for batch in batches if not (np.ndim(batch.lr) == 0 and np.isclose(batch.lr, lr))]
    if wrong_lr:
        raise CheckFailed(f"{case}: step got lr={wrong_lr[0]!r}, expected the lr you were given ({lr:g})")
    if not all(batch.labels_match for batch in batches):
        raise CheckFailed(f"{case}: the labels yb that reached step are not those of the images xb: take "
                          "both with the same indices, x[index] and y[index]")
    ids = np.concatenate([batch.ids for batch in batches])
    wanted = [size] * (n // size) + ([n % size] if n % size else [])
    sizes = [len(batch.ids) for batch in batches]
    if n % size and sizes == wanted[:-1]:
        raise CheckFailed(f"{case}: the last, smaller batch never reached step: its {n % size} samples are "
                          f"never trained on{_BATCHES_BY}")
    if sizes != wanted:
        raise CheckFailed(f"{case}: step got batches of sizes {_sizes(sizes)}, expected {_sizes(wanted)}"
                          f"{_BATCHES_BY}")
    if len(np.unique(ids)) != n:
        raise CheckFailed(f"{case}: some samples reached step twice and others never; each epoch trains on "
                          f"every sample once{_BATCHES_BY}")


def _expect_epoch_result(got: object, batches: list[_Batch], model: _LoggingModel, y: np.ndarray, n: int,
                         case: str) -> None:
    """The epoch's (loss, accuracy) from what the step returned, naming the usual mistakes."""
    loss, accuracy = _expect_parts(got, 2, "(loss, accuracy)", case)
    for value, what in ((loss, "loss"), (accuracy, "accuracy")):
        if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "iuf":
            raise CheckFailed(f"{case}: the {what} must be one number, got {type(value).__name__} "
                              f"of shape {np.shape(value)}")
    sizes = np.array([len(batch.ids) for batch in batches])
    losses = np.array([batch.loss for batch in batches])
    expected_loss = float(losses @ sizes / n)
    _expect_close(np.float64(loss), np.float64(expected_loss), f"{case}, the loss", check_dtype=False,
                  rtol=1e-9, atol=1e-12, hints=[
        _hint_matches(lambda: losses.mean(), "you averaged the batches' losses, each counting the same; the "
                                             "last batch is smaller: weight each batch's loss by its size "
                                             "(loss * len(xb)) and divide the sum by the number of samples"),
        _hint_matches(lambda: losses.sum(), "you summed the batches' losses; the epoch's loss is their mean, "
                                            "weighted by batch size (divide by the number of samples)"),
        _hint_matches(lambda: losses @ sizes, "you returned the summed loss of all samples; divide it by the "
                                              "number of samples"),
        _hint_matches(lambda: losses[-1], "you returned the last batch's loss; return the epoch's mean"),
    ])
    if model.passes:  # the step ran the forward pass; a second one gives other logits (and costs)
        mode = ("training mode (dropout on, after the update)" if any(model.passes)
                else "evaluation mode, after the update")
        raise CheckFailed(f"{case}: your function ran the model's forward pass itself, in {mode}: count the "
                          "correct predictions from the logits your step returned, those this epoch trained "
                          "on (fit measures validation accuracy after the epoch, in evaluation mode)")
    correct = [int(np.count_nonzero(batch.logits.argmax(axis=1) == y[batch.ids])) for batch in batches]
    expected_accuracy = sum(correct) / n
    hints = [
        _hint_matches(lambda: 100 * expected_accuracy, "you returned a percentage; return the fraction of "
                                                       "correct predictions, between 0 and 1"),
        _hint_matches(lambda: sum(correct), "you returned the number of correct predictions; divide it by "
                                            "the number of samples"),
        _hint_matches(lambda: np.mean(np.array(correct) / sizes),
                      "you averaged the batches' accuracies, each counting the same; the last batch is "
                      "smaller: count the correct predictions of the whole epoch and divide by the number "
                      "of samples"),
    ]
    _expect_close(np.float64(accuracy), np.float64(expected_accuracy), f"{case}, the accuracy",
                  check_dtype=False, rtol=1e-9, atol=1e-12, hints=hints)
