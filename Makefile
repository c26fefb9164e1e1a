# The course's commands. Needs only Python 3.11+ and make; everything else goes into .venv.
PYTHON ?= python3
# Another Python in an environment of its own: make test PYTHON=python3.13 VENV=.venv-3.13
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# One BLAS thread: repeatable numbers, and two threads were not faster for this small network.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# The course's JupyterLab settings (no "Jupyter news?" prompt): see jupyter-config/README.md.
LAB_CONFIG := JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))"
# JupyterLab refuses to start as root (containers, lab images) unless told.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help venv run reference test test-fast test-versions test-oldest test-browser lab notebooks exercises bench bench-browser bench-lite-lessons lint clean check-my-work

help:
	@echo "make run         set up .venv and train SGD, SGD+momentum, Adam; print the results table (runs/reproduce/)"
	@echo "make test        set up .venv and run every test (unit tests, notebooks, exercises)"
	@echo "make test-fast   nnlib and the checkers only (no notebooks, no full runs): under 2 minutes"
	@echo "                 one lesson: .venv/bin/python -m pytest -m lesson03"
	@echo "make test-versions  make test-fast on Python 3.11, 3.12, 3.13 (those installed; VERSIONS_TARGET=test: all)"
	@echo "make lab         open JupyterLab in the repository (lessons in notebooks/, student versions in exercises/)"
	@echo "make notebooks   re-execute the lessons in place (stored outputs)"
	@echo "make exercises   regenerate the student notebooks from the lessons (FORCE=1: even changed ones)"
	@echo "make check-my-work  students: check your notebooks in exercises/ as grading will (NB=<notebook>: one)"
	@echo "make reference   maintainers: regenerate the committed reference run in results/"
	@echo "make test-oldest unit tests and lessons with the oldest versions requirements.txt allows (.venv-oldest)"
	@echo "make test-browser  run the lessons in JupyterLab in headless Chromium (installs chromium)"
	@echo "make site        build the course website into build/site/ (Sphinx in .venv-site; MathJax from npm)"
	@echo "make test-site   build the site and check every page in headless Chromium (installs chromium)"
	@echo "make bench       time nnlib against PyTorch (installs torch==2.13.0 into .venv)"
	@echo "make bench-browser  an nnlib epoch in the site's Pyodide (Node): NumPy's @ against SciPy's BLAS"
	@echo "make bench-lite-lessons  Run All of every lesson in the in-browser course, timed (Chromium)"
	@echo "make lite        build the course to run in the browser, nothing installed (JupyterLite) into build/lite/"
	@echo "make serve-lite  serve build/lite/ on http://127.0.0.1:8000/ (open lab/index.html)"
	@echo "make test-lite   build it and run a student notebook and a lesson in headless Chromium, offline"

# A course environment in folder $(1): requirements.txt (and the packages $(2)), nnlib editable,
# and its Jupyter kernel. setuptools>=77 reads pyproject.toml's SPDX licence string.
define course_env
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(1)/bin/python -m pip install --quiet -r requirements.txt $(2)
	$(1)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(1)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nnlib)" > /dev/null
endef

# A tool's environment of its own in folder $(1), from requirements file $(2) (the site, the
# browser build), so that the learners' .venv stays exactly what requirements.txt makes.
define tool_env
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -r $(2)
endef

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(call course_env,$(VENV))
	touch $(STAMP)

venv: $(STAMP)

# Outputs go to the ignored runs/ folder: a learner's run never changes a tracked file.
# EPOCHS=2 for a short run (CI); the README's table is the committed reference in results/.
run: $(STAMP)
	$(PY) -m nnlib reproduce --out runs/reproduce $(if $(EPOCHS),--epochs $(EPOCHS))

# Maintainers only: the committed reference run that the README's table must match (tests/test_readme.py).
reference: $(STAMP)
	$(PY) -m nnlib reproduce --out results

