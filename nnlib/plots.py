"""Figures for the lessons and the results (matplotlib).

Every function returns the `Figure` so a caller can save it; in a notebook it
is shown automatically.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from nnlib.train import History


def learning_curves(histories: Mapping[str, History], title: str = "Learning curves") -> Figure:
    """Loss and accuracy per epoch, training (dashed) vs validation (solid), one colour per run."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for index, (name, history) in enumerate(histories.items()):
        color = f"C{index}"
        epochs = np.arange(1, history.epochs + 1)
        ax_loss.plot(epochs, history.train_loss, "--", color=color, alpha=0.7, label=f"{name} train")
        ax_acc.plot(epochs, np.array(history.train_acc) * 100, "--", color=color, alpha=0.7,
                    label=f"{name} train")
        if history.val_loss:
            ax_loss.plot(epochs, history.val_loss, "-", color=color, label=f"{name} val")
            ax_acc.plot(epochs, np.array(history.val_acc) * 100, "-", color=color, label=f"{name} val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    low = min((min(h.val_acc or h.train_acc) for h in histories.values()), default=0.9) * 100
    ax_acc.set_ylim(max(low - 0.5, 0), 100.05)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
