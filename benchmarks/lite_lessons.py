"""Run All of every lesson in the in-browser course (build/lite/, `make lite`), in headless
Chromium, offline, as `make test-lite` does: the seconds to an idle kernel, the Run All time,
the CPU seconds of the kernel's thread (Pyodide's web worker; on a busy shared machine this
is what Run All would take on an idle one), the validation accuracies printed, and whether every
check passed (✅ and no ❌) without a Python error.

    make bench-lite-lessons                                   # after `make lite`; or:
    .venv/bin/python benchmarks/lite_lessons.py [notebooks/04_dropout.ipynb ...]

The "In the browser" notes of the lessons quote these numbers.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.browser.test_lite as lite  # noqa: E402
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.browser.test_lite import (  # noqa: E402
    OFFLINE_FLAGS,
    SITE,
    QuietHandler,
    Watched,
    open_notebook,
    output_text,
    python_errors,
    run_all,
)

LESSONS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("0*.ipynb"))
ACCURACY = re.compile(r"(?:validation accuracy|val acc)\D{0,12}?(\d+\.\d+)%")
TICKS = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> set[int]:
    """The process ids under `root` (this script's Chromium, not other Chromiums on the machine)."""
    parents = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            parents[int(proc.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.update(children)
        todo.extend(children)
    return found


def chromium_threads() -> dict[tuple[int, int], tuple[str, float]]:
    """{(pid, tid): (thread name, CPU seconds)} of every thread of this script's Chromium."""
    found = {}
    for pid in descendants(os.getpid()):
        proc = Path("/proc") / str(pid)
        try:
            if "chromium" not in (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace"):
                continue
            for task in (proc / "task").iterdir():
                stat = (task / "stat").read_text()
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                found[(int(proc.name), int(task.name))] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return found


def busiest_thread(before: dict, after: dict) -> tuple[str, float, float]:
    """(name, CPU seconds) of the thread that used the most CPU between two snapshots, and the CPU
    seconds of all Chromium threads together."""
    used = {key: (name, seconds - before.get(key, (name, 0.0))[1]) for key, (name, seconds) in after.items()}
    name, seconds = max(used.values(), key=lambda item: item[1])
    return name, seconds, sum(s for _, s in used.values())


def measure(browser, site: str, lesson: str) -> str:
    watched = Watched(browser, site)
    try:
        load = open_notebook(watched, lesson)
        before, started = chromium_threads(), time.monotonic()
        try:
            took, failure = run_all(watched.page), ""
        except (Exception, pytest.fail.Exception) as error:  # still report the CPU it used
            took, failure = time.monotonic() - started, f"FAILED: {str(error)[:200]}; "
        thread, kernel_cpu, all_cpu = busiest_thread(before, chromium_threads())
        text = output_text(watched.page)
        errors = python_errors(watched.page)
        accuracies = ", ".join(f"{a}%" for a in ACCURACY.findall(text)) or "-"
        verdict = ("Python error: " + errors[0][:300] if errors else "❌ shown" if "❌" in text
                   else "every check ✅" if "✅" in text else "no ✅ or ❌")
        return (f"{lesson}: {failure}kernel idle after {load:.0f} s; Run All {took:.0f} s, kernel thread "
                f"({thread}) {kernel_cpu:.0f} CPU s (all of Chromium {all_cpu:.0f}); {verdict}; "
                f"accuracies: {accuracies}")
    finally:
        watched.close()


def main(lessons: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    # a busy shared machine can take many times the idle Run All (the CPU seconds say what it needs)
    lite.RUN_TIMEOUT = lite.KERNEL_TIMEOUT = float(os.environ.get("LITE_LESSONS_TIMEOUT", 3600))

    if not (SITE / "index.html").exists():
        print("build/lite/ is not built: run `make lite` first", file=sys.stderr)
        return 2
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(QuietHandler, directory=SITE))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with sync_playwright() as playwright:
        flags = [*CHROMIUM_FLAGS, *OFFLINE_FLAGS]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        for lesson in lessons:
            started = time.monotonic()
            try:
                print(measure(browser, site, lesson), flush=True)
            except (Exception, pytest.fail.Exception) as error:  # report it, go on to the next lesson
                print(f"{lesson}: failed after {time.monotonic() - started:.0f} s: {error}"[:600], flush=True)
        browser.close()
    server.shutdown()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LESSONS))
