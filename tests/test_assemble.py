"""nnlib.course.assemble: the learner's functions, assembled, train exactly like nnlib's pieces.

The reference solutions are read from the lessons (notebooks/), as lesson 07 reads them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnlib.course import assemble
from nnlib.course.checks import STRICT_VARIABLE
from nnlib.network import mlp
from nnlib.optim import SGD, Adam, cosine_schedule
from nnlib.train import EPOCHS_VARIABLE, History, fit, lesson_epochs

from .conftest import REPO

LESSONS = ("02_forward_pass.ipynb", "03_backprop.ipynb", "04_dropout.ipynb",
           "05_l2_regularization.ipynb", "06_optimizers.ipynb")
SIZES = (784, 128, 64, 10)
# Largest parameter difference after 20 float32 steps, reference solutions vs nnlib (measured:
# 3e-8 SGD, 6e-8 momentum, 7e-6 Adam, whose update divides by sqrt(v) and so magnifies the
# rounding differences of tiny gradients).
STEP_TOLERANCE = {"sgd": 1e-6, "momentum": 1e-6, "adam": 1e-4}


@pytest.fixture(scope="module")
def reference_pieces() -> assemble.Pieces:
    return assemble.gather(earlier=LESSONS, folder=REPO / "notebooks")


def nnlib_optimizer(kind: str, params, lr: float):
    if kind == "adam":
        return Adam(params, lr=lr)
    return SGD(params, lr=lr, momentum=0.9 if kind == "momentum" else 0.0)


def train_pair(pieces, mnist, kind: str, n: int, epochs: int, dropout: float = 0.1, l2: float = 1e-4):
    """Train nnlib's network and the assembled one from the same seed; return both models and histories."""
    lr = 1e-3 if kind == "adam" else 0.05
    x, y = mnist.x_train[:n], mnist.y_train[:n]
    steps = epochs * -(-n // 128)
    reference = mlp(SIZES, dropout, np.random.default_rng(1))
    yours = pieces.network(SIZES, dropout, np.random.default_rng(1))
    common = dict(epochs=epochs, batch_size=128, l2=l2, progress=False, x_val=mnist.x_val[:2000],
                  y_val=mnist.y_val[:2000])
    reference_history = fit(reference, nnlib_optimizer(kind, reference.parameters(), lr), x, y,
                            rng=np.random.default_rng(2), schedule=cosine_schedule(lr, steps), **common)
    your_history = fit(yours, pieces.optimizer(kind, yours.parameters(), lr), x, y,
                       rng=np.random.default_rng(2), schedule=pieces.cosine_schedule(lr, steps),
                       loss_fn=pieces.loss(), **common)
    return reference, yours, reference_history, your_history


def test_every_piece_of_the_reference_solutions_is_found_and_passes(reference_pieces):
    assert sorted(reference_pieces.functions) == sorted(assemble.LESSON_OF)
    assert not reference_pieces.borrowed and not reference_pieces.failed


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_the_first_20_steps_agree_with_nnlib(reference_pieces, mnist, kind):
    reference, yours, _, _ = train_pair(reference_pieces, mnist, kind, n=20 * 128, epochs=1)
    # nnlib's own classes, calling the learner's functions
    assert [type(layer).__name__ for layer in yours.layers][:3] == ["Linear", "ReLU", "Dropout"]
    assert yours.layers[0].fns.linear_forward is not reference.layers[0].fns.linear_forward
    initial = mlp(SIZES, 0.1, np.random.default_rng(1)).parameters()
    moved = max(float(np.abs(p.value - q.value).max())
                for p, q in zip(reference.parameters(), initial, strict=True))
    assert moved > 100 * STEP_TOLERANCE[kind]  # 20 steps moved the weights far more than the tolerance
    for mine, theirs in zip(yours.parameters(), reference.parameters(), strict=True):
        assert mine.name == theirs.name
        np.testing.assert_allclose(mine.value, theirs.value, rtol=0, atol=STEP_TOLERANCE[kind],
                                   err_msg=mine.name)


# Short runs (2 epochs on 10,000 images) measured: validation accuracy differs by at most
# 0.1 percentage points, losses by well under 1%.
@pytest.mark.parametrize("kind", ["momentum", "adam"])
def test_short_run_histories_agree_within_tolerance(reference_pieces, mnist, kind):
    _, _, reference, yours = train_pair(reference_pieces, mnist, kind, n=10_000, epochs=2)
    np.testing.assert_allclose(yours.val_acc, reference.val_acc, atol=0.003)
    np.testing.assert_allclose(yours.train_loss, reference.train_loss, rtol=0.01)
    np.testing.assert_allclose(yours.val_loss, reference.val_loss, rtol=0.01)


def test_unwritten_pieces_are_borrowed_and_named_and_train_exactly_like_nnlib(mnist, capsys):
    def linear_backward(dy, x, W):
        raise NotImplementedError()

    def relu_backward(dy, x):
        raise NotImplementedError()

    pieces = assemble.gather(here={"linear_backward": linear_backward, "relu_backward": relu_backward})
    lines = capsys.readouterr().out.splitlines()
    assert "⏳ using nnlib's linear_backward until yours is done" in lines
    assert "⏳ using nnlib's relu_backward until yours is done" in lines
    assert not pieces.functions and not pieces.failed
    model = pieces.network(SIZES, 0.0, np.random.default_rng(1))
    reference = mlp(SIZES, 0.0, np.random.default_rng(1))
    for net in (model, reference):
        fit(net, SGD(net.parameters(), lr=0.1), mnist.x_train[:640], mnist.y_train[:640], epochs=1,
            rng=np.random.default_rng(2), progress=False)
    for mine, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(mine.value, theirs.value)


def test_the_unfilled_student_versions_borrow_every_piece_by_name(pristine_exercises, capsys):
    pieces = assemble.gather(earlier=LESSONS, folder=pristine_exercises)
    lines = capsys.readouterr().out.splitlines()
    assert sorted(pieces.borrowed) == sorted(assemble.LESSON_OF)
    for name in assemble.LESSON_OF:
        assert f"⏳ using nnlib's {name} until yours is done" in lines
    assert not any(line.startswith(("🧩", "⚠️")) for line in lines)


def test_grading_mode_still_counts_an_unwritten_piece_as_borrowed(monkeypatch):
    monkeypatch.setenv(STRICT_VARIABLE, "1")

    def relu(x):
        raise NotImplementedError()

    assert assemble.assess("relu", relu) == ("missing", "")


def test_a_missing_lesson_file_or_a_broken_cell_is_borrowed_with_the_reason(tmp_path, capsys):
    lesson = tmp_path / "02_forward_pass.ipynb"
    cells = [{"cell_type": "code", "source": "import numpy as np\n", "metadata": {}, "outputs": []},
             {"cell_type": "code", "source": "def relu(x):\n    return np.maximum(x, 0\n", "metadata": {},
              "outputs": []},
             {"cell_type": "code", "source": "def linear_forward(x, W, b):\n    return x @ W + b\n",
              "metadata": {}, "outputs": []}]
    lesson.write_text(json.dumps({"cells": cells}))
    pieces = assemble.gather(earlier=["02_forward_pass.ipynb", "03_backprop.ipynb"], folder=tmp_path)
    out = capsys.readouterr().out
    assert "linear_forward" in pieces.functions
    assert "syntax error" in pieces.borrowed["relu"]
    assert "no function cross_entropy" in pieces.borrowed["cross_entropy"]
    assert "03_backprop.ipynb is not in this folder" in pieces.borrowed["linear_backward"]
    assert ("⏳ using nnlib's relu until yours is done "
            "(its cell in 02_forward_pass.ipynb has a syntax error") in out


# --- a wrong piece is used, and its effect shows -------------------------------------------------


def test_a_linear_backward_with_zero_gradients_stops_learning_and_the_verdict_says_why(mnist, capsys):
    def linear_backward(dy, x, W):
        return dy @ W.T, np.zeros_like(W), np.zeros(W.shape[1], dtype=W.dtype)

    pieces = assemble.gather(here={"linear_backward": linear_backward})
    assert "linear_backward" in pieces.failed and pieces.get("linear_backward") is linear_backward
    assert "⚠️ your linear_backward (this notebook) failed its check" in capsys.readouterr().out
    model = pieces.network(SIZES, 0.0, np.random.default_rng(1))
    history = fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:5000], mnist.y_train[:5000],
                  epochs=2, batch_size=50, rng=np.random.default_rng(2), x_val=mnist.x_val[:2000],
                  y_val=mnist.y_val[:2000], progress=False, loss_fn=pieces.loss())
    assert history.val_acc[-1] < 0.3  # nothing moved: the untrained network's guesses
    assert pieces.verdict(history, expected_acc=0.9) is False
    out = capsys.readouterr().out
    assert "❌ your network did not learn as it should" in out
    assert "your linear_backward failed its check in this notebook" in out


