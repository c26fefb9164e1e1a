"""The course machinery: checkers, plots, assembling a learner's pieces, grading, notebooks.

In the browser (the JupyterLite build, `make lite`) importing it first smooths what differs
there: see nnlib/course/browser.py."""

from nnlib.course import browser

browser.adapt()
