"""Stage the course site's sources: copies of the README (home page), the eight lessons with
their stored outputs, TEACHING.md and the benchmark page, laid out as in the repository, with
what a web reader needs added to the copies (the repository's files are never changed):

- every lesson gets Binder launch links and "Run in your browser" links (the in-browser course,
  make lite, under lite/), each for the lesson and its student version, and download links;
- every widget's stored default figure gets a note that it is live in Jupyter;
- every figure gets the alt text nnlib stored in the output's metadata (tests/test_notebook_tools.py
  keeps every stored figure carrying one) as MyST-NB's image option;
- links to repository files that are not pages go to GitHub; Binder badges become text links
  (an image from mybinder.org would be a request the site should not make).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat

REPOSITORY = "nn-from-scratch/course"
GITHUB_FILES = f"https://github.com/{REPOSITORY}/blob/main/"
BINDER = f"https://mybinder.org/v2/gh/{REPOSITORY}/main?urlpath=lab/tree/"
# The in-browser course (make lite), published beside the lesson pages under lite/.
LITE = "../lite/lab/index.html?path="
MARKDOWN_PAGES = {"README.md": "index.md", "TEACHING.md": "TEACHING.md",
                  "benchmarks/README.md": "benchmarks/README.md"}
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
BADGE = re.compile(r"\[!\[([^\]]*)\]\(https?://[^)]*\)\]\(([^)\s]+)\)")
WIDGET_CALL = re.compile(r"\b(interact|interactive)\(|widgets\.")
WIDGET_NOTE = """```{note}
This figure is live in Jupyter: there, the sliders above it redraw it. The site shows the figure
for the sliders' default values. Launch the lesson on Binder (link at the top) to move them.
```"""


def lessons(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def site_pages(root: Path) -> dict[str, str]:
    """Repository path -> staged path of every page of the site."""
    pages = {source: target for source, target in MARKDOWN_PAGES.items() if (root / source).exists()}
    for lesson in lessons(root):
        relative = lesson.relative_to(root).as_posix()
        pages[relative] = relative
    return pages


def rewrite_links(markdown: str, source: str, root: Path, stage: Path, pages: dict[str, str]) -> str:
    """Make the links of the repository file `source` work on the site (see the module docstring)."""
    markdown = BADGE.sub(lambda m: f"[{m.group(1)}]({m.group(2)})", markdown)
    source_dir = Path(source).parent
    staged_dir = Path(pages.get(source, source)).parent

    def fix(match: re.Match) -> str:
        bang, text, target = match.groups()
        path, _, anchor = target.partition("#")
        if not path or re.match(r"^[a-z]+:", path):
            return match.group(0)  # an anchor on the same page, or a web address
        normal = Path(os.path.normpath(source_dir / path)).as_posix()  # the path in the repository
        hash_part = f"#{anchor}" if anchor else ""
        if normal in pages:
            relative = Path(_relative(Path(pages[normal]), staged_dir)).as_posix()
            return f"{bang}[{text}]({relative}{hash_part})"
        if bang and (root / normal).is_file():  # a picture: copy it beside the page
            (stage / normal).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / normal, stage / normal)
            return f"{bang}[{text}]({_relative(Path(normal), staged_dir)})"
        return f"{bang}[{text}]({GITHUB_FILES}{normal}{hash_part})"

    return LINK.sub(fix, markdown)


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start if str(start) else ".")).as_posix()


def launch_links(lesson: Path, root: Path) -> str:
    """The Markdown cell under a lesson's title: Binder links and downloads."""
    name = lesson.name
    student = root / "exercises" / name
    lines = [
        "```{admonition} Run this lesson\n:class: tip launch-links",
        f"- Launch on Binder: [the lesson]({BINDER}notebooks/{name}) (with solutions)"
        + (f" or [the student version]({BINDER}exercises/{name}) (exercises to fill in)" if student.exists()
           else ""),
        # raw HTML: a Markdown link to a page outside the Sphinx project would be a missing cross-reference
        f'- Run in your browser, nothing to install: <a href="{LITE}notebooks/{name}">the lesson</a>'
        + (f' or <a href="{LITE}exercises/{name}">the student version</a>' if student.exists() else "")
        + " (your work stays in this browser: *File > Download* keeps a copy)",
        f"- Download the notebook: {{download}}`{name} <../files/notebooks/{name}>`"
        + (f", student version {{download}}`{name} <../files/exercises/{name}>`" if student.exists() else ""),
        "```",
    ]
    return "\n".join(lines)


def stage_lesson(lesson: Path, root: Path, stage: Path, pages: dict[str, str]) -> None:
    nb = nbformat.read(lesson, as_version=4)
    relative = lesson.relative_to(root).as_posix()
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, relative, root, stage, pages)
        cells.append(cell)
        if index == 0:
            cells.append(nbformat.v4.new_markdown_cell(launch_links(lesson, root)))
        if cell.cell_type != "code":
            continue
        pictures = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        for output in pictures:
            alt = output["metadata"]["image/png"]["alt"]
            # MyST-NB reads image options from the cell's metadata (each lesson cell has one figure at most)
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
        if pictures and WIDGET_CALL.search(cell.source):
            cells.append(nbformat.v4.new_markdown_cell(WIDGET_NOTE))
    nb.cells = cells
    (stage / relative).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, stage / relative)


def toctree(pages: dict[str, str]) -> str:
    """Hidden tables of contents: Furo's sidebar, and previous/next in this order."""
    lesson_pages = [p.removesuffix(".ipynb") for s, p in pages.items() if s.endswith(".ipynb")]
    more = [p.removesuffix(".md") for s, p in pages.items() if s.endswith(".md") and p != "index.md"]
    blocks = [("Lessons", lesson_pages), ("For teachers and the curious", more)]
    return "\n".join(f"\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + "\n".join(entries) + "\n```\n"
                     for caption, entries in blocks if entries)


def stage_site(root: Path, stage: Path) -> dict[str, str]:
    """Write the site's sources into `stage` (emptied first); return the pages staged."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    pages = site_pages(root)
    for source, target in pages.items():
        if source.endswith(".md"):
            text = rewrite_links((root / source).read_text(encoding="utf-8"), source, root, stage, pages)
            if target == "index.md":
                text += toctree(pages)
            (stage / target).parent.mkdir(parents=True, exist_ok=True)
            (stage / target).write_text(text, encoding="utf-8")
    for lesson in lessons(root):
        stage_lesson(lesson, root, stage, pages)
        for folder in ("notebooks", "exercises"):  # the downloads: the repository's own files
            original = root / folder / lesson.name
            if original.exists():
                (stage / "files" / folder).mkdir(parents=True, exist_ok=True)
                shutil.copy2(original, stage / "files" / folder / lesson.name)
    return pages