def test_a_transposed_dw_stops_training_with_a_message_that_names_the_learners_function(capsys):
    def linear_backward(dy, x, W):
        return dy @ W.T, (x.T @ dy).T, dy.sum(axis=0)  # dW transposed

    pieces = assemble.gather(here={"linear_backward": linear_backward})
    assert "linear_backward" in pieces.failed
    model = pieces.network((6, 5, 3), 0.0, np.random.default_rng(1))
    loss_fn = pieces.loss()
    loss_fn.forward(model.forward(np.ones((4, 6), dtype=np.float32), training=True), np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"your linear_backward \(this notebook\) returned dW of shape "
                                         r"\(3, 5\), expected \(5, 3\)"):
        model.backward(loss_fn.backward())


def test_dropout_without_the_scale_is_used_and_changes_training(reference_pieces, mnist, capsys):
    def dropout_forward(x, p, rng, training):
        if not training or p == 0:
            return x, None
        mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)  # no 1 / (1 - p)
        return x * mask, mask

    functions = {**reference_pieces.functions, "dropout_forward": dropout_forward}
    pieces = assemble.gather(here=functions)
    assert list(pieces.failed) == ["dropout_forward"]
    assert "1/(1-p)" in pieces.failed["dropout_forward"].replace(" ", "")
    histories = {}
    for name, chosen in (("reference", reference_pieces), ("unscaled", pieces)):
        model = chosen.network(SIZES, 0.5, np.random.default_rng(1))
        histories[name] = fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:5000],
                              mnist.y_train[:5000], epochs=2, batch_size=50, rng=np.random.default_rng(2),
                              x_val=mnist.x_val[:2000], y_val=mnist.y_val[:2000], progress=False,
                              loss_fn=chosen.loss())
    reference, unscaled = histories["reference"], histories["unscaled"]
    assert abs(unscaled.val_loss[-1] - reference.val_loss[-1]) > 0.05 * reference.val_loss[-1]
    capsys.readouterr()
    pieces.verdict(unscaled, expected_acc=0.5)
    assert "your dropout_forward failed its check in this notebook" in capsys.readouterr().out


