"""Figures for the lessons and the results (matplotlib).

Every function returns the `Figure` so a caller can save it; in a notebook it
is shown automatically.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import (
    FormatStrFormatter,
    LogFormatter,
    LogFormatterSciNotation,
    LogLocator,
)

from nnlib.curves import PALETTE, decimal_log_labels, draw_learning_curves, palette_color
from nnlib.train import History


def one_at_a_time(draw: Callable[..., Figure | None]) -> Callable[..., None]:
    """Wrap a figure-drawing function for `ipywidgets.interact`: draw and show one figure at a time.

    JupyterLab sends widget messages to a kernel subshell, so a callback runs in a thread of
    its own, alongside the cell that runs in the main thread. matplotlib is not thread-safe:
    the lock keeps this widget's figures one at a time, and nnlib's figures avoid mathtext,
    the part that fails when two threads draw at once (see `_PowerOfTenFormatter`).
    """
    lock = threading.RLock()

    @functools.wraps(draw)
    def run(*args, **kwargs) -> None:
        from IPython.display import display

        with lock:
            figure = draw(*args, **kwargs)
            if figure is not None:
                display(figure)

    return run


def learning_curves(histories: Mapping[str, History], title: str = "Learning curves",
                    l2: bool = True) -> Figure:
    """`nnlib.curves.draw_learning_curves` as a lesson figure (shown in a notebook, with alt text).
    `l2=False`: no run used L2, so the loss panel says cross-entropy alone (lessons 03-04 come
    before L2 is taught)."""
    fig = LessonFigure(figsize=(11, 4))
    draw_learning_curves(fig, histories, title)
    if not l2:
        fig.axes[0].set_title("Loss (cross-entropy)")
    return _finished(fig)


# --- lessons 00-02: the data and the forward pass ---

DIGIT_CMAP = "gray_r"  # ink dark on white paper, as the digits were written


def _as_square_images(images: np.ndarray) -> np.ndarray:
    """`(n, 784)` rows or `(n, 28, 28)` images -> `(n, 28, 28)`."""
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"cannot show rows of {images.shape[1]} pixels as square images")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise ValueError(f"expected images (n, 784) or (n, 28, 28), got shape {images.shape}")
    return images


def _hide_ticks(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


class LessonFigure(Figure):
    """A matplotlib `Figure` that Jupyter shows as a PNG on its own, without pyplot, with alt text.

    The PNG has a white background (legible on a dark page too) and carries a short text
    description as output metadata, `{"image/png": {"alt": ...}}`: the place where nbconvert's
    HTML export and the course site look for an image's alternative text. `description`, when a
    plot function sets it, replaces the description generated from the titles and axis labels.
    """

    description: str | None = None

    @property
    def alt_text(self) -> str:
        return self.description or describe_figure(self)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
        return buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        """What `display(fig)` and a cell's result store: the PNG and its alt text."""
        return {"image/png": self._repr_png_()}, {"image/png": {"alt": self.alt_text}}


def _clean(text: str) -> str:
    return " ".join(text.split())


def _panel_kind(ax: Axes) -> str:
    if ax.images:
        return "image"
    if ax.containers or any(isinstance(patch, Rectangle) for patch in ax.patches):
        return "bar chart"
    return "line chart" if ax.lines else "chart"


def _describe_panel(ax: Axes) -> str:
    """'Loss, a line chart of cross-entropy loss against epoch', or 'label 5, an image'."""
    kind, title = _panel_kind(ax), _clean(ax.get_title())
    xlabel, ylabel = _clean(ax.get_xlabel()), _clean(ax.get_ylabel())
    if ylabel and xlabel:
        what = f"{kind} of {ylabel} against {xlabel}" if kind != "image" else f"image, {ylabel} by {xlabel}"
    else:
        what = kind
    article = "an" if what[0] in "aeiou" else "a"
    return f"{title}, {article} {what}" if title else f"{article} {what}"


def describe_figure(fig: Figure, max_panels: int = 30) -> str:
    """A short description of a figure for its alt text, from its title and its panels' titles and
    axis labels, e.g. 'Learning curves. 2 panels: Loss, a line chart of ...; Accuracy, a line chart
    of ...', or for a grid of images 'MNIST digits. 20 images: label 5, label 0, ...'.
    Colour bars and empty panels are left out; past `max_panels` panels the rest are counted."""
    suptitle = _clean(fig._suptitle.get_text()) if fig._suptitle is not None else ""
    head = f"{suptitle}. " if suptitle else ""
    panels = [ax for ax in fig.axes
              if ax.get_label() != "<colorbar>" and (ax.axison or ax.images or ax.lines or ax.patches)]
    if not panels:
        return suptitle or "A figure"
    if len(panels) > 1 and all(_panel_kind(ax) == "image" for ax in panels):
        titles = [_clean(ax.get_title()) for ax in panels[:max_panels]]
        listed = ", ".join(title for title in titles if title)
        more = f", and {len(panels) - max_panels} more" if len(panels) > max_panels else ""
        return f"{head}{len(panels)} images" + (f": {listed}{more}." if listed else ".")
    described = [_describe_panel(ax) for ax in panels[:max_panels]]
    if len(panels) > max_panels:
        described.append(f"and {len(panels) - max_panels} more")
    if len(panels) == 1:
        return f"{head}{described[0][0].upper()}{described[0][1:]}."
    return f"{head}{len(panels)} panels: " + "; ".join(described) + "."


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], layout: str | None = None,
              **kwargs) -> tuple[LessonFigure, Axes | np.ndarray]:
    """`plt.subplots` without pyplot: the figure is not in pyplot's global list of figures.

    That list is shared by every thread of the kernel (a widget may draw while a cell runs),
    and a figure pyplot tracks is drawn twice in a notebook: by the inline backend at the end
    of the cell and as the cell's result. A `LessonFigure` is shown once, as the result.
    """
    fig = LessonFigure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kwargs)


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class _PowerOfTenFormatter(LogFormatter):
    """Log-axis labels 10⁻³ and 2×10⁻³ in plain Unicode, where matplotlib's default writes
    mathtext (`$10^{-3}$`). Mathtext goes through one parser shared by all threads, and it fails
    when a widget (run in its own thread by JupyterLab) draws while a cell draws too."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        exponent = int(np.floor(np.log10(x) + 1e-9))
        coefficient = round(x / 10.0**exponent)
        power = f"10{str(exponent).translate(_SUPERSCRIPTS)}"
        return power if coefficient == 1 else f"{coefficient}×{power}"


def _finished(fig: Figure, layout_rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> Figure:
    """Swap matplotlib's default (mathtext) log-axis labels for plain-text ones, then lay the
    figure out tightly within `layout_rect` unless it has a layout engine; return `fig`."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            for formatter, setter in ((axis.get_major_formatter(), axis.set_major_formatter),
                                      (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if type(formatter) is LogFormatterSciNotation:
                    setter(_PowerOfTenFormatter(labelOnlyBase=formatter.labelOnlyBase,
                                                minor_thresholds=formatter.minor_thresholds))
    if fig.get_layout_engine() is None:
        fig.tight_layout(rect=layout_rect)
    return fig


def sample_grid(
    images: np.ndarray,
    labels: np.ndarray,
    rows: int = 3,
    cols: int = 10,
    title: str = "MNIST digits and their labels",
) -> Figure:
    """The first `rows * cols` images `(n, 784)` or `(n, 28, 28)`, each titled with its label."""
    images = _as_square_images(images)
    count = min(rows * cols, len(images))
    vmax = 255 if images.dtype == np.uint8 else 1.0  # raw bytes or scaled to [0, 1]
    fig, axes = _subplots(rows, cols, figsize=(cols * 1.0, rows * 1.15 + 0.5), squeeze=False)
    for index, ax in enumerate(axes.flat):
        _hide_ticks(ax)
        if index >= count:
            ax.axis("off")
            continue
        ax.imshow(images[index], cmap=DIGIT_CMAP, vmin=0, vmax=vmax)
        ax.set_title(f"label {int(labels[index])}", fontsize=9)
    fig.suptitle(title)
    return _finished(fig)


def class_balance(labels_by_split: Mapping[str, np.ndarray], classes: int = 10) -> Figure:
    """How many images of each digit each split holds: counts (left) and shares in % (right).

    The share bars start at the perfectly balanced share 100 / classes and go up or down from
    it, on a y-axis zoomed to the shares, so differences of one percentage point show.
    """
    fig, (ax_count, ax_share) = _subplots(1, 2, figsize=(12, 3.8))
    digits = np.arange(classes)
    width = 0.8 / max(len(labels_by_split), 1)
    balanced, shares = 100 / classes, []
    for index, (split, labels) in enumerate(labels_by_split.items()):
        counts = np.bincount(np.asarray(labels), minlength=classes)
        offset = (index - (len(labels_by_split) - 1) / 2) * width
        label = f"{split} ({len(labels):,})"
        ax_count.bar(digits + offset, counts, width, label=label, color=palette_color(index))
        share = 100 * counts / max(len(labels), 1)
        shares.append(share)
        ax_share.bar(digits + offset, share - balanced, width, bottom=balanced, label=label,
                     color=palette_color(index))
    ax_share.axhline(balanced, color="black", linestyle="--", linewidth=1, label="perfectly balanced")
    spread = max((float(np.abs(s - balanced).max()) for s in shares), default=0.0)
    margin = max(2.0, np.ceil(spread + 0.5))  # at least balanced ± 2 points: 8-12% for 10 classes
    ax_share.set_ylim(max(balanced - margin, 0), balanced + margin)
    ax_count.set(xlabel="digit", ylabel="number of images", title="Images per digit")
    ax_share.set(xlabel="digit", ylabel="share of the split (%)",
                 title=f"Share of each digit (%), zoomed in around {balanced:g}%")
    for ax in (ax_count, ax_share):
        ax.set_xticks(digits)
        ax.grid(axis="y", alpha=0.3)
    handles, names = ax_share.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=9, frameon=False)
    return _finished(fig, layout_rect=(0, 0, 1, 0.92))  # the top strip holds the shared legend


def mean_digits(images: np.ndarray, labels: np.ndarray, classes: int = 10) -> Figure:
    """The pixel-wise mean image of each class (images `(n, 784)` in [0, 1])."""
    images = _as_square_images(images)
    labels = np.asarray(labels)
    fig, axes = _subplots(2, (classes + 1) // 2, figsize=(9, 4.2), squeeze=False, layout="constrained")
    for digit, ax in enumerate(axes.flat):
        _hide_ticks(ax)
        if digit >= classes:
            ax.axis("off")
            continue
        members = labels == digit
        mean = images[members].mean(axis=0)
        shown = ax.imshow(mean, cmap=DIGIT_CMAP, vmin=0, vmax=1)
        ax.set_title(f"{digit}  (n = {int(members.sum()):,})", fontsize=10)
    fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.8, label="mean pixel value (0 = paper, 1 = ink)")
    fig.suptitle("The mean digit of each class")
    return _finished(fig)


def pixel_histogram(counts: np.ndarray) -> Figure:
    """Bar chart of how often each raw pixel value 0..255 occurs (`counts`: `(256,)`), log scale."""
    counts = np.asarray(counts)
    fig, ax = _subplots(figsize=(8, 3.4))
    ax.bar(np.arange(len(counts)), counts, width=1.0, color=PALETTE["blue"])
    ax.set(
        xlabel="raw pixel value (0 = paper, 255 = ink)",
        ylabel="number of pixels (log scale)",
        title="Pixel values in the training images",
        yscale="log",
        xlim=(-2, len(counts) + 1),
    )
    ax.grid(alpha=0.3)
    return _finished(fig)


def activation_functions(x_range: tuple[float, float] = (-4.0, 4.0)) -> Figure:
    """ReLU, sigmoid and tanh (left) and their derivatives (right)."""
    x = np.linspace(*x_range, 401)
    sigmoid = 1.0 / (1.0 + np.exp(-x))
    curves = {
        # NaN at x = 0 leaves a gap, so the jump of ReLU's slope is not drawn as a vertical line
        "ReLU  max(x, 0)": (np.maximum(x, 0.0), np.where(x == 0, np.nan, (x > 0).astype(float))),
        "sigmoid  1 / (1 + e^(-x))": (sigmoid, sigmoid * (1.0 - sigmoid)),
        "tanh": (np.tanh(x), 1.0 - np.tanh(x) ** 2),
    }
    fig, (ax_f, ax_d) = _subplots(1, 2, figsize=(11, 3.8))
    for index, (name, (value, derivative)) in enumerate(curves.items()):
        ax_f.plot(x, value, color=palette_color(index), linewidth=2, label=name)
        ax_d.plot(x, derivative, color=palette_color(index), linewidth=2, label=name.split()[0])
    ax_f.set(xlabel="input x", ylabel="f(x)", title="Activation functions", ylim=(-1.5, 4.2))
    ax_d.set(xlabel="input x", ylabel="f'(x)", title="Their derivatives", ylim=(-0.1, 1.15))
    for ax in (ax_f, ax_d):
        # light axis lines underneath the curves, so ReLU's flat part at 0 stays visible
        ax.axhline(0, color="0.7", linewidth=0.8, zorder=0)
        ax.axvline(0, color="0.7", linewidth=0.8, zorder=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="upper left")
    return _finished(fig)


