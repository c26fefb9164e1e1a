"""Bad input to nnlib's API: every public function names the bad argument, what it expected and what
came, in one line; nothing trains or predicts silently wrong (see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlib.data import minibatches, one_hot
from nnlib.experiments import RunConfig
from nnlib.gradcheck import check_network, numerical_gradient
from nnlib.layers import Dropout, Linear, Parameter, ReLU
from nnlib.losses import SoftmaxCrossEntropy, add_l2_grad, cross_entropy, l2_penalty, softmax
from nnlib.network import Sequential, mlp
from nnlib.optim import SGD, Adam, constant_schedule, cosine_schedule, step_schedule
from nnlib.train import History, TrainingDiverged, evaluate, fit
from tests.bad_input import Case, case_id, expected, outcome

RNG = np.random.default_rng


def model(dropout: float = 0.1, dtype=np.float32) -> Sequential:
    return mlp((784, 16, 10), dropout, RNG(0), dtype=dtype)


def data(n: int = 64, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = RNG(1)
    return (rng.random((n, 784)) * scale).astype(np.float32), rng.integers(0, 10, n)


def fit_with(**changes):
    net = model()
    x, y = data()
    settings = {"epochs": 1, "rng": RNG(2), "batch_size": 32, "progress": False}
    settings.update(changes)
    optimizer = settings.pop("optimizer", None) or SGD(net.parameters(), lr=0.1)
    return fit(net, optimizer, x, y, **settings)


def fit_other_model(_):
    first = model()
    optimizer = SGD(first.parameters(), lr=0.1)
    second = model()  # the model cell re-run, the optimizer cell not
    x, y = data()
    fit(second, optimizer, x, y, epochs=1, rng=RNG(0), progress=False)


def with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[0, 0] = np.nan
    return x


def with_inf(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[1, 3] = np.inf
    return x


def backward_after_forward(layer, x, dy):
    layer.forward(x, training=True)
    return layer.backward(dy)


X, Y = data()
V = ValueError

CASES = [
    # --- fit: hyperparameters ----------------------------------------------------------------
    Case("fit epochs 2.5", lambda _: fit_with(epochs=2.5), V, ("fit", "epochs", "integer", "2.5")),
    Case("fit epochs -1", lambda _: fit_with(epochs=-1), V, ("fit", "epochs", "-1")),
    Case("fit epochs '3'", lambda _: fit_with(epochs="3"), V, ("epochs", "'3'")),
    Case("fit batch 32.5", lambda _: fit_with(batch_size=32.5), V, ("fit", "batch_size", "32.5")),
    Case("fit batch 0", lambda _: fit_with(batch_size=0), V, ("batch_size", "positive", "0")),
    Case("fit batch True", lambda _: fit_with(batch_size=True), V, ("batch_size", "True")),
    Case("fit rng None", lambda _: fit_with(rng=None), V, ("fit", "rng", "Generator", "None")),
    Case("fit rng int seed", lambda _: fit_with(rng=1), V, ("rng", "Generator", "1")),
    Case("fit l2 -1e-4", lambda _: fit_with(l2=-1e-4), V, ("fit", "l2", ">= 0", "-0.0001")),
    Case("fit l2 NaN", lambda _: fit_with(l2=math.nan), V, ("l2", "nan")),
    Case("fit l2 inf", lambda _: fit_with(l2=math.inf), V, ("l2", "inf")),
    Case("fit schedule not callable", lambda _: fit_with(schedule=0.1), V, ("schedule", "float")),
    Case("fit history a dict", lambda _: fit_with(history={}), V, ("history", "dict")),
    Case("fit optimizer of another model", fit_other_model, V, ("another model", "model.parameters()",
                                                                "optimizer cell")),
    Case("fit optimizer a string", lambda _: fit_with(optimizer="sgd"), V, ("optimizer", "str")),
    Case("fit model not a Sequential",
         lambda _: fit([Linear(784, 10, RNG(0))], SGD(model().parameters(), 0.1), X, Y, epochs=1, rng=RNG(0)),
         V, ("model", "Sequential", "list")),
    # --- fit: data ------------------------------------------------------------------------------
    Case("fit x with NaN", lambda _: fit(model(), None, with_nan(X), Y, epochs=1, rng=RNG(0)),
         V, ("fit", "NaN")),
    Case("fit float labels", lambda _: fit(model(), None, X, Y.astype(float), epochs=1, rng=RNG(0)),
         V, ("labels", "integer", "float64")),
    Case("fit label 10", lambda _: fit(model(), None, X, np.full(len(X), 10), epochs=1, rng=RNG(0)),
         V, ("labels", "0..9", "10")),
    Case("fit x and y lengths", lambda _: fit(model(), None, X, Y[:10], epochs=1, rng=RNG(0)),
         V, ("fit", "labels")),
    Case("fit uint8 images", lambda _: fit(model(), None, (X * 255).astype(np.uint8), Y, epochs=1, rng=RNG(0)),
         V, ("float", "uint8")),
    Case("fit 3-D images", lambda _: fit(model(), None, X.reshape(-1, 28, 28), Y, epochs=1, rng=RNG(0)),
         V, ("flatten",)),
    Case("fit only x_val", lambda _: fit_with(x_val=X), V, ("x_val", "y_val")),
    Case("fit diverges on 0-255 floats", lambda _: fit_with(optimizer=None, l2=0.0) if False else
         _fit_scaled(), TrainingDiverged, ("inputs reach", "[0, 1]", "255")),
    Case("fit diverges with l2 1e9", lambda _: fit_with(l2=1e9), TrainingDiverged, ("l2 = 1e+09", "too strong")),
    Case("fit diverges with lr 1e6", lambda _: _fit_lr(1e6), TrainingDiverged, ("smaller learning rate",)),
    # --- evaluate / predict ---------------------------------------------------------------------
    Case("evaluate batch -1", lambda _: evaluate(model(), X, Y, batch_size=-1), V, ("evaluate", "batch_size")),
    Case("evaluate batch 0.5", lambda _: evaluate(model(), X, Y, batch_size=0.5), V, ("batch_size", "0.5")),
    Case("evaluate empty", lambda _: evaluate(model(), X[:0], Y[:0]), V, ("evaluate", "empty")),
    Case("forward NaN", lambda _: model().forward(with_nan(X)), V, ("network input", "NaN")),
    Case("forward inf", lambda _: model().forward(with_inf(X)), V, ("network input", "infinite")),
    Case("predict NaN", lambda _: model().predict(with_nan(X)), V, ("NaN",)),
    Case("predict_proba inf", lambda _: model().predict_proba(with_inf(X)), V, ("infinite",)),
    Case("predict list", lambda _: model().predict(X.tolist()), V, ("NumPy array", "list")),
    Case("predict float64 into float32", lambda _: model().predict(X.astype(np.float64)), V,
         ("float32", "float64")),
    Case("predict_proba batch 0", lambda _: model().predict_proba(X, batch_size=0), V, ("batch_size",)),
    # --- model building ---------------------------------------------------------------------
    Case("Linear(0, 10)", lambda _: Linear(0, 10, RNG(0)), V, ("in_features", "positive", "0")),
    Case("Linear(784, 0)", lambda _: Linear(784, 0, RNG(0)), V, ("out_features", "0")),
    Case("Linear(784.0, 10)", lambda _: Linear(784.0, 10, RNG(0)), V, ("in_features", "784.0")),
    Case("Linear rng None", lambda _: Linear(4, 3, None), V, ("rng", "Generator", "None")),
    Case("Linear int dtype", lambda _: Linear(4, 3, RNG(0), dtype=np.int32), V, ("dtype", "float", "int32")),
    Case("Dropout rng None", lambda _: Dropout(0.5, None), V, ("Dropout", "rng", "None")),
    Case("Dropout p -0.1", lambda _: Dropout(-0.1, RNG(0)), V, ("p", "[0, 1)", "-0.1")),
    Case("Dropout p NaN", lambda _: Dropout(math.nan, RNG(0)), V, ("p", "nan")),
    Case("Dropout p 1", lambda _: Dropout(1.0, RNG(0)), V, ("p", "[0, 1)", "1")),
    Case("mlp dropout -0.1", lambda _: mlp((784, 16, 10), -0.1, RNG(0)), V, ("mlp", "dropout", "-0.1")),
    Case("mlp dropout NaN", lambda _: mlp((784, 16, 10), math.nan, RNG(0)), V, ("dropout", "nan")),
    Case("mlp size 0", lambda _: mlp((784, 0, 10), 0.1, RNG(0)), V, ("mlp", "sizes", "0")),
    Case("mlp one size", lambda _: mlp((784,), 0.1, RNG(0)), V, ("mlp", "sizes", "at least 2")),
    Case("mlp rng seed", lambda _: mlp((784, 10), 0.1, 3), V, ("rng", "Generator")),
    Case("Sequential of strings", lambda _: Sequential(["Linear"]), V, ("layer 0", "str", "forward")),
    Case("Sequential of a layer", lambda _: Sequential(Linear(3, 2, RNG(0))), V, ("list of layers", "Linear")),
    # --- backward shapes --------------------------------------------------------------------
    Case("Linear backward wrong dy", lambda _: backward_after_forward(Linear(4, 3, RNG(0), np.float64),
                                                                      np.ones((5, 4)), np.ones((5, 4))),
         V, ("backward", "dy", "(5, 3)", "(5, 4)")),
    Case("ReLU backward wrong dy", lambda _: backward_after_forward(ReLU(), np.ones((5, 4)), np.ones((4, 5))),
         V, ("ReLU.backward", "(5, 4)", "(4, 5)")),
    Case("Dropout backward wrong dy",
         lambda _: backward_after_forward(Dropout(0.5, RNG(0)), np.ones((5, 4)), np.ones((5,))),
         V, ("Dropout.backward", "(5, 4)", "(5,)")),
    Case("Linear backward list dy", lambda _: backward_after_forward(Linear(2, 2, RNG(0), np.float64),
                                                                     np.ones((1, 2)), [[1.0, 2.0]]),
         V, ("dy", "list")),
    # --- losses -----------------------------------------------------------------------------
    Case("softmax 1-D", lambda _: softmax(np.ones(10)), V, ("softmax", "(batch, classes)", "(10,)", "[None, :]")),
    Case("softmax int logits", lambda _: softmax(np.ones((2, 3), int)), V, ("softmax", "float", "int64")),
    Case("softmax list", lambda _: softmax([[1.0, 2.0]]), V, ("softmax", "list")),
    Case("cross_entropy 1-D", lambda _: cross_entropy(np.ones(10), np.array([1])), V, ("cross_entropy", "(10,)")),
    Case("cross_entropy float labels", lambda _: cross_entropy(np.ones((2, 3)), np.array([0.0, 2.7])), V,
         ("labels", "integer")),
    Case("SoftmaxCrossEntropy 3-D", lambda _: SoftmaxCrossEntropy().forward(np.ones((2, 3, 4)), np.zeros(2, int)),
         V, ("SoftmaxCrossEntropy", "(2, 3, 4)")),
    Case("l2_penalty lam -1", lambda _: l2_penalty(model().weights(), -1.0), V, ("l2_penalty", "lam", "-1")),
    Case("l2_penalty lam NaN", lambda _: l2_penalty(model().weights(), math.nan), V, ("lam", "nan")),
    Case("l2_penalty arrays", lambda _: l2_penalty([np.ones((2, 2))], 0.1), V, ("l2_penalty", "Parameters")),
    Case("add_l2_grad lam '0.1'", lambda _: add_l2_grad(model().weights(), "0.1"), V, ("add_l2_grad", "'0.1'")),
    # --- optimizers and schedules -------------------------------------------------------------
    Case("SGD(model)", lambda _: SGD(model(), lr=0.1), V, ("SGD", "params", "model.parameters()", "Sequential")),
    Case("SGD(model.parameters)", lambda _: SGD(model().parameters, lr=0.1), V, ("params", "call it")),
    Case("SGD([])", lambda _: SGD([], lr=0.1), V, ("SGD", "non-empty")),
    Case("SGD arrays", lambda _: SGD([np.ones(3)], lr=0.1), V, ("Parameters", "not all")),
    Case("SGD lr '0.1'", lambda _: SGD(model().parameters(), lr="0.1"), V, ("SGD", "lr", "'0.1'")),
    Case("SGD lr 0", lambda _: SGD(model().parameters(), lr=0), V, ("lr", "positive", "0")),
    Case("SGD lr NaN", lambda _: SGD(model().parameters(), lr=math.nan), V, ("lr", "nan")),
    Case("SGD lr -0.1", lambda _: SGD(model().parameters(), lr=-0.1), V, ("lr", "-0.1")),
    Case("SGD momentum 1", lambda _: SGD(model().parameters(), lr=0.1, momentum=1.0), V, ("momentum", "[0, 1)")),
    Case("SGD momentum NaN", lambda _: SGD(model().parameters(), lr=0.1, momentum=math.nan), V, ("momentum", "nan")),
    Case("Adam eps 0", lambda _: Adam(model().parameters(), eps=0.0), V, ("Adam", "eps", "positive", "0")),
    Case("Adam eps -1e-8", lambda _: Adam(model().parameters(), eps=-1e-8), V, ("eps", "-1e-08")),
    Case("Adam eps NaN", lambda _: Adam(model().parameters(), eps=math.nan), V, ("eps", "nan")),
    Case("Adam beta1 1", lambda _: Adam(model().parameters(), betas=(1.0, 0.999)), V, ("beta1", "[0, 1)")),
    Case("Adam betas a number", lambda _: Adam(model().parameters(), betas=0.9), V, ("betas", "pair", "0.9")),
    Case("cosine lr -0.1", lambda _: cosine_schedule(-0.1, 100), V, ("cosine_schedule", "lr", "-0.1")),
    Case("cosine lr NaN", lambda _: cosine_schedule(math.nan, 100), V, ("cosine_schedule", "lr", "nan")),
    Case("cosine steps 10.5", lambda _: cosine_schedule(0.1, 10.5), V, ("total_steps", "10.5")),
    Case("cosine final above lr", lambda _: cosine_schedule(0.1, 10, final_lr=0.5), V, ("final_lr", "0.5")),
    Case("step gamma 0", lambda _: step_schedule(0.1, 10, gamma=0.0), V, ("step_schedule", "gamma", "0")),
    Case("step gamma -0.5", lambda _: step_schedule(0.1, 10, gamma=-0.5), V, ("gamma", "-0.5")),
    Case("step size 0", lambda _: step_schedule(0.1, 0), V, ("step_size", "positive")),
    Case("constant lr 0", lambda _: constant_schedule(0.0), V, ("constant_schedule", "lr", "0")),
    # --- data helpers, run settings, gradient checks -----------------------------------------
    Case("one_hot float labels", lambda _: one_hot(np.array([0.0, 2.7])), V, ("one_hot", "integer", "float64")),
    Case("one_hot classes 0", lambda _: one_hot(np.array([0]), classes=0), V, ("one_hot", "classes", "0")),
    Case("minibatches batch 0", lambda _: list(minibatches(X, Y, 0)), V, ("minibatches", "batch_size", "0")),
    Case("minibatches rng seed", lambda _: list(minibatches(X, Y, 8, rng=3)), V, ("minibatches", "rng")),
    Case("RunConfig momentum with sgd", lambda _: RunConfig("x", "sgd", lr=0.1, dropout=0.1, l2=0.0, momentum=0.9),
         V, ("momentum", "only", "'sgd'")),
    Case("RunConfig dropout -0.1", lambda _: RunConfig("x", "adam", lr=0.1, dropout=-0.1, l2=0.0), V,
         ("dropout", "-0.1")),
    Case("RunConfig l2 NaN", lambda _: RunConfig("x", "adam", lr=0.1, dropout=0.1, l2=math.nan), V, ("l2", "nan")),
    Case("RunConfig seed -1", lambda _: RunConfig("x", "adam", lr=0.1, dropout=0.1, l2=0.0, seed=-1), V,
         ("seed", "-1")),
    Case("RunConfig optimizer rmsprop", lambda _: RunConfig("x", "rmsprop", lr=0.1, dropout=0.1, l2=0.0), V,
         ("optimizer", "rmsprop")),
    Case("History.load of another JSON", lambda tmp: _load_other_json(tmp), V, ("not a saved History",)),
    Case("numerical_gradient int x", lambda _: numerical_gradient(lambda: 0.0, np.arange(3)), V,
         ("numerical_gradient", "float", "int64")),
    Case("numerical_gradient eps 0", lambda _: numerical_gradient(lambda: 0.0, np.ones(3), eps=0.0), V,
         ("eps", "positive", "0")),
    Case("check_network samples 0", lambda _: check_network(model(0.0, np.float64), X[:4].astype(np.float64),
                                                            Y[:4], RNG(0), samples=0), V, ("samples", "0")),
]


def _fit_scaled():
    net = mlp((784, 16, 10), 0.0, RNG(0))
    x, y = data(scale=255.0)
    return fit(net, SGD(net.parameters(), lr=0.5), x, y, epochs=2, rng=RNG(0), progress=False)


def _fit_lr(lr: float):
    net = mlp((784, 16, 10), 0.0, RNG(0))
    x, y = data()
    return fit(net, SGD(net.parameters(), lr=lr), x, y, epochs=2, rng=RNG(0), progress=False)


def _load_other_json(tmp):
    path = tmp / "other.json"
    path.write_text('{"loss": [1, 2]}')
    History.load(path)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_api_input_fails_clearly(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_the_optimizer_check_allows_a_model_whose_parameters_it_holds():
    """Guards the case above: the same model and optimizer train (the loss changes)."""
    net = model(0.0)
    optimizer = SGD(net.parameters(), lr=0.5)
    before = net.parameters()[0].value.copy()
    fit(net, optimizer, X, Y, epochs=1, rng=RNG(0), progress=False)
    assert not np.array_equal(before, net.parameters()[0].value)


def test_parameter_arrays_still_work_for_existing_callers():
    p = Parameter(np.ones(3))
    assert SGD([p], lr=0.1).lr == 0.1
