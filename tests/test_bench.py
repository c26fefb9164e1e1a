"""The benchmark (`benchmarks/bench.py`, what `make bench` runs) prints its table, with or without
PyTorch.

Tiny settings only (1,000 images, one batch size): this checks that the benchmark works,
never how fast anything is (timing assertions are flaky on shared machines).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("nnlib_benchmark", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


main = _load_bench().main

TINY = ["--epochs", "1", "--batch-sizes", "256", "--subset", "1000"]
HEADER = "| batch | optimizer | nnlib s/epoch | torch s/epoch | torch FTZ s/epoch |"


def test_bench_prints_the_table_without_torch(capsys):
    assert main([*TINY, "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert HEADER in out
    assert "| 256 | SGD+momentum |" in out and "| 256 | Adam |" in out
    assert "PyTorch: skipped (--no-torch given)" in out
    assert "GEMM-only" in out and "Peak memory (max RSS)" in out


def test_bench_skips_torch_cleanly_when_it_is_not_installed(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert main([*TINY, "--optimizers", "adam"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch: skipped (PyTorch is not installed)" in out
    assert "| 256 | Adam | " in out and "| - | - |" in out


def test_bench_flatness_mode_reports_both_medians(capsys):
    assert main([*TINY, "--no-torch", "--no-table", "--flatness", "--flatness-epochs", "10"]) == 0
    out = capsys.readouterr().out
    assert "Flatness: 10-epoch Adam + L2 run" in out
    assert "epochs 2-6:" in out and "last 5:" in out
    assert HEADER not in out


def test_bench_rejects_an_unknown_optimizer(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--optimizers", "rmsprop"])
    assert exit_info.value.code == 2
    assert "unknown optimizer" in capsys.readouterr().err


@pytest.mark.parametrize("sizes", ["0", "128,-1", "32.5", ",", "abc"])
def test_bench_refuses_bad_batch_sizes_naming_the_option(sizes, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--batch-sizes", sizes, "--no-torch"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--batch-sizes: expected comma-separated positive integers" in err[-1]
