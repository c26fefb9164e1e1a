"""Command line: `python -m nnlib {reproduce,train,fetch-data} ...` (see `--help`).

Bad input ends in one line on stderr (`error: ...`, exit 2 for usage and data, 1 for a failed run or an
unwritable place); output places are checked before any training starts. Ctrl-C (or SIGTERM) stops the whole
command with exit 130 (143): what completed is written under `*.partial.*` names, marked PARTIAL, and
complete results already in the folder are never replaced by it. More presses are ignored while that is
written (nnlib/interrupts.py says where a press acts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
from contextlib import ExitStack, nullcontext, suppress
from pathlib import Path

from nnlib.data import load_mnist
from nnlib.datafiles import DEFAULT_PATH, MNIST_SHA256, DataError, rebuild_bundle_from_openml
from nnlib.experiments import COURSE_RUNS, OPTIMIZERS, RunResult, results_table, train_run, with_overrides
from nnlib.files import atomic_write, folder_lock, kind_of, write_text_atomic
from nnlib.interrupts import StopRequests, install
from nnlib.train import History, TrainingDiverged, fit
from nnlib.validation import in_interval

OUTPUT_NAMES = ("results.md", "histories.json", "learning_curves.png")
PARTIAL_HELP = (
    "Ctrl-C stops the whole command (exit code 130): the completed epochs and runs are written as "
    "results.partial.md, histories.partial.json (\"partial\": true) and learning_curves.partial.png, "
    "marked PARTIAL, beside (never over) complete results; a later complete run removes them."
)


class UsageError(ValueError):
    """A bad option value found by nnlib's own checks (argparse finds the others)."""


