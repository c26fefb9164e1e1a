"""Every figure nnlib's plots make carries alt text to the notebook (and the course site), on white."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from nnlib.course import plots
from tests.test_plots import FIGURES


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_output_has_alt_text_and_a_white_background(name):
    fig = FIGURES[name]()
    data, metadata = fig._repr_mimebundle_()
    alt = metadata["image/png"]["alt"]
    assert len(alt) >= 12 and "None" not in alt, f"{name}: alt text {alt!r}"
    assert "$" not in alt and "\n" not in alt
    pixels = mpimg.imread(io.BytesIO(data["image/png"]))
    assert pixels.shape[2] == 3 or pixels[..., 3].min() == 1.0, f"{name}: transparent pixels"
    assert pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0], f"{name}: the corner is not white"


def test_description_names_title_panels_and_axes():
    fig, ax = plots._subplots(figsize=(3, 3))
    ax.plot([1, 2], [3, 4])
    ax.set(title="Loss", xlabel="epoch", ylabel="loss")
    fig.suptitle("Training")
    assert fig.alt_text == "Training. Loss, a line chart of loss against epoch."


def test_image_grids_list_their_titles_and_a_set_description_wins():
    fig = plots.sample_grid(np.zeros((3, 784)), np.array([7, 2, 1]), rows=1, cols=3, title="Digits")
    assert fig.alt_text == "Digits. 3 images: label 7, label 2, label 1."
    fig.description = "Three blank digits."
    assert fig._repr_mimebundle_()[1] == {"image/png": {"alt": "Three blank digits."}}


def test_displayed_figure_stores_alt_text_as_output_metadata():
    """What ipykernel stores for `display(fig)` (and a cell's result): the PNG with its alt text."""
    from IPython.core.formatters import DisplayFormatter

    fig = plots.activation_functions()
    data, metadata = DisplayFormatter().format(fig)
    assert "image/png" in data and "text/plain" in data
    assert metadata["image/png"]["alt"] == fig.alt_text