# The suite in parallel processes (pytest-xdist), one per core up to 4; each test file and each
# notebook stays whole in one process (--dist loadscope: a notebook's cells share one kernel).
# TEST_JOBS=0 runs it in this process alone. Counted by Python, not nproc: nproc obeys the
# OMP_NUM_THREADS=1 exported above, and macOS has none. Expanded only by the targets that use it.
TEST_JOBS ?= $(shell $(PYTHON) -c 'import os; print(min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))')
PARALLEL = -n $(TEST_JOBS) --dist loadscope
test: $(STAMP)
	$(PY) -m pytest $(PARALLEL)

# The fast tier: nnlib and the checkers, no notebooks, kernels or full runs (conftest.py's `slow`);
# under 2 minutes on two cores. One lesson's notebooks and tests: $(PY) -m pytest -m lesson03
NOT_SLOW := not slow and not browser and not grading and not hub
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "$(NOT_SLOW)" -q $(PARALLEL)

# Every Python the course declares: each in an environment of its own, .venv-3.12 and so on
# (pyenv's, or from PATH); a version that is not installed is named and left out, or fails the
# target with REQUIRE_VERSIONS=1 (CI). VERSIONS_TARGET=test for the full run on each.
PYTHON_VERSIONS ?= 3.11 3.12 3.13
VERSIONS_TARGET ?= test-fast
find_python = $(shell for p in "$$(pyenv prefix $(1) 2>/dev/null)/bin/python$(1)" "$$(command -v python$(1))"; do \
  "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
test-versions:
	@$(foreach v,$(PYTHON_VERSIONS),$(if $(call find_python,$(v)),,echo "Python $(v) is not installed: left out"; \
	  $(if $(filter 1,$(REQUIRE_VERSIONS)),exit 1;)))
	$(foreach v,$(PYTHON_VERSIONS),$(if $(call find_python,$(v)),\
	  $(MAKE) --no-print-directory $(VERSIONS_TARGET) PYTHON=$(call find_python,$(v)) VENV=.venv-$(v) &&)) true

# The oldest versions requirements.txt allows, in a second environment: uv's lowest-direct
# resolution puts every requirement at its lower bound (their own dependencies as new as fits).
# Lean, to fit CI's time: unit tests and lessons (exercises/ is the same code, stubbed), short training.
OLDEST := .venv-oldest
OLDEST_STAMP := $(OLDEST)/.installed
OLDEST_EPOCHS ?= 2
UV := $(VENV)/bin/uv
$(OLDEST_STAMP): requirements.txt pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet "uv>=0.4"
	rm -rf $(OLDEST)
	$(UV) venv --quiet --seed --python $(PYTHON) $(OLDEST)
	$(UV) pip install --quiet --python $(OLDEST)/bin/python --resolution lowest-direct -r requirements.txt
	$(UV) pip install --quiet --python $(OLDEST)/bin/python --no-deps -e .
	touch $@

test-oldest: $(OLDEST_STAMP)
	@$(OLDEST)/bin/python -c 'import importlib.metadata as m, platform; print("oldest:", "Python", platform.python_version(), *(f"{d} {m.version(d)}" for d in ("numpy", "matplotlib", "scikit-learn", "ipywidgets", "jupyterlab", "nbval", "pytest")))'
	NNLIB_EPOCHS=$(OLDEST_EPOCHS) $(OLDEST)/bin/python -m pytest tests notebooks $(PARALLEL)

# The repository root, so the file browser reaches notebooks/ and exercises/; opens on lesson 00
# (the student version in a student copy, which has no notebooks/).
lab: $(STAMP)
	$(LAB_CONFIG) $(VENV)/bin/jupyter lab --ServerApp.root_dir=. $(ALLOW_ROOT) $(if $(wildcard notebooks/00_start_here.ipynb),notebooks,exercises)/00_start_here.ipynb

notebooks: $(STAMP)
	$(PY) -m nnlib.course.notebook_tools execute notebooks/*.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check nnlib tests benchmarks

clean:
	rm -rf $(VENV) $(OLDEST) $(LITE_VENV) runs .pytest_cache

# Refuses (and changes nothing) when a student notebook differs from what it last wrote;
# FORCE=1 discards such changes.
exercises: $(STAMP)
	$(PY) -m nnlib.course.student_versions exercises notebooks exercises $(if $(FORCE),--force)

# Students, before handing in: changed or deleted checks, and each check in grading mode (hidden
# cases), for the notebooks in exercises/ that differ from the handout (NB=<notebook>: that one,
# quoted: its path may hold spaces). Work not ready yet ends with a sentence, not make's
# "Error 1" line (which reads like a crash).
check-my-work: $(STAMP)
	@$(PY) -m nnlib.course.grading validate $(if $(NB),"$(NB)") || echo "Not ready yet: fix what the ❌ lines say, save the notebook, then run make check-my-work again."

# PyTorch is for this comparison only: installed into .venv on demand, never a course requirement.
# Without it (say offline) the benchmark still runs and says the comparison was skipped.
# More options: make bench BENCH_ARGS="--epochs 5 --batch-sizes 128"  (see python benchmarks/bench.py --help)
BENCH_ARGS ?= --flatness
bench: $(STAMP)
	$(PY) -m pip install --quiet torch==2.13.0 || echo "Could not install torch==2.13.0: benchmarking nnlib alone"
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# The browser's Python (build/lite's Pyodide, run by Node): one nnlib epoch through NumPy's @ and through
# SciPy's BLAS, side by side (benchmarks/README.md). BENCH_BROWSER_ARGS="--rounds 5 --yours --profile".
bench-browser: lite $(STAMP)
	$(PY) benchmarks/browser_bench.py $(BENCH_BROWSER_ARGS)

# Run All of every lesson in the in-browser course, in headless Chromium: times, accuracies, checks.
bench-lite-lessons: lite $(STAMP) browser-packages
	$(PY) benchmarks/lite_lessons.py

# The real-browser test needs Debian's chromium (and an emoji font, so the checkers' ✅ ⏳ ❌
# show in screenshots as a learner sees them); install them when missing (root or sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER_PACKAGES := chromium fonts-noto-color-emoji
browser-packages:
	@{ [ -x /usr/bin/chromium ] && dpkg -s fonts-noto-color-emoji > /dev/null 2>&1; } || { \
	  echo "Installing $(BROWSER_PACKAGES) for the browser test"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(BROWSER_PACKAGES) > /dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q > /dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(BROWSER_PACKAGES) > /dev/null 2>&1; } || \
	  echo "Could not install $(BROWSER_PACKAGES): without chromium the browser test is skipped"; }

test-browser: $(STAMP) browser-packages
	$(PY) -m pytest -m browser tests/browser/test_lab.py -v -rs

# The course site (website/README.md): Sphinx + MyST-NB + Furo in an environment of their own,
# .venv-site (requirements-site.txt), so the learners' .venv stays exactly what requirements.txt
# makes. The lessons are shown with their stored outputs, never executed. Output: build/site/.
SITE_VENV := .venv-site
SITE_STAMP := $(SITE_VENV)/.installed
$(SITE_STAMP): requirements-site.txt
	$(call tool_env,$(SITE_VENV),requirements-site.txt)
	touch $@

.PHONY: site test-site browser-packages
# The site includes the in-browser course (make lite) under build/site/lite/.
site: $(SITE_STAMP) lite
	$(SITE_VENV)/bin/python website/build.py

# axe-core (the accessibility check) is fetched from npm first: the test itself runs offline.
test-site: site $(STAMP) browser-packages
	$(PY) -m tests.browser.axe
	$(PY) -m pytest -m browser tests/browser/test_site.py -v -rs

# Grading with nbgrader (TEACHING.md): nbgrader 0.9.6 in an environment of its own, .venv-grading
# (with the course's requirements and nnlib, which the graded notebooks import), so that the
# learners' .venv stays what requirements.txt makes. Its kernel is the one nbgrader runs.
GRADING_VENV := .venv-grading
GRADING_STAMP := $(GRADING_VENV)/.installed
NBGRADER := nbgrader==0.9.6
$(GRADING_STAMP): requirements.txt pyproject.toml
	$(call course_env,$(GRADING_VENV),"$(NBGRADER)")
	touch $@

.PHONY: grading-env test-grading grading-bench student-copy sandbox-packages
grading-env: $(GRADING_STAMP) sandbox-packages

# Every graded notebook runs in a sandbox (nnlib/course/grading/sandbox.py): Debian's bubblewrap,
# installed when missing (root or sudo); then a sandbox is started once to show that it works.
sandbox-packages:
	@command -v bwrap > /dev/null || { \
	  echo "Installing bubblewrap for the grading sandbox"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q bubblewrap > /dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q > /dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q bubblewrap > /dev/null 2>&1; } || true; }
	@$(PY) -m nnlib.course.grading.sandbox check

# The round trip: a course of lessons 00, 02 and 07, a class of 17 fake students (right, blank,
# typical mistakes, borrowing and tampering tricks, an endless loop), autograde (stock and in
# parallel), feedback, exact scores, flags, the class report (tests/grading/test_round_trip.py).
test-grading: $(STAMP) $(GRADING_STAMP) sandbox-packages
	$(PY) -m pytest -m grading tests/grading -v -s

# A class on a real JupyterHub (hub/jupyterhub_config.py, TEACHING.md "A class on JupyterHub"):
# JupyterHub 5.x or 6.x (6.1 when tested) with nbgrader in .venv-hub, configurable-http-proxy from npm in .hub-node/, the
# students in headless Chromium (tests/hub/test_hub.py).
HUB_VENV := .venv-hub
HUB_STAMP := $(HUB_VENV)/.installed
JUPYTERHUB := jupyterhub>=5,<7
CHP := .hub-node/node_modules/.bin/configurable-http-proxy
$(HUB_STAMP): requirements.txt pyproject.toml
	$(call course_env,$(HUB_VENV),"$(NBGRADER)" "$(JUPYTERHUB)")
	touch $@
$(CHP):
	mkdir -p .hub-node && npm install --silent --no-audit --no-fund --prefix .hub-node configurable-http-proxy@4

.PHONY: hub-env test-hub
hub-env: $(HUB_STAMP) $(CHP)
test-hub: $(STAMP) $(HUB_STAMP) $(CHP) browser-packages
	$(PY) -m pytest -m hub tests/hub -v -s -rs

# How long grading a class takes: all eight lessons, a generated class (benchmarks/grading_bench.py).
STUDENTS ?= 20
JOBS ?= 2
grading-bench: $(STAMP) $(GRADING_STAMP) sandbox-packages
	$(GRADING_VENV)/bin/python benchmarks/grading_bench.py --students $(STUDENTS) --jobs $(JOBS)

# The course without notebooks/ (the solutions), for students: make student-copy TARGET=../course-students
student-copy: $(STAMP)
	@[ -n "$(TARGET)" ] || { echo "usage: make student-copy TARGET=<new folder>"; exit 2; }
	$(PY) -m nnlib.course.student_versions student-copy "$(TARGET)"

# The course in the browser (website/lite/README.md): JupyterLite with Pyodide 0.27.7, built by
# website/lite/build.py in an environment of its own, .venv-lite (requirements-lite.txt).
# Downloads (Pyodide, pinned wheels) are checked against pinned sha256 values and cached in
# ~/.cache/nnlib-course/lite; nothing of them is committed. Output: build/lite/ (a static site).
LITE_VENV := .venv-lite
LITE_STAMP := $(LITE_VENV)/.installed
LITE_PORT ?= 8000
$(LITE_STAMP): requirements-lite.txt
	$(call tool_env,$(LITE_VENV),requirements-lite.txt)
	touch $@

.PHONY: lite serve-lite test-lite
lite: $(LITE_STAMP)
	$(LITE_VENV)/bin/python website/lite/build.py

serve-lite:
	@[ -f build/lite/index.html ] || { echo "build/lite/ is not built: run make lite first"; exit 2; }
	@echo "The course in the browser: http://127.0.0.1:$(LITE_PORT)/lab/index.html (Ctrl-C stops)"
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory build/lite $(LITE_PORT)

test-lite: lite $(STAMP) browser-packages
	$(PY) -m pytest -m browser tests/browser/test_lite.py -v -rs -s
