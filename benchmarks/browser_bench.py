"""One nnlib Adam epoch on MNIST in the browser's Python (the site's own Pyodide 0.27.7, run by
Node), through NumPy's `@` (the browser's path before issue 28) and through SciPy's BLAS
(nnlib.blas, the browser's path now), side by side in one run.

    make bench-browser                    # after `make lite`; or:
    .venv/bin/python benchmarks/browser_bench.py [--rounds 3] [--profile] [--shapes]

Run natively, this script starts `node benchmarks/browser_bench.mjs`, which loads Pyodide from
build/lite/static/pyodide/ (what `make lite` ships) and runs this same file inside it, with the
repository's nnlib and data/mnist.npz mounted. There it trains the course's Adam run (784-128-64-10,
dropout 0.1, L2 1e-4, batch 128, cosine schedule) for one epoch per backend, the backends taking
turns round by round (the machine is shared: the order alternates and medians are reported), and
prints the seconds per epoch, the ratio and the validation accuracy of each.
`--profile` adds where a BLAS epoch's time goes (cProfile, by function); `--shapes` the GFLOP/s
of each of the epoch's matrix products through either backend.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

LABELS = {"numpy": "NumPy @", "scipy": "SciPy BLAS"}
ROOT = Path(__file__).resolve().parents[1]
PYODIDE = ROOT / "build" / "lite" / "static" / "pyodide"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="epochs per backend (default 3)")
    parser.add_argument("--profile", action="store_true", help="where a BLAS epoch's time goes")
    parser.add_argument("--yours", action="store_true",
                        help="also the lessons' network made of the learner's functions (their solutions)")
    parser.add_argument("--shapes", action="store_true", help="GFLOP/s of each product, both backends")
    parser.add_argument("--pyodide", type=Path, default=PYODIDE, help=f"Pyodide folder (default {PYODIDE})")
    return parser.parse_args(argv)


def run_in_node(args: argparse.Namespace, passed: list[str]) -> int:
    """Native side: start Node with the site's Pyodide, which runs this file."""
    if not (args.pyodide / "pyodide.mjs").exists():
        print(f"{args.pyodide} has no Pyodide: run `make lite` first", file=sys.stderr)
        return 2
    node = shutil.which("node")
    if node is None:
        print("node (Node.js 18 or newer) is needed to run Pyodide outside a browser", file=sys.stderr)
        return 2
    return subprocess.run([node, str(ROOT / "benchmarks" / "browser_bench.mjs"), str(args.pyodide), str(ROOT),
                           *passed], check=False).returncode


def cpu_seconds() -> float:
    """CPU seconds used by this process so far (Node's process.cpuUsage(): user + system). On a
    shared machine the CPU time of an epoch varies far less than its wall-clock time."""
    import js  # Pyodide's bridge to JavaScript: under Node, its globals

    usage = js.process.cpuUsage()
    return (usage.user + usage.system) / 1e6


