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
LESSON_03 = ("linear_backward", "relu_backward", "softmax_cross_entropy_backward", "train_step",
             "forward_layers", "backward_layers", "batch_indices", "train_epoch")


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
               y_val=mnist.y_val[:2000], step=pieces.step(), loss_fn=pieces.loss(),
               epoch_loop=pieces.epoch_loop(), progress=False)


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
    assert "11 of 11 pieces are nnlib's" in printed  # softmax is not used by training, the verdict says so
    assert "this run does not use softmax: not judged here" in printed  # 12 lines said "using nnlib's"
    assert "none of this run was your code yet" in printed
    assert "your code ran" not in printed


def test_one_borrowed_piece_is_no_success_and_is_named(mnist, capsys):
    def not_yet(*args):
        raise NotImplementedError

    pieces = lesson_03_pieces(capsys, relu_backward=not_yet)
    history = train(pieces, mnist)
    assert not pieces.verdict(history, expected_acc=0.85)
    printed = capsys.readouterr().out
    assert "✅" not in printed and "1 of 11 pieces are nnlib's (relu_backward)" in printed
    assert "nnlib's ran in the backward pass (relu_backward)" in printed


def test_reference_answers_train_with_the_learners_step_to_97_percent(mnist, capsys):
    pieces = lesson_03_pieces(capsys)
    model = pieces.network(SIZES, 0.0, np.random.default_rng(1))
    step = pieces.step()
    assert step.train_step is pieces.get("train_step")
    history = fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train, mnist.y_train, epochs=6,
                  batch_size=50, rng=np.random.default_rng(2), x_val=mnist.x_val, y_val=mnist.y_val,
                  step=step, loss_fn=pieces.loss(), epoch_loop=pieces.epoch_loop(), progress=False)
    assert history.val_acc[-1] >= 0.97
    assert pieces.verdict(history, expected_acc=0.97)
    printed = capsys.readouterr().out
    assert "✅ your network learned" in printed and "every part of this run was your code" in printed
    assert "epoch loop" in printed and "nnlib's harness ran around it: the progress bar" in printed


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
    message = r"your train_step \(this notebook\) returned a float.*\(loss, logits\)"
    with pytest.raises(ValueError, match=message):
        train(pieces, mnist, n=100)


def test_a_step_that_climbs_blows_up_and_the_error_names_it_not_the_learning_rate(mnist, capsys):
    def uphill(model, loss_fn, xb, yb, lr):
        logits = model.forward(xb, training=True)
        loss = loss_fn.forward(logits, yb)
        model.backward(loss_fn.backward())
        for parameter in model.parameters():
            parameter.value += lr * parameter.grad
        return loss, logits

    pieces = lesson_03_pieces(capsys, train_step=uphill)
    message = r"failed their checks \(your train_step \(this notebook\)\).*a smaller learning rate will not"
    with pytest.raises(FloatingPointError, match=message):
        train(pieces, mnist, n=20_000, epochs=2)


def test_fit_refuses_l2_beside_a_step(mnist):
    model = mlp((784, 10), 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="L2 is the step's job"):
        fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:10], mnist.y_train[:10], epochs=1,
            rng=np.random.default_rng(0), l2=1e-4, step=lambda *args: None, progress=False)


# --- lessons 04 to 07: the same step, with dropout, L2 and optimizers plugged in ---------------

LESSONS = ("02_forward_pass.ipynb", "03_backprop.ipynb", "04_dropout.ipynb", "05_l2_regularization.ipynb",
           "06_optimizers.ipynb")


@pytest.fixture(scope="module")
def all_pieces() -> assemble.Pieces:
    return assemble.gather(earlier=LESSONS, folder=NOTEBOOKS)