def partial_name(path: Path) -> Path:
    """`results.md` -> `results.partial.md`: where a partial result goes instead of `path`."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current.parent != current:
        current = current.parent
    return current


def _probe_writable(folder: Path, option: str, wanted: Path) -> None:
    """Create and delete a file in `folder`: the only test of writability that also holds for root and for
    read-only mounts."""
    try:
        fd, name = tempfile.mkstemp(prefix=".nnlib-write-test.", dir=folder)
    except OSError as err:
        raise UsageError(f"{option}: cannot write {wanted}: {folder} is not writable "
                         f"({err.strerror})") from None
    os.close(fd)
    os.unlink(name)


def check_output_folder(out: Path, option: str = "--out") -> None:
    """Refuse an output folder that could not be written, before any training starts."""
    if str(out) in ("", "."):  # Path("") is "."; an empty --out used to write into the current folder
        raise UsageError(f"{option}: expected a folder name, got an empty path")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option}: {out} is {kind_of(out) or 'a file'}; expected a folder (or a new name)")
    if out.is_dir() and any(not (entry.is_file() or entry.is_dir()) for entry in os.scandir(out)):
        raise UsageError(f"{option}: {out} holds devices or FIFOs: a system folder, not one for results")
    nearest = _nearest_existing(out)
    if not nearest.is_dir():
        raise UsageError(f"{option}: {nearest} is a file, so {out} cannot be created as a folder")
    _probe_writable(nearest, option, out)


def check_output_file(path: Path, option: str) -> None:
    """Refuse a file path that could not be written, before any training starts."""
    text = str(path)
    if text in ("", "."):
        raise UsageError(f"{option}: expected a file name, got an empty path")
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"{option}: {path} is a folder; expected a file name such as {path / 'model.npz'}")
    if kind := kind_of(path):
        raise UsageError(f"{option}: {path} is {kind}; expected a file name (only files are replaced)")
    nearest = _nearest_existing(path.parent)
    if not nearest.is_dir():
        raise UsageError(f"{option}: {nearest} is a file, so {path} cannot be created inside it")
    _probe_writable(nearest, option, path)


def _write_outputs(results: list[RunResult], out: Path, title: str, partial: bool = False,
                   planned: int = 0) -> list[Path]:
    """Write the table, the histories and the learning curves, all or none (a full disk keeps the old set
    whole); return the paths written. Partial results go to `*.partial.*` names beside complete ones;
    complete results remove the partial files (superseded). `planned`: the runs the command meant to do (a
    partial table of fewer, all complete, runs says so)."""
    from matplotlib.figure import Figure

    from nnlib.curves import draw_learning_curves

    names = [out / name for name in OUTPUT_NAMES]
    paths = [partial_name(p) for p in names] if partial else names
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(results)
    if partial and not any(r.partial for r in results):
        table = (f"**PARTIAL RESULT: stopped (interrupted) after {len(results)} of {planned or len(results)} "
                 "runs; the others did not run.**\n\n" + table)
    figure = draw_learning_curves(Figure(figsize=(11, 4), layout="tight"),
                                  {r.config.name: r.history for r in results}, title=title)
    with ExitStack() as files:  # each file is renamed over its target only when all were written
        handles = [files.enter_context(atomic_write(path, mode))
                   for path, mode in zip(paths, ("w", "w", "wb"), strict=True)]
        handles[0].write(table + "\n")
        handles[1].write(json.dumps([r.summary() for r in results], indent=1))
        figure.savefig(handles[2], format="png", dpi=110)
        for handle in handles:
            handle.flush()
            os.fsync(handle.fileno())
    if not partial:
        for stale in names:
            partial_name(stale).unlink(missing_ok=True)
    print(table)
    print(f"\nWrote {', '.join(str(p) for p in paths)}", flush=True)
    return paths


def _report_partial(results: list[RunResult], out: Path, title: str, planned: int) -> None:
    """After Ctrl-C: write what completed (marked PARTIAL) and say where it went, on stderr."""
    kept = [r for r in results if r.history.epochs > 0]
    if not kept:
        print("stopped (interrupted) before any epoch completed: nothing was written", file=sys.stderr)
        return
    while True:  # a KeyboardInterrupt raised by code (the handlers raise none now) must not lose the runs
        with suppress(KeyboardInterrupt):
            paths = _write_outputs(kept, out, title, partial=True, planned=planned)
            break
    print(f"stopped (interrupted): the completed part is in {paths[0]}, marked PARTIAL "
          f"(complete results in {out} were left as they were)", file=sys.stderr)


def _stopped_after_writing(stops: StopRequests) -> int:
    """A press that came after the last epoch (evaluating, writing): the complete results were finished."""
    if not stops.stop_here():
        return 0
    print("stopped (interrupted) after the last epoch: the complete results were written whole first",
          file=sys.stderr)
    return 130


def cmd_reproduce(args: argparse.Namespace, stops: StopRequests) -> int:
    configs = [with_overrides(c, epochs=args.epochs, seed=args.seed) for c in COURSE_RUNS]
    data = load_mnist(args.data)
    title = "784-128-64-10 with L2 + dropout on MNIST"
    results: list[RunResult] = []
    try:
        for config in configs:
            if stops.stop_here():  # a press while loading, evaluating or between runs
                raise KeyboardInterrupt
            print(f"Training {config.name}: lr {config.lr}, dropout {config.dropout}, L2 {config.l2}, "
                  f"{config.epochs} epoch{'s' * (config.epochs != 1)}, seed {config.seed}", flush=True)
            results.append(train_run(config, data, progress=not args.no_progress))
            if results[-1].partial:  # Ctrl-C stopped this run: stop the whole command
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        stops.settle()
        _report_partial(results, args.out, title, planned=len(configs))
        return 130
    except TrainingDiverged as err:
        stops.settle()
        print(f"error: {config.name}: {err.reason}", file=sys.stderr)
        if results:
            _write_outputs(results, args.out, title, partial=True, planned=len(configs))
        return 1
    _write_outputs(results, args.out, title)
    return _stopped_after_writing(stops)


def _save_diverged_history(history: History, config, out: Path) -> str:
    """Where the completed epochs of a diverged run went (a sentence for the error line)."""
    if history.epochs == 0:
        return "No epoch completed, so nothing was saved."
    path = partial_name(out / "histories.json")
    out.mkdir(parents=True, exist_ok=True)
    summary = {"config": dataclasses.asdict(config), "partial": True, "diverged": True,
               "epochs_completed": history.epochs,
               "history": history.to_dict()}
    write_text_atomic(path, json.dumps([summary], indent=1))
    return f"The history of the {history.epochs} completed epochs is in {path}."


def cmd_train(args: argparse.Namespace, stops: StopRequests) -> int:
    if args.momentum is not None and args.optimizer != "momentum":
        raise UsageError(f"--momentum: only --optimizer momentum uses it (--optimizer {args.optimizer} "
                         "would ignore it); choose --optimizer momentum or leave --momentum out")
    if args.save is not None:
        check_output_file(args.save, "--save")
    base = {c.optimizer: c for c in COURSE_RUNS}[args.optimizer]
    config = with_overrides(
        base, lr=args.lr, momentum=args.momentum, dropout=args.dropout, l2=args.l2,
        epochs=args.epochs, batch_size=args.batch_size, schedule=args.schedule, seed=args.seed,
    )
    momentum = f", momentum {config.momentum}" if config.optimizer == "momentum" else ""
    print(f"Training {config.name}: lr {config.lr}{momentum}, dropout {config.dropout}, L2 {config.l2}, "
          f"batch {config.batch_size}, {config.schedule} schedule, "
          f"{config.epochs} epoch{'s' * (config.epochs != 1)}, seed {config.seed}", flush=True)
    data = load_mnist(args.data)
    title = f"{config.name} on MNIST"
    try:
        if stops.stop_here():  # a press while loading the data
            raise KeyboardInterrupt
        result = train_run(config, data, progress=not args.no_progress)
    except TrainingDiverged as err:
        stops.settle()
        where = _save_diverged_history(err.history, config, args.out)
        print(f"error: {err.reason} {where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the first epoch, or (without the handlers) during the evaluation
        print("stopped (interrupted) before the run was evaluated: nothing was written", file=sys.stderr)
        return 130
    if result.partial:
        stops.settle()
        if args.save is not None and result.history.epochs > 0:
            result.model.save(partial_name(args.save))
            print(f"Saved the partly trained model to {partial_name(args.save)}")
        _report_partial([result], args.out, title, planned=1)
        return 130
    if args.save is not None:
        result.model.save(args.save)
        partial_name(args.save).unlink(missing_ok=True)
        print(f"Saved the model to {args.save}")
    _write_outputs([result], args.out, title)
    return _stopped_after_writing(stops)


def cmd_fetch_data(args: argparse.Namespace, stops: StopRequests) -> int:
    check_output_file(args.output, "--output")
    digest = rebuild_bundle_from_openml(args.output)
    verdict = "matches" if digest == MNIST_SHA256 else "differs from"
    print(f"Wrote {args.output} (sha256 {digest}); it {verdict} the course's bundle.")
    return 0


def _whole_number(text: str, minimum: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a count that must be at least 1 (epochs, batch size)."""
    return _whole_number(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: a seed, 0 or more."""
    return _whole_number(text, 0, "a non-negative integer")


def _number(text: str, low: float, high: float, low_open: bool, high_open: bool, wanted: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not in_interval(value, low, high, low_open, high_open):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a learning rate."""
    return _number(text, 0.0, math.inf, True, True, "a positive number")


def non_negative_float(text: str) -> float:
    """argparse type: an L2 strength."""
    return _number(text, 0.0, math.inf, False, True, "a number >= 0")


def fraction(text: str) -> float:
    """argparse type: a drop probability or a momentum, in [0, 1)."""
    return _number(text, 0.0, 1.0, False, True, "a number in [0, 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnlib", description=__doc__)
    parser.add_argument("--data", type=Path, default=None,
                        help="MNIST bundle to use (default: the course's data/mnist.npz)")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_common(sub: argparse.ArgumentParser, out_default: str) -> None:
        sub.add_argument("--out", type=Path, default=Path(out_default),
                         help="folder for results.md, histories.json, learning_curves.png "
                              f"(default: {out_default}, not tracked by git; the course's reference run "
                              "is written to results/ only when asked: --out results)")
        sub.add_argument("--epochs", type=positive_int, default=None, help="epochs per run (default: 40)")
        sub.add_argument("--seed", type=non_negative_int, default=None,
                         help="seed of the weight init, dropout masks and batch order (default: 1)")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")
        # SUPPRESS: given after the command it wins; not given, the top-level --data stays.
        sub.add_argument("--data", type=Path, default=argparse.SUPPRESS,
                         help="MNIST bundle to use (default: the course's data/mnist.npz)")

    reproduce = commands.add_parser(
        "reproduce", help="train SGD, SGD + momentum and Adam with their tuned settings; print the table",
        description="Train the course network (784-128-64-10, L2 + dropout) with SGD, SGD + momentum "
                    "and Adam, each with its tuned hyperparameters, and print the results table. "
                    + PARTIAL_HELP)
    add_common(reproduce, "runs/reproduce")
    reproduce.set_defaults(run=cmd_reproduce)

    train = commands.add_parser(
        "train", help="train one configuration",
        description="Train the course network once. Unset flags take the tuned values of the optimizer. "
                    + PARTIAL_HELP + " With --save, a partly trained model goes to NAME.partial.npz.")
    train.add_argument("--optimizer", choices=OPTIMIZERS, required=True,
                       help="sgd, momentum (SGD with momentum) or adam")
    train.add_argument("--lr", type=positive_float, default=None, help="peak learning rate")
    train.add_argument("--momentum", type=fraction, default=None,
                       help="momentum in [0, 1) (only with --optimizer momentum)")
    train.add_argument("--dropout", type=fraction, default=None,
                       help="drop probability of the hidden layers, in [0, 1)")
    train.add_argument("--l2", type=non_negative_float, default=None,
                       help="L2 strength lambda (penalty 0.5*lambda*sum(W^2))")
    train.add_argument("--batch-size", type=positive_int, default=None, help="mini-batch size (default: 128)")
    train.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                       help="learning-rate schedule (default: cosine, decaying to zero)")
    train.add_argument("--save", type=Path, default=None, help="save the trained model to this .npz file")
    add_common(train, "runs/train")
    train.set_defaults(run=cmd_train)

    fetch = commands.add_parser(
        "fetch-data", help="rebuild the MNIST bundle from OpenML (needs internet)",
        description="Download mnist_784 from OpenML with scikit-learn and write it as an .npz bundle. "
                    "Not needed for the course: data/mnist.npz ships with it.")
    fetch.add_argument("--output", type=Path, default=DEFAULT_PATH.with_name("mnist_openml.npz"),
                       help="where to write the bundle (default: data/mnist_openml.npz)")
    fetch.set_defaults(run=cmd_fetch_data)

    return parser


