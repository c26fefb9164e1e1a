"""Your functions, read from a lesson notebook as last saved, without running the notebook.

`assemble.gather` borrows your pieces of earlier lessons from their notebook files. Running
those notebooks would train, plot, and run whatever else their cells do, so only this runs:

- top-level `import` statements of modules already loaded (NumPy, math, nnlib, ...: importing
  them again runs no code; a module not loaded yet is not imported, so a function using it is
  not used, and the reason names it) and assignments of a plain value to a name (`EPS = 1e-12`);
- top-level `def`s, as definitions: the function bodies run only when the functions are
  called. A `def` is refused, with the reason, when it has a decorator or a default value
  that is not a plain value (number, string, None, True/False, or a tuple of these):
  both would run at definition time. Annotations are dropped, for the same reason.

A function that uses a top-level name that is none of these (a variable computed by a
cell, a class) is not used, and the reason names that name. Jupyter magics and shell lines
(`%timeit`, `!ls`) are read as Jupyter reads them, and never run. A cell under `%%time` or
`%%capture` is read as the Python it runs; a def under another cell magic (`%%timeit`, ...) is
not used, and the reason names the magic. A lesson file that is missing, unreadable, or not a
notebook gives one reason that names the file.
"""

from __future__ import annotations

import ast
import builtins
import json
import symtable
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nnlib.files import kind_of

# Lesson files with all their stored figures are a few MB; far larger is not a lesson.
MAX_NOTEBOOK_BYTES = 200 * 2**20
# Cell magics that run their body as plain Python in the notebook's namespace: gather reads the body.
PYTHON_CELL_MAGICS = ("time", "capture")

Found = dict[str, tuple[Callable | None, str]]  # name -> (function, "") or (None, why not)