def with_replaced(pieces: assemble.Pieces, capsys, **replaced) -> assemble.Pieces:
    """Every reference answer, with `replaced` pieces swapped in."""
    swapped = assemble.gather(here={**pieces.functions, **replaced})
    capsys.readouterr()
    return swapped


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_the_learners_step_with_an_optimizer_plugged_in_takes_nnlibs_steps(all_pieces, mnist, kind):
    """20 steps of the learner's train_step with the optimizer's direction == nnlib's fit and optimizer."""
    from nnlib.optim import Adam, cosine_schedule

    lr = 1e-3 if kind == "adam" else 0.05
    x, y = mnist.x_train[:20 * 128], mnist.y_train[:20 * 128]
    reference = mlp(SIZES, 0.1, np.random.default_rng(1))
    optimizer = (Adam(reference.parameters(), lr=lr) if kind == "adam" else
                 SGD(reference.parameters(), lr=lr, momentum=0.9 if kind == "momentum" else 0.0))
    fit(reference, optimizer, x, y, epochs=1, rng=np.random.default_rng(2), l2=1e-4,
        schedule=cosine_schedule(lr, 20), progress=False)
    yours = all_pieces.network(SIZES, 0.1, np.random.default_rng(1))
    your_optimizer = all_pieces.optimizer(kind, yours.parameters(), lr, momentum=0.9)
    fit(yours, your_optimizer, x, y, epochs=1, rng=np.random.default_rng(2), progress=False,
        schedule=all_pieces.cosine_schedule(lr, 20), step=all_pieces.step(your_optimizer, l2=1e-4),
        loss_fn=all_pieces.loss())
    assert your_optimizer.steps == 20
    for mine, theirs in zip(yours.parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(mine.value, theirs.value, rtol=0, atol=1e-4 if kind == "adam" else 1e-6,
                                   err_msg=mine.name)


def layer_by_layer_step(model, loss_fn, xb, yb, lr):
    """A correct train_step that walks `model.layers` (as a learner may, after lesson 02's
    `Sequential`) instead of `model.parameters()`."""
    logits = model.forward(xb, training=True)
    loss = loss_fn.forward(logits, yb)
    model.backward(loss_fn.backward())
    for layer in model.layers:
        for parameter in layer.parameters():
            parameter.value -= lr * parameter.grad
    return loss, logits


def test_a_step_that_walks_the_layers_passes_and_trains_with_l2_and_an_optimizer_too(all_pieces, mnist,
                                                                                    capsys):
    """Lessons 05-07 hand the step a wrapped network: it must still look like the network of
    lesson 03, whose check the step passed (an AttributeError about a class the learner never met
    would be a riddle)."""
    from nnlib.course import checks
    from nnlib.course.training_step import NetworkForStep

    checks.train_step(layer_by_layer_step)
    pieces = with_replaced(all_pieces, capsys, train_step=layer_by_layer_step)
    assert "train_step" not in pieces.failed
    x, y = mnist.x_train[:10 * 128], mnist.y_train[:10 * 128]
    runs = []
    for train_step in (layer_by_layer_step, reference("train_step")):
        pieces.functions["train_step"] = train_step
        model = pieces.network(SIZES, 0.1, np.random.default_rng(1))
        optimizer = pieces.optimizer("adam", model.parameters(), 1e-3)
        fit(model, optimizer, x, y, epochs=1, rng=np.random.default_rng(2), progress=False,
            step=pieces.step(optimizer, l2=1e-4), loss_fn=pieces.loss())
        runs.append([parameter.value.copy() for parameter in model.parameters()])
    for mine, reference_values in zip(*runs, strict=True):
        np.testing.assert_array_equal(mine, reference_values)
    wrapped = NetworkForStep(mlp(SIZES, 0.0, np.random.default_rng(1)), 1e-4, lambda weights, lam: None, None)
    with pytest.raises(AttributeError, match="no_such_thing"):
        wrapped.no_such_thing  # noqa: B018 (other names stay errors)


def test_zero_gradients_stop_learning_and_the_verdict_names_the_piece(mnist, capsys):
    def zero_gradients(dy, x, W):
        return dy @ W.T, np.zeros_like(W), np.zeros(W.shape[1], dtype=W.dtype)

    pieces = lesson_03_pieces(capsys, linear_backward=zero_gradients)
    history = train(pieces, mnist)
    assert history.val_acc[-1] < 0.3
    assert not pieces.verdict(history, expected_acc=0.85)
    printed = capsys.readouterr().out
    assert "❌ your network did not learn" in printed and "your linear_backward failed its check" in printed


def run_04(pieces: assemble.Pieces, mnist, p: float) -> tuple[History, float]:
    """Lesson 04's run, shortened: your network with dropout p; returns its history and its
    validation loss measured by `evaluate` with your loss."""
    from nnlib.train import evaluate

    model = pieces.network(SIZES, p, np.random.default_rng(1))
    history = fit(model, SGD(model.parameters(), lr=0.1), mnist.x_train[:5000], mnist.y_train[:5000],
                  epochs=2, batch_size=100, rng=np.random.default_rng(2), x_val=mnist.x_val[:2000],
                  y_val=mnist.y_val[:2000], step=pieces.step(), loss_fn=pieces.loss(), progress=False)
    val_loss, _ = evaluate(model, mnist.x_val[:2000], mnist.y_val[:2000], loss_fn=pieces.loss())
    return history, val_loss


def test_dropout_without_its_scale_changes_the_comparison_and_the_text_says_why(all_pieces, mnist, capsys):
    def unscaled(x, p, rng, training):
        if not training or p == 0:
            return x, None
        mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
        return x * mask, mask

    pieces = with_replaced(all_pieces, capsys, dropout_forward=unscaled)
    _, reference_loss = run_04(all_pieces, mnist, 0.5)
    history, unscaled_loss = run_04(pieces, mnist, 0.5)
    assert abs(unscaled_loss - reference_loss) > 0.05 * reference_loss  # training shows the bug
    assert not pieces.verdict(history, expected_acc=0.5)
    line = pieces.explain(["dropout_forward", "dropout_backward"], "this comparison")
    printed = capsys.readouterr().out
    assert "your dropout_forward failed its check" in printed
    assert line == "⚠️ this comparison depends on pieces that are not your correct code yet: your " \
                   "dropout_forward failed its check"
    assert all_pieces.explain(["dropout_forward", "dropout_backward"]) == ""


def test_an_l2_gradient_twice_too_large_decays_blank_pixels_twice_as_fast_and_is_named(all_pieces, mnist,
                                                                                      capsys):
    def doubled(params, lam):
        for p in params:
            if p.value.ndim == 2:
                p.grad += 2 * lam * p.value

    pieces = with_replaced(all_pieces, capsys, add_l2_grad=doubled)
    assert "you added 2 * lam * W" in pieces.failed["add_l2_grad"]
    x, y = mnist.x_train[:2000], mnist.y_train[:2000]
    blank = np.flatnonzero(x.max(axis=0) == 0)
    model = pieces.network(SIZES, 0.0, np.random.default_rng(1))
    before = np.linalg.norm(model.weights()[0].value[blank])
    optimizer = SGD(model.parameters(), lr=0.1)
    history = fit(model, optimizer, x, y, epochs=2, batch_size=100, rng=np.random.default_rng(2),
                  x_val=mnist.x_val[:1000], y_val=mnist.y_val[:1000], step=pieces.step(l2=0.01),
                  loss_fn=pieces.loss(), progress=False)
    kept = np.linalg.norm(model.weights()[0].value[blank]) / before
    assert kept == pytest.approx((1 - 0.1 * 2 * 0.01) ** optimizer.steps, rel=1e-3)  # twice the decay
    assert kept != pytest.approx((1 - 0.1 * 0.01) ** optimizer.steps, rel=1e-2)
    pieces.verdict(history, expected_acc=0.5)
    printed = capsys.readouterr().out
    assert "your add_l2_grad failed its check" in printed and "✅" not in printed


def adam_run(pieces: assemble.Pieces, mnist, lr: float = 1e-3) -> History:
    """Lesson 06's Adam run, shortened."""
    model = pieces.network(SIZES, 0.1, np.random.default_rng(1))
    optimizer = pieces.optimizer("adam", model.parameters(), lr)
    return fit(model, optimizer, mnist.x_train[:5000], mnist.y_train[:5000], epochs=2,
               rng=np.random.default_rng(1), x_val=mnist.x_val[:2000], y_val=mnist.y_val[:2000],
               step=pieces.step(optimizer, l2=1e-4), loss_fn=pieces.loss(), epoch_loop=pieces.epoch_loop(),
               progress=False)


def test_adam_without_bias_correction_trains_differently_and_only_adams_verdict_names_it(all_pieces, mnist,
                                                                                          capsys):
    def uncorrected(w, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        return w - lr * m / (np.sqrt(v) + eps), m, v

    pieces = with_replaced(all_pieces, capsys, adam_step=uncorrected)
    assert "adam_step" in pieces.failed
    reference = adam_run(all_pieces, mnist)
    history = adam_run(pieces, mnist)
    assert history.train_loss[0] != pytest.approx(reference.train_loss[0], rel=1e-3)  # other steps
    assert not pieces.verdict(history, expected_acc=0.5, without=["sgd_momentum_step"])
    assert "your adam_step failed its check" in capsys.readouterr().out
    pieces.verdict(history, expected_acc=0.5, without=["adam_step"], run="momentum 0.9, lr=0.05")  # as in 06
    printed = capsys.readouterr().out
    assert "your adam_step failed" not in printed
    (unused,) = [line for line in printed.splitlines() if "this run does not use" in line]
    assert "adam_step" in unused and unused.endswith(": not judged here")  # why its failure is not named
    # the ✅ just after a failed adam_step check names the run it is for, which is not Adam's
    assert "✅ your network (momentum 0.9, lr=0.05) learned" in printed


def test_lesson_07s_run_of_your_network_uses_your_step_and_its_row_says_what_was_borrowed(all_pieces, mnist,
                                                                                          capsys):
    from nnlib.experiments import COURSE_RUNS, with_overrides

    def not_yet(*args):
        raise NotImplementedError

    pieces = with_replaced(all_pieces, capsys, softmax=not_yet, train_step=not_yet)
    config = with_overrides(next(c for c in COURSE_RUNS if c.name == "Adam"), epochs=1, name="Your network")
    calls = []
    original = pieces.step

    def counting_step(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    pieces.step = counting_step
    result = assemble.train_course_run(config, mnist, pieces, progress=False)
    assert calls == [{"l2": config.l2}] and result.val_acc > 0.9
    assert result.config.l2 == config.l2
    assert pieces.table_note() == " (1 of 17 pieces nnlib's)"  # train_step; softmax and momentum unused
    probs = pieces.predict_proba(result.model, mnist.x_test[:100])
    assert pieces.table_note() == " (2 of 18 pieces nnlib's)"
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert all_pieces.table_note() == ""


def test_claims_compare_numbers_as_they_are():
    from nnlib.course import claims

    assert claims.change(0.142, 0.173) == "lower (better): 0.142 against 0.173"
    better = "higher (better): 96.26% against 95.68%"
    assert claims.change(0.9626, 0.9568, ".2%", lower_is_better=False) == better
    assert claims.change(0.2, 0.1) == "higher (worse): 0.200 against 0.100"


def test_every_comparison_a_lesson_prints_names_the_pieces_it_depends_on():
    """A cell that prints how two of your runs compare (claims.change) also calls your.explain,
    which names the failed or borrowed pieces the comparison depends on (06's cosine race too)."""
    import nbformat

    for path in sorted(NOTEBOOKS.glob("0[3-7]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "claims.change(" in cell.source:
                assert "your.explain(" in cell.source, f"{path.name}: {cell.source[:200]}"


def test_text_that_promises_nnlibs_curves_says_it_needs_pieces_that_pass():
    """'Your curves follow nnlib's' holds only for pieces that pass their checks: a ×100
    cross_entropy or an uncorrected adam_step draws other curves (lesson 07 said it unconditionally)."""
    import nbformat

    for path in sorted(NOTEBOOKS.glob("0[3-7]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for paragraph in cell.source.split("\n\n"):
                promise = "follow those of nnlib" in paragraph or "on top of nnlib" in paragraph
                if "curves" in paragraph and promise:
                    assert "pass" in paragraph, f"{path.name}: {paragraph}"


def test_lesson_03s_verdict_cell_after_your_training_stopped_with_an_error(capsys):
    """A train_step that climbs stops its training with an error naming it; the next cell (run with
    Shift + Enter) says your network did not finish instead of raising KeyError: 'your network'."""
    import nbformat

    cells = nbformat.read(NOTEBOOKS / "03_backprop.ipynb", as_version=4).cells
    (cell,) = [c for c in cells if c.cell_type == "code" and "your.verdict(" in c.source]
    nnlibs = History(train_loss=[0.1], train_acc=[0.98], val_loss=[0.09], val_acc=[0.975], lr=[0.1],
                     epoch_time=[1.0])
    pieces = assemble.Pieces(failed={"train_step": "you stepped uphill"},
                             where={"train_step": "this notebook"})
    exec(cell.source, {"histories": {"nnlib's network": nnlibs}, "EPOCHS": 6, "your": pieces})  # noqa: S102
    printed = capsys.readouterr().out
    assert "❌ your network did not finish training: the error under the cell above says why" in printed


@pytest.mark.parametrize("beside", [None, History(train_loss=[0.2], train_acc=[0.95], val_loss=[0.2],
                                                  val_acc=[0.9412], lr=[0.1], epoch_time=[1.0])],
                         ids=["without nnlib's run", "with nnlib's run"])
def test_every_check_passed_but_no_learning_points_at_nnlibs_run_not_the_settings(beside, capsys):
    """Issue 27: a bug the checks cannot see (a step that kept adding old gradients, at 9.91%) got
    "all your pieces passed their checks: did you change the learning rate, ...?"."""
    pieces = lesson_03_pieces(capsys)
    history = History(train_loss=[2.3], train_acc=[0.1], val_loss=[2.3], val_acc=[0.0991], lr=[0.1],
                      epoch_time=[1.0])
    assert not pieces.verdict(history, expected_acc=0.97, nnlib_run=beside)
    printed = capsys.readouterr().out
    assert "did you change the learning rate" not in printed
    assert "cannot see every bug" in printed and "nnlib's run beside it" in printed
    assert beside is None or "94.12% with the same settings" in printed
