"""Checkers of lesson 03's loops: they pass nnlib's own functions and a learner's right answers
(in several styles), and fail each typical mistake with a message that names it."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import checks
from nnlib.data import batch_indices as nn_batch_indices
from nnlib.data import minibatches
from nnlib.network import backward_layers as nn_backward_layers
from nnlib.network import forward_layers as nn_forward_layers
from nnlib.train import train_epoch as nn_train_epoch
from tests.checker_failures import assert_helpful_failure, right_answer_tests

# --- right answers, in a learner's styles ---------------------------------------------------------

def forward_by_index(layers, x, training):
    for i in range(len(layers)):
        x = layers[i].forward(x, training=training)
    return x


def backward_by_slice(layers, dy):
    for layer in layers[::-1]:
        dy = layer.backward(dy)
    return dy


def backward_by_index(layers, dy):
    for i in range(len(layers) - 1, -1, -1):
        dy = layers[i].backward(dy)
    return dy


def batches_by_shuffle(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def batches_by_split(n, batch_size, rng):
    return np.array_split(rng.permutation(n), range(batch_size, n, batch_size))


def epoch_by_totals(model, loss_fn, x, y, batch_size, lr, rng, step):
    total, correct = 0.0, 0
    for batch in nn_batch_indices(len(x), batch_size, rng):
        loss, logits = step(model, loss_fn, x[batch], y[batch], lr)
        total += loss * len(batch)
        correct += (logits.argmax(axis=1) == y[batch]).sum()
    return total / len(x), correct / len(x)


def epoch_with_minibatches(model, loss_fn, x, y, batch_size, lr, rng, step):
    """nnlib's minibatches reuses one buffer for every batch: the checker's step copies what it keeps."""
    total, correct = 0.0, 0
    for xb, yb in minibatches(x, y, batch_size, rng):
        loss, logits = step(model, loss_fn, xb, yb, lr)
        total += loss * len(yb)
        correct += int(np.sum(logits.argmax(axis=1) == yb))
    return total / len(x), correct / len(x)


CORRECT = [
    (checks.forward_layers, nn_forward_layers),
    (checks.forward_layers, forward_by_index),
    (checks.backward_layers, nn_backward_layers),
    (checks.backward_layers, backward_by_slice),
    (checks.backward_layers, backward_by_index),
    (checks.batch_indices, nn_batch_indices),
    (checks.batch_indices, batches_by_shuffle),
    (checks.batch_indices, batches_by_split),
    (checks.train_epoch, nn_train_epoch),
    (checks.train_epoch, epoch_by_totals),
    (checks.train_epoch, epoch_with_minibatches),
]

test_right_answers_pass, test_not_implemented_is_reported_not_raised = right_answer_tests(CORRECT)


# --- typical mistakes ------------------------------------------------------------------------------

def forward_variant(order=lambda layers: layers, training=lambda t: t, chain=True, result=None):
    def forward(layers, x, training_given):
        out = x
        for layer in order(layers):
            out = layer.forward(out if chain else x, training=training(training_given))
        return result(x, out) if result else out

    return forward


def forward_without_training(layers, x, training):
    for layer in layers:
        x = layer.forward(x)
    return x


def forward_calling_backward(layers, x, training):
    for layer in layers:
        x = layer.backward(x)
    return x


def backward_variant(order=lambda layers: layers[::-1], chain=True, result=None):
    def backward(layers, dy):
        grad = dy
        for layer in order(layers):
            grad = layer.backward(grad if chain else dy)
        return result(dy, grad) if result else grad

    return backward


def backward_reversing_in_place(layers, dy):
    layers.reverse()
    for layer in layers:
        dy = layer.backward(dy)
    return dy


def backward_calling_forward(layers, dy):
    for layer in reversed(layers):
        dy = layer.forward(dy)
    return dy


def batches_variant(order=lambda n, rng: rng.permutation(n), drop_last=False, as_list=True):
    def batches(n, batch_size, rng):
        shuffled = order(n, rng)
        stop = n - n % batch_size if drop_last else n
        cut = [shuffled[i:i + batch_size] for i in range(0, stop, batch_size)]
        return cut if as_list else shuffled

    return batches


def epoch_variant(batches=nn_batch_indices, loss=lambda losses, sizes, n: losses @ sizes / n,
                  accuracy=None, labels=lambda y, index: y[index], lr_scale=1.0):
    """An epoch loop with one known mistake (`accuracy(model, x, y, batches, logits)` overrides the count)."""

    def epoch(model, loss_fn, x, y, batch_size, lr, rng, step):
        losses, sizes, correct, seen = [], [], 0, []
        for index in batches(len(x), batch_size, rng):
            batch_loss, logits = step(model, loss_fn, x[index], labels(y, index), lr * lr_scale)
            losses.append(batch_loss)
            sizes.append(len(index))
            seen.append((index, logits))
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y[index]))
        if accuracy is not None:
            return loss(np.array(losses), np.array(sizes), len(x)), accuracy(model, x, y, seen)
        return loss(np.array(losses), np.array(sizes), len(x)), correct / len(x)

    return epoch


def accuracy_of_a_second_pass(training):
    def accuracy(model, x, y, seen):
        predictions = [(model.forward(x[index], training=training).argmax(axis=1), y[index])
                       for index, _ in seen]
        correct = sum(int(np.count_nonzero(predicted == labels)) for predicted, labels in predictions)
        return correct / len(x)

    return accuracy


def mean_of_batch_accuracies(model, x, y, seen):
    return float(np.mean([np.mean(logits.argmax(axis=1) == y[index]) for index, logits in seen]))


def one_fixed_order(n, batch_size, rng):
    return nn_batch_indices(n, batch_size, np.random.default_rng(0))


def returns_nothing(*args):
    return None


MISTAKES = [
    # forward_layers
    (checks.forward_layers, returns_nothing, r"no layer's forward ran"),
    (checks.forward_layers, forward_variant(result=lambda x, out: None), r"returned None"),
    (checks.forward_layers, forward_variant(order=lambda layers: layers[::-1]), r"ran last to first"),
    (checks.forward_layers, forward_variant(order=lambda layers: layers[1:]),
     r"layers\[0\] never ran forward"),
    (checks.forward_layers, forward_variant(order=lambda layers: layers[:-1]),
     r"layers\[2\] never ran forward"),
    (checks.forward_layers, forward_without_training,
     r"ran in evaluation mode although training=True.*dropout is never on while training"),
    (checks.forward_layers, forward_variant(training=lambda t: True),
     r"ran in training mode although training=False.*validation accuracy is taken in training mode"),
    (checks.forward_layers, forward_variant(chain=False), r"every layer got the original input x"),
    (checks.forward_layers, forward_variant(result=lambda x, out: x), r"you returned the input x"),
    (checks.forward_layers, forward_variant(result=lambda x, out: out[:, :2]), r"expected shape \(4, 5\)"),
    (checks.forward_layers, forward_calling_backward, r"called a layer's backward"),
    # backward_layers
    (checks.backward_layers, returns_nothing, r"no layer's backward ran"),
    (checks.backward_layers, backward_variant(order=lambda layers: layers),
     r"ran first to last; backward runs them in reverse"),
    (checks.backward_layers, backward_variant(order=lambda layers: layers[:0:-1]),
     r"layers\[0\] never ran backward \(a loop like range\(len\(layers\) - 1, 0, -1\) stops before "
     r"index 0\)"),
    (checks.backward_layers, backward_reversing_in_place, r"reversed the list of layers in place"),
    (checks.backward_layers, backward_calling_forward, r"called a layer's forward"),
    (checks.backward_layers, backward_variant(chain=False), r"every layer got the dy you started with"),
    (checks.backward_layers, backward_variant(result=lambda dy, grad: dy),
     r"you returned the dy you were given"),
    (checks.backward_layers, backward_variant(result=lambda dy, grad: None), r"returned None"),
    # batch_indices
    (checks.batch_indices, returns_nothing, r"returned None"),
    (checks.batch_indices, batches_variant(drop_last=True), r"the last, smaller batch is missing"),
    (checks.batch_indices, batches_variant(order=lambda n, rng: np.arange(n)), r"come in order 0, 1, 2"),
    (checks.batch_indices, batches_variant(order=lambda n, rng: np.random.default_rng(0).permutation(n)),
     r"two calls with the same rng gave the same order"),
    (checks.batch_indices, batches_variant(order=lambda n, rng: np.random.permutation(n)),  # noqa: NPY002
     r"two generators with the same seed gave different orders"),
    (checks.batch_indices, batches_variant(order=lambda n, rng: rng.integers(0, n, n)),
     r"some samples appear twice and others never"),
    (checks.batch_indices, batches_variant(order=lambda n, rng: rng.permutation(n).astype(float)),
     r"must be integers"),
    (checks.batch_indices, batches_variant(as_list=False), r"returned one array of \d+ indices"),
    # train_epoch
    (checks.train_epoch, returns_nothing, r"step was never called"),
    (checks.train_epoch, epoch_variant(batches=batches_variant(drop_last=True)),
     r"the last, smaller batch never reached step.*your batch_indices"),
    (checks.train_epoch, epoch_variant(batches=one_fixed_order),
     r"both epochs saw the samples in the same order"),
    (checks.train_epoch, epoch_variant(batches=batches_variant(order=lambda n, rng: np.arange(n))),
     r"the batches came in order 0, 1, 2"),
    (checks.train_epoch, epoch_variant(loss=lambda losses, sizes, n: losses.mean()),
     r"averaged the batches' losses, each counting the same"),
    (checks.train_epoch, epoch_variant(loss=lambda losses, sizes, n: losses @ sizes),
     r"summed loss of all samples"),
    (checks.train_epoch, epoch_variant(accuracy=accuracy_of_a_second_pass(True)),
     r"ran the model's forward pass itself, in training mode"),
    (checks.train_epoch, epoch_variant(accuracy=accuracy_of_a_second_pass(False)),
     r"ran the model's forward pass itself, in evaluation mode"),
    (checks.train_epoch, epoch_variant(accuracy=mean_of_batch_accuracies),
     r"averaged the batches' accuracies"),
    (checks.train_epoch, epoch_variant(labels=lambda y, index: y[:len(index)]),
     r"labels yb that reached step are not those of the images xb"),
    (checks.train_epoch, epoch_variant(lr_scale=0.5), r"step got lr=.*expected the lr you were given"),
]


@pytest.mark.parametrize("check, fn, message", MISTAKES, ids=lambda v: getattr(v, "__name__", ""))
def test_typical_mistakes_get_a_helpful_message(check, fn, message, capsys):
    assert_helpful_failure(check, fn, message, capsys)


def test_an_epoch_loop_returning_nothing_after_its_steps_is_named(capsys):
    def forgets_to_return(model, loss_fn, x, y, batch_size, lr, rng, step):
        for index in nn_batch_indices(len(x), batch_size, rng):
            step(model, loss_fn, x[index], y[index], lr)

    assert_helpful_failure(checks.train_epoch, forgets_to_return, r"returned None", capsys)


def test_an_epoch_loop_waiting_for_batch_indices_says_so(capsys):
    def batch_indices(n, batch_size, rng):
        raise NotImplementedError()

    def epoch(model, loss_fn, x, y, batch_size, lr, rng, step):
        for index in batch_indices(len(x), batch_size, rng):
            step(model, loss_fn, x[index], y[index], lr)
        return 0.0, 0.0

    checks.train_epoch(epoch)
    out = capsys.readouterr().out
    assert "⏳ train_epoch: your function calls batch_indices, which is not written yet" in out
    assert "not implemented yet" in out