# --- the lessons' epoch setting ------------------------------------------------------------------


def test_lesson_epochs_reads_nnlib_epochs_and_never_lengthens(monkeypatch):
    monkeypatch.delenv(EPOCHS_VARIABLE, raising=False)
    assert lesson_epochs(40) == 40
    monkeypatch.setenv(EPOCHS_VARIABLE, "5")
    assert lesson_epochs(40) == 5 and lesson_epochs(3) == 3
    monkeypatch.setenv(EPOCHS_VARIABLE, "zero")
    with pytest.raises(ValueError, match="NNLIB_EPOCHS must be a whole number"):
        lesson_epochs(40)


def test_the_verdict_of_a_network_that_learned_with_a_failed_piece_is_not_a_plain_success(capsys):
    """A bug that does not stop learning (l2_penalty without its 0.5) is named, in its own lesson."""
    pieces = assemble.Pieces(failed={"l2_penalty": "your result is 2 times the expected one"},
                             where={"l2_penalty": "05_l2_regularization.ipynb"})
    learned = History(train_loss=[0.1], train_acc=[0.99], val_loss=[0.08], val_acc=[0.98], lr=[0.1],
                      epoch_time=[1.0])
    assert pieces.verdict(learned, expected_acc=0.97) is False
    out = capsys.readouterr().out
    assert "✅" not in out and "⚠️ your network learned (98.00% validation accuracy after 1 epoch), but" in out
    assert "your l2_penalty failed its check in 05_l2_regularization.ipynb" in out
    assert "save 05_l2_regularization.ipynb, run this lesson again" in out