def main(argv: list[str] | None = None, keep_handlers: bool = False) -> int:
    """Run the command; return its exit code. `keep_handlers`: leave the Ctrl-C handling in place after
    returning (the command line: a press while Python shuts down is then ignored, not a traceback)."""
    args = build_parser().parse_args(argv)
    # reproduce and train stop only inside training; fetch-data anywhere (it writes the bundle atomically)
    stops, restore = install([fit.__code__] if args.command in ("reproduce", "train") else None)
    try:
        return _run(args, stops)
    finally:
        stops.settle()
        if not keep_handlers:
            restore()


def _run(args: argparse.Namespace, stops: StopRequests) -> int:
    out = getattr(args, "out", None)  # one run at a time writes there
    try:
        if out is not None:
            check_output_folder(out)
        with folder_lock(out) if out is not None else nullcontext():
            code = args.run(args, stops)
    except (DataError, ValueError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        code = 2
    except OSError as err:  # a disk filled up, a folder vanished, ...: the cause, not a traceback
        print(f"error: {_one_line(err)}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("stopped (interrupted).", file=sys.stderr)
        code = 130
    if code == 0 and stops.stop_here():  # a press that no step acted on still stops the command
        print("stopped (interrupted).", file=sys.stderr)
        code = 130
    return 143 if stops.terminated and code == 130 else code


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main(keep_handlers=True))
