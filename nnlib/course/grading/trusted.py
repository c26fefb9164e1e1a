"""The trusted run: points come from the answers' own `def`s, checked in fresh processes.

A notebook's check cell runs in the student's kernel after all of the student's code; whatever
that code did there (replace the checker, patch NumPy, plant a module), the check's output can
say "passed". So the score comes from elsewhere: for each graded exercise, a fresh process
(in the sandbox, `sandbox.py`) that

1. imports NumPy and the checkers, before any of the student's code exists in it;
2. builds the student's functions from the student's cells (every code cell that is not one of
   the lesson's own, found by the lesson's sources, not by the submitted metadata) running only
   imports, `def`s, `name = lambda ...` and constant values (`EPS = 1e-12`, `sys.float_info.epsilon`;
   not `np.finfo(float).eps`: a call); nothing else at the top level of a cell runs, so no cell's
   code patches anything here. A default value must be such a constant (`dtype=np.float32`), a
   decorator NumPy's `np.errstate(...)` or `np.vectorize`;
3. runs the exercise's checker on the function, in grading mode (hidden cases, no nnlib answers).

Each exercise gets its own process (forked from one that imported everything and never ran the
student's code), so what one function does when called cannot reach the next check. The
notebook's own check output stays the student's feedback; where the two disagree, the trusted
result counts, and the feedback and the class report say why.

`run_trusted` (the grader's side) starts `python -m nnlib.course.grading.trusted` with the request
on stdin and reads one JSON line per exercise from its stdout.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nnlib.course.notebook_functions import strip_annotations

PASSED = "passed"
FAILED = "failed"
NOT_IMPLEMENTED = "not implemented"
TIMED_OUT = "timed out"
# A check (all its rounds) stops itself after 20 s (checks.grading.CHECK_SECONDS); its process is
# killed after this long in any case (an endless loop that swallows the checker's own stop).
CHECK_PROCESS_SECONDS = 45.0
# The most a check's process may report (its message); more is cut.
MAX_RESULT_BYTES = 65536
# Modules whose functions a decorator, default value or constant may call, and whose attributes it
# may name (`sys` only its attributes: `sys.float_info.epsilon`).
SAFE_ROOTS = frozenset({"np", "numpy", "math"})
CONSTANT_ROOTS = SAFE_ROOTS | {"sys"}
# Lesson imports left out of the student's namespace: the checkers are the grader's, not theirs.
GRADER_MODULES = ("nnlib.course.checks",)


@dataclass(frozen=True)
class Trusted:
    """The trusted result of one exercise."""

    exercise: str
    status: str  # PASSED, FAILED, NOT_IMPLEMENTED or TIMED_OUT
    message: str = ""


# ---------------------------------------------------------------- building the student's functions

# NumPy's functions that a decorator may call (with plain arguments).
DECORATOR_CALLS = frozenset({"errstate", "vectorize"})


def _safe_decorator(node: ast.expr) -> bool:
    """`@np.errstate(over="ignore")`, `@np.vectorize`: nothing else runs while the grader defines
    the student's functions."""
    if isinstance(node, ast.Call):
        return (isinstance(node.func, ast.Attribute) and node.func.attr in DECORATOR_CALLS
                and _rooted_in(node.func, SAFE_ROOTS)
                and all(_safe_expression(arg) for arg in [*node.args, *(k.value for k in node.keywords)]))
    return isinstance(node, ast.Attribute) and node.attr in DECORATOR_CALLS and _rooted_in(node, SAFE_ROOTS)


