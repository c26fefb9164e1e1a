"""Every figure of nnlib.course.plots: drawn without error, labelled, kept out of pyplot, free of mathtext,
in the course's colour-blind-safe palette.

Mathtext matters because JupyterLab runs widget callbacks in a kernel subshell, a thread of
their own, while cells keep running in the main thread: matplotlib's mathtext parser is one
object shared by all threads, and two figures that both use it, drawn at the same moment,
fail inside it. nnlib's figures therefore write no mathtext at all.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib import _mathtext
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

from nnlib.course import plots
from nnlib.curves import PALETTE
from nnlib.optim import cosine_schedule, step_schedule
from nnlib.train import History


def valley(w: np.ndarray) -> np.ndarray:
    return 0.5 * (w[..., 0] ** 2 + 20 * w[..., 1] ** 2)


def history(epochs: int, shift: float = 0.0) -> History:
    loss = list(np.geomspace(0.5, 0.05, epochs) + shift)
    acc = list(np.linspace(0.85, 0.99, epochs))
    return History(train_loss=loss, train_acc=acc, val_loss=loss, val_acc=acc, lr=[0.1] * epochs,
                   epoch_time=[1.0] * epochs)


ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)
IMAGES = RNG.random((30, 784)).astype(np.float32)
LABELS = np.arange(30) % 10
PROBS = RNG.dirichlet(np.ones(10), size=30)
PATH = np.array([[-4.0, 2.0], [-3.0, -1.0], [0.0, 0.0]])
WEIGHTS = [RNG.standard_normal((784, 128)), RNG.standard_normal((128, 64))]

FIGURES: dict[str, Callable[[], Figure]] = {
    "learning_curves": lambda: plots.learning_curves({"SGD": history(5), "Adam": history(5, 0.01)}),
    "sample_grid": lambda: plots.sample_grid(IMAGES, LABELS),
    "class_balance": lambda: plots.class_balance({"train": LABELS, "test": LABELS[:20]}),
    "mean_digits": lambda: plots.mean_digits(IMAGES, LABELS),
    "pixel_histogram": lambda: plots.pixel_histogram(np.arange(256) + 1),
    "activation_functions": plots.activation_functions,
    "activation_stds": lambda: plots.activation_stds({"He": np.geomspace(1, 1e-6, 20)}, ylim=(1e-10, 1e10)),
    "predicted_probabilities": lambda: plots.predicted_probabilities(IMAGES[:4], PROBS[:4], LABELS[:4]),
    "optimizer_paths": lambda: plots.optimizer_paths(valley, {"SGD": PATH, "diverging": PATH[::-1] * 3}),
    "lr_schedules": lambda: plots.lr_schedules(
        {"cosine": cosine_schedule(0.1, 50), "step": step_schedule(0.1, 20, 0.1)}, 50),
    "optimizer_race": lambda: plots.optimizer_race({"SGD": history(5), "Adam": history(5, 0.01)}),
    "confusion_matrix": lambda: plots.confusion_matrix(np.array([[5, 1], [2, 7]])),
    "confident_mistakes": lambda: plots.confident_mistakes(IMAGES, LABELS, PROBS, [0, 2, 5]),
    "digit_probabilities": lambda: plots.digit_probabilities(IMAGES[0], PROBS[0], label=3),
    "gradcheck_vs_epsilon": lambda: plots.gradcheck_vs_epsilon(
        np.geomspace(1e-10, 1e-1, 10), {"float64": np.geomspace(1e-4, 1e-10, 10)}),
    "dropout_mask": lambda: plots.dropout_mask(IMAGES[0], RNG.random(784) > 0.3, 0.3),
    "weight_histograms": lambda: plots.weight_histograms({"no L2": WEIGHTS, "L2": [w / 2 for w in WEIGHTS]}),
    "first_layer_weights": lambda: plots.first_layer_weights({"no L2": WEIGHTS[0], "L2": WEIGHTS[0] / 2}),
}


def test_every_public_figure_is_covered():
    public = {name for name, value in vars(plots).items()
              if callable(value) and not name.startswith("_")
              and getattr(value, "__module__", "") == plots.__name__
              and value.__annotations__.get("return") in ("Figure", Figure)}
    assert public == set(FIGURES)


@pytest.fixture
def no_mathtext(monkeypatch):
    def refuse(self, text, *args, **kwargs):
        raise AssertionError(f"mathtext used for {text!r}")

    monkeypatch.setattr(_mathtext.Parser, "parse", refuse)


@pytest.mark.parametrize("name", FIGURES)
def test_figure_draws_labelled_without_mathtext_or_pyplot(name, no_mathtext):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = FIGURES[name]()
    assert isinstance(fig, Figure)
    png = fig._repr_png_()  # what Jupyter shows; draws every label, so mathtext would fail here
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert plt.get_fignums() == before, "the figure must not stay registered with pyplot (shown twice)"
    title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    titled = bool(title) or any(ax.get_title() for ax in fig.axes)
    assert titled, f"{name}: no title"
    for ax in fig.axes:
        if ax.axison and ax.lines + ax.patches + ax.collections and ax.get_xticks().size:
            labelled = ax.get_xlabel() or ax.get_ylabel() or ax.get_label() == "<colorbar>"
            assert labelled, f"{name}: an axes with data but no axis label"


@pytest.mark.parametrize(("value", "label"), [(1e-3, "10⁻³"), (1.0, "10⁰"), (100.0, "10²"), (2e-5, "2×10⁻⁵")])
def test_log_axis_labels_are_plain_unicode(value, label):
    fig = plots.activation_stds({"He": np.geomspace(1e-6, 1e2, 20)})
    fig.savefig(io.BytesIO(), format="png")
    formatter = fig.axes[0].yaxis.get_major_formatter()
    assert isinstance(formatter, plots._PowerOfTenFormatter)
    assert formatter._num_to_string(value, 1e-6, 1e2) == label


def test_two_threads_draw_at_once():
    """A widget's thread and the cell's thread drawing log-axis figures at the same moment."""
    failures: list[BaseException] = []

    def draw_many(make: Callable[[], Figure]) -> None:
        try:
            for _ in range(8):
                make().savefig(io.BytesIO(), format="png")
        except BaseException as error:  # noqa: BLE001 - reported below, with the figure's name
            failures.append(error)

    threads = [threading.Thread(target=draw_many, args=(FIGURES[name],))
               for name in ("optimizer_paths", "gradcheck_vs_epsilon", "activation_stds")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_learning_curves_of_one_epoch_show_points():
    # A quick run (NNLIB_EPOCHS=1, the browser, grading) has one epoch: a line through one point is
    # invisible, so every curve gets a marker there; longer runs stay plain lines.
    one = plots.learning_curves({"quick": history(1)})
    assert all(line.get_marker() == "o"
               for ax in one.axes for line in ax.get_lines() if len(line.get_xdata()))
    assert sum(len(ax.get_lines()) for ax in one.axes) == 4
    # ... on an axis with the one whole epoch it is, not fractional ticks around it
    assert all(list(ax.get_xticks()) == [1] for ax in one.axes)
    longer = plots.learning_curves({"full": history(5)})
    assert all(line.get_marker() in ("None", "", None) for ax in longer.axes for line in ax.get_lines())
    assert all(list(ax.get_xticks()) != [1] for ax in longer.axes)


def test_learning_curves_mention_l2_only_where_a_run_can_use_it():
    """Lessons 03-04 train without L2 (taught in 05): their loss panel and alt text say cross-entropy
    alone."""
    runs = {"SGD": history(5)}
    assert plots.learning_curves(runs).axes[0].get_title() == "Loss (training: cross-entropy + L2 penalty)"
    without = plots.learning_curves(runs, l2=False)
    assert without.axes[0].get_title() == "Loss (cross-entropy)"
    assert "L2" not in without.alt_text and "Loss (cross-entropy)" in without.alt_text


def _chromatic(color) -> bool:
    """Not white, black or a grey (those are for axes, guides and 'the others')."""
    r, g, b = to_rgb(color)
    return max(r, g, b) - min(r, g, b) > 0.02


@pytest.mark.parametrize("name", FIGURES)
def test_lines_bars_and_labels_are_drawn_in_the_course_palette(name):
    """One colour-blind-safe palette (Okabe-Ito, nnlib.curves.PALETTE) in every figure: no
    matplotlib default colour (tab:blue ...), no red next to green. Colour maps (digits, weights,
    the confusion matrix) are not lines and are checked by eye."""
    palette = {to_hex(c) for c in PALETTE.values()}
    fig = FIGURES[name]()
    used = set()
    for ax in fig.axes:
        used.update(to_hex(line.get_color()) for line in ax.lines if _chromatic(line.get_color()))
        used.update(to_hex(patch.get_facecolor(), keep_alpha=False) for patch in ax.patches
                    if patch.get_visible() and _chromatic(patch.get_facecolor()))
        texts = [*ax.texts, ax.title]
        used.update(to_hex(text.get_color()) for text in texts if _chromatic(text.get_color()))
    assert used <= palette, f"{name}: colours outside the palette {sorted(used - palette)}"


def test_a_colour_given_by_palette_name_is_the_palettes():
    fig = plots.lr_schedules({"cosine": cosine_schedule(0.1, 50)}, 50, colors={"cosine": "vermillion"})
    assert to_hex(fig.axes[0].lines[0].get_color()) == PALETTE["vermillion"].lower()


def test_the_lessons_name_palette_colours_not_matplotlibs():
    """A lesson picks colours by the palette's names ("blue", "bluish green"), never matplotlib's
    cycle ("C2") or tab colours, which are not colour-blind safe and which its text cannot name."""
    default = re.compile(r"""["'](C\d|tab:\w+|darkgreen|firebrick)["']""")
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert not default.findall(code), f"{notebook.name}: {sorted(set(default.findall(code)))}"
