"""Time nnlib's training loop against PyTorch on the CPU, side by side in one process.

    python benchmarks/bench.py                 # the full table: batch 64, 128, 256; SGD+momentum, Adam
    python benchmarks/bench.py --epochs 5 --batch-sizes 128
    python benchmarks/bench.py --flatness      # also: is an epoch as fast at epoch 40 as at epoch 2?
    make bench                                 # installs torch==2.13.0 into .venv, then the table + flatness

What is timed, for each batch size and optimizer (SGD+momentum, Adam), each with the course's tuned
settings (learning rate, momentum, dropout, L2; see `nnlib.experiments.COURSE_RUNS`) and the course's
cosine learning-rate schedule over the run:
- nnlib: `fit(...)` on the 50,000 training images, one epoch at a time, the time `History.epoch_time`
  records. No validation data is passed, so that is the epoch's training pass alone: drawing the
  batch order, every batch's forward, loss (+ L2 penalty), backward, L2 gradient, optimizer step,
  and the running loss and accuracy.
- PyTorch (optional, only for the comparison): the same network (784-128-64-10, ReLU, dropout,
  softmax cross-entropy, L2 on the weight matrices, by default as the optimizer's `weight_decay`,
  with `--torch-l2 loss` as a penalty in the loss), float32,
  same initial weights, same batch size, same batch order (each epoch's permutation comes from an
  identically seeded NumPy Generator), `torch.nn` + `torch.optim` as shipped, with the same
  per-batch work (forward, loss, backward, step, running loss and accuracy; only nnlib also computes
  the L2 penalty's value, for the loss it reports). It runs twice: as
  shipped, and with `torch.set_flush_denormal(True)`, its best setting for this workload (flushing
  subnormal floats to zero). That flag is a CPU flag of the calling thread, which NumPy would feel
  too, so it is switched off again before nnlib's next epoch.
- The three trainers run alternately, one epoch each in turn, so that any slowdown of a shared
  machine hits all of them alike. Each reports the median over all epochs of its run.
- GEMM-only: the time of just one epoch's matrix products in NumPy (forward, weight gradients,
  input gradients), the floor that no NumPy loop can go below. nnlib/GEMM says how close it gets.

Threads: NumPy's BLAS and PyTorch each get `--threads` threads (default 1, via threadpoolctl and
`torch.set_num_threads`). For this small network a second thread barely helps either of them.
PyTorch is not a dependency of the course: without it the comparison is skipped, with a note.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import nnlib  # noqa: F401
except ImportError:  # run as a script from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnlib.data import MNIST, load_mnist
from nnlib.experiments import COURSE_RUNS, COURSE_SIZES, RunConfig, make_optimizer
from nnlib.network import Linear, Sequential, mlp
from nnlib.optim import Schedule, constant_schedule, cosine_schedule
from nnlib.train import History, fit

TORCH_VERSION = "2.13.0"
OPTIMIZER_NAMES = {"momentum": "SGD+momentum", "adam": "Adam"}


@dataclass(frozen=True)
class Epoch:
    """What one trainer reports for one epoch."""

    seconds: float
    train_acc: float  # accuracy on the epoch's training batches, dropout on


EpochTimer = Callable[[], Epoch]  # trains one more epoch


@dataclass
class Row:
    """One line of the table: per-epoch medians in seconds (None: not measured)."""

    batch_size: int
    optimizer: str
    nnlib: float
    torch: float | None
    torch_ftz: float | None
    gemm: float
    train_acc: dict[str, float]  # after the last epoch, per trainer: did they all learn alike?


def course_config(optimizer: str) -> RunConfig:
    """The course's tuned settings (lr, momentum, dropout, L2) for `optimizer`."""
    return {c.optimizer: c for c in COURSE_RUNS}[optimizer]