def _safe_expression(node: ast.expr) -> bool:
    """A literal, a name, `np.x.y` or `sys.float_info.epsilon`, arithmetic and tuples of these:
    no call, nothing that runs the student's own code or reaches Python's internals (no
    attribute that starts with an underscore)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return not node.attr.startswith("_") and _rooted_in(node, CONSTANT_ROOTS)
    if isinstance(node, ast.Tuple | ast.List):
        return all(_safe_expression(element) for element in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _safe_expression(node.operand)
    if isinstance(node, ast.BinOp):
        return _safe_expression(node.left) and _safe_expression(node.right)
    return False


def _rooted_in(node: ast.Attribute, roots: frozenset[str]) -> bool:
    value: ast.expr = node
    while isinstance(value, ast.Attribute):
        if value.attr.startswith("_"):
            return False
        value = value.value
    return isinstance(value, ast.Name) and value.id in roots


def _to_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def build_functions(lesson_sources: list[str], student_sources: list[str]) -> tuple[dict, dict[str, str]]:
    """The namespace of the student's functions, and name -> why a `def` was not run."""
    namespace: dict = {"__name__": "answers"}
    refused: dict[str, str] = {}
    for node in lesson_imports(lesson_sources, names_used(student_sources)):
        _run(node, namespace)
    for source in student_sources:
        try:
            tree = ast.parse(_to_python(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            line = f", line {err.lineno}" if getattr(err, "lineno", None) else ""
            for name in _defined_names_in_text(source):
                refused[name] = f"its cell has a syntax error{line}"
            continue
        for node in tree.body:
            _build_statement(node, namespace, refused)
    return namespace, refused


def names_used(sources: list[str]) -> set[str]:
    """Every name the sources mention (a lesson import is run only when an answer may need it)."""
    import re

    return set(re.findall(r"[A-Za-z_]\w*", "\n".join(sources)))


def lesson_imports(lesson_sources: list[str], wanted: set[str]) -> list[ast.Import | ast.ImportFrom]:
    """The lesson's own top-level imports that bind a name in `wanted` (never the checkers)."""
    found = []
    for source in lesson_sources:
        try:
            tree = ast.parse(_to_python(source))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and not _grader_import(node):
                bound = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
                if bound & wanted or "*" in bound:
                    found.append(node)
    return found


def _defined_names_in_text(source: str) -> list[str]:
    import re

    return re.findall(r"^\s*def\s+(\w+)\s*\(", source, re.MULTILINE)


def _grader_import(node: ast.Import | ast.ImportFrom) -> bool:
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
    full = [f"{node.module}.{alias.name}" for alias in node.names] if isinstance(node, ast.ImportFrom) else []
    return any(name.startswith(GRADER_MODULES) for name in [*names, *full])


def _run(node: ast.stmt, namespace: dict) -> str:
    try:
        exec(compile(ast.fix_missing_locations(ast.Module(body=[node], type_ignores=[])), "answers", "exec"),
             namespace)
    except Exception as err:  # noqa: BLE001 - the student's import or def: say why it failed
        return f"{type(err).__name__}: {err}"
    return ""


def _build_statement(node: ast.stmt, namespace: dict, refused: dict[str, str]) -> None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        _run(node, namespace)
    elif isinstance(node, ast.FunctionDef):
        defaults = [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
        unsafe = [d for d in node.decorator_list if not _safe_decorator(d)]
        unsafe += [d for d in defaults if not _safe_expression(d)]
        if unsafe:
            refused[node.name] = (f"`{ast.unparse(unsafe[0])[:50]}` in the def of {node.name} would run code "
                                  "while the grader defines it (decorators and default values may only be "
                                  "plain values or NumPy's)")
            namespace.pop(node.name, None)
            return
        strip_annotations(node)
        problem = _run(node, namespace)
        if problem:
            refused[node.name] = f"defining {node.name} failed: {problem}"
        else:
            refused.pop(node.name, None)
    elif isinstance(node, ast.Assign) and all(isinstance(target, ast.Name) for target in node.targets):
        if isinstance(node.value, ast.Lambda):
            lambda_defaults = [*node.value.args.defaults, *node.value.args.kw_defaults]
            ok = all(_safe_expression(d) for d in lambda_defaults if d)
        else:
            ok = _safe_expression(node.value)
        names = [target.id for target in node.targets]
        if ok and not _run(node, namespace):
            for name in names:
                refused.pop(name, None)
        else:
            for name in names:
                namespace.pop(name, None)
                refused[name] = (f"{name} is computed by a cell's code, which the grader does not run (it "
                                 "runs your defs, imports and plain values): compute it inside your function")


# ---------------------------------------------------------------- the sandboxed process

def _status_of(exercise: str, message: str) -> str:
    if message.strip() == f"{exercise}: {NOT_IMPLEMENTED}":
        return NOT_IMPLEMENTED
    if "interrupted while checking" in message or "did not finish within" in message:
        return TIMED_OUT
    return FAILED


def check_one(exercise: str, lesson_sources: list[str], student_sources: list[str]) -> Trusted:
    """Build the student's functions and run `exercise`'s checker on its function (in this process)."""
    from nnlib.course import checks

    namespace, refused = build_functions(lesson_sources, student_sources)
    function = namespace.get(exercise)
    if exercise in refused:
        return Trusted(exercise, FAILED, f"{exercise}: {refused[exercise]}")
    if not callable(function):
        return Trusted(exercise, NOT_IMPLEMENTED, f"{exercise}: no function {exercise} in your answer cells")
    checker = getattr(checks, exercise, None)
    if checker is None:
        return Trusted(exercise, FAILED, f"{exercise}: the course has no checker of this name")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            checker(function)
    except AssertionError as err:
        message = str(err)
        return Trusted(exercise, _status_of(exercise, message), message)
    except BaseException as err:  # noqa: BLE001 - whatever the student's code raised, it failed
        return Trusted(exercise, FAILED, f"{exercise}: {type(err).__name__}: {str(err)[:300]}")
    message = printed.getvalue().strip().splitlines()[-1:] or [f"{exercise}: passed"]
    return Trusted(exercise, PASSED, message[0])


def _preload(lesson_sources: list[str], student_sources: list[str]) -> None:
    """Import the modules of the lesson's imports that the answers may need (once, before
    forking: each check's process then starts with them loaded)."""
    import importlib

    for node in lesson_imports(lesson_sources, names_used(student_sources)):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        for module in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(module)


def _not_dumpable() -> None:
    """No other process of the sandbox (a later check's) may read or change this one's memory."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def _child(exercise: str, request: dict, write_end: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, write_end)
    os.closerange(write_end + 1, 65536)
    try:
        result = check_one(exercise, request["lesson"], request["student"])
    except BaseException as err:  # noqa: BLE001
        result = Trusted(exercise, FAILED, f"{exercise}: the grader could not run it ({type(err).__name__})")
    data = json.dumps(result.__dict__).encode()[:MAX_RESULT_BYTES]
    os.write(write_end, data)
    os._exit(0)


def _collect(pid: int, read_end: int, seconds: float) -> bytes:
    """What the check's process reports, or b"" if it dies or runs out of time (then it is killed)."""
    chunks, deadline = [], time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return b"timeout"
        ready, _, _ = select.select([read_end], [], [], left)
        if ready:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks)[:MAX_RESULT_BYTES]


def serve(request: dict, out: io.TextIOBase) -> None:
    """Check each exercise of `request` in a process of its own; one JSON line each on `out`."""
    seconds = float(request.get("seconds", CHECK_PROCESS_SECONDS))
    import math  # noqa: F401 - loaded before any student code, like NumPy and the checkers

    import numpy  # noqa: F401

    from nnlib.course import checks  # noqa: F401

    _preload(request["lesson"], request["student"])
    _not_dumpable()
    for exercise in request["exercises"]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(exercise, request, write_end)
        os.close(write_end)
        data = _collect(pid, read_end, seconds)
        os.close(read_end)
        if data == b"timeout":
            result = Trusted(exercise, TIMED_OUT, f"{exercise}: the check did not finish in {seconds:g} s "
                                                  "(an endless loop?)")
        else:
            try:
                found = json.loads(data.decode("utf-8", "replace"))
                result = Trusted(exercise, str(found["status"]), str(found["message"]))
            except (ValueError, KeyError, TypeError):
                result = Trusted(exercise, FAILED, f"{exercise}: the check's process ended without a result "
                                                   "(your function stopped Python?)")
        out.write(json.dumps(result.__dict__) + "\n")
        out.flush()


# ---------------------------------------------------------------- the grader's side

def student_sources(cells: list, lesson_sources: list[str]) -> list[str]:
    """The sources of the code cells that are not the lesson's own: the answers, and any cells
    the student added (helpers). A cell counts as the lesson's when its text is that of one of
    the lesson's locked cells, whatever its metadata says."""
    lesson = {source.strip() for source in lesson_sources}
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if isinstance(source, str) and source.strip() and source.strip() not in lesson:
            found.append(source)
    return found


def run_trusted(folder: Path, lesson_sources: list[str], sources: list[str], exercises: list[str],
                sandboxed: bool = True, seconds: float = CHECK_PROCESS_SECONDS) -> dict[str, Trusted]:
    """Check each of `exercises` on the student's functions from `sources`, in the sandbox with
    `folder` (the student's) as the working folder; exercise -> result (FAILED with the reason
    when the run itself failed)."""
    from nnlib.course.grading import sandbox

    request = {"lesson": lesson_sources, "student": sources, "exercises": exercises, "seconds": seconds}
    environment = {"NBGRADER_EXECUTION": "autograde", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    program = [sys.executable, "-I", "-m", "nnlib.course.grading.trusted"]
    if sandboxed:
        command, env, cwd = [*sandbox.sandbox_prefix(folder, environment=environment), *program], None, None
    else:
        command, cwd = program, folder
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("NBGRADER")}, **environment}
    results: dict[str, Trusted] = {}
    problem = ""
    try:
        done = subprocess.run(command, input=json.dumps(request), capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=seconds * len(exercises) + 120)
        for line in done.stdout.splitlines():
            try:
                found = json.loads(line)
                results[found["exercise"]] = Trusted(found["exercise"], found["status"], found["message"])
            except (ValueError, KeyError, TypeError):
                continue
        if done.returncode:
            problem = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    except (OSError, subprocess.TimeoutExpired) as err:
        problem = str(err)
    for exercise in exercises:
        if exercise not in results:
            results[exercise] = Trusted(exercise, FAILED, f"{exercise}: the grader's own run could not "
                                                          f"check it ({problem or 'no result'})")
    return results


def main() -> int:
    request = json.loads(sys.stdin.read())
    serve(request, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
