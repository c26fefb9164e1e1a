"""MathJax for the course site, served from the site itself (no CDN): fetched from the npm
registry with `npm pack` at build time, kept in build/ and never committed."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MATHJAX_PACKAGE = "mathjax@3.2.2"
# One self-contained file: the TeX input with every extension, SVG output with its fonts built in,
# so it loads nothing else (the chtml output would fetch web fonts; MathJax 4 fetches its fonts).
BUNDLE = "es5/tex-svg-full.js"


def fetch_mathjax(static_dir: Path) -> Path:
    """Put MathJax's bundle at `static_dir/mathjax/tex-svg-full.js` (once); return its path."""
    target = static_dir / "mathjax" / Path(BUNDLE).name
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("The course site needs npm to fetch MathJax (apt-get install npm)")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([npm, "pack", MATHJAX_PACKAGE, "--silent", "--pack-destination", scratch],
                       check=True, stdout=subprocess.DEVNULL)
        archive = next(Path(scratch).glob("mathjax-*.tgz"))
        with tarfile.open(archive) as tar:
            member = tar.extractfile(f"package/{BUNDLE}")
            if member is None:
                raise SystemExit(f"{MATHJAX_PACKAGE} has no {BUNDLE}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
    return target
