"""The course's training runs: tuned configurations, one run, the results table.

Used by `python -m nnlib reproduce` and by lesson 07, so both report the same thing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from nnlib.data import MNIST
from nnlib.network import Sequential, mlp
from nnlib.optim import SGD, Adam, Optimizer, Schedule, constant_schedule, cosine_schedule
from nnlib.train import History, evaluate, fit
from nnlib.validation import integer, probability, real

COURSE_SIZES = (784, 128, 64, 10)
OPTIMIZERS = ("sgd", "momentum", "adam")

# The original project's table (L2 + dropout), which every run must beat.
ORIGINAL_RESULTS = {
    "SGD": {"train_acc": 1.0, "val_acc": 0.9760, "val_loss": 0.1093},
    "SGD + momentum": {"train_acc": 1.0, "val_acc": 0.9757, "val_loss": 0.1126},
    "Adam": {"train_acc": 1.0, "val_acc": 0.9753, "val_loss": 0.1161},
}


@dataclass(frozen=True)
class RunConfig:
    """One training run of the course network."""

    name: str
    optimizer: str  # "sgd", "momentum" or "adam"
    lr: float
    dropout: float
    l2: float
    momentum: float = 0.0
    epochs: int = 40
    batch_size: int = 128
    schedule: str = "cosine"  # "cosine" (to zero) or "constant"
    seed: int = 1

    def __post_init__(self) -> None:
        """Refuse settings that would train something else than they say (a recorded momentum that
        plain SGD ignores, a negative dropout that acts as none, ...)."""
        where = f"run {self.name!r}"
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"{where}: optimizer must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        real(self.lr, "lr", where, low=0.0, low_open=True)
        probability(self.dropout, "dropout", where)
        real(self.l2, "l2", where, low=0.0)
        real(self.momentum, "momentum", where, 0.0, 1.0, high_open=True)
        if self.momentum and self.optimizer != "momentum":
            raise ValueError(f"{where}: momentum {self.momentum:g} is only used by the optimizer 'momentum', "
                             f"not {self.optimizer!r}")
        integer(self.epochs, "epochs", where)
        integer(self.batch_size, "batch_size", where)
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"{where}: schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        integer(self.seed, "seed", where, minimum=0)


COURSE_RUNS = (
    RunConfig("SGD", "sgd", lr=0.5, dropout=0.05, l2=5e-4),
    RunConfig("SGD + momentum", "momentum", lr=0.05, momentum=0.9, dropout=0.05, l2=3e-4),
    RunConfig("Adam", "adam", lr=3e-3, dropout=0.1, l2=1e-4),
)


@dataclass
class RunResult:
    config: RunConfig
    history: History
    model: Sequential
    train_acc: float
    val_acc: float
    val_loss: float
    test_acc: float
    seconds: float

    @property
    def partial(self) -> bool:
        """True if the run stopped early (interrupted): fewer epochs than its config asks for."""
        return self.history.interrupted or self.history.epochs < self.config.epochs

    def summary(self) -> dict:
        row = {k: v for k, v in asdict(self).items() if k not in ("history", "model", "config")}
        return {"config": asdict(self.config), **row, "partial": self.partial,
                "epochs_completed": self.history.epochs, "history": self.history.to_dict()}


def make_optimizer(config: RunConfig, model: Sequential) -> Optimizer:
    if config.optimizer == "adam":
        return Adam(model.parameters(), lr=config.lr)
    if config.optimizer in ("sgd", "momentum"):
        momentum = config.momentum if config.optimizer == "momentum" else 0.0
        return SGD(model.parameters(), lr=config.lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def train_run(config: RunConfig, data: MNIST, progress: bool = True) -> RunResult:
    """Train the course network with `config` on `data` and evaluate it on every split.

    Ctrl-C during training stops it (see `fit`); the model is then evaluated as it is, and the
    result says so: `result.partial` and `result.history.interrupted` are True.
    """
    rng = np.random.default_rng(config.seed)
    model = mlp(COURSE_SIZES, config.dropout, rng)
    optimizer = make_optimizer(config, model)
    steps = total_steps(config, data)
    schedule = (
        cosine_schedule(config.lr, steps) if config.schedule == "cosine" else constant_schedule(config.lr)
    )
    return fit_and_evaluate(config, data, model, optimizer, schedule, rng, progress)


def total_steps(config: RunConfig, data: MNIST) -> int:
    """Optimizer steps in the whole run (what a schedule spans): epochs x batches per epoch."""
    return config.epochs * -(-len(data.x_train) // config.batch_size)


def fit_and_evaluate(
    config: RunConfig, data: MNIST, model: Sequential, optimizer: Optimizer, schedule: Schedule,
    rng: np.random.Generator, progress: bool = True, **fit_options,
) -> RunResult:
    """Train `model` as `config` says (its epochs, batch size and L2; `rng` shuffles), then
    evaluate it on every split. `fit_options` go to `fit` (e.g. `loss_fn`, `l2_functions`)."""
    started = time.perf_counter()
    l2 = 0.0 if "step" in fit_options else config.l2  # a training step adds L2 itself
    history = fit(
        model, optimizer, data.x_train, data.y_train,
        epochs=config.epochs, rng=rng, batch_size=config.batch_size, l2=l2,
        schedule=schedule, x_val=data.x_val, y_val=data.y_val, progress=progress, **fit_options,
    )
    seconds = time.perf_counter() - started
    _, train_acc = evaluate(model, data.x_train, data.y_train)
    val_loss, val_acc = evaluate(model, data.x_val, data.y_val, loss_fn=fit_options.get("loss_fn"))
    _, test_acc = evaluate(model, data.x_test, data.y_test)
    return RunResult(config, history, model, train_acc, val_acc, val_loss, test_acc, seconds)


def with_overrides(config: RunConfig, **changes) -> RunConfig:
    """`config` with the given fields changed (None values ignored)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


def results_table(results: list[RunResult]) -> str:
    """The original project's table, plus test accuracy and training time (markdown).

    A run that stopped early is marked PARTIAL in its row, with the epochs it completed, and a
    notice above the table says the table is not a complete result.
    """
    partial = [r for r in results if r.partial]
    lines = []
    if partial:
        lines += [f"**PARTIAL RESULT: {len(partial)} of {len(results)} runs stopped early (interrupted); "
                  "their numbers are not comparable with complete runs.**", ""]
    lines += [
        "| Optimizer | Train Acc | Val Acc | Val Loss | Test Acc | Time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.config.name}{_partial_mark(r)} | {r.train_acc:.2%} | {r.val_acc:.2%} | {r.val_loss:.4f} "
            f"| {r.test_acc:.2%} | {r.seconds:.1f} s |"
        )
    return "\n".join(lines)


def _partial_mark(result: RunResult) -> str:
    if not result.partial:
        return ""
    return f" (PARTIAL: {result.history.epochs} of {result.config.epochs} epochs)"
