"""Build the in-browser course (JupyterLite + Pyodide) into build/lite/. Run by `make lite`
(in .venv-lite, from requirements-lite.txt); website/lite/README.md explains the pieces.

1. Pyodide 0.27.7, every package file checked against the official lock (pyodide_dist.py).
2. The pure-Python wheels of browser-wheels.txt from PyPI, pinned by sha256 (pip checks them).
3. nnlib as a wheel, built from this repository.
4. A lock for the site: the official one cut down to the packages the site ships, plus entries
   (with their sha256) for the wheels of 2 and 3, so that the kernel loads nnlib and everything
   it needs when it starts (jupyter-lite.json: loadPyodideOptions.packages).
5. `jupyter lite build` with the lessons, the student versions and data/mnist.npz as contents.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from pyodide_dist import CACHE, PYODIDE_VERSION, package_closure, prepare_distribution  # noqa: E402

OUTPUT = ROOT / "build" / "lite"
# Not under a name starting with build/lite: JupyterLite skips the settings of any lite dir
# whose path starts with the output folder's.
STAGE = ROOT / "build" / "jupyterlite" / "src"  # JupyterLite's lite dir: its settings and static/pyodide
CONTENTS = ROOT / "build" / "jupyterlite" / "contents"  # the files a learner sees in the browser
BROWSER_WHEELS = HERE / "browser-wheels.txt"
# Installed into the site as a JupyterLab extension, not into Python.
LAB_EXTENSION_WHEELS = ("jupyterlab_widgets",)
# What the course needs beyond nnlib's own dependencies (pyproject.toml's `course` extra, in the browser).
COURSE_EXTRAS = ("scikit-learn", "ipywidgets")


def normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned_wheels() -> list[tuple[str, str, str]]:
    """(name, version, sha256) of each line of browser-wheels.txt."""
    pins = []
    for line in BROWSER_WHEELS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement, _, digest = line.partition("--hash=sha256:")
            name, _, version = requirement.strip().partition("==")
            pins.append((name, version, digest.strip()))
    return pins


def browser_wheels() -> list[Path]:
    """The wheels of browser-wheels.txt from the cache, or from PyPI into it (pip refuses any
    whose sha256 differs); the cached copies are checked again before use."""
    folder = CACHE / "browser-wheels"
    folder.mkdir(parents=True, exist_ok=True)
    pins = pinned_wheels()
    if not all(list(folder.glob(f"{name}-{version}-*.whl")) for name, version, _ in pins):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
                        ":all:", "--require-hashes", "-r", str(BROWSER_WHEELS), "--dest", str(folder)],
                       check=True)
    wheels = []
    for name, version, digest in pins:
        wheel = next(folder.glob(f"{name}-{version}-*.whl"))
        if sha256_file(wheel) != digest:
            raise SystemExit(f"{wheel} differs from the sha256 in {BROWSER_WHEELS.name}: "
                             "delete it and build again")
        wheels.append(wheel)
    return wheels


def nnlib_wheel(scratch: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(scratch), str(ROOT)], check=True, cwd=scratch)
    return next(scratch.glob("nnlib-*.whl"))


def wheel_metadata(wheel: Path) -> tuple[str, str, list[str], list[str]]:
    """(name, version, required names without extras, top-level import names) of a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        info = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        imports = sorted({n.split("/")[0] for n in archive.namelist()
                          if not n.split("/")[0].endswith(".dist-info") and n.endswith(".py")})
    requires = [r.split(";")[0] for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    names = [normalised(re.match(r"[A-Za-z0-9._-]+", r.strip()).group(0)) for r in requires]
    return metadata["Name"], metadata["Version"], names, [i.removesuffix(".py") for i in imports]


def site_lock(official: dict, wheels: list[Path], extra_depends: dict[str, tuple[str, ...]]) -> dict:
    """The official lock cut to the packages shipped, plus entries for `wheels` (replacing any
    official entry of the same name, such as tqdm's)."""
    added = {normalised(wheel_metadata(w)[0]): w for w in wheels}
    shipped = [n for n in package_closure(official) if n not in added]
    packages = {name: official["packages"][name] for name in shipped}
    for name, wheel in added.items():
        _, version, requires, imports = wheel_metadata(wheel)
        packages[name] = {
            "name": name, "version": version, "file_name": wheel.name, "install_dir": "site",
            "sha256": sha256_file(wheel), "package_type": "package", "imports": imports,
            "unvendored_tests": False, "depends": [],
        }
    for name, wheel in added.items():
        requires = wheel_metadata(wheel)[2] + list(extra_depends.get(name, ()))
        # only what the site ships (widgetsnbextension is the kernel's stand-in, jupyterlab_widgets
        # the frontend's extension)
        packages[name]["depends"] = sorted({r for r in requires if r in packages})
    return {"info": official["info"], "packages": dict(sorted(packages.items()))}


def stage_contents() -> None:
    if CONTENTS.exists():
        shutil.rmtree(CONTENTS)
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, CONTENTS / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (CONTENTS / "data").mkdir(parents=True)
    for name in ("mnist.npz", "README.md"):
        shutil.copy2(ROOT / "data" / name, CONTENTS / "data" / name)
    shutil.copy2(ROOT / "nnlib" / "course" / "student_readme.md", CONTENTS / "README.md")


def stage_lite_dir(scratch: Path) -> Path:
    """The lite dir: settings and static/pyodide; returns the jupyterlab_widgets wheel."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    pyodide = STAGE / "static" / "pyodide"
    shutil.copytree(prepare_distribution(CACHE / f"pyodide-{PYODIDE_VERSION}"), pyodide,
                    ignore=shutil.ignore_patterns(".complete"))
    wheels = browser_wheels()
    python_wheels = [w for w in wheels if not w.name.startswith(LAB_EXTENSION_WHEELS)]
    python_wheels.append(nnlib_wheel(scratch))
    for wheel in python_wheels:
        shutil.copy2(wheel, pyodide / wheel.name)
    official = json.loads((pyodide / "pyodide-lock.json").read_text())
    lock = site_lock(official, python_wheels, {"nnlib": COURSE_EXTRAS})
    (pyodide / "pyodide-lock.json").write_text(json.dumps(lock, indent=1))
    for name in ("jupyter-lite.json", "overrides.json"):
        shutil.copy2(HERE / name, STAGE / name)
    return next(w for w in wheels if w.name.startswith(LAB_EXTENSION_WHEELS))


def folder_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        widgets_wheel = stage_lite_dir(scratch)
        stage_contents()
        if OUTPUT.exists():
            shutil.rmtree(OUTPUT)
        jupyter = Path(sys.executable).with_name("jupyter")
        subprocess.run([str(jupyter), "lite", "build", "--lite-dir", str(STAGE), "--output-dir", str(OUTPUT),
                        "--contents", str(CONTENTS), "--no-sourcemaps",
                        f"--LiteBuildConfig.federated_extensions={widgets_wheel}"],
                       check=True, cwd=STAGE)
    print(f"in-browser course: {folder_megabytes(OUTPUT):.0f} MB in {OUTPUT.relative_to(ROOT)}/ "
          f"({time.monotonic() - started:.0f} s); serve it with `make serve-lite`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
