"""Build the course site: stage the sources, fetch MathJax, run Sphinx. Run by `make site`
(in .venv-site, which has requirements-site.txt); writes build/site/index.html and friends."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from accessibility import add_heading_levels  # noqa: E402
from mathjax import fetch_mathjax  # noqa: E402
from stage import stage_site  # noqa: E402

STAGE = ROOT / "build" / "site-src"
OUTPUT = ROOT / "build" / "site"
MATHJAX_STATIC = ROOT / "build" / "site-mathjax"
LITE = ROOT / "build" / "lite"  # the in-browser course (make lite), published under lite/


def main() -> int:
    from sphinx.cmd.build import build_main

    started = time.monotonic()
    pages = stage_site(ROOT, STAGE)
    fetch_mathjax(MATHJAX_STATIC)
    # -E: read every source anew (the staged copies are rewritten on each build); -q: warnings only
    doctrees = ROOT / "build" / "site-doctrees"
    arguments = ["-b", "html", "-E", "-q", "-c", str(HERE), "-d", str(doctrees)]
    status = build_main([*arguments, str(STAGE), str(OUTPUT)])
    if status == 0:
        (OUTPUT / ".nojekyll").touch()  # GitHub Pages: serve _static/ and friends as they are
        add_heading_levels(OUTPUT)
        if not (LITE / "index.html").exists():
            print(f"{LITE.relative_to(ROOT)}/ is not built: the lessons' 'Run in your browser' links need it "
                  "(make site builds it: make lite)", file=sys.stderr)
            return 1
        shutil.rmtree(OUTPUT / "lite", ignore_errors=True)
        shutil.copytree(LITE, OUTPUT / "lite")
        print(f"course site: {len(pages)} pages in {OUTPUT.relative_to(ROOT)}/ "
              f"({time.monotonic() - started:.0f} s); open {OUTPUT.relative_to(ROOT)}/index.html")
    return status


if __name__ == "__main__":
    sys.exit(main())
