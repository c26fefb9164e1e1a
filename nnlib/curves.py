"""Learning curves of training runs: the figure `python -m nnlib reproduce` writes.

`draw_learning_curves(fig, histories)` draws loss and accuracy per epoch of each `History` into a
matplotlib `Figure` (no pyplot, so it works without a display). The lessons show the same figure
through `nnlib.course.plots.learning_curves`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from nnlib.train import History

# The course's one palette, in every figure of the lessons and the README (nnlib.course.plots uses
# it too): Okabe and Ito's eight colours, which stay distinguishable with the common colour-vision
# deficiencies. Runs take them in this order; the names are the ones the lessons' text uses.
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "bluish green": "#009E73", "vermillion": "#D55E00",
           "reddish purple": "#CC79A7", "sky blue": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}


def palette_color(index: int) -> str:
    """The `index`-th colour of PALETTE (round again after the eighth)."""
    colors = list(PALETTE.values())
    return colors[index % len(colors)]


class _DecimalLogFormatter(LogFormatter):
    """Log-axis tick labels as plain decimals (0.4, 0.05) instead of 4×10⁻¹; which minor ticks
    get a label is matplotlib's usual choice (all of them when the axis spans less than a decade)."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:.2g}"


def decimal_log_labels(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(_DecimalLogFormatter())
    ax.yaxis.set_minor_formatter(_DecimalLogFormatter(labelOnlyBase=False))


def _accuracy_limits(ax: Axes, histories: Mapping[str, History]) -> None:
    """Accuracy y-limits that fit every plotted point from epoch 2 on. The first epoch's training accuracy
    (the mean over an epoch that starts from random weights) can be far lower; rather than squash the other
    curves, such a point is marked by a triangle on the bottom edge and its value is written in the corner."""
    after_first = [acc for h in histories.values() for acc in (*h.train_acc[1:], *h.val_acc)]
    if not after_first:  # single-epoch runs: fit everything
        after_first = [acc for h in histories.values() for acc in h.train_acc]
    bottom = max(min(after_first, default=0.9) * 100 - 0.5, 0)
    ax.set_ylim(bottom, 100.2)
    below = [(index, name, h.train_acc[0] * 100) for index, (name, h) in enumerate(histories.items())
             if len(h.train_acc) > 1 and h.train_acc[0] * 100 < bottom]
    for index, _, _ in below:
        ax.plot(1, bottom, marker="v", markersize=8, color=palette_color(index), clip_on=False, zorder=5)
    if below:
        # Below the x-axis label, where it cannot run into the curves or the legend.
        ax.annotate(f"▼ epoch 1, training: {_first_epoch_values(below, len(histories))}",
                    xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                    va="top", fontsize=8, color="0.3")


def _first_epoch_values(below: Sequence[tuple[int, str, float]], runs: int) -> str:
    """'SGD 88%; Adam 91%' for the runs whose first-epoch accuracy is off the axis, or just '87%'
    for a single run, or '79% (every run)' when all of them round to the same value."""
    values = [f"{value:.0f}%" for _, _, value in below]
    if runs == 1:
        return values[0]
    if len(below) == runs and len(set(values)) == 1:
        return f"{values[0]} (every run)"
    return "; ".join(f"{name} {value}" for (_, name, _), value in zip(below, values, strict=True))


def draw_learning_curves(fig: Figure, histories: Mapping[str, History],
                         title: str = "Learning curves") -> Figure:
    """Loss and accuracy per epoch, training (dashed) vs validation (solid), one colour per run.

    The loss axis is logarithmic (with decimal labels). The accuracy axis fits every point from
    epoch 2 on; a first-epoch training accuracy below it is marked by a triangle, with its value.
    """
    ax_loss, ax_acc = fig.subplots(1, 2)
    for index, (name, history) in enumerate(histories.items()):
        color = palette_color(index)
        epochs = np.arange(1, history.epochs + 1)
        dot = "o" if history.epochs == 1 else ""  # a line needs two epochs; one is a point (a quick run)
        ax_loss.plot(epochs, history.train_loss, f"{dot}--", color=color, alpha=0.7, label=f"{name} train")
        ax_acc.plot(epochs, np.array(history.train_acc) * 100, f"{dot}--", color=color, alpha=0.7,
                    label=f"{name} train")
        if history.val_loss:
            ax_loss.plot(epochs, history.val_loss, f"{dot}-", color=color, label=f"{name} val")
            ax_acc.plot(epochs, np.array(history.val_acc) * 100, f"{dot}-", color=color, label=f"{name} val")
    # fit's training loss includes the L2 penalty; the validation loss is cross-entropy alone.
    ax_loss.set(xlabel="epoch", ylabel="loss (log scale)", yscale="log",
                title="Loss (training: cross-entropy + L2 penalty)")
    decimal_log_labels(ax_loss)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    _accuracy_limits(ax_acc, histories)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, also for short runs
        if max(h.epochs for h in histories.values()) == 1:  # else the one point gets ticks 0.95 ... 1.05
            ax.set(xlim=(0.5, 1.5), xticks=[1])
        ax.grid(alpha=0.3, which="both" if ax is ax_loss else "major")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig
