"""axe-core, the accessibility checker the site test runs in each page: fetched once from the npm
registry (`npm pack`), checked against the registry's sha512 pinned here, and kept in
~/.cache/nnlib-course/axe (`NNLIB_AXE_CACHE` moves it); never committed. The test itself runs
offline: `make test-site` fetches it first (`python -m tests.browser.axe`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "4.14.1"
PACKAGE = f"axe-core@{VERSION}"
# `npm view axe-core@4.14.1 dist.integrity`: the published tarball's sha512.
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
CACHE = Path(os.environ.get("NNLIB_AXE_CACHE", Path.home() / ".cache" / "nnlib-course" / "axe"))
SCRIPT = CACHE / f"axe-{VERSION}.min.js"
# The rules of WCAG 2.0 and 2.1, levels A and AA (axe's tags).
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def fetch_axe() -> Path:
    """Put axe.min.js at SCRIPT (once) and return its path."""
    if SCRIPT.exists():
        return SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm is needed once to fetch {PACKAGE} (apt-get install npm)")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([npm, "pack", PACKAGE, "--silent", "--pack-destination", scratch],
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
        archive = next(Path(scratch).glob("axe-core-*.tgz"))
        digest = "sha512-" + base64.b64encode(hashlib.sha512(archive.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            raise SystemExit(f"{PACKAGE} from npm has {digest}, not the pinned {INTEGRITY}: refused")
        with tarfile.open(archive) as tar:
            member = tar.extractfile("package/axe.min.js")
            if member is None:
                raise SystemExit(f"{PACKAGE} has no axe.min.js")
            script = member.read()
    SCRIPT.parent.mkdir(parents=True, exist_ok=True)
    partial = SCRIPT.with_suffix(".partial")
    partial.write_bytes(script)
    partial.replace(SCRIPT)
    return SCRIPT


if __name__ == "__main__":
    print(f"axe-core {VERSION}: {fetch_axe()}", file=sys.stderr)