def activation_stds(
    stds_by_init: Mapping[str, np.ndarray],
    title: str = "",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Standard deviation of the activations after each layer, one line per initialisation.

    `ylim` fixes the (log) y-range, so that figures redrawn by a slider stay comparable.
    """
    fig, ax = _subplots(figsize=(8, 4))
    for index, (name, stds) in enumerate(stds_by_init.items()):
        layers = np.arange(1, len(stds) + 1)
        ax.plot(layers, stds, "o-", color=palette_color(index), label=name)
    ax.set(
        xlabel="layer",
        ylabel="std of the activations (log scale)",
        title=title or "How the scale of the activations changes through ReLU layers",
        yscale="log",
    )
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xticks(np.arange(1, max((len(s) for s in stds_by_init.values()), default=1) + 1))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    return _finished(fig)


def predicted_probabilities(
    images: np.ndarray,
    probs: np.ndarray,
    labels: np.ndarray,
    title: str = "Predicted probabilities",
) -> Figure:
    """Each image `(n, 784)` above a bar chart of its predicted probabilities `(n, classes)`.

    The bar of the true label is bluish green, the others grey; the dashed line is the
    uniform guess 1 / classes.
    """
    images = _as_square_images(images)
    probs = np.asarray(probs)
    count, classes = probs.shape
    fig, axes = _subplots(
        2, count, figsize=(2.0 * count, 4.2), gridspec_kw={"height_ratios": [1, 1.1]}, squeeze=False
    )
    for index in range(count):
        ax_img, ax_bar = axes[0, index], axes[1, index]
        ax_img.imshow(images[index], cmap=DIGIT_CMAP)
        _hide_ticks(ax_img)
        ax_img.set_title(f"label {int(labels[index])}", fontsize=10)
        colors = [PALETTE["bluish green"] if k == labels[index] else "0.6" for k in range(classes)]
        ax_bar.bar(np.arange(classes), probs[index], color=colors)
        ax_bar.axhline(1 / classes, color="black", linestyle="--", linewidth=1)
        ax_bar.set_xticks(np.arange(classes))
        ax_bar.tick_params(labelsize=10)
        ax_bar.set_ylim(0, max(0.3, float(probs.max()) * 1.1))
        ax_bar.set_xlabel("class", fontsize=10)
        if index == 0:
            ax_bar.set_ylabel("probability")
        else:
            ax_bar.set_yticklabels([])
    fig.suptitle(f"{title}\n(green bar: the true label; dashed line: the uniform guess 1/{classes})")
    return _finished(fig)


# --- lessons 06 and 07: optimizers and results ---------------------------------


DIVERGED_STEPS_SHOWN = 15  # a diverging path is drawn only this far: later it would hide the rest


def _color_of(name: str, index: int, colors: Mapping[str, str] | None) -> str:
    """The colour given for `name` (a PALETTE name, or any matplotlib colour), else the palette's
    `index`-th."""
    color = (colors or {}).get(name)
    return palette_color(index) if color is None else PALETTE.get(color, color)


def optimizer_paths(
    loss_fn: Callable[[np.ndarray], np.ndarray],
    paths: Mapping[str, np.ndarray],
    xlim: tuple[float, float] = (-4.5, 2.5),
    ylim: tuple[float, float] = (-2.5, 2.5),
    minimum: tuple[float, float] | None = (0.0, 0.0),
    title: str = "Optimizer paths on a 2-D loss surface",
    colors: Mapping[str, str] | None = None,
    average_last: int = 1,
) -> Figure:
    """Left: the paths `(steps + 1, 2)` over the contours of `loss_fn`, each end marked by a
    large dot; right: loss per step.

    `loss_fn` maps points `(..., 2)` to losses `(...)`. A path whose loss ends above where it
    started is labelled "diverged" and drawn thin, and only for its first steps, so it does not
    hide the others. `colors` maps path names to colours (default: matplotlib's cycle). The
    legend gives each path's final loss, or with `average_last` > 1 the mean loss of its last
    `average_last` points (steadier when the gradients are noisy).
    """
    fig, (ax_map, ax_loss) = _subplots(
        1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    xs, ys = np.linspace(*xlim, 300), np.linspace(*ylim, 200)
    grid_x, grid_y = np.meshgrid(xs, ys)
    surface = loss_fn(np.stack([grid_x, grid_y], axis=-1))
    positive = surface[surface > 0]
    low = max(float(positive.min()), float(surface.max()) * 1e-5) if positive.size else 1e-3
    levels = np.geomspace(low, float(surface.max()), 14)
    ax_map.contourf(grid_x, grid_y, surface, levels=levels, cmap="Blues_r", alpha=0.45,
                    norm=LogNorm(), extend="both")
    ax_map.contour(grid_x, grid_y, surface, levels=levels, colors="grey", linewidths=0.6,
                   norm=LogNorm())
    for index, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged path overflows
            losses = loss_fn(path)
        color = _color_of(name, index, colors)
        diverged = not np.isfinite(losses[-1]) or losses[-1] > losses[0]
        # Cut a diverging path where it overflows: inf/NaN would break the log axis and the layout.
        keep = np.isfinite(losses) & (losses < 1e30) & np.isfinite(path).all(axis=1)
        if not keep.all():
            stop = max(int(np.argmin(keep)), 1)
            path, losses = path[:stop], losses[:stop]
        losses = np.maximum(losses, 1e-30)  # a path that lands exactly on the minimum
        if diverged:
            final = "diverged"
            shown = path[: DIVERGED_STEPS_SHOWN + 1]
            ax_map.plot(shown[:, 0], shown[:, 1], "o-", color=color, markersize=2, linewidth=0.8, alpha=0.5)
        else:
            last = min(average_last, len(losses))
            final = (f"final loss {losses[-1]:.2g}" if last == 1
                     else f"mean loss, last {last} steps: {np.mean(losses[-last:]):.2g}")
            ax_map.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=3, linewidth=1.4, alpha=0.85)
        ax_loss.plot(np.arange(len(losses)), losses, "-", color=color, linewidth=1.8,
                     label=f"{name} ({final})")
    for index, (name, path) in enumerate(paths.items()):  # the ends on top of every path and the star
        end = np.asarray(path, dtype=float)[-1]
        if np.isfinite(end).all():
            ax_map.plot(*end, "o", color=_color_of(name, index, colors), markeredgecolor="black",
                        markersize=8, zorder=8)
    if paths:
        start = np.asarray(next(iter(paths.values())), dtype=float)[0]
        ax_map.plot(*start, "ks", markersize=7, label="start", zorder=7)
        ax_map.plot([], [], "o", color="white", markeredgecolor="black", markersize=8, label="end of a path")
    if minimum is not None:
        ax_map.plot(*minimum, "*", color=PALETTE["yellow"], markeredgecolor="black", markersize=14,
                    label="minimum", zorder=7)
    # Plain Unicode, not mathtext, which is not thread-safe (see one_at_a_time).
    ax_map.set(xlim=xlim, ylim=ylim, xlabel="w₁", ylabel="w₂", title="Paths over the loss contours")
    ax_map.set_aspect("equal")
    ax_map.legend(fontsize=8, loc="lower right")
    ax_loss.set(xlabel="step", ylabel="loss L(w) (log scale)", yscale="log",
                title="Loss per step (same colours)")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=8.5)
    fig.suptitle(title)
    return _finished(fig)


def lr_schedules(
    schedules: Mapping[str, Callable[[int], float]],
    total_steps: int,
    title: str = "Learning-rate schedules",
    colors: Mapping[str, str] | None = None,
) -> Figure:
    """The learning rate `schedule(step)` for steps `0 .. total_steps`, one line per schedule."""
    fig, ax = _subplots(figsize=(8, 3.8))
    steps = np.arange(total_steps + 1)
    for index, (name, schedule) in enumerate(schedules.items()):
        ax.plot(steps, [schedule(int(s)) for s in steps], color=_color_of(name, index, colors), linewidth=2,
                label=name)
    ax.set(xlabel="step (one mini-batch each)", ylabel="learning rate", title=title)
    ax.set_xlim(0, total_steps)
    ax.set_ylim(0, 1.1 * max((schedule(0) for schedule in schedules.values()), default=1.0))
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)


def _decimal_log_ticks(ax: Axes) -> None:
    """Decimal tick labels (0.15, 0.2, 0.3) on a log y axis. An axis that spans less than a decade
    gets extra ticks at 1.2 and 1.5 times each power of ten, so that its lower part is labelled
    too (between 0.1 and 0.2 there is otherwise no tick at all)."""
    low, high = ax.get_ylim()
    if high / low >= 10:
        decimal_log_labels(ax)
        return
    ax.yaxis.set_minor_locator(LogLocator(subs=(1.2, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))  # 0.2, not 2x10^-1
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))


def optimizer_race(
    histories: Mapping[str, History],
    title: str = "Optimizers on MNIST",
    colors: Mapping[str, str] | None = None,
    right: str = "accuracy",
) -> Figure:
    """Per epoch: left, the training loss each optimizer reached (what it minimises; log scale);
    right, the validation accuracy (what we care about), or with `right="loss"` the validation
    loss (log scale). One line per run; `colors` maps run names to colours."""
    if right not in ("accuracy", "loss"):
        raise ValueError(f"right must be 'accuracy' or 'loss', got {right!r}")
    fig, (ax_loss, ax_val) = _subplots(1, 2, figsize=(12, 4.2))
    for index, (name, history) in enumerate(histories.items()):
        epochs = np.arange(1, history.epochs + 1)
        style = {"color": _color_of(name, index, colors), "marker": "o", "markersize": 4, "linewidth": 1.8,
                 "label": name}
        ax_loss.plot(epochs, history.train_loss, **style)
        if right == "accuracy" and history.val_acc:
            ax_val.plot(epochs, np.array(history.val_acc) * 100, **style)
        elif right == "loss" and history.val_loss:
            ax_val.plot(epochs, history.val_loss, **style)
    longest = max((h.epochs for h in histories.values()), default=1)
    ax_loss.set(xlabel="epoch", ylabel="training loss (mean over the epoch, log scale)", yscale="log",
                title="Training loss: how fast each optimizer goes downhill")
    _decimal_log_ticks(ax_loss)
    if right == "accuracy":
        ax_val.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy")
    else:
        ax_val.set(xlabel="epoch", ylabel="validation loss (log scale)", yscale="log",
                   title="Validation loss")
        _decimal_log_ticks(ax_val)
    for ax in (ax_loss, ax_val):
        ax.set_xticks(np.arange(1, longest + 1))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9)
    fig.suptitle(title)
    return _finished(fig)


def confusion_matrix(
    matrix: np.ndarray,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
) -> Figure:
    """Counts `(classes, classes)`, rows = true label, columns = predicted label.

    The colour shows only the mistakes (off-diagonal cells), so the few
    confusions stand out next to the large correct counts on the diagonal,
    which are printed in bold.
    """
    matrix = np.asarray(matrix)
    classes = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(classes)]
    mistakes = matrix.astype(float).copy()
    np.fill_diagonal(mistakes, np.nan)
    fig, ax = _subplots(figsize=(7.5, 6.5))
    image = ax.imshow(mistakes, cmap="Reds", vmin=0, vmax=max(np.nanmax(mistakes), 1))
    correct_color = "0.88"  # grey, not green beside the red mistakes (colour-blind readers)
    for i in range(classes):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, color=correct_color))
    threshold = 0.6 * np.nanmax(mistakes) if np.nanmax(mistakes) > 0 else 1
    for (i, j), count in np.ndenumerate(matrix):
        on_diagonal = i == j
        ax.text(j, i, f"{count:d}", ha="center", va="center", fontsize=8,
                fontweight="bold" if on_diagonal else "normal",
                color="white" if not on_diagonal and count > threshold else "black")
    ax.set_xticks(range(classes), names)
    ax.set_yticks(range(classes), names)
    ax.set(xlabel="predicted label", ylabel="true label", title=title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="number of mistakes (off-diagonal)")
    fig.description = (f"{title}: a {classes}×{classes} table of counts, true label by predicted label; "
                       f"{int(np.trace(matrix)):,} correct on the diagonal, "
                       f"{int(matrix.sum() - np.trace(matrix)):,} mistakes off it, coloured by their number.")
    return _finished(fig)


def most_confident_mistakes(probs: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Indices `(<= k,)` of the misclassified examples with the highest predicted
    probability, most confident first (ties: lower index first).

    probs: `(n, classes)` predicted probabilities; labels: `(n,)` true labels.
    """
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    order = np.argsort(-confidence, kind="stable")
    return wrong[order[:k]]


def confident_mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    indices: Sequence[int] | np.ndarray,
    columns: int = 8,
    title: str = "The most confident mistakes",
) -> Figure:
    """A grid of the images `indices` with the true label, the prediction and its probability.

    images: `(n, 784)` or `(n, 28, 28)`; probs: `(n, classes)`; labels: `(n,)`.
    """
    indices = list(indices)
    rows = max(1, -(-len(indices) // columns))
    fig, axes = _subplots(rows, columns, figsize=(1.45 * columns, 1.75 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, indices, strict=False):  # more axes than images
        predicted = int(np.argmax(probs[index]))
        ax.imshow(_as_square_images(images[index : index + 1])[0], cmap=DIGIT_CMAP)
        ax.set_title(f"true {labels[index]}, pred {predicted}\n{_percent_sure(probs[index, predicted])}",
                     fontsize=8.5, color=PALETTE["vermillion"])
    fig.suptitle(title)
    return _finished(fig)


def _percent_sure(probability: float) -> str:
    """'87.3% sure'; above 99.95% '>99.9% sure' (rounding would print a misleading 100.0%)."""
    return ">99.9% sure" if probability > 0.9995 else f"{probability:.1%} sure"


def digit_probabilities(
    image: np.ndarray,
    probs: np.ndarray,
    label: int | None = None,
    title: str = "",
) -> Figure:
    """One digit (784 or 28x28) and a bar chart of its predicted class probabilities `(classes,)`.

    The predicted class is drawn in vermillion if it is wrong, the true class in bluish green.
    """
    probs = np.asarray(probs)
    predicted = int(np.argmax(probs))
    fig, (ax_image, ax_bars) = _subplots(
        1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 2.2]}
    )
    ax_image.imshow(_as_square_images(np.asarray(image).reshape(1, -1))[0], cmap=DIGIT_CMAP)
    ax_image.axis("off")
    truth = f"true label {label}, " if label is not None else ""
    ax_image.set_title(f"{truth}predicted {predicted}", fontsize=10)
    colors = ["lightgrey"] * len(probs)
    if label is not None:
        colors[label] = PALETTE["bluish green"]
    if label is None or predicted != label:
        colors[predicted] = PALETTE["vermillion"]
    bars = ax_bars.bar(range(len(probs)), probs, color=colors, edgecolor="black", linewidth=0.5)
    for bar, p in zip(bars, probs, strict=True):
        if p >= 0.005:
            ax_bars.text(bar.get_x() + bar.get_width() / 2, p + 0.02, f"{p:.0%}", ha="center", fontsize=8)
    ax_bars.set_xticks(range(len(probs)))
    ax_bars.set(xlabel="class", ylabel="predicted probability", ylim=(0, 1.12),
                title="What the network believes")
    ax_bars.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title)
    return _finished(fig)


# --- lesson 03: backprop ---


def gradcheck_vs_epsilon(
    epsilons: np.ndarray,
    errors: Mapping[str, np.ndarray],
    threshold: float = 1e-7,
    title: str = "Gradient check: relative error against the step size ε",
) -> Figure:
    """Log-log plot of a gradient check's relative error against ε, one line per run.

    `epsilons`: `(k,)` step sizes; `errors[name]`: `(k,)` relative errors (e.g. the
    largest over a network's parameters). Marks each curve's minimum and the pass
    threshold, and names the two sources of error on either side of the V.
    """
    epsilons = np.asarray(epsilons, dtype=float)
    fig, ax = _subplots(figsize=(8, 5))
    for index, (name, values) in enumerate(errors.items()):
        values = np.maximum(np.asarray(values, dtype=float), 1e-17)  # an exact 0 has no log
        color = palette_color(index)
        best = int(np.argmin(values))
        ax.loglog(epsilons, values, "o-", color=color,
                  label=f"{name}: smallest error {values[best]:.0e} at ε = {epsilons[best]:.0e} (★)")
        ax.plot(epsilons[best], values[best], "*", color=color, markersize=16, markeredgecolor="black")
    ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
    ax.text(epsilons.min(), threshold, f" pass threshold {threshold:g}", va="bottom", color="gray",
            fontsize=9)
    ax.text(0.02, 0.97, "← rounding error ∝ 1/ε\n(ε too small)", transform=ax.transAxes, va="top", fontsize=9)
    ax.text(0.98, 0.97, "truncation error ∝ ε² →\n(ε too large)", transform=ax.transAxes, va="top",
            ha="right", fontsize=9)
    ax.set(xlabel="step size ε of the central difference", ylabel="relative error (worst parameter)",
           title=title)
    low = min(float(np.min(np.maximum(v, 1e-17))) for v in errors.values())
    ax.set_ylim(low / 1e3, 1e3)  # room above the curves for the two labels
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left")
    return _finished(fig)


# --- lesson 04: dropout ---


def dropout_mask(
    x: np.ndarray,
    mask: np.ndarray | None,
    p: float,
    image_shape: tuple[int, int] = (28, 28),
    scale_max: float = 2.0,
) -> Figure:
    """Input, dropout mask and output side by side, as images.

    `x`: `(features,)` one input (e.g. a digit's 784 pixels); `mask`: `(features,)`
    the dropout mask (0 for dropped units, `1/(1-p)` for kept ones), or None (nothing
    dropped). The title gives the fraction of units kept. Input and output share one
    colour scale, the same for every p: 0 to `scale_max` times the input's largest
    value, so the kept pixels visibly darken as 1/(1-p) grows (beyond `scale_max`,
    from p = 0.5 with the default 2, they are drawn black).
    """
    mask = np.ones_like(x) if mask is None else np.asarray(mask)
    output = x * mask
    kept = float(np.mean(mask != 0))
    top = scale_max * max(float(np.max(x)), 1e-12)
    scale = 1 / (1 - p)
    fig, axes = _subplots(1, 3, figsize=(10.5, 3.8))
    panels = [
        (x, "input x", DIGIT_CMAP, top),
        (mask, f"mask: white = dropped (0),\ndark = kept (1/(1-p) = {scale:.2f})", "Greens",
         max(scale, 1e-12)),
        (output, f"output x · mask\n(kept pixels × {scale:.2f}, same scale as x)", DIGIT_CMAP, top),
    ]
    for ax, (values, label, cmap, vmax) in zip(axes, panels, strict=True):
        image = ax.imshow(np.asarray(values).reshape(image_shape), cmap=cmap, vmin=0.0, vmax=vmax)
        ax.set_title(label, fontsize=10)
        _hide_ticks(ax)
        clipped = cmap == DIGIT_CMAP and float(np.max(values)) > vmax * (1 + 1e-9)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, extend="max" if clipped else "neither")
    fig.suptitle(f"Dropout with p = {p:.2f}: kept {kept:.1%} of {x.size} units (expected {1 - p:.0%})")
    return _finished(fig)


