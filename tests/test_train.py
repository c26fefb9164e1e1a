"""nnlib.train: fit learns, is deterministic, stops cleanly, and rejects bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nnlib.losses import cross_entropy
from nnlib.network import mlp
from nnlib.optim import SGD, Adam
from nnlib.train import History, TrainingDiverged, evaluate, fit, train_epoch

COURSE_SIZES = (784, 128, 64, 10)
# Measured: 10,000 training images, 3 epochs, seeds 0-7 reach 0.932-0.948 validation accuracy.
ACCURACY_FLOOR = 0.92


def random_data(n: int = 640, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def small_setup(seed: int = 0, lr: float = 0.1):
    rng = np.random.default_rng(seed)
    model = mlp((784, 32, 10), 0.1, rng)
    return model, SGD(model.parameters(), lr=lr, momentum=0.9), rng


# --- learning ------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_fit_on_10000_images_reaches_the_accuracy_floor(mnist, optimizer):
    rng = np.random.default_rng(1)
    model = mlp(COURSE_SIZES, 0.1, rng)
    if optimizer == "adam":
        opt = Adam(model.parameters(), lr=2e-3)
    else:
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(
        model, opt, mnist.x_train[:10_000], mnist.y_train[:10_000], epochs=3, rng=rng, l2=1e-4,
        x_val=mnist.x_val, y_val=mnist.y_val, progress=False,
    )
    assert history.val_acc[-1] >= ACCURACY_FLOOR
    assert history.train_loss[-1] < history.train_loss[0]


def test_history_has_one_entry_per_epoch(mnist):
    model, opt, rng = small_setup()
    history = fit(model, opt, mnist.x_train[:1000], mnist.y_train[:1000], epochs=3, rng=rng,
                  x_val=mnist.x_val[:500], y_val=mnist.y_val[:500], progress=False)
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"):
        assert len(getattr(history, name)) == 3, name
    assert history.epochs == 3 and history.stopped == ""


def test_validation_metrics_are_those_of_evaluate(mnist):
    model, opt, rng = small_setup()
    x_val, y_val = mnist.x_val[:500], mnist.y_val[:500]
    history = fit(model, opt, mnist.x_train[:1000], mnist.y_train[:1000], epochs=1, rng=rng,
                  x_val=x_val, y_val=y_val, progress=False)
    assert (history.val_loss[0], history.val_acc[0]) == pytest.approx(evaluate(model, x_val, y_val))


def test_fit_continues_a_given_history(mnist):
    model, opt, rng = small_setup()
    x, y = mnist.x_train[:500], mnist.y_train[:500]
    history = fit(model, opt, x, y, epochs=2, rng=rng, progress=False)
    same = fit(model, opt, x, y, epochs=1, rng=rng, progress=False, history=history)
    assert same is history and history.epochs == 3


def test_fit_sets_the_learning_rate_from_the_schedule():
    model, opt, rng = small_setup()
    before = [p.value.copy() for p in model.parameters()]
    x, y = random_data()
    history = fit(model, opt, x, y, epochs=2, rng=rng, schedule=lambda step: 0.0, progress=False)
    assert history.lr == [0.0, 0.0]
    for old, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, old)


def test_history_survives_a_json_round_trip(tmp_path):
    history = History(train_loss=[1.5, 0.5], train_acc=[0.6, 0.9], lr=[0.1, 0.0], epoch_time=[1.0, 1.1])
    history.save(tmp_path / "history.json")
    assert History.load(tmp_path / "history.json") == history


def test_evaluate_in_batches_equals_evaluate_at_once():
    model, _, _ = small_setup()
    x, y = random_data(100)
    loss, accuracy = evaluate(model, x, y, batch_size=7)
    logits = model.forward(x)
    assert loss == pytest.approx(cross_entropy(logits, y), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(logits.argmax(axis=1) == y))


# --- determinism -----------------------------------------------------------------


def train_once(mnist, seed: int):
    rng = np.random.default_rng(seed)
    model = mlp((784, 64, 10), 0.1, rng)
    opt = Adam(model.parameters(), lr=2e-3)
    history = fit(model, opt, mnist.x_train[:2000], mnist.y_train[:2000], epochs=2, rng=rng, l2=1e-4,
                  x_val=mnist.x_val[:1000], y_val=mnist.y_val[:1000], progress=False)
    results = dataclasses.replace(history, epoch_time=[])  # the only field allowed to vary
    return results, np.concatenate([p.value.ravel() for p in model.parameters()])


def test_same_seed_gives_identical_history_and_weights(mnist):
    history_a, weights_a = train_once(mnist, seed=5)
    history_b, weights_b = train_once(mnist, seed=5)
    assert history_a == history_b
    np.testing.assert_array_equal(weights_a, weights_b)


def test_different_seeds_give_different_weights(mnist):
    _, weights_a = train_once(mnist, seed=5)
    _, weights_b = train_once(mnist, seed=6)
    assert not np.array_equal(weights_a, weights_b)


# --- stopping: Ctrl-C and divergence -------------------------------------------------


def interrupt_at_step(optimizer, monkeypatch, step: int) -> None:
    """Make the optimizer raise KeyboardInterrupt (as Ctrl-C would) at its `step`-th step."""
    real_step = optimizer.step
    calls = []

    def step_or_interrupt():
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        real_step()

    monkeypatch.setattr(optimizer, "step", step_or_interrupt)


def test_ctrl_c_returns_the_history_of_completed_epochs(monkeypatch, capsys):
    model, opt, rng = small_setup()
    x, y = random_data(640)  # 10 batches of 64 per epoch
    interrupt_at_step(opt, monkeypatch, step=15)  # in the middle of epoch 2
    history = fit(model, opt, x, y, epochs=5, rng=rng, batch_size=64, progress=False)
    assert history.stopped == "interrupted"
    assert history.epochs == 1
    assert "interrupted" in capsys.readouterr().out


def test_ctrl_c_in_the_first_epoch_returns_an_empty_history(monkeypatch):
    model, opt, rng = small_setup()
    x, y = random_data(640)
    interrupt_at_step(opt, monkeypatch, step=3)
    history = fit(model, opt, x, y, epochs=5, rng=rng, batch_size=64, progress=False)
    assert history.stopped == "interrupted" and history.epochs == 0


def fit_diverging_in_epoch_2():
    """Plain SGD with lr 0.1 for the first epoch (10 batches), then 1e30: the weights
    overflow and the loss becomes NaN. (With momentum, such a step can instead kill
    every ReLU and leave a finite loss of ~1e30, which is not NaN/inf.)"""
    model, _, rng = small_setup()
    opt = SGD(model.parameters(), lr=0.1)
    x, y = random_data(640)
    with np.errstate(all="ignore"):
        fit(model, opt, x, y, epochs=5, rng=rng, batch_size=64, progress=False,
            schedule=lambda step: 0.1 if step < 10 else 1e30)


def test_nan_loss_raises_training_diverged_suggesting_a_smaller_lr():
    with pytest.raises(TrainingDiverged, match="try a smaller learning rate"):
        fit_diverging_in_epoch_2()


def test_diverged_error_keeps_the_completed_epochs():
    with pytest.raises(TrainingDiverged) as error:
        fit_diverging_in_epoch_2()
    assert error.value.history.epochs == 1
    assert np.isfinite(error.value.history.train_loss).all()
    assert error.value.history.stopped == "diverged"
    assert "epoch 2" in str(error.value)


def test_huge_constant_learning_rate_diverges_at_once():
    model, _, rng = small_setup()
    opt = SGD(model.parameters(), lr=1e30)
    x, y = random_data(640)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as error:
        fit(model, opt, x, y, epochs=5, rng=rng, batch_size=64, progress=False)
    assert error.value.history.epochs == 0


# --- bad input -------------------------------------------------------------------


def fit_small(x, y, **kwargs):
    model, opt, rng = small_setup()
    return fit(model, opt, x, y, epochs=1, rng=rng, progress=False, **kwargs)


def test_fit_rejects_unflattened_images_with_both_shapes():
    x, y = random_data(100)
    expected = r"fit: x: expected input of shape \(batch, 784\), got \(100, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        fit_small(x.reshape(100, 28, 28), y)


def test_fit_rejects_float64_images_for_a_float32_network():
    x, y = random_data(100)
    with pytest.raises(ValueError, match="fit: x: expected float32 input .*got float64"):
        fit_small(x.astype(np.float64), y)


def test_fit_rejects_integer_images():
    x, y = random_data(100)
    with pytest.raises(ValueError, match="expected a float array, got dtype uint8"):
        fit_small((x * 255).astype(np.uint8), y)


@pytest.mark.parametrize("bad_label", [10, -1])
def test_fit_rejects_labels_outside_0_to_9(bad_label):
    x, y = random_data(100)
    y[17] = bad_label
    with pytest.raises(ValueError, match=r"expected values in 0\.\.9"):
        fit_small(x, y)


def test_fit_rejects_float_labels():
    x, y = random_data(100)
    with pytest.raises(ValueError, match="integer"):
        fit_small(x, y.astype(np.float32))


def test_fit_rejects_length_mismatch():
    x, y = random_data(100)
    with pytest.raises(ValueError, match="x has 100 samples but y has 99 labels"):
        fit_small(x, y[:99])


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_fit_rejects_nan_or_inf_in_x(bad_value):
    x, y = random_data(100)
    x[3, 400] = bad_value
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_small(x, y)


def test_a_finite_but_exploded_loss_also_counts_as_diverged():
    """Momentum with a huge step can kill every ReLU and leave a finite loss of ~1e30."""
    model, _, rng = small_setup()
    opt = SGD(model.parameters(), lr=1e30, momentum=0.9)
    x, y = random_data(640)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="smaller learning rate"):
        fit(model, opt, x, y, epochs=5, rng=rng, batch_size=64, progress=False)


def test_fit_checks_the_validation_set_too():
    x, y = random_data(100)
    with pytest.raises(ValueError, match=r"fit \(validation\): labels: expected values in 0\.\.9"):
        fit_small(x, y, x_val=x[:10], y_val=y[:10] + 10)
    with pytest.raises(ValueError, match=r"fit \(validation\): x contains NaN"):
        fit_small(x, y, x_val=np.full((10, 784), np.nan, np.float32), y_val=y[:10])


def test_fit_needs_both_or_neither_of_x_val_and_y_val():
    x, y = random_data(100)
    with pytest.raises(ValueError, match="both x_val and y_val"):
        fit_small(x, y, x_val=x)


def test_evaluate_rejects_labels_outside_0_to_9():
    model, _, _ = small_setup()
    x, y = random_data(100)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        evaluate(model, x, y + 1)


def test_fit_runs_its_epochs_with_the_given_epoch_loop(mnist):
    """The lessons pass the learner's epoch loop: fit calls it once per epoch, with its own harness
    step, and records what it returns."""
    calls = []

    def epoch_loop(model, loss_fn, x, y, batch_size, lr, rng, step):
        calls.append((len(x), batch_size, lr))
        return train_epoch(model, loss_fn, x, y, batch_size, lr, rng, step)

    x, y = mnist.x_train[:600], mnist.y_train[:600]
    model = mlp((784, 16, 10), 0.0, np.random.default_rng(0))
    history = fit(model, SGD(model.parameters(), lr=0.1), x, y, epochs=2, batch_size=128,
                  rng=np.random.default_rng(1), progress=False, epoch_loop=epoch_loop)
    assert calls == [(600, 128, 0.1), (600, 128, 0.1)]
    model2 = mlp((784, 16, 10), 0.0, np.random.default_rng(0))
    reference = fit(model2, SGD(model2.parameters(), lr=0.1), x, y, epochs=2, batch_size=128,
                    rng=np.random.default_rng(1), progress=False)
    assert history.train_loss == reference.train_loss and history.train_acc == reference.train_acc

