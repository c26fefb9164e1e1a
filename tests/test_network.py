"""nnlib.network: Sequential, the mlp builder, prediction and save/load."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from nnlib.layers import Dropout, Linear, ReLU
from nnlib.modelfiles import load_model, load_weights, save_model
from nnlib.network import (
    Sequential,
    backward_layers,
    forward_layers,
    mlp,
)


def small_model(seed: int = 0, sizes=(20, 16, 12, 10), dropout: float = 0.2):
    return mlp(sizes, dropout, np.random.default_rng(seed))


def inputs(n: int = 32, features: int = 20, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, features), dtype=np.float32)


# --- building and running ------------------------------------------------------


def test_mlp_builds_linear_relu_dropout_blocks_ending_in_linear():
    model = mlp((784, 128, 64, 10), 0.1, np.random.default_rng(0))
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear]
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(784, 128), (128, 64), (64, 10)]


def test_mlp_without_dropout_has_no_dropout_layers():
    model = mlp((784, 128, 64, 10), 0.0, np.random.default_rng(0))
    assert not any(isinstance(layer, Dropout) for layer in model.layers)


def test_mlp_needs_at_least_two_sizes():
    with pytest.raises(ValueError, match="at least"):
        mlp((784,), 0.0, np.random.default_rng(0))


def test_forward_gives_float32_logits_per_sample():
    logits = small_model().forward(inputs(32))
    assert logits.shape == (32, 10)
    assert logits.dtype == np.float32


def test_evaluation_mode_is_deterministic():
    model, x = small_model(), inputs()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))


def test_training_mode_applies_dropout():
    model, x = small_model(), inputs()
    assert not np.array_equal(model.forward(x, training=True), model.forward(x, training=True))


def test_weights_are_the_weight_matrices_without_biases():
    model = small_model()
    assert [w.shape for w in model.weights()] == [(20, 16), (16, 12), (12, 10)]


def test_backward_without_input_grad_gives_the_same_parameter_grads():
    model, x = small_model(dropout=0.0), inputs()
    dy = np.random.default_rng(2).standard_normal((32, 10)).astype(np.float32)
    model.forward(x, training=True)
    dx = model.backward(dy)
    with_input = [p.grad.copy() for p in model.parameters()]
    assert dx.shape == x.shape
    model.forward(x, training=True)
    assert model.backward(dy, need_input_grad=False) is None
    for before, p in zip(with_input, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, before)


def test_predict_proba_rows_are_probabilities():
    probs = small_model().predict_proba(inputs())
    assert probs.shape == (32, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_is_the_argmax_of_the_logits():
    model, x = small_model(), inputs()
    np.testing.assert_array_equal(model.predict(x), model.forward(x).argmax(axis=1))


def test_predict_in_batches_equals_predict_at_once():
    model, x = small_model(), inputs(50)
    np.testing.assert_allclose(model.predict_proba(x, batch_size=7), model.predict_proba(x), rtol=1e-6)


# --- bad input -----------------------------------------------------------------


def test_unflattened_images_name_the_input_and_both_shapes():
    model = mlp((784, 32, 10), 0.0, np.random.default_rng(0))
    expected = r"network input: expected input of shape \(batch, 784\), got \(5, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        model.forward(np.zeros((5, 28, 28), np.float32))


def test_unflattened_images_get_a_hint_to_reshape():
    model = mlp((784, 32, 10), 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"reshape\(len\(x\), 784\)"):
        model.predict(np.zeros((5, 28, 28), np.float32))


def test_float64_input_to_a_float32_network_names_both_dtypes_and_the_fixes():
    model = mlp((784, 32, 10), 0.0, np.random.default_rng(0))
    expected = r"network input: expected float32 input .*got float64; convert it with x.astype\(np.float32\)"
    with pytest.raises(ValueError, match=expected):
        model.predict(np.zeros((5, 784)))
    with pytest.raises(ValueError, match=r"Linear1: expected float32 input"):
        model.layers[0].forward(np.zeros((5, 784)))
    double = mlp((784, 32, 10), 0.0, np.random.default_rng(0), dtype=np.float64)
    assert double.dtype == np.float64 and double.forward(np.zeros((5, 784))).dtype == np.float64


def test_integer_images_are_a_value_error():
    model = mlp((784, 32, 10), 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="expected a float array, got dtype uint8"):
        model.forward(np.zeros((5, 784), np.uint8))


def test_a_list_is_not_accepted_as_input():
    with pytest.raises(ValueError, match="NumPy array"):
        small_model().forward([[0.0] * 20])


# --- save / load ---------------------------------------------------------------


def test_save_and_load_model_give_the_same_predictions(tmp_path):
    model, x = small_model(), inputs()
    save_model(model, tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    assert loaded.architecture() == model.architecture()


def test_loaded_model_keeps_float32_parameters(tmp_path):
    save_model(small_model(), tmp_path / "model.npz")
    assert all(p.value.dtype == np.float32 for p in load_model(tmp_path / "model.npz").parameters())


def test_load_weights_into_a_model_of_the_same_architecture(tmp_path):
    trained, fresh, x = small_model(seed=0), small_model(seed=1), inputs()
    trained.save(tmp_path / "model.npz")
    load_weights(fresh, tmp_path / "model.npz")
    np.testing.assert_array_equal(fresh.forward(x), trained.forward(x))


def test_save_leaves_no_temporary_files(tmp_path):
    save_model(small_model(), tmp_path / "model.npz")
    save_model(small_model(seed=1), tmp_path / "model.npz")  # overwrite
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_model(small_model(), path)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_model(small_model(seed=1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_load_weights_of_another_architecture_is_a_clear_value_error(tmp_path):
    save_model(small_model(sizes=(20, 16, 12, 10)), tmp_path / "model.npz")
    other = small_model(sizes=(20, 32, 10))
    with pytest.raises(ValueError, match="architecture mismatch: file has 20-16-12-10, model is 20-32-10"):
        load_weights(other, tmp_path / "model.npz")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_a_value_error(tmp_path, keep):
    path = tmp_path / "model.npz"
    save_model(small_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="not a valid nnlib model file"):
        load_model(path)


def test_npz_without_architecture_is_a_value_error(tmp_path):
    np.savez(tmp_path / "other.npz", param0=np.zeros(3))
    with pytest.raises(ValueError, match="model file"):
        load_model(tmp_path / "other.npz")


@pytest.mark.parametrize(
    "header", ['{"format": "nnlib-model"}', '["not", "a", "dict"]', '{"format": "nnlib-model", "layers": 3}']
)
def test_damaged_architecture_header_is_a_value_error(tmp_path, header):
    np.savez(tmp_path / "odd.npz", architecture=np.array(header), param0=np.zeros(3))
    with pytest.raises(ValueError, match="model file"):
        load_model(tmp_path / "odd.npz")


def test_saved_files_are_readable_by_others_not_private(tmp_path):
    save_model(small_model(), tmp_path / "model.npz")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "nothing.npz")


class CreatesMarkerWhenUnpickled:
    """Unpickling this calls os.mkdir(marker): a harmless stand-in for malicious code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def write_pickle_model(kind: str, path, marker) -> None:
    model = small_model()
    payload = np.array([CreatesMarkerWhenUnpickled(marker)], dtype=object)
    arrays = {f"param{i}": p.value for i, p in enumerate(model.parameters())}
    arrays["architecture"] = np.array('{"format": "nnlib-model", "version": 1, "layers": []}')
    if kind == "object array as parameter":
        arrays["param0"] = payload
        np.savez(path, **arrays)  # np.savez pickles object arrays
    elif kind == "object array as header":
        arrays["architecture"] = payload
        np.savez(path, **arrays)
    else:  # a plain pickle file named .npz
        path.write_bytes(pickle.dumps(CreatesMarkerWhenUnpickled(marker)))


