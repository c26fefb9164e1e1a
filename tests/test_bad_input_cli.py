"""Bad command lines: `python -m nnlib ...` (run in-process on a tiny random bundle) ends in one
`error:` line naming the option, exit code 2 (usage, data) or 1 (a failed run), checks its output
places before training, and never loses or overwrites results (see tests/bad_input.py)."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bad_input import CliCase, case_id, expected, outcome

TRAIN = ("--data", "{data}", "train", "--optimizer", "sgd", "--epochs", "1", "--no-progress")
REPRODUCE = ("--data", "{data}", "reproduce", "--epochs", "1", "--no-progress")
OUT = ("--out", "{tmp}/out")
COMPLETE = "| SGD | complete earlier result |\n"


def earlier_results(tmp: Path) -> None:
    """A complete earlier result in {tmp}/out, which no failed or partial run may replace."""
    (tmp / "out").mkdir(exist_ok=True)
    (tmp / "out" / "results.md").write_text(COMPLETE)


def earlier_kept(tmp: Path) -> bool:
    return (tmp / "out" / "results.md").read_text() == COMPLETE


def no_output(tmp: Path) -> bool:
    return not (tmp / "out").exists() or earlier_kept(tmp)


def a_file(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_text("not a folder")

    return setup


def diverged_history_saved(tmp: Path) -> bool:
    runs = json.loads((tmp / "out" / "histories.partial.json").read_text())
    return runs[0]["partial"] is True and runs[0]["epochs_completed"] >= 1 and earlier_kept(tmp)


def option_case(name, option, value, words, command=TRAIN):
    return CliCase(name, (*command, *OUT, option, value), 2, (option, *words), max_lines=1, kept=no_output)


CASES = [
    # --- option values: argparse usage errors naming the option --------------------------------
    option_case("--epochs 2.5", "--epochs", "2.5", ("positive integer", "'2.5'")),
    option_case("--epochs 0", "--epochs", "0", ("positive integer",)),
    option_case("--batch-size 32.5", "--batch-size", "32.5", ("positive integer", "'32.5'")),
    option_case("--seed -1", "--seed", "-1", ("non-negative integer", "'-1'")),
    option_case("--seed 1.5", "--seed", "1.5", ("non-negative integer",)),
    option_case("--lr 0", "--lr", "0", ("positive number", "'0'")),
    option_case("--lr nan", "--lr", "nan", ("positive number", "'nan'")),
    option_case("--lr -0.1", "--lr", "-0.1", ("positive number",)),
    option_case("--lr 0.1.2", "--lr", "0.1.2", ("positive number",)),
    option_case("--dropout -0.1", "--dropout", "-0.1", ("[0, 1)",)),
    option_case("--dropout 1", "--dropout", "1", ("[0, 1)",)),
    option_case("--dropout nan", "--dropout", "nan", ("[0, 1)",)),
    option_case("--l2 -0.0001", "--l2", "-0.0001", (">= 0",)),
    option_case("--l2 inf", "--l2", "inf", (">= 0",)),
    option_case("--momentum 1.5", "--momentum", "1.5", ("[0, 1)",)),
    option_case("reproduce --seed -1", "--seed", "-1", ("non-negative",), command=REPRODUCE),
    CliCase("--momentum with sgd", (*TRAIN, *OUT, "--momentum", "0.9"), 2,
            ("--momentum", "--optimizer momentum"), kept=no_output),
    CliCase("--momentum with adam", ("--data", "{data}", "train", "--optimizer", "adam", "--momentum", "0.5"), 2,
            ("--momentum", "ignore")),
    # --- output places, checked before training ------------------------------------------------
    CliCase("--out ''", (*TRAIN, "--out", ""), 2, ("--out", "empty")),
    CliCase("--out is a file", (*TRAIN, "--out", "{tmp}/file"), 2, ("--out", "is a file"), setup=a_file("file")),
    CliCase("--out under a file", (*TRAIN, "--out", "{tmp}/file/out"), 2, ("--out", "is a file"),
            setup=a_file("file")),
    CliCase("--out not writable", (*TRAIN, "--out", "/proc/nnlib-out"), 2, ("--out", "cannot write")),
    CliCase("reproduce --out is a file", (*REPRODUCE, "--out", "{tmp}/file"), 2, ("--out", "is a file"),
            setup=a_file("file")),
    CliCase("--save ''", (*TRAIN, *OUT, "--save", ""), 2, ("--save", "empty"), kept=no_output),
    CliCase("--save is a folder", (*TRAIN, *OUT, "--save", "{tmp}"), 2, ("--save", "is a folder"), kept=no_output),
    CliCase("--save under a file", (*TRAIN, *OUT, "--save", "{tmp}/file/model.npz"), 2, ("--save", "is a file"),
            setup=a_file("file"), kept=no_output),
    CliCase("--save not writable", (*TRAIN, *OUT, "--save", "/proc/nnlib/model.npz"), 2,
            ("--save", "cannot write"), kept=no_output),
    CliCase("fetch-data --output a folder", ("fetch-data", "--output", "{tmp}"), 2, ("--output", "folder")),
    # --- data ---------------------------------------------------------------------------------
    CliCase("--data a folder", ("--data", "{tmp}", "train", "--optimizer", "sgd", *OUT), 2, ("is a folder",),
            kept=no_output),
    CliCase("--data missing", ("--data", "{tmp}/none.npz", "train", "--optimizer", "sgd", *OUT), 2,
            ("not found",), kept=no_output),
    CliCase("--data of float images", ("--data", "{tmp}/floats.npz", "train", "--optimizer", "sgd", *OUT), 2,
            ("x_train", "uint8"), setup=lambda tmp: _float_bundle(tmp / "floats.npz"), kept=no_output),
    # --- runs that fail: the cause, and what was kept -------------------------------------------
    CliCase("train diverging (lr 1e4)", ("--data", "{data}", "train", "--optimizer", "sgd", "--epochs", "3",
                                         "--lr", "1e4", "--no-progress", *OUT), 1,
            ("smaller learning rate", "nothing was saved"), setup=earlier_results, kept=earlier_kept),
    CliCase("train diverging after an epoch", ("--data", "{data}", "train", "--optimizer", "sgd", "--epochs", "3",
                                               "--lr", "4", "--schedule", "constant", "--no-progress", *OUT), 1,
            ("histories.partial.json",), setup=earlier_results, kept=diverged_history_saved),
    CliCase("train l2 1e9", (*TRAIN, *OUT, "--l2", "1e9"), 1, ("l2 = 1e+09", "too strong"),
            setup=earlier_results, kept=earlier_kept),
    CliCase("unknown option", (*TRAIN, "--learning-rate", "0.1"), 2, ("unrecognized arguments",)),
]


def _float_bundle(path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((30, 28, 28)), y_train=rng.integers(0, 10, 30),
             x_test=rng.random((10, 28, 28)), y_test=rng.integers(0, 10, 10))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_command_line_fails_clearly(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_a_good_command_line_on_the_tiny_bundle_writes_complete_results(tmp_path):
    """Guards the table: the same command without a fault succeeds, and removes stale partial files."""
    from tests.bad_input import run_cli, write_tiny_bundle

    data = write_tiny_bundle(tmp_path / "tiny.npz")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.partial.md").write_text("stale")
    code, stdout, stderr = run_cli(["--data", str(data), "train", "--optimizer", "sgd", "--epochs", "1",
                                    "--no-progress", "--out", str(tmp_path / "out"),
                                    "--save", str(tmp_path / "model.npz")])
    assert code == 0, stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "histories.json", "learning_curves.png", "results.md"]
    assert (tmp_path / "model.npz").is_file() and "PARTIAL" not in stdout
