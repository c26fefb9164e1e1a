"""The command line, run as a learner would: `python -m nnlib ...` in a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.__main__ import build_parser
from nnlib.modelfiles import load_model

REPO = Path(__file__).resolve().parent.parent

TOP_LEVEL = ["--data", "reproduce", "train", "fetch-data"]
COMMON = ["--out", "--epochs", "--seed", "--no-progress"]
TRAIN_FLAGS = [
    "--optimizer", "--lr", "--momentum", "--dropout", "--l2", "--batch-size", "--schedule", "--save"
]


def run_nnlib(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "nnlib", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


# --- help --------------------------------------------------------------------------


def test_help_lists_the_commands_and_the_data_flag():
    result = run_nnlib("--help")
    assert result.returncode == 0
    for word in TOP_LEVEL:
        assert word in result.stdout, word


def test_train_help_lists_every_flag():
    result = run_nnlib("train", "--help")
    assert result.returncode == 0
    for flag in TRAIN_FLAGS + COMMON:
        assert flag in result.stdout, flag


def test_reproduce_help_lists_every_flag():
    result = run_nnlib("reproduce", "--help")
    assert result.returncode == 0
    for flag in COMMON:
        assert flag in result.stdout, flag


def all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_parsers(sub)


def test_every_option_of_every_command_has_help_text():
    undocumented = [
        f"{parser.prog} {action.option_strings[0]}"
        for parser in all_parsers(build_parser())
        for action in parser._actions
        if action.option_strings and not action.help
    ]
    assert undocumented == []


# --- one training run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    """`python -m nnlib train --optimizer adam --epochs 1` (about 5 s), run once for the tests below."""
    out = tmp_path_factory.mktemp("train")
    result = run_nnlib("train", "--optimizer", "adam", "--epochs", "1", "--out", str(out),
                       "--no-progress", "--save", str(out / "model.npz"))
    return result, out


def test_train_succeeds(train_run):
    result, _ = train_run
    assert result.returncode == 0, result.stderr


def test_train_writes_the_results_table(train_run):
    _, out = train_run
    table = (out / "results.md").read_text()
    assert "| Optimizer | Train Acc | Val Acc | Val Loss | Test Acc | Time |" in table
    assert "| Adam |" in table


def test_train_writes_one_epoch_of_history(train_run):
    _, out = train_run
    runs = json.loads((out / "histories.json").read_text())
    assert len(runs) == 1
    assert runs[0]["config"]["optimizer"] == "adam"
    assert len(runs[0]["history"]["val_acc"]) == 1


def test_train_writes_a_png_of_the_learning_curves(train_run):
    _, out = train_run
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_saves_a_loadable_course_network(train_run):
    _, out = train_run
    model = load_model(out / "model.npz")
    sizes = [layer.spec() for layer in model.layers if layer.spec()["type"] == "Linear"]
    assert [(s["in_features"], s["out_features"]) for s in sizes] == [(784, 128), (128, 64), (64, 10)]


def test_train_leaves_no_temporary_files(train_run):
    _, out = train_run
    assert sorted(p.name for p in out.iterdir()) == [
        "histories.json", "learning_curves.png", "model.npz", "results.md"
    ]


# --- bad data -----------------------------------------------------------------------


def test_missing_data_file_exits_2_with_a_clear_message(tmp_path):
    result = run_nnlib("--data", str(tmp_path / "mnist.npz"), "train", "--optimizer", "sgd",
                       "--epochs", "1", "--no-progress", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "not found" in result.stderr
    assert "git checkout -- data/mnist.npz" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupted_data_file_exits_2_with_a_clear_message(tmp_path, corrupted_bundle):
    result = run_nnlib("--data", str(corrupted_bundle), "train", "--optimizer", "sgd",
                       "--epochs", "1", "--no-progress", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "corrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_optimizer_is_a_usage_error():
    result = run_nnlib("train", "--optimizer", "rmsprop")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("flag", ["--epochs", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_non_positive_counts_are_a_usage_error_naming_the_flag(flag, value):
    result = run_nnlib("train", "--optimizer", "sgd", flag, value, "--no-progress")
    assert result.returncode == 2
    assert flag in result.stderr and "positive" in result.stderr
    assert "Traceback" not in result.stderr
