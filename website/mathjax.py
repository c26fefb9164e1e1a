"""MathJax for the course site, served from the site itself (no CDN): fetched at build time
from the npm registry (`npm pack`), or from PyPI where npm is not there, kept in build/ and
never committed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

MATHJAX_PACKAGE = "mathjax@3.2.2"
PYPI_PACKAGE = "django-static-mathjax==3.2.2.1"  # MathJax 3.2.2's files in a wheel (only unzipped here)
# One self-contained file: the TeX input with every extension, SVG output with its fonts built in,
# so it loads nothing else (the chtml output would fetch web fonts; MathJax 4 fetches its fonts).
BUNDLE = "es5/tex-svg-full.js"


def fetch_mathjax(static_dir: Path) -> Path:
    """Put MathJax's bundle at `static_dir/mathjax/tex-svg-full.js` (once); return its path.
    From the npm registry; where npm is missing or cannot reach it, from the same MathJax
    release as packaged on PyPI (a CI machine may reach PyPI only)."""
    target = static_dir / "mathjax" / Path(BUNDLE).name
    if target.exists():
        return target
    try:
        bundle = _from_npm()
    except (OSError, subprocess.CalledProcessError) as npm_failed:
        print(f"MathJax from npm failed ({npm_failed}); taking {PYPI_PACKAGE} from PyPI", flush=True)
        bundle = _from_pypi()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bundle)
    return target


def _from_npm() -> bytes:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([npm, "pack", MATHJAX_PACKAGE, "--silent", "--pack-destination", scratch],
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
        archive = next(Path(scratch).glob("mathjax-*.tgz"))
        with tarfile.open(archive) as tar:
            member = tar.extractfile(f"package/{BUNDLE}")
            if member is None:
                raise SystemExit(f"{MATHJAX_PACKAGE} has no {BUNDLE}")
            return member.read()


def _from_pypi() -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PYPI_PACKAGE,
                        "--dest", scratch], check=True, timeout=300)
        wheel = next(Path(scratch).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(f"mathjax/static/mathjax/{BUNDLE}")