# --- lesson 05: L2 regularisation ---


def weight_histograms(
    runs: Mapping[str, list[np.ndarray]],
    layer_names: list[str] | None = None,
    bins: int = 80,
) -> Figure:
    """Histograms of each layer's weights, one panel per layer, one colour per run.

    `runs[name]`: the weight matrices of one model, e.g. `[W.value for W in model.weights()]`.
    The legend gives each run's root-mean-square weight, sqrt(mean(W**2)).
    """
    runs = {name: [np.asarray(w) for w in weights] for name, weights in runs.items()}
    layers = len(next(iter(runs.values())))
    layer_names = list(layer_names) if layer_names else [f"layer {i + 1}" for i in range(layers)]
    fig, axes = _subplots(1, layers, figsize=(4.2 * layers, 3.8), squeeze=False)
    for column, ax in enumerate(axes[0]):
        limit = max(float(np.abs(weights[column]).max()) for weights in runs.values())
        edges = np.linspace(-limit, limit, bins + 1)
        peak = 1
        for index, (name, weights) in enumerate(runs.items()):
            w = weights[column]
            peak = max(peak, int(np.histogram(w, bins=edges)[0].max()))
            rms = float(np.sqrt(np.mean(w.astype(np.float64) ** 2)))
            ax.hist(w.ravel(), bins=edges, histtype="stepfilled", alpha=0.3, color=palette_color(index))
            ax.hist(w.ravel(), bins=edges, histtype="step", color=palette_color(index),
                    label=f"{name} (rms {rms:.3f})")
        shape = "×".join(str(n) for n in runs[next(iter(runs))][column].shape)
        # A log scale shows the tails, where L2 makes the difference: the large weights.
        ax.set(xlabel="weight value", ylabel="number of weights (log scale)", yscale="log",
               title=f"{layer_names[column]} ({shape})")
        # Each panel its own range, from its own peak: the peak at 80% of the (log) height, which
        # leaves room for the legend in the corner, above the low tails.
        bottom = 0.7
        ax.set_ylim(bottom, bottom * (peak / bottom) ** 1.25)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Weight distributions")
    return _finished(fig)