def functions_from_notebook(path: Path, names: Sequence[str]) -> Found:
    """Define the functions `names` as they are written in the notebook at `path`.

    Runs only the notebook's top-level imports, plain-value assignments and safe `def`s (see
    the module docstring), in a fresh namespace. Returns name -> (function, "") or (None, why)."""
    try:
        sources = code_cells(path)
    except NotebookUnreadable as problem:
        return {name: (None, str(problem)) for name in names}
    namespace: dict = {"__name__": path.stem}
    refused: dict[str, str] = {}  # def name -> why it is not defined
    broken: dict[str, str] = {}  # wanted name -> its cell's syntax error
    definitions: list[ast.FunctionDef] = []
    for source in sources:
        source, magic = _cell_magic_body(source)
        if magic:  # its body is not Python that Jupyter runs here (%%timeit runs it elsewhere, %%bash...)
            for name in names:
                if f"def {name}(" in source:
                    refused[name] = (f"{name}'s cell in {path.name} starts with %%{magic}, which gather does "
                                     f"not run: remove the %%{magic} line and run the cell again")
            continue
        try:
            tree = ast.parse(jupyter_to_python(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            for name in names:
                if f"def {name}(" in source:
                    line = f", line {err.lineno}" if getattr(err, "lineno", None) else ""
                    broken[name] = f"its cell in {path.name} has a syntax error{line}"
            continue
        for node in tree.body:
            _run_safe_statement(node, namespace, refused, definitions, path.name)
    for node in definitions:
        refused.pop(node.name, None)
        _define(node, namespace, refused, path.name)
    result: Found = {}
    for name in names:
        if name in broken:
            result[name] = (None, broken[name])
        elif name in refused:
            result[name] = (None, refused[name])
        elif not callable(namespace.get(name)):
            result[name] = (None, f"no function {name} in {path.name}")
        else:
            missing = _unknown_global(name, definitions, namespace, refused)
            result[name] = (None, missing) if missing else (namespace[name], "")
    return result


class NotebookUnreadable(ValueError):
    """The lesson file is missing, unreadable, or not a notebook; the message names it."""


def code_cells(path: Path) -> list[str]:
    """The sources of the code cells of the notebook (nbformat 4) at `path`."""
    name = path.name
    if kind := kind_of(path):  # never read a FIFO or device (it could block or never end)
        raise NotebookUnreadable(f"{name} cannot be read: it is {kind}, not a notebook file")
    if not path.exists():
        raise NotebookUnreadable(f"{name} is not in this folder")
    if (size := path.stat().st_size) > MAX_NOTEBOOK_BYTES:
        raise NotebookUnreadable(f"{name} is not a lesson notebook: {size:,} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
        notebook = json.loads(text)
    except OSError as err:
        raise NotebookUnreadable(f"{name} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise NotebookUnreadable(f"{name} is not a notebook: it is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise NotebookUnreadable(f"{name} is not a notebook: its JSON is broken (a truncated or "
                                 "half-saved file?); open it in Jupyter and save it again") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        version = notebook.get("nbformat") if isinstance(notebook, dict) else None
        old = f" (nbformat {version}: save it with Jupyter 4 or newer)" if version not in (None, 4) else ""
        raise NotebookUnreadable(f"{name} is not a notebook: it has no list of cells{old}")
    sources = []
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookUnreadable(f"{name} is not a valid notebook: code cell {number} has no source text")
        sources.append(source)
    return sources


def _cell_magic_body(source: str) -> tuple[str, str]:
    """(the cell's Python, "") for a plain cell or one under %%time/%%capture (its body); (source, magic)
    for a cell under another cell magic."""
    first, _, body = source.lstrip().partition("\n")
    if not first.startswith("%%"):
        return source, ""
    magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else "?"
    return (body, "") if magic in PYTHON_CELL_MAGICS else (source, magic)


def jupyter_to_python(source: str) -> str:
    """The cell as the Python that Jupyter runs: a magic or shell line becomes a call to
    `get_ipython()`, which is never made here (top-level calls do not run)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _run_safe_statement(node: ast.stmt, namespace: dict, refused: dict[str, str],
                        definitions: list[ast.FunctionDef], file: str) -> None:
    """Imports of loaded modules run; `NAME = plain value` is evaluated without running code; a `def`
    is kept for later (definitions come last: an import cannot shadow yours); the rest is skipped."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        bound = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
        if new := _not_loaded(node):
            for name in bound:
                refused[name] = f"import {new} would run its code; gather imports loaded modules only"
            return
        try:
            exec(compile(ast.Module(body=[node], type_ignores=[]), file, "exec"), namespace)
        except Exception:  # noqa: BLE001, S110 - a failing import: the names it gives stay unknown
            pass
        for name in bound:
            refused.pop(name, None)
    elif isinstance(node, ast.Assign) and all(isinstance(target, ast.Name) for target in node.targets):
        try:
            value = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            for target in node.targets:  # a computed value: a function using it says so
                namespace.pop(target.id, None)
                refused[target.id] = f"{target.id} is computed by a cell"
            return
        for target in node.targets:
            namespace[target.id] = value
            refused.pop(target.id, None)
    elif isinstance(node, ast.FunctionDef):
        definitions.append(node)
    elif isinstance(node, ast.AsyncFunctionDef | ast.ClassDef):
        refused[node.name] = f"{node.name} in {file} is not a plain def"


def _not_loaded(node: ast.Import | ast.ImportFrom) -> str:
    """The first module `node` would import that is not loaded yet ("" when all are)."""
    if isinstance(node, ast.Import):
        return next((alias.name for alias in node.names if alias.name not in sys.modules), "")
    if node.level or node.module not in sys.modules:  # relative: a module of the learner's own
        return "." * node.level + (node.module or "")
    module, names = sys.modules[node.module], [alias.name for alias in node.names if alias.name != "*"]
    return next((f"{node.module}.{name}" for name in names
                 if not hasattr(module, name) and f"{node.module}.{name}" not in sys.modules), "")


def _define(node: ast.FunctionDef, namespace: dict, refused: dict[str, str], file: str) -> None:
    """Define the function of `node` in `namespace`, or record in `refused` why not."""
    runs = "which would run code while reading the notebook"
    defaults = [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None and not _plain(d)]
    if node.decorator_list:
        why = f"has a decorator (@{ast.unparse(node.decorator_list[0])[:40]}), {runs}; remove it"
    elif defaults:
        why = (f"has the default value {ast.unparse(defaults[0])[:40]!r}, {runs}; use a number, a string, "
               "None, True or False")
    if node.decorator_list or defaults:
        refused[node.name] = f"{node.name} in {file} {why}"
        namespace.pop(node.name, None)
        return
    strip_annotations(node)
    try:
        exec(compile(ast.fix_missing_locations(ast.Module(body=[node], type_ignores=[])), file, "exec"),
             namespace)
    except Exception as err:  # noqa: BLE001 - cannot happen for a plain def; say so if it does
        refused[node.name] = f"its definition in {file} fails: {type(err).__name__}: {err}"


def strip_annotations(node: ast.FunctionDef) -> None:
    """Drop the annotations of `node`'s arguments and return value, in place: defining the
    function would evaluate them, which runs code (shared with the grader's trusted run)."""
    for argument in ast.walk(node.args):
        if isinstance(argument, ast.arg):
            argument.annotation = None
    node.returns = None


def _plain(node: ast.expr) -> bool:
    """A number, string, bytes, None, True/False, ..., -number, or a tuple of these."""
    if isinstance(node, ast.Tuple):
        return all(_plain(element) for element in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant)


def _unknown_global(name: str, definitions: list[ast.FunctionDef], namespace: dict,
                    refused: dict[str, str]) -> str:
    """Why `name` cannot be used: the first top-level name it needs (directly or through your
    helper functions) that gather did not define; "" when there is none."""
    sources = {node.name: node for node in definitions}
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in sources:
            continue
        seen.add(current)
        needs = _globals_of(sources[current])
        if "get_ipython" in needs:
            return f"{name} has a Jupyter magic or shell line (%, !) inside, which gather does not run"
        for needed in sorted(needs):
            if needed in refused and needed != name:
                return f"{name} uses {needed}, which gather does not run ({refused[needed]})"
            if needed not in namespace and not hasattr(builtins, needed):
                return (f"{name} uses {needed}, a name that is not a function, import or plain value at "
                        "the top of its notebook; gather runs only those: define it inside the function")
            todo.append(needed)
    return ""


def _globals_of(node: ast.FunctionDef) -> set[str]:
    """The global names the function of `node` (and functions nested in it) reads."""
    try:
        table = symtable.symtable(ast.unparse(node), "cell", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return set()
    names: set[str] = set()
    todo = list(table.get_children())
    while todo:
        scope = todo.pop()
        names.update(symbol.get_name() for symbol in scope.get_symbols()
                     if symbol.is_global() and symbol.is_referenced())
        todo.extend(scope.get_children())
    return names

