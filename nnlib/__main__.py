"""Command line: `python -m nnlib {reproduce,train,fetch-data,bench} ...` (see `--help`)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from nnlib.data import DEFAULT_PATH, MNIST_SHA256, DataError, load_mnist, rebuild_bundle_from_openml
from nnlib.experiments import COURSE_RUNS, OPTIMIZERS, RunResult, results_table, train_run, with_overrides
from nnlib.files import atomic_write, write_text_atomic
from nnlib.train import TrainingDiverged


def _single_blas_thread():
    """One BLAS thread: for this small network two threads were not faster, only noisier."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return threadpool_limits(1)


def _write_outputs(results: list[RunResult], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from nnlib.plots import learning_curves

    out.mkdir(parents=True, exist_ok=True)
    table = results_table(results)
    write_text_atomic(out / "results.md", table + "\n")
    write_text_atomic(out / "histories.json", json.dumps([r.summary() for r in results], indent=1))
    figure = learning_curves({r.config.name: r.history for r in results}, title=title)
    with atomic_write(out / "learning_curves.png", "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    print(table)
    print(f"\nWrote {out / 'results.md'}, {out / 'histories.json'}, {out / 'learning_curves.png'}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    data = load_mnist(args.data)
    results = []
    for config in COURSE_RUNS:
        config = with_overrides(config, epochs=args.epochs, seed=args.seed)
        print(f"Training {config.name}: lr {config.lr}, dropout {config.dropout}, L2 {config.l2}, "
              f"{config.epochs} epochs, seed {config.seed}", flush=True)
        results.append(train_run(config, data, progress=not args.no_progress))
    _write_outputs(results, args.out, "784-128-64-10 with L2 + dropout on MNIST")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    base = {c.optimizer: c for c in COURSE_RUNS}[args.optimizer]
    config = with_overrides(
        base, lr=args.lr, momentum=args.momentum, dropout=args.dropout, l2=args.l2,
        epochs=args.epochs, batch_size=args.batch_size, schedule=args.schedule, seed=args.seed,
    )
    print(f"Training {config}", flush=True)
    data = load_mnist(args.data)
    try:
        result = train_run(config, data, progress=not args.no_progress)
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.save:
        result.model.save(args.save)
        print(f"Saved the model to {args.save}")
    _write_outputs([result], args.out, f"{config.name} on MNIST")
    return 0


def cmd_fetch_data(args: argparse.Namespace) -> int:
    digest = rebuild_bundle_from_openml(args.output)
    verdict = "matches" if digest == MNIST_SHA256 else "differs from"
    print(f"Wrote {args.output} (sha256 {digest}); it {verdict} the course's bundle.")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run `benchmarks/bench.py`, which sits in the course repository beside the package."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
    if not path.is_file():
        print(f"error: no benchmark at {path}: it comes with the course repository "
              "(run this from a checkout, installed with `pip install -e .`)", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("nnlib_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    forwarded = list(args.bench_args)
    if args.data is not None:
        forwarded += ["--data", str(args.data)]
    return bench.main(forwarded)


def positive_int(text: str) -> int:
    """argparse type: a count that must be at least 1 (epochs, batch size)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnlib", description=__doc__)
    parser.add_argument("--data", type=Path, default=None,
                        help="MNIST bundle to use (default: the course's data/mnist.npz)")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_common(sub: argparse.ArgumentParser, out_default: str) -> None:
        sub.add_argument("--out", type=Path, default=Path(out_default),
                         help="folder for results.md, histories.json, learning_curves.png "
                              f"(default: {out_default})")
        sub.add_argument("--epochs", type=positive_int, default=None, help="epochs per run (default: 40)")
        sub.add_argument("--seed", type=int, default=None,
                         help="seed of the weight init, dropout masks and batch order (default: 1)")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")
        # SUPPRESS: given after the command it wins; not given, the top-level --data stays.
        sub.add_argument("--data", type=Path, default=argparse.SUPPRESS,
                         help="MNIST bundle to use (default: the course's data/mnist.npz)")

    reproduce = commands.add_parser(
        "reproduce", help="train SGD, SGD + momentum and Adam with their tuned settings; print the table",
        description="Train the course network (784-128-64-10, L2 + dropout) with SGD, SGD + momentum "
                    "and Adam, each with its tuned hyperparameters, and print the results table.")
    add_common(reproduce, "results")
    reproduce.set_defaults(run=cmd_reproduce)

    train = commands.add_parser(
        "train", help="train one configuration",
        description="Train the course network once. Unset flags take the tuned values of the optimizer.")
    train.add_argument("--optimizer", choices=OPTIMIZERS, required=True,
                       help="sgd, momentum (SGD with momentum) or adam")
    train.add_argument("--lr", type=float, default=None, help="peak learning rate")
    train.add_argument("--momentum", type=float, default=None, help="momentum (with --optimizer momentum)")
    train.add_argument("--dropout", type=float, default=None, help="drop probability of the hidden layers")
    train.add_argument("--l2", type=float, default=None,
                       help="L2 strength lambda (penalty 0.5*lambda*sum(W^2))")
    train.add_argument("--batch-size", type=positive_int, default=None, help="mini-batch size (default: 128)")
    train.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                       help="learning-rate schedule (default: cosine, decaying to zero)")
    train.add_argument("--save", type=Path, default=None, help="save the trained model to this .npz file")
    add_common(train, "results/train")
    train.set_defaults(run=cmd_train)

    fetch = commands.add_parser(
        "fetch-data", help="rebuild the MNIST bundle from OpenML (needs internet)",
        description="Download mnist_784 from OpenML with scikit-learn and write it as an .npz bundle. "
                    "Not needed for the course: data/mnist.npz ships with it.")
    fetch.add_argument("--output", type=Path, default=DEFAULT_PATH.with_name("mnist_openml.npz"),
                       help="where to write the bundle (default: data/mnist_openml.npz)")
    fetch.set_defaults(run=cmd_fetch_data)

    # No options of its own here: everything after `bench` (--help too) goes to benchmarks/bench.py.
    bench = commands.add_parser(
        "bench", add_help=False, help="time nnlib's training per epoch against PyTorch (see bench --help)")
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    limits = _single_blas_thread()
    try:
        return args.run(args)
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130
    finally:
        if limits is not None:
            limits.restore_original_limits()


if __name__ == "__main__":
    sys.exit(main())
