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


def cached_distribution(folder: Path, dist, monkeypatch) -> tuple[Path, list]:
    """A cached distribution as a finished download leaves it: core files, the lock, the wheels, the stamp
    (the pinned core sha256 are those of these stand-in bytes). Also returns the list of downloads."""
    lock = json.dumps(LOCK).encode()
    core = {name: f"{name} bytes".encode() for name in dist.CORE_SHA256 if name != "pyodide-lock.json"}
    core["pyodide-lock.json"] = lock
    pinned = {name: hashlib.sha256(data).hexdigest() for name, data in core.items()}
    monkeypatch.setattr(dist, "CORE_SHA256", pinned)
    monkeypatch.setattr(dist, "ROOT_PACKAGES", ("numpy", "prompt_toolkit"))
    wheels = {"numpy-1.0-py3-none-any.whl": b"numpy bytes", "prompt_toolkit-1.0-py3-none-any.whl": b"pt",
              "wcwidth-1.0-py3-none-any.whl": b"wc"}
    folder.mkdir()
    for name, data in {**core, **wheels}.items():
        (folder / name).write_bytes(data)
    (folder / ".complete").touch()
    downloads = []
    monkeypatch.setattr(dist, "download_distribution", downloads.append)  # no network here
    return folder, downloads


@pytest.mark.parametrize("change", ["pyodide.asm.js", "python_stdlib.zip", "numpy-1.0-py3-none-any.whl",
                                    "pyodide-lock.json"])
def test_every_build_checks_every_cached_file_against_the_official_sha256(change, tmp_path, monkeypatch):
    """Issue 27: a cached file replaced after download (here with other bytes) went into the site unchecked
    once `.complete` existed."""
    dist = load("pyodide_dist")
    target, downloads = cached_distribution(tmp_path / "pyodide", dist, monkeypatch)
    assert dist.prepare_distribution(target) == target and not downloads  # untouched: used as it is
    (target / change).write_bytes(b"replaced after the download")
    with pytest.raises(dist.IntegrityError, match=rf"{change}: sha256 \w+ differs from the official Pyodide "
                                                  r"0\.27\.7 file's \w+; the cache was changed .*delete"):
        dist.prepare_distribution(target)


def test_a_cached_file_that_is_no_pyodide_file_stops_the_build(tmp_path, monkeypatch):
    dist = load("pyodide_dist")
    target, downloads = cached_distribution(tmp_path / "pyodide", dist, monkeypatch)
    (target / "extra.js").write_text("alert(1)")
    with pytest.raises(dist.IntegrityError, match="extra.js is no file of Pyodide 0.27.7 .*delete"):
        dist.prepare_distribution(target)


def test_a_grown_package_set_downloads_again(tmp_path, monkeypatch):
    dist = load("pyodide_dist")
    target, downloads = cached_distribution(tmp_path / "pyodide", dist, monkeypatch)
    monkeypatch.setattr(dist, "ROOT_PACKAGES", ("numpy", "prompt_toolkit", "pandas"))
    with pytest.raises(dist.IntegrityError, match="pandas-1.0-py3-none-any.whl missing after the download"):
        dist.prepare_distribution(target)  # the stand-in download adds nothing
    assert downloads == [target]