def adam_epoch(backend: str, data, pieces=None) -> tuple[float, float, float]:
    """(wall-clock seconds, CPU seconds) of one training epoch of the course's Adam run with
    `backend`, and the validation accuracy after it. With `pieces` (nnlib.course.assemble), the
    network and optimizer are made of those functions, as the lessons' "your network"."""
    import numpy as np

    from nnlib import blas
    from nnlib.experiments import COURSE_RUNS, COURSE_SIZES, make_optimizer
    from nnlib.network import mlp
    from nnlib.optim import cosine_schedule
    from nnlib.train import evaluate, fit

    config = next(c for c in COURSE_RUNS if c.name == "Adam")
    blas.BACKEND = backend
    rng = np.random.default_rng(config.seed)
    steps = -(-len(data.x_train) // config.batch_size)
    if pieces is None:
        model = mlp(COURSE_SIZES, config.dropout, rng)
        optimizer, schedule, options = make_optimizer(config, model), cosine_schedule(config.lr, steps), {}
    else:
        model = pieces.network(COURSE_SIZES, config.dropout, rng)
        optimizer = pieces.optimizer("adam", model.parameters(), lr=config.lr)
        schedule = pieces.cosine_schedule(config.lr, steps)
        # as lesson 06 trains it: your training step, with your L2 and your Adam
        options = {"loss_fn": pieces.loss(), "step": pieces.step(optimizer, l2=config.l2)}
    started, cpu_started = time.perf_counter(), cpu_seconds()
    fit(model, optimizer, data.x_train, data.y_train, epochs=1, rng=rng, batch_size=config.batch_size,
        l2=0.0 if pieces else config.l2, schedule=schedule, progress=False, **options)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    return seconds, cpu, evaluate(model, data.x_val, data.y_val)[1]


def epochs_side_by_side(rounds: int, data, pieces=None) -> None:
    times: dict[str, dict[str, list[float]]] = {"wall": {"numpy": [], "scipy": []},
                                                "CPU": {"numpy": [], "scipy": []}}
    for r in range(rounds):
        for backend in (("numpy", "scipy") if r % 2 == 0 else ("scipy", "numpy")):
            seconds, cpu, accuracy = adam_epoch(backend, data, pieces)
            times["wall"][backend].append(seconds)
            times["CPU"][backend].append(cpu)
            print(f"round {r + 1}: {LABELS[backend]:10s} {seconds:6.2f} s/epoch ({cpu:6.2f} CPU s), "
                  f"validation accuracy {accuracy:.2%}")
    print(f"medians over {rounds} rounds (one Adam epoch over {len(data.x_train)} images, batch 128):")
    for kind, measured in times.items():
        numpy_s, scipy_s = statistics.median(measured["numpy"]), statistics.median(measured["scipy"])
        ratios = [s / n for n, s in zip(measured["numpy"], measured["scipy"], strict=True)]
        print(f"  {kind:4s} NumPy @ {numpy_s:6.2f} s, SciPy BLAS {scipy_s:6.2f} s: "
              f"BLAS/NumPy {scipy_s / numpy_s:.2f} "
              f"(per round {', '.join(f'{r:.2f}' for r in ratios)})")


def shapes_gflops(repeats: int = 20) -> None:
    """GFLOP/s of the epoch's products (batch 128), as the layers call them, through either backend."""
    import numpy as np

    from nnlib import blas

    rng = np.random.default_rng(0)
    print("\nproduct (batch 128)             NumPy @  SciPy BLAS  (GFLOP/s)")
    for n_in, n_out in ((784, 128), (128, 64), (64, 10)):
        x = rng.random((128, n_in), dtype=np.float32)
        w = rng.random((n_in, n_out), dtype=np.float32)
        dy = rng.random((128, n_out), dtype=np.float32)
        for what, a, b in ((f"x @ W      {n_in}x{n_out}", x, w), (f"x.T @ dy   {n_in}x{n_out}", x.T, dy),
                           (f"dy @ W.T   {n_in}x{n_out}", dy, w.T)):
            rates = []
            for backend in ("numpy", "scipy"):
                blas.matmul(a, b, backend=backend)
                started = time.perf_counter()
                for _ in range(repeats):
                    blas.matmul(a, b, backend=backend)
                rates.append(2 * 128 * n_in * n_out * repeats / (time.perf_counter() - started) / 1e9)
            print(f"{what:30s} {rates[0]:7.2f} {rates[1]:11.2f}")


def profile_epoch(data) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    seconds, _, _ = adam_epoch("scipy", data)
    profiler.disable()
    print(f"\nwhere a BLAS epoch's time goes (cProfile; {seconds:.1f} s with the profiler's overhead):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def in_pyodide(args: argparse.Namespace) -> int:
    import numpy as np
    import scipy

    from nnlib.data import load_mnist

    print(f"Python {sys.version.split()[0]} on {sys.platform}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__}")
    started = time.perf_counter()
    data = load_mnist()
    print(f"MNIST loaded in {time.perf_counter() - started:.1f} s; {len(data.x_train)} training images\n")
    if args.shapes:
        shapes_gflops()
    if args.rounds:
        print("nnlib's network:")
        epochs_side_by_side(args.rounds, data)
    if args.rounds and args.yours:
        from nnlib.course import assemble

        lessons = [f"{n}.ipynb" for n in ("02_forward_pass", "03_backprop", "04_dropout",
                                          "05_l2_regularization", "06_optimizers")]
        pieces = assemble.gather(earlier=lessons, folder=Path("/repo/notebooks"))
        print("\nyour network (the lessons' solutions, assembled as in lessons 03-07):")
        epochs_side_by_side(args.rounds, data, pieces)
    if args.profile:
        profile_epoch(data)
    return 0


if __name__ == "__main__":
    options = arguments()
    if sys.platform == "emscripten":
        sys.exit(in_pyodide(options))
    sys.exit(run_in_node(options, sys.argv[1:]))
