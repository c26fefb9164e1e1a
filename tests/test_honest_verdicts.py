"""Your network, honestly (issue 18): the learner's training step trains it, the learner's loss
is what is measured, and no verdict claims code the learner did not write.

Each test trains the assembled network (briefly, on part of MNIST) and checks both what
training shows and what the verdict prints.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.course import assemble
from nnlib.course.assemble import functions_from_notebook
from nnlib.network import mlp
from nnlib.optim import SGD
from nnlib.train import History, fit

from .conftest import REPO

SIZES = (784, 128, 64, 10)
NOTEBOOKS = REPO / "notebooks"
LESSON_03 = ("linear_backward", "relu_backward", "softmax_cross_entropy_backward", "train_step")


def reference(name: str):
    """The lesson's reference answer `name`, read from notebooks/."""
    function, problem = functions_from_notebook(NOTEBOOKS / assemble.LESSON_OF[name], [name])[name]
    assert function is not None, problem
    return function


def lesson_03_pieces(capsys, **replaced) -> assemble.Pieces:
    """Lessons 02 and 03's reference answers, with `replaced` pieces swapped in (as lesson 03 gathers)."""
    here = {name: reference(name) for name in LESSON_03} | replaced
    pieces = assemble.gather(here=here, earlier=["02_forward_pass.ipynb"], folder=NOTEBOOKS)
    capsys.readouterr()
    return pieces


def train(pieces: assemble.Pieces, mnist, n: int = 5000, epochs: int = 1, seed: int = 1) -> History:
    """Lesson 03's run of your network (plain SGD, lr 0.1, batches of 50), shortened."""
    model = pieces.network(SIZES, 0.0, np.random.default_rng(seed))
    return fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:n], mnist.y_train[:n], epochs=epochs,
               batch_size=50, rng=np.random.default_rng(2), x_val=mnist.x_val[:2000],
               y_val=mnist.y_val[:2000], step=pieces.step(), loss_fn=pieces.loss(), progress=False)


def test_unfilled_lesson_03_shows_no_success_and_counts_the_borrowed_pieces(tmp_path, mnist, capsys,
                                                                          pristine_exercises):
    for lesson in ("02_forward_pass.ipynb", "03_backprop.ipynb"):
        (tmp_path / lesson).write_bytes((pristine_exercises / lesson).read_bytes())
    pieces = assemble.gather(earlier=["02_forward_pass.ipynb", "03_backprop.ipynb"], folder=tmp_path)
    history = train(pieces, mnist)
    assert history.val_acc[-1] > 0.85  # nnlib's pieces learn ...
    assert not pieces.verdict(history, expected_acc=0.85)  # ... but that is not the learner's success
    printed = capsys.readouterr().out
    assert "✅" not in printed
    assert "7 of 7 pieces are nnlib's" in printed  # softmax is not used by training
    assert "none of this run was your code yet" in printed
    assert "your code ran" not in printed


def test_one_borrowed_piece_is_no_success_and_is_named(mnist, capsys):
    def not_yet(*args):
        raise NotImplementedError

    pieces = lesson_03_pieces(capsys, relu_backward=not_yet)
    history = train(pieces, mnist)
    assert not pieces.verdict(history, expected_acc=0.85)
    printed = capsys.readouterr().out
    assert "✅" not in printed and "1 of 7 pieces are nnlib's (relu_backward)" in printed
    assert "nnlib's ran in the backward pass (relu_backward)" in printed


def test_reference_answers_train_with_the_learners_step_to_97_percent(mnist, capsys):
    pieces = lesson_03_pieces(capsys)
    model = pieces.network(SIZES, 0.0, np.random.default_rng(1))
    step = pieces.step()
    assert step.train_step is pieces.get("train_step")
    history = fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train, mnist.y_train, epochs=6,
                  batch_size=50, rng=np.random.default_rng(2), x_val=mnist.x_val, y_val=mnist.y_val,
                  step=step, loss_fn=pieces.loss(), progress=False)
    assert history.val_acc[-1] >= 0.97
    assert pieces.verdict(history, expected_acc=0.97)
    printed = capsys.readouterr().out
    assert "✅ your network learned" in printed and "every part of this run was your code" in printed


def test_a_training_step_that_forgets_the_update_learns_nothing_and_the_verdict_names_it(mnist, capsys):
    def no_update(model, loss_fn, xb, yb, lr):
        logits = model.forward(xb, training=True)
        loss = loss_fn.forward(logits, yb)
        model.backward(loss_fn.backward())
        return loss, logits

    pieces = lesson_03_pieces(capsys, train_step=no_update)
    assert "train_step" in pieces.failed and "no parameter changed" in pieces.failed["train_step"]
    history = train(pieces, mnist)
    assert history.val_acc[-1] < 0.3  # the initial weights' guesses
    assert not pieces.verdict(history, expected_acc=0.85)
    printed = capsys.readouterr().out
    assert "❌ your network did not learn" in printed and "your train_step failed its check" in printed


def test_a_cross_entropy_100_times_too_large_shows_in_the_reported_losses_and_the_verdict(mnist, capsys):
    correct_ce = reference("cross_entropy")

    def cross_entropy_times_100(logits, labels):
        return 100 * correct_ce(logits, labels)

    honest = train(lesson_03_pieces(capsys), mnist)
    pieces = lesson_03_pieces(capsys, cross_entropy=cross_entropy_times_100)
    assert "cross_entropy" in pieces.failed
    inflated = train(pieces, mnist)
    # the gradient comes from softmax_cross_entropy_backward, so training is the same ...
    assert inflated.val_acc == pytest.approx(honest.val_acc, abs=1e-3)
    # ... but every loss reported for the learner's network comes from the learner's loss
    assert inflated.val_loss[-1] == pytest.approx(100 * honest.val_loss[-1], rel=1e-3)
    assert inflated.train_loss[-1] == pytest.approx(100 * honest.train_loss[-1], rel=1e-3)
    assert not pieces.verdict(inflated, expected_acc=0.85)
    printed = capsys.readouterr().out
    assert "✅" not in printed
    assert "your cross_entropy failed its check" in printed and "losses reported" in printed


def test_an_interrupted_run_is_not_blamed_on_the_learning_rate(capsys):
    pieces = lesson_03_pieces(capsys)
    history = History(train_loss=[2.0], train_acc=[0.3], val_loss=[1.9], val_acc=[0.4], lr=[0.1],
                      epoch_time=[1.0], stopped="interrupted")
    assert not pieces.verdict(history, expected_acc=0.97)
    printed = capsys.readouterr().out
    assert "did you change the learning rate" not in printed
    assert "interrupted" in printed and "let it finish" in printed


def test_the_step_returning_the_wrong_thing_is_a_clear_error(mnist, capsys):
    def returns_only_the_loss(model, loss_fn, xb, yb, lr):
        loss, _ = reference("train_step")(model, loss_fn, xb, yb, lr)
        return loss

    pieces = lesson_03_pieces(capsys, train_step=returns_only_the_loss)
    message = r"your train_step \(this notebook\) returned float.*\(loss, logits\)"
    with pytest.raises(ValueError, match=message):
        train(pieces, mnist, n=100)


def test_fit_refuses_l2_beside_a_step(mnist):
    model = mlp((784, 10), 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="L2 is the step's job"):
        fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:10], mnist.y_train[:10], epochs=1,
            rng=np.random.default_rng(0), l2=1e-4, step=lambda *args: None, progress=False)
