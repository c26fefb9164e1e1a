"""Sphinx configuration of the course site (make site).

Why Sphinx + MyST-NB + Furo: all three are well kept, install from PyPI alone and build
offline (Jupyter Book 2 / mystmd downloads its theme at build time); MyST-NB renders notebooks
from their stored outputs (`nb_execution_mode = "off"`); Sphinx writes a client-side search
index; Furo is a plain, fast theme with previous/next links, a sidebar table of contents, a
phone layout and a dark scheme, and it loads nothing from other sites.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATHJAX_STATIC = Path(os.environ.get("SITE_MATHJAX_STATIC", ROOT / "build" / "site-mathjax"))

project = "Neural Networks from Scratch"
author = "the course authors"
copyright = "the course authors, MIT licence"
html_title = "Neural Networks from Scratch"
html_baseurl = "https://nn-from-scratch.github.io/course/"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["files/**", "_build", "**.ipynb_checkpoints"]

# The lessons are shown as stored (they are executed and tested elsewhere).
nb_execution_mode = "off"
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown outputs (the settings table in 07) with their math
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# MathJax from the site itself: website/mathjax.py puts it under MATHJAX_STATIC/mathjax/.
mathjax_path = "mathjax/tex-svg-full.js"
html_static_path = ["_static", str(MATHJAX_STATIC)]
html_css_files = ["course.css"]
html_js_files = ["course.js"]  # keyboard focus for the blocks that scroll (accessibility.py)

html_theme = "furo"
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