def first_layer_weights(
    runs: Mapping[str, np.ndarray],
    units: tuple[int, ...] | list[int] = tuple(range(8)),
    image_shape: tuple[int, int] = (28, 28),
) -> Figure:
    """First-layer weights as images: one row per run, one 28×28 image per hidden unit.

    `runs[name]`: the first weight matrix `(784, hidden)`. Column `u` of it holds
    the weights from every pixel into hidden unit `u`. All images share one
    symmetric colour scale (the colour bar): red positive, blue negative, white
    zero, so runs with smaller weights look paler, as they should.
    """
    rows, columns = len(runs), len(units)
    fig, axes = _subplots(rows, columns, figsize=(1.5 * columns + 1.4, 1.6 * rows + 0.7), squeeze=False,
                          layout="constrained")
    # One scale for every panel: a scale per image would make faint weights look as strong as large ones.
    limit = max(float(np.abs(np.asarray(weights)[:, list(units)]).max()) for weights in runs.values()) or 1.0
    shown = None
    for row, (name, weights) in enumerate(runs.items()):
        for column, unit in enumerate(units):
            ax = axes[row, column]
            image = np.asarray(weights)[:, unit].reshape(image_shape)
            shown = ax.imshow(image, cmap="bwr", vmin=-limit, vmax=limit)
            _hide_ticks(ax)
            if row == 0:
                ax.set_title(f"unit {unit}", fontsize=9)
        axes[row, 0].set_ylabel(name, fontsize=10)
    fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.8, label="weight (one scale for all panels)")
    fig.suptitle("First-layer weights per hidden unit (red > 0, blue < 0, white = 0)")
    return _finished(fig)
