"""Your code, assembled: the functions you write in the lessons, run by nnlib's own classes and loop.

From lesson 03 on, the network that learns MNIST is made of *your* functions, unchanged:

    lesson 02   linear_forward, relu, softmax, cross_entropy
    lesson 03   linear_backward, relu_backward, softmax_cross_entropy_backward, train_step,
                forward_layers, backward_layers, batch_indices, train_epoch (the loops)
    lesson 04   dropout_forward, dropout_backward
    lesson 05   l2_penalty, add_l2_grad
    lesson 06   sgd_momentum_step, adam_step, cosine_lr

`gather` collects them: the current lesson's from its own cells, earlier lessons' from their
notebook files as last saved. Each is checked quietly by its lesson's checker:

- passed: training uses yours;
- not written yet (it raises NotImplementedError, or cannot be found): training borrows
  nnlib's, and one line says so, e.g. "⏳ using nnlib's relu_backward until yours is done";
- failed: training still uses yours, so that you see what the bug does; `Pieces.verdict`
  says so after training and points back to the check.

There is no second network: nnlib's `Linear`, `ReLU`, `Dropout`, `Sequential`, `SoftmaxCrossEntropy`,
`SGD`, `Adam`, `cosine_schedule` and `fit` call the functions of a namespace `fns`, and
`Pieces.fns()` is that namespace with your functions in it (nnlib's where one is borrowed), so
`Pieces.network` is `mlp(..., fns=your functions)`: the same classes, the same random initial weights.
What your functions return is checked as training calls them (`nnlib.course.returns`), and every call
marks the piece as used, which is what the verdict judges. Your `train_step` runs for each batch
(`Pieces.step`, with your L2 and your optimizer plugged in: `nnlib.course.training_step`), inside your
`train_epoch` (`Pieces.epoch_loop`). What stays nnlib's is the harness around your code: `fit`'s
progress bar, history, Ctrl-C, the divergence check, and counting the validation accuracy.
`Pieces.verdict` judges a run on your code only: a run with borrowed pieces gets no ✅, and it says
which parts were nnlib's.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from nnlib import data, layers, losses, network, optim, train
from nnlib.course import checks, exercises
from nnlib.course.browser import blas_operands
from nnlib.course.checks import grading
from nnlib.course.notebook_functions import functions_from_notebook
from nnlib.course.returns import PieceReturnedWrong, guarded
from nnlib.course.training_step import TrainingStep
from nnlib.data import MNIST
from nnlib.experiments import COURSE_SIZES, RunConfig, RunResult, fit_and_evaluate, total_steps
from nnlib.layers import Parameter
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.network import Sequential, mlp
from nnlib.optim import SGD, Adam, Optimizer, Schedule, constant_schedule, cosine_schedule
from nnlib.train import History

# nnlib's version of every piece: it runs where yours is not written yet.
NNLIB_VERSIONS: dict[str, Callable] = {
    name: getattr(module, name) for module, names in (
        (layers, ("linear_forward", "linear_backward", "relu", "relu_backward", "dropout_forward",
                  "dropout_backward")),
        (losses, ("softmax", "cross_entropy", "softmax_cross_entropy_backward", "l2_penalty", "add_l2_grad")),
        (optim, ("sgd_momentum_step", "adam_step", "cosine_lr")),
        (network, ("forward_layers", "backward_layers")),
        (data, ("batch_indices",)),
        (train, ("train_step", "train_epoch")),
    ) for name in names
}

# What nnlib still does in a run of your network (the verdict names it).
HARNESS = "the progress bar, the history, Ctrl-C, the divergence check and counting the validation accuracy"


@dataclass
class Pieces:
    """The learner's functions that training uses, and what happened to the others.

    `functions`: name -> your function, for every piece that is yours (passed or failed).
    `borrowed`: name -> why nnlib's is used instead (not written yet, not found, ...).
    `failed`: name -> the message of the check your function did not pass.
    `where`: name -> "this notebook" or the lesson file it was read from.
    """

    functions: dict[str, Callable] = field(default_factory=dict)
    borrowed: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # the pieces a run asked for, yours or borrowed

    def get(self, name: str) -> Callable | None:
        """Your function `name`, or None when nnlib's is borrowed (either way, `name` is used)."""
        self.used.add(name)
        return self.functions.get(name)

    # --- what the training machinery runs ---------------------------------------------

    def fns(self) -> SimpleNamespace:
        """The namespace `fns` that nnlib's classes call: your functions (what they return checked),
        nnlib's where a piece is borrowed. Each call marks its piece as used."""
        found = {}
        for name, nnlib_version in NNLIB_VERSIONS.items():
            yours = self.functions.get(name)
            if yours is None:
                function = nnlib_version
            elif name == "batch_indices":
                function = self._checked_batches(yours)
            else:
                function = guarded(self, name, _through_blas(name, yours))
            found[name] = self._marked(name, function)
        if "train_epoch" not in self.functions:  # nnlib's shuffles with the batch_indices given here
            epoch = train.train_epoch
            namespace = {**epoch.__globals__, "batch_indices": found["batch_indices"]}
            found["train_epoch"] = self._marked("train_epoch", types.FunctionType(epoch.__code__, namespace))
        elif "batch_indices" in self.where:  # yours calls your batch_indices itself
            found["train_epoch"] = self._marked("batch_indices", found["train_epoch"])
        return SimpleNamespace(**found)

    def _marked(self, name: str, function: Callable) -> Callable:
        @functools.wraps(function)  # the same signature: nnlib's classes look at its options
        def call(*args: object, **kwargs: object) -> object:
            self.used.add(name)
            return function(*args, **kwargs)

        return call

    def _checked_batches(self, batch_indices: Callable) -> Callable:
        """Your `batch_indices`; training stops with a clear message if it returns no list of indices."""

        def your_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
            batches = batch_indices(n, batch_size, rng)
            if not isinstance(batches, list | tuple) or not all(
                    isinstance(b, np.ndarray) and b.ndim == 1 and b.dtype.kind in "iu" for b in batches):
                raise PieceReturnedWrong(
                    f"your batch_indices ({self.where['batch_indices']}) returned {type(batches).__name__}, "
                    "expected a list of 1-D integer index arrays; its check says what is wrong: fix it "
                    "there, save, and run this lesson again")
            return batches

        return your_batches

    def network(self, sizes: Sequence[int], dropout: float, rng: np.random.Generator,
                dtype: np.dtype | type = np.float32) -> Sequential:
        """`nnlib.network.mlp(sizes, dropout, rng)` with your functions: the same classes and the same
        random draws (so the same seed gives the same initial weights)."""
        return mlp(sizes, dropout, rng, dtype=dtype, fns=self.fns())

    def epoch_loop(self) -> Callable:
        """`epoch_loop` for `fit(..., epoch_loop=...)`: your `train_epoch` (which shuffles with your
        `batch_indices`), or nnlib's, shuffling with your `batch_indices` if you wrote it."""
        return self.fns().train_epoch

    def loss(self) -> SoftmaxCrossEntropy:
        """Softmax + cross-entropy for `fit(..., loss_fn=...)`: your `cross_entropy` gives the
        loss, your `softmax_cross_entropy_backward` its gradient."""
        return SoftmaxCrossEntropy(fns=self.fns())

    def step(self, optimizer: Optimizer | None = None, l2: float = 0.0) -> TrainingStep:
        """`step` for `fit(..., step=...)`: your `train_step` (nnlib's if borrowed) for every batch,
        with your L2 of strength `l2` and, when given, `optimizer`'s direction (build it with
        `optimizer(...)`, so that it steps with your step function) in place of the plain gradient."""
        train_step = self.get("train_step")
        owner = f"your train_step ({self.where.get('train_step', 'this notebook')})"
        if train_step is None:
            train_step, owner = train.train_step, "nnlib's train_step"
        fns = self.fns()
        return TrainingStep(train_step, owner, optimizer=optimizer, lam=l2,
                            l2_functions=(fns.l2_penalty, fns.add_l2_grad),
                            failed=lambda: [f"your {name} ({self.where[name]})" for name in self.failed
                                            if name in self.used])

    def predict_proba(self, model: Sequential, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Class probabilities `(n, classes)` for x `(n, features)`: the network's logits (evaluation
        mode) through your `softmax` (nnlib's if borrowed)."""
        softmax = self.fns().softmax
        return np.concatenate([np.asarray(softmax(model.forward(x[start : start + batch_size])))
                               for start in range(0, len(x), batch_size)])

    def optimizer(self, kind: str, params: list[Parameter], lr: float, momentum: float = 0.9) -> Optimizer:
        """`kind` "sgd" (plain), "momentum" or "adam", stepping with your step function."""
        if kind == "adam":
            return Adam(params, lr, fns=self.fns())
        if kind in ("sgd", "momentum"):
            return SGD(params, lr, momentum=momentum if kind == "momentum" else 0.0, fns=self.fns())
        raise ValueError(f"unknown optimizer kind {kind!r}; choose 'sgd', 'momentum' or 'adam'")

    def cosine_schedule(self, lr: float, total_steps: int) -> Schedule:
        """`step -> lr` from your `cosine_lr(step, total, lr)` (nnlib's if borrowed)."""
        return cosine_schedule(lr, total_steps, fns=self.fns())

    # --- after training -------------------------------------------------------------------

    def verdict(self, history: History, expected_acc: float, pieces: Sequence[str] | None = None,
                without: Sequence[str] = (), run: str = "", nnlib_run: History | None = None) -> bool:
        """Print plainly whether your network learned (final validation accuracy at least
        `expected_acc`), judged on your code only: with a borrowed piece among `pieces` (default:
        the gathered pieces that training used) there is no ✅, and the count of nnlib's pieces
        comes first. Points back to every failed check, and says which parts of the run were yours
        and which nnlib's. `without`: pieces this run did not use (another run of the lesson did).
        `run`: the name of the judged run, where a lesson has several (06: a ✅ for the momentum run
        must not read as one for Adam). `nnlib_run`: the history of nnlib's run beside it (the same
        settings), quoted when every check passed but your network did not learn.
        Returns True when it learned with your pieces only, all of them passing their checks."""
        accuracy = history.val_acc[-1] if history.val_acc else float("nan")
        epochs = f"{history.epochs} epoch{'s' * (history.epochs != 1)}"
        names = [name for name in self._judged(pieces) if name not in without]
        borrowed = [name for name in names if name in self.borrowed]
        failed = {name: self.failed[name] for name in names if name in self.failed}
        learned = accuracy >= expected_acc
        reached = (f"{accuracy:.2%} validation accuracy after {epochs}"
                   + ("" if learned else f", expected at least {expected_acc:.0%} (guessing gives 10%)"))
        network = f"your network ({run})" if run else "your network"
        if history.stopped:
            print(f"⚠️ training stopped early ({history.stopped}) after {epochs}")
        if borrowed:
            outcome = "learned" if learned else "did not learn"
            print(f"⏳ not yet {network}: {len(borrowed)} of {len(names)} pieces are nnlib's "
                  f"({', '.join(borrowed)}); with them it {outcome}: {reached}")
        elif learned and failed:
            print(f"⚠️ {network} learned ({reached}), but with a piece that failed its check: a bug that "
                  "does not stop learning still changes the result")
        elif learned:
            print(f"✅ {network} learned: {reached} (expected at least {expected_acc:.0%})")
        else:
            print(f"❌ {network} did not learn as it should: {reached}")
        for name in failed:
            where = self.where[name]
            rerun = "run this lesson again"
            if where != "this notebook":  # the piece lives in an earlier lesson's file
                rerun = f"save {where}, {rerun}"
            consequence = " (the losses reported for your network come from it)" * (name == "cross_entropy")
            print(f"   ❌ your {name} failed its check in {where}{consequence}: fix it there (the check "
                  f"below it says what is wrong), {rerun}")
        if not learned and not failed and not borrowed:
            if history.interrupted:
                print("   training was interrupted: run the cell again and let it finish to judge the "
                      "whole run")
            else:
                print(f"   every check passed, yet it did not learn: the checks try each piece on a few "
                      f"cases and cannot see every bug; {_beside(nnlib_run)}")
        print(f"   {self.what_ran(names)}")
        print(f"   nnlib's harness ran around it: {HARNESS}")
        # Gathered pieces this run does not use: said where a count or a failed check could make
        # the learner look for them here (03: eight "using nnlib's" lines, "7 of 7 pieces").
        unused = [name for name in self.where if name not in names]
        if unused and (borrowed or any(name in self.failed for name in unused)):
            print(f"   this run does not use {_listed(unused)}: not judged here")
        return learned and not failed and not borrowed

    def _judged(self, pieces: Sequence[str] | None) -> list[str]:
        """The gathered pieces among `pieces`, or those used so far (all, before any run)."""
        if pieces is None:
            pieces = self.used or self.where
        return [name for name in self.where if name in pieces]

    def what_ran(self, names: Sequence[str] | None = None) -> str:
        """Which parts of a run were your code and which nnlib's, among the pieces `names`."""
        names = self._judged(names)
        yours, nnlibs = [], []
        for stage, members in exercises.stages().items():
            present = [name for name in members if name in names]
            borrowed = [name for name in present if name in self.borrowed]
            if borrowed:
                nnlibs.append(f"{stage} ({', '.join(borrowed)})")
            elif present:
                yours.append(stage)
        if not nnlibs:
            return f"every part of this run was your code: {_listed(yours)}"
        if not yours:
            return f"none of this run was your code yet: nnlib's ran the {_listed(nnlibs)}"
        return f"your code ran the {_listed(yours)}; nnlib's ran in the {_listed(nnlibs)}"

    def explain(self, names: Sequence[str], what: str = "this result") -> str:
        """Print and return a line naming the pieces among `names` that are not your correct code
        (failed, or borrowed), on which `what` depends; "" (nothing printed) when there are none."""
        causes = [f"your {name} failed its check" for name in names if name in self.failed]
        causes += [f"nnlib's {name} stood in for yours" for name in names if name in self.borrowed]
        if not causes:
            return ""
        line = f"⚠️ {what} depends on pieces that are not your correct code yet: {'; '.join(causes)}"
        print(line)
        return line

    def table_note(self) -> str:
        """What a results table must say beside a run of your network: "" when every piece it used
        is yours and passed its check, else e.g. " (2 of 16 pieces nnlib's; your adam_step failed
        its check)"."""
        notes = [self.borrowed_count()] if self.borrowed_count() else []
        failed = [name for name in self._judged(None) if name in self.failed]
        if failed:
            checks_word = "its check" if len(failed) == 1 else "their checks"
            notes.append(f"your {', '.join(failed)} failed {checks_word}")
        return f" ({'; '.join(notes)})" if notes else ""

    def borrowed_count(self, pieces: Sequence[str] | None = None) -> str:
        """"" when every piece among `pieces` (default all) is yours, else e.g. "3 of 16 pieces nnlib's"."""
        names = self._judged(pieces)
        borrowed = [name for name in names if name in self.borrowed]
        return f"{len(borrowed)} of {len(names)} pieces nnlib's" if borrowed else ""


def _listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def gather(
    here: dict[str, Callable] | None = None,
    earlier: Sequence[str] = (),
    folder: str | os.PathLike | None = None,
) -> Pieces:
    """Collect your pieces: `here` maps names to the functions of this notebook; `earlier`
    lists lesson files (in `folder`, default the current folder, where Jupyter runs a
    notebook) whose pieces are read as last saved. Prints one line per piece that is not
    yours (borrowed from nnlib) or failed its check, and one line naming yours."""
    folder = Path(folder) if folder is not None else Path.cwd()
    lessons = dict.fromkeys(exercises.pieces().values())
    if not isinstance(earlier, list | tuple) or any(lesson not in lessons for lesson in earlier):
        raise ValueError(f"gather: earlier must list lesson files among {', '.join(lessons)}; "
                         f"got {earlier!r}")
    found: dict[str, tuple[Callable | None, str, str]] = {}  # name -> (function, where, problem)
    for lesson in earlier:
        names = [name for name, home in exercises.pieces().items() if home == lesson]
        for name, (function, problem) in functions_from_notebook(folder / lesson, names).items():
            found[name] = (function, lesson, problem)
    if not isinstance(here, dict | None):
        raise ValueError(f"gather: here must map piece names to functions, got {type(here).__name__}")
    for name, function in (here or {}).items():
        if name not in exercises.pieces():
            raise ValueError(f"gather: {name!r} is not a piece of the network; "
                             f"the pieces are {', '.join(exercises.pieces())}")
        found[name] = (function, "this notebook", "")
    pieces = Pieces()
    for name, (function, where, problem) in found.items():
        pieces.where[name] = where
        status, message = ("missing", problem) if function is None else assess(name, function)
        if status == "missing":
            pieces.borrowed[name] = message
            continue
        pieces.functions[name] = function
        if status == "failed":
            pieces.failed[name] = message
    _announce(pieces)
    return pieces


def _announce(pieces: Pieces) -> None:
    by_place: dict[str, list[str]] = {}
    for name in pieces.functions:
        by_place.setdefault(pieces.where[name], []).append(name)
    if by_place:
        print("🧩 your code in this network: "
              + "; ".join(f"{', '.join(names)} ({place})" for place, names in by_place.items()))
    for name, why in pieces.borrowed.items():
        print(f"⏳ using nnlib's {name} until yours is done{f' ({why})' if why else ''}")
    for name, message in pieces.failed.items():
        print(f"⚠️ your {name} ({pieces.where[name]}) failed its check; training uses it anyway, so you can "
              f"see what it does: {message}")


def assess(name: str, function: Callable) -> tuple[str, str]:
    """Run the checker of piece `name` on `function` without printing: ("passed", ""),
    ("missing", "") when it raises NotImplementedError, or ("failed", the checker's message)."""
    check = getattr(checks, name)
    output = io.StringIO()
    endless = ("missing", "its graded check did not finish in time, so training does not run it")
    if grading.timed_out(function):  # grading mode only: an endless loop would stall training
        return endless
    try:
        with contextlib.redirect_stdout(output):
            check(function)
    except checks.CheckFailed as failure:
        if grading.timed_out(function):
            return endless
        message = str(failure).removeprefix(f"{name}: ")
        # Grading mode (NNLIB_STRICT_CHECKS=1) turns "not implemented yet" into a failure.
        return ("missing", "") if message == "not implemented" else ("failed", message)
    return ("missing", "") if output.getvalue().startswith("⏳") else ("passed", "")


def _through_blas(name: str, function: Callable) -> Callable:
    """In the browser, your `x @ W` runs through SciPy's BLAS (nnlib.course.browser.blas_operands)."""
    if name == "linear_forward":
        return lambda x, W, b: function(*blas_operands(x, W), b)
    if name == "linear_backward":
        return lambda dy, x, W: function(*blas_operands(dy, x, W))
    return function


# --- a course run (lesson 07), made of your pieces ---------------------------------------------


def train_course_run(config: RunConfig, data: MNIST, pieces: Pieces, progress: bool = True) -> RunResult:
    """`nnlib.experiments.train_run` with your pieces: the same network, seed, optimizer,
    schedule, L2 and dropout as the configuration `config`, built from `pieces`, trained by
    your epoch loop and training step (with your L2 and your optimizer plugged in) and measured
    by your loss."""
    rng = np.random.default_rng(config.seed)
    model = pieces.network(COURSE_SIZES, config.dropout, rng)
    optimizer = pieces.optimizer(config.optimizer, model.parameters(), config.lr, momentum=config.momentum)
    if config.schedule == "cosine":
        schedule = pieces.cosine_schedule(config.lr, total_steps(config, data))
    else:
        schedule = constant_schedule(config.lr)
    return fit_and_evaluate(config, data, model, optimizer, schedule, rng, progress,
                            step=pieces.step(optimizer, l2=config.l2), loss_fn=pieces.loss(),
                            epoch_loop=pieces.epoch_loop())


def __getattr__(name: str) -> dict[str, str]:
    # LESSON_OF (piece -> its notebook file) comes from the registry, filled as the checkers load.
    if name == "LESSON_OF":
        return exercises.pieces()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _beside(nnlib_run: History | None) -> str:
    """Where to look when every check passed but the network did not learn: nnlib's run beside it."""
    if nnlib_run is None or not nnlib_run.val_acc:
        return ("compare with nnlib's run beside it in this lesson: if that one learned, the settings are "
                "fine and the difference is in your code")
    return (f"nnlib's run beside it reached {nnlib_run.val_acc[-1]:.2%} with the same settings, so the "
            "difference is in your code, not in the learning rate or the epochs")
