"""What the built pages need beyond Sphinx and Furo to pass WCAG 2.1 A/AA (axe-core, in
`make test-site`): the sidebar's captions ("Lessons", ...) are marked role="heading" without a
level, which assistive technology needs (axe's aria-required-attr); they are level 2 under the
site's title. The blocks that scroll get keyboard focus from _static/course.js."""

from __future__ import annotations

from pathlib import Path

CAPTION = '<p class="caption" role="heading">'
LEVELLED_CAPTION = '<p class="caption" role="heading" aria-level="2">'


def add_heading_levels(site: Path, skip: str = "lite") -> int:
    """Give every sidebar caption of the HTML pages under `site` (but not `skip`/) its level;
    return how many pages changed."""
    changed = 0
    for page in site.rglob("*.html"):
        if page.relative_to(site).parts[0] == skip:
            continue
        html = page.read_text(encoding="utf-8")
        if CAPTION in html:
            page.write_text(html.replace(CAPTION, LEVELLED_CAPTION), encoding="utf-8")
            changed += 1
    return changed