def course_schedule(config: RunConfig, n: int, batch_size: int, epochs: int) -> Schedule:
    """The course's learning rate per step: a cosine from `config.lr` to 0 over the whole run.

    Late in such a run, float32 subnormals appear (see `nnlib.optim.flush_tiny`), so timing a
    run with the real schedule shows whether they slow training down.
    """
    return cosine_schedule(config.lr, epochs * -(-n // batch_size))


# --- nnlib ---------------------------------------------------------------------------------------


def nnlib_trainer(
    config: RunConfig, data: MNIST, batch_size: int, model: Sequential, order_rng: np.random.Generator,
    schedule: Schedule,
) -> EpochTimer:
    """One epoch of `fit` per call; returns the epoch time `fit` measured (no validation pass)."""
    optimizer = make_optimizer(config, model)
    history = History()

    def epoch() -> float:
        fit(model, optimizer, data.x_train, data.y_train, epochs=1, rng=order_rng,
            batch_size=batch_size, l2=config.l2, schedule=schedule, progress=False, history=history)
        return Epoch(history.epoch_time[-1], history.train_acc[-1])

    return epoch


# --- PyTorch -------------------------------------------------------------------------------------


def import_torch():
    """PyTorch, or None if it is not installed (it is only needed for the comparison)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_trainer(
    torch,
    config: RunConfig,
    data: MNIST,
    batch_size: int,
    init: Sequential,
    order_rng: np.random.Generator,
    schedule: Schedule,
    flush_denormal: bool,
    seed: int,
    l2_in_loss: bool = False,
) -> EpochTimer:
    """The same network in PyTorch, started from `init`'s weights; one epoch per call.

    L2 acts on the weight matrices only, as in nnlib: by default through the optimizer's
    `weight_decay` (which adds `l2 * W` to their gradients: the usual, and faster, PyTorch way);
    with `l2_in_loss`, as `0.5 * l2 * sum(W**2)` added to the loss, which autograd differentiates
    (the same work as nnlib, which also computes the penalty's value for the loss it reports)."""
    nn = torch.nn
    torch.manual_seed(seed)  # dropout masks
    layers: list = []
    linears = [layer for layer in init.layers if isinstance(layer, Linear)]
    for index, linear in enumerate(linears):
        layer = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():  # torch stores W as (out, in), nnlib as (in, out)
            layer.weight.copy_(torch.from_numpy(linear.W.value.T))
            layer.bias.copy_(torch.from_numpy(linear.b.value))
        layers.append(layer)
        if index < len(linears) - 1:
            layers += [nn.ReLU(), nn.Dropout(config.dropout)]
    model = nn.Sequential(*layers)
    weights = [layer.weight for layer in layers if isinstance(layer, nn.Linear)]
    biases = [layer.bias for layer in layers if isinstance(layer, nn.Linear)]
    groups = [
        {"params": weights, "weight_decay": 0.0 if l2_in_loss else config.l2},
        {"params": biases, "weight_decay": 0.0},
    ]
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=config.lr)
    else:
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.from_numpy(data.x_train)  # shares NumPy's memory, no copy
    y = torch.from_numpy(data.y_train)
    n = len(x)
    steps = 0

    def epoch() -> float:
        nonlocal steps
        torch.set_flush_denormal(flush_denormal)
        try:
            started = time.perf_counter()
            order = torch.from_numpy(order_rng.permutation(n))
            model.train()
            loss_sum, correct = 0.0, 0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                xb, yb = x.index_select(0, index), y.index_select(0, index)
                for group in optimizer.param_groups:
                    group["lr"] = schedule(steps)
                logits = model(xb)
                loss = loss_fn(logits, yb)
                if l2_in_loss:
                    loss = loss + 0.5 * config.l2 * sum((w * w).sum() for w in weights)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += 1
                loss_sum += loss.item() * len(index)
                correct += int((logits.argmax(dim=1) == yb).sum())
            return Epoch(time.perf_counter() - started, correct / n)
        finally:
            torch.set_flush_denormal(False)  # NumPy runs in this thread too

    return epoch


# --- GEMM-only floor ---------------------------------------------------------------------------


def gemm_epoch_seconds(x: np.ndarray, batch_size: int, repeats: int = 3) -> float:
    """Median time of one epoch's matrix products alone: per batch, the forward products,
    the weight gradients `x.T @ dy` and the input gradients `dy @ W.T` of all but the first layer."""
    rng = np.random.default_rng(0)
    shapes = zip(COURSE_SIZES[:-1], COURSE_SIZES[1:], strict=True)
    weights = [rng.standard_normal(shape, dtype=np.float32) * 0.05 for shape in shapes]
    grads = [np.empty_like(w) for w in weights]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(x), batch_size):
            activations = [x[start : start + batch_size]]
            for w in weights:
                activations.append(activations[-1] @ w)
            dy = activations[-1]
            for i in range(len(weights) - 1, -1, -1):
                np.matmul(activations[i].T, dy, out=grads[i])
                if i > 0:
                    dy = dy @ weights[i].T
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- running -----------------------------------------------------------------------------------


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, in MB (None where `resource` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def cpu_description() -> tuple[str, bool]:
    """The CPU's model name and whether it has AVX-512 (from /proc/cpuinfo; Linux only)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), False
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    return (names[0] if names else platform.machine()), " avx512f" in info


def blas_description(threads: int) -> str:
    """Which BLAS NumPy uses, with which kernels, and a hint when OpenBLAS misjudges the CPU."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return f"NumPy BLAS: unknown, {threads} thread(s)"
    info = blas[0]
    text = (f"NumPy BLAS: {info.get('internal_api')} {info.get('version')}, "
            f"{info.get('architecture') or 'unknown'} kernels, {threads} thread(s) (threadpoolctl)")
    _, has_avx512 = cpu_description()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    avx2_kernels = info.get("architecture") in ("Haswell", "Zen")
    if info.get("internal_api") == "openblas" and has_avx512 and avx2_kernels and forced:
        # OpenBLAS picks AVX-512 kernels on this CPU by itself; an OPENBLAS_CORETYPE set in the
        # environment overrides that, and the matrix products then take ~1.7x as long.
        text += (f"\n  note: OPENBLAS_CORETYPE={forced} in the environment forces AVX2 kernels on a CPU "
                 "with AVX-512; without it OpenBLAS chooses its AVX-512 (SkylakeX) kernels here")
    return text


def alternate(trainers: dict[str, EpochTimer], epochs: int) -> dict[str, list[Epoch]]:
    """Run one epoch of each trainer in turn, `epochs` times; the order rotates every epoch."""
    times: dict[str, list[Epoch]] = {name: [] for name in trainers}
    names = list(trainers)
    for epoch in range(epochs):
        shift = epoch % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(trainers[name]())
    return times


def side_by_side(
    torch, config: RunConfig, data: MNIST, batch_size: int, epochs: int, seed: int,
    torch_ftz: bool = True, torch_l2_in_loss: bool = False,
) -> dict[str, list[Epoch]]:
    """Train the same network from the same weights, with the same batch order and schedule, in
    nnlib, torch as shipped and (if `torch_ftz`) torch with flush_denormal, alternating epochs.
    Returns each one's epochs."""
    model = mlp(COURSE_SIZES, config.dropout, np.random.default_rng(seed))
    schedule = course_schedule(config, len(data.x_train), batch_size, epochs)
    order_rngs: list[np.random.Generator] = []

    def order_rng() -> np.random.Generator:
        order_rngs.append(np.random.default_rng(seed + 1))  # the same batch order for everyone
        return order_rngs[-1]

    trainers: dict[str, EpochTimer] = {}
    if torch is not None:
        for name, flush in (("torch", False), ("torch_ftz", True))[: 2 if torch_ftz else 1]:
            trainers[name] = torch_trainer(torch, config, data, batch_size, model, order_rng(), schedule,
                                           flush, seed, torch_l2_in_loss)
    trainers["nnlib"] = nnlib_trainer(config, data, batch_size, model, order_rng(), schedule)
    times = alternate(trainers, epochs)
    # Each trainer drew one permutation per epoch from its own copy of the same Generator:
    # equal final states mean they all saw the same batches in the same order.
    assert len({str(rng.bit_generator.state) for rng in order_rngs}) == 1, "batch orders differ"
    return times


def run_setting(
    torch, config: RunConfig, data: MNIST, batch_size: int, epochs: int, seed: int, gemm: float,
    torch_l2_in_loss: bool = False,
) -> Row:
    """One line of the table: the median epoch time of each trainer."""
    times = side_by_side(torch, config, data, batch_size, epochs, seed, torch_l2_in_loss=torch_l2_in_loss)
    medians = {name: statistics.median(e.seconds for e in epochs) for name, epochs in times.items()}
    return Row(batch_size, OPTIMIZER_NAMES[config.optimizer], medians["nnlib"],
               medians.get("torch"), medians.get("torch_ftz"), gemm,
               {name: epochs[-1].train_acc for name, epochs in times.items()})


def flatness(torch, data: MNIST, epochs: int, seed: int, torch_l2_in_loss: bool = False) -> str:
    """Per-epoch time over a long Adam + L2 run: median of the last 5 epochs vs of epochs 2-6.

    PyTorch as shipped runs alongside, for comparison."""
    config = course_config("adam")
    times = side_by_side(torch, config, data, 128, epochs, seed, torch_ftz=False,
                         torch_l2_in_loss=torch_l2_in_loss)
    lines = [f"Flatness: {epochs}-epoch Adam + L2 run (lambda {config.l2:g}, dropout {config.dropout}, "
             f"cosine schedule from lr {config.lr:g}), batch 128, seconds per epoch"]
    for name, epochs in times.items():
        values = [e.seconds for e in epochs]
        early, late = statistics.median(values[1:6]), statistics.median(values[-5:])
        verdict = "flat (within 15%)" if late <= 1.15 * early else "NOT flat (more than 15% slower)"
        lines.append(f"  {name:6s} epochs 2-6: {early:.3f}  last 5: {late:.3f}  "
                     f"last/early {late / early:.2f}  {verdict}")
        lines.append(f"         all: {' '.join(f'{t:.3f}' for t in values)}")
    return "\n".join(lines)


def format_table(rows: list[Row]) -> str:
    """Markdown table of the medians and ratios."""

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def ratio(a: float, b: float | None) -> str:
        return "-" if b is None else f"{a / b:.2f}"

    lines = [
        "| batch | optimizer | nnlib s/epoch | torch s/epoch | torch FTZ s/epoch | nnlib/torch "
        "| nnlib/torch FTZ | GEMM-only s/epoch | nnlib/GEMM |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.batch_size} | {r.optimizer} | {r.nnlib:.3f} | {seconds(r.torch)} | {seconds(r.torch_ftz)} "
            f"| {ratio(r.nnlib, r.torch)} | {ratio(r.nnlib, r.torch_ftz)} "
            f"| {r.gemm:.3f} | {ratio(r.nnlib, r.gemm)} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    """The course's speed targets at batch 128, checked against this run."""
    lines = []
    for r in rows:
        if r.batch_size != 128:
            continue
        if r.torch is not None and r.torch_ftz is not None:
            best = min(r.torch, r.torch_ftz)
            lines.append(f"{r.optimizer}: nnlib/faster torch {r.nnlib / best:.2f} (target <= 0.75): "
                         f"{'met' if r.nnlib <= 0.75 * best else 'MISSED'}")
            if r.optimizer == "Adam":
                lines.append(f"{r.optimizer}: nnlib/torch as shipped {r.nnlib / r.torch:.2f} "
                             f"(target <= 0.6): {'met' if r.nnlib <= 0.6 * r.torch else 'MISSED'}")
        lines.append(f"{r.optimizer}: nnlib/GEMM-only {r.nnlib / r.gemm:.2f} (target <= 3): "
                     f"{'met' if r.nnlib <= 3 * r.gemm else 'MISSED'}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description="Time nnlib's fit per epoch against PyTorch (CPU), side by side in one process.")
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs per run; the median is reported (default 20)")
    parser.add_argument("--batch-sizes", default="64,128,256", help="comma-separated (default 64,128,256)")
    parser.add_argument("--optimizers", default="momentum,adam",
                        help="comma-separated, from: momentum (SGD+momentum), adam (default both)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for NumPy's BLAS and for PyTorch (default 1)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--torch-l2", choices=("weight_decay", "loss"), default="weight_decay",
                        help="how PyTorch applies L2: the optimizer's weight_decay (default, faster) "
                             "or 0.5*l2*sum(W^2) added to the loss (the same work as nnlib)")
    parser.add_argument("--flatness", action="store_true",
                        help="also check that the epoch time stays flat over a long Adam + L2 run")
    parser.add_argument("--flatness-epochs", type=int, default=40, help="length of that run (default 40)")
    parser.add_argument("--no-table", action="store_true", help="skip the table (e.g. with --flatness)")
    parser.add_argument("--subset", type=int, default=None,
                        help="use only the first N training images (quick smoke runs; not comparable)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the weights, batch order and dropout")
    parser.add_argument("--data", type=Path, default=None, help="MNIST bundle (default: the course's)")
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batch-sizes: expected comma-separated positive integers, got {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes: expected comma-separated positive integers, got {args.batch_sizes}")
    args.optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    unknown = set(args.optimizers) - set(OPTIMIZER_NAMES)
    if unknown:
        parser.error(f"unknown optimizer(s) {', '.join(sorted(unknown))}; choose from momentum, adam")
    if args.epochs < 1 or args.flatness_epochs < 10 or args.threads < 1:
        parser.error("need --epochs >= 1, --flatness-epochs >= 10 and --threads >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from threadpoolctl import threadpool_limits

    data = load_mnist(args.data)
    if args.subset is not None:
        data = MNIST(data.x_train[: args.subset], data.y_train[: args.subset],
                     data.x_val, data.y_val, data.x_test, data.y_test)
    limits = threadpool_limits(args.threads)
    try:
        # nnlib alone first, for its memory: the floor per batch size and a warm-up epoch.
        gemm = {b: gemm_epoch_seconds(data.x_train, b) for b in args.batch_sizes}
        for name in args.optimizers:
            config = course_config(name)
            model = mlp(COURSE_SIZES, config.dropout, np.random.default_rng(args.seed))
            nnlib_trainer(config, data, 128, model, np.random.default_rng(0), constant_schedule(config.lr))()
        rss_nnlib = peak_rss_mb()

        torch = None if args.no_torch else import_torch()
        print(f"nnlib benchmark: {COURSE_SIZES[0]}-{'-'.join(map(str, COURSE_SIZES[1:]))} network, float32, "
              f"{len(data.x_train):,} training images, {args.epochs} epochs per run (median per epoch)")
        print(f"CPU: {cpu_description()[0]}; Python {platform.python_version()}, NumPy {np.__version__}")
        print(blas_description(args.threads))
        if torch is None:
            reason = "--no-torch given" if args.no_torch else "PyTorch is not installed"
            print(f"PyTorch: skipped ({reason}); the torch columns stay empty. For the comparison: "
                  f"pip install torch=={TORCH_VERSION} (or `make bench`).")
        else:
            torch.set_num_threads(args.threads)
            print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s) "
                  f"(torch.set_num_threads), L2 via {args.torch_l2}; "
                  "'torch FTZ' = with torch.set_flush_denormal(True)")
        sys.stdout.flush()

        if not args.no_table:
            rows = []
            for batch_size in args.batch_sizes:
                for name in args.optimizers:
                    row = run_setting(torch, course_config(name), data, batch_size, args.epochs,
                                      args.seed, gemm[batch_size], args.torch_l2 == "loss")
                    rows.append(row)
                    print(f"  done: batch {batch_size}, {row.optimizer}", file=sys.stderr, flush=True)
            print()
            print(format_table(rows))
            print()
            for line in verdicts(rows):
                print(line)
            print("\nSame training? Accuracy on the last epoch's training batches (dropout on):")
            for r in rows:
                accuracies = ", ".join(f"{name} {acc:.2%}" for name, acc in r.train_acc.items())
                print(f"  batch {r.batch_size}, {r.optimizer}: {accuracies}")
        if args.flatness:
            print()
            print(flatness(torch, data, args.flatness_epochs, args.seed, args.torch_l2 == "loss"))
        rss_total = peak_rss_mb()
        if rss_total is not None:
            print(f"\nPeak memory (max RSS): {rss_nnlib:.0f} MB with nnlib alone (data included), "
                  f"{rss_total:.0f} MB for the whole run{' (PyTorch included)' if torch else ''}")
    finally:
        limits.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
