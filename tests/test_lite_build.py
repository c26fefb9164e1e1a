"""The in-browser build's safety checks (website/lite/), without network: a Pyodide file is used
only with the official lock's sha256, and the site's lock ships what it lists."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import zipfile
from pathlib import Path

import pytest

LITE = Path(__file__).resolve().parents[1] / "website" / "lite"


def load(name: str):
    sys.path.insert(0, str(LITE))
    try:
        spec = importlib.util.spec_from_file_location(f"lite_{name}", LITE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(LITE))


def entry(name: str, file_name: str, data: bytes, depends: list[str]) -> dict:
    return {"name": name, "version": "1.0", "file_name": file_name, "install_dir": "site",
            "sha256": hashlib.sha256(data).hexdigest(), "package_type": "package", "imports": [name],
            "unvendored_tests": False, "depends": depends}


LOCK = {"info": {"version": "0.27.7"}, "packages": {
    "numpy": entry("numpy", "numpy-1.0-py3-none-any.whl", b"numpy bytes", []),
    "prompt-toolkit": entry("prompt-toolkit", "prompt_toolkit-1.0-py3-none-any.whl", b"pt", ["wcwidth"]),
    "wcwidth": entry("wcwidth", "wcwidth-1.0-py3-none-any.whl", b"wc", []),
    "tqdm": entry("tqdm", "tqdm-4.66.2-py3-none-any.whl", b"pyodide's rebuild", []),
    "pandas": entry("pandas", "pandas-1.0-py3-none-any.whl", b"pd", ["numpy"]),
}}


def test_a_file_is_used_only_with_the_official_sha256():
    dist = load("pyodide_dist")
    assert dist.verified("numpy-1.0-py3-none-any.whl", b"numpy bytes", LOCK) == b"numpy bytes"
    with pytest.raises(dist.IntegrityError, match="differs from the official lock"):
        dist.verified("numpy-1.0-py3-none-any.whl", b"numpy bytes, changed", LOCK)
    with pytest.raises(dist.IntegrityError, match="not a file of Pyodide"):
        dist.verified("numpy-9.9-py3-none-any.whl", b"numpy bytes", LOCK)


def test_package_closure_follows_dependencies_by_normalised_name():
    dist = load("pyodide_dist")
    assert dist.package_closure(LOCK, ("numpy", "prompt_toolkit")) == ["numpy", "prompt-toolkit", "wcwidth"]
    with pytest.raises(KeyError, match="torch"):
        dist.package_closure(LOCK, ("torch",))


def wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        metadata = [f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(metadata) + "\n")
    return path


def test_site_lock_ships_only_the_closure_and_our_wheels_with_their_sha256(tmp_path, monkeypatch):
    build = load("build")
    dist = load("pyodide_dist")
    monkeypatch.setattr(build, "package_closure", lambda lock: dist.package_closure(lock, ("numpy", "tqdm")))
    ours = [wheel(tmp_path, "tqdm", "4.66.2", []),
            wheel(tmp_path, "nnlib", "0.1.0", ["numpy>=2.0", "tqdm>=4.66", "jupyterlab_widgets~=3.0",
                                               'pytest; extra == "test"'])]
    lock = build.site_lock(json.loads(json.dumps(LOCK)), ours, {"nnlib": ("scikit-learn",)})
    assert sorted(lock["packages"]) == ["nnlib", "numpy", "tqdm"]  # no pandas; not shipped
    assert lock["packages"]["tqdm"]["sha256"] == hashlib.sha256(ours[0].read_bytes()).hexdigest()
    assert lock["packages"]["tqdm"]["sha256"] != LOCK["packages"]["tqdm"]["sha256"]
    # only what the site has: no jupyterlab_widgets (the frontend), no scikit-learn here, no extras
    assert lock["packages"]["nnlib"]["depends"] == ["numpy", "tqdm"]
    assert lock["packages"]["nnlib"]["imports"] == ["nnlib"]