@pytest.mark.parametrize("kind", ["object array as parameter", "object array as header", "plain pickle"])
def test_pickled_objects_are_refused_and_never_run(tmp_path, kind):
    path, marker = tmp_path / "evil.npz", tmp_path / "code-ran"
    write_pickle_model(kind, path, marker)
    with pytest.raises(ValueError, match="pickled"):
        load_model(path)
    with pytest.raises(ValueError, match="pickled"):
        load_weights(small_model(), path)
    assert not marker.exists()


def test_the_pickle_payload_would_run_if_unpickled(tmp_path):
    """Guards the test above: its payload really executes when pickles are allowed."""
    path, marker = tmp_path / "evil.npz", tmp_path / "code-ran"
    write_pickle_model("object array as parameter", path, marker)
    with np.load(path, allow_pickle=True) as data:
        data["param0"]
    assert marker.exists()


def test_sequential_runs_its_layers_with_the_loops_it_was_given():
    """"Your network" is a Sequential with the learner's loops: forward and backward call them."""
    calls = []

    def forward(layers, x, training):
        calls.append(("forward", len(layers), training))
        return forward_layers(layers, x, training)

    def backward(layers, dy):
        calls.append(("backward", len(layers)))
        return backward_layers(layers, dy)

    model = mlp((6, 5, 3), 0.0, np.random.default_rng(0), dtype=np.float64)
    yours = Sequential(model.layers, forward_layers=forward, backward_layers=backward)
    x = np.random.default_rng(1).standard_normal((4, 6))
    np.testing.assert_array_equal(yours.forward(x, training=True), model.forward(x, training=True))
    np.testing.assert_array_equal(yours.backward(np.ones((4, 3))), model.backward(np.ones((4, 3))))
    assert calls == [("forward", 3, True), ("backward", 3)]
