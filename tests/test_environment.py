"""requirements.txt (pip, the Makefile) and environment.yml (conda, Binder) agree,
and every third-party import of the course is declared in them."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import nbformat
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
# Benchmark-only, optional, imported behind a guard: never a runtime dependency.
OPTIONAL_IMPORTS = {"torch"}
# Imported only by nbgrader's own process, in .venv-grading, which the Makefile builds with the
# pinned nbgrader (and traitlets, its dependency): never in a learner's .venv.
GRADING_ENV_IMPORTS = {"nbgrader", "traitlets"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_requirements() -> dict[str, SpecifierSet]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[normalise(requirement.name)] = requirement.specifier
    return found


def conda_environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_requirements() -> dict[str, SpecifierSet]:
    found = {}
    for entry in conda_environment()["dependencies"]:
        assert isinstance(entry, str), f"environment.yml: nested entries such as {entry} are not expected"
        name, _, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(([=<>!~].*)?)$", entry).groups()[:3]
        if name == "python":
            continue
        found[normalise(name)] = SpecifierSet(spec)
    return found


def test_python_is_pinned_to_3_12_from_conda_forge():
    env = conda_environment()
    assert "python=3.12" in env["dependencies"]
    assert env["channels"] == ["conda-forge"]


def test_same_packages_with_the_same_version_ranges():
    pip, conda = pip_requirements(), conda_requirements()
    assert sorted(pip) == sorted(conda), (
        f"only in pip: {set(pip) - set(conda)}; only in conda: {set(conda) - set(pip)}"
    )
    for name in pip:
        assert pip[name] == conda[name], (
            f"{name}: requirements.txt says '{pip[name]}', environment.yml '{conda[name]}'"
        )


def test_installed_versions_satisfy_the_ranges():
    for name, spec in pip_requirements().items():
        version = importlib.metadata.version(name)
        assert spec.contains(version, prereleases=True), f"{name} {version} is outside '{spec}'"


def test_torch_is_never_a_dependency():
    assert "torch" not in pip_requirements() and "torch" not in conda_requirements()


def test_binder_installs_nnlib_with_postbuild_not_in_the_environment():
    post_build = ROOT / "postBuild"
    assert post_build.is_file() and post_build.stat().st_mode & 0o111, "postBuild: not an executable script"
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert "-e ." not in (ROOT / "environment.yml").read_text(), "an editable install defeats Binder's cache"


def _imports_of(source: str) -> set[str]:
    # Drop IPython magics and shell escapes, which are not Python syntax.
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    names = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def course_imports() -> dict[str, set[str]]:
    """Top-level module name -> files importing it, over nnlib/, notebooks/, exercises/."""
    found: dict[str, set[str]] = {}
    sources = [(p, p.read_text()) for p in sorted((ROOT / "nnlib").rglob("*.py"))]
    for folder in ("notebooks", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            sources.append((path, "\n".join(c.source for c in nb.cells if c.cell_type == "code")))
    for path, source in sources:
        for name in _imports_of(source):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared():
    declared = set(pip_requirements())
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, files in sorted(course_imports().items()):
        if module in sys.stdlib_module_names or module == "nnlib" or module in OPTIONAL_IMPORTS:
            continue
        if module in GRADING_ENV_IMPORTS and all(f.startswith("nnlib/course/grading/") for f in files):
            continue
        provided_by = {normalise(d) for d in distributions.get(module, [module])}
        if not provided_by & declared:
            missing.append(f"{module} (from {', '.join(sorted(files))}; distribution {sorted(provided_by)})")
    assert not missing, "imported but not in requirements.txt: " + "; ".join(missing)


def pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_package_dependencies_have_the_lower_bounds_of_requirements_txt():
    project = pyproject()["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pip = pip_requirements()
    for requirement in declared:
        name = normalise(requirement.name)
        lower = {s.version for s in requirement.specifier if s.operator == ">="}
        assert lower == {s.version for s in pip[name] if s.operator == ">="}, (
            f"{name}: pyproject.toml says '{requirement.specifier}', requirements.txt '{pip[name]}'"
        )


def test_building_nnlib_prints_no_deprecation_warning(tmp_path):
    """What every install prints: setuptools' warnings about the course's own pyproject.toml."""
    import shutil
    import subprocess

    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "nnlib", tmp_path / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--verbose",
         "--wheel-dir", str(tmp_path / "dist"), str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    output = built.stdout + built.stderr
    assert "running bdist_wheel" in output, "pip did not show the build backend's output"
    warnings = [line for line in output.splitlines() if re.search(r"[Dd]eprecat|BuildBackendWarning", line)]
    assert not warnings, "\n".join(warnings[:5])


def test_binder_start_pins_threads_and_uses_the_course_jupyterlab_settings():
    """Binder runs `start` before JupyterLab: one BLAS thread even without nnlib, and jupyter-config/."""
    import json
    import os
    import subprocess

    start = ROOT / "start"
    assert start.is_file() and start.stat().st_mode & 0o111, "start: not an executable script"
    probe = (
        "import json, os, numpy, threadpoolctl; print(json.dumps({"
        "'blas': [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'], "
        "'config': os.environ['JUPYTER_CONFIG_PATH'].split(os.pathsep)[0]}))"
    )
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_NUM_THREADS") and k not in ("NNLIB_BLAS_THREADS", "JUPYTER_CONFIG_PATH")}
    done = subprocess.run([str(start), sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["blas"] and set(seen["blas"]) == {1}, f"BLAS threads under Binder's start: {seen['blas']}"
    overrides = Path(seen["config"]) / "labconfig" / "default_setting_overrides.json"
    assert overrides.is_file(), f"JUPYTER_CONFIG_PATH starts with {seen['config']}, without {overrides.name}"


def test_the_editable_install_of_make_venv_prints_no_warning_box(tmp_path):
    """`make venv` installs nnlib editable; setuptools' import-hook mode printed an alarming
    "Editable installation ... Please be careful" box, the plain .pth mode prints nothing."""
    import shutil
    import subprocess

    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "nnlib", tmp_path / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    build = ("import sys; from setuptools import build_meta; "
             "print('built', build_meta.build_editable(sys.argv[1]))")
    built = subprocess.run([sys.executable, "-W", "default", "-c", build, str(tmp_path / "dist")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "built nnlib-" in built.stdout
    output = built.stdout + built.stderr
    assert "Editable installation" not in output and "careful" not in output, output[-2000:]


def test_the_grading_environment_installs_what_its_modules_import():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^NBGRADER := nbgrader==[0-9.]+$", makefile, re.M), "the Makefile pins nbgrader"
    assert "$(call course_env,$(GRADING_VENV),\"$(NBGRADER)\")" in makefile
