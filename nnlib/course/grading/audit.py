"""The audit of a student's answers, read as source (Python's AST), outside the student's kernel.

A check runs in the student's kernel, after the student's own code: whatever it trusts there
(the checker, grading mode, nnlib's reference) the student's cell may have replaced. The audit
reads each solution cell's text instead, in nbgrader's process (`preprocessor.AuditAnswers`),
so nothing the student's code did can change what it finds. An answer is a from-scratch NumPy
function; the audit flags, with a reason, a solution cell that

- imports anything but NumPy, math, collections and itertools (`ALLOWED_MODULES`), or names what
  an answer never needs:
  nnlib, the checkers, scipy, sklearn, `os`/`environ`, `sys`, `importlib`, `exec`/`eval`,
  `inspect`, profiling hooks, threads, Python's internals (`FORBIDDEN_NAMES`, dunder attributes);
- uses a name the lesson imported from such a module (`from nnlib.losses import softmax` at the
  top of the lesson), unless that exercise may (its `may_use` in the registry);
- binds the exercise's name to anything but its own plain `def` (`relu = ReLU().forward`,
  a decorator, `staticmethod`, a callable object), or defines no such `def`;
- assigns to an attribute of a module (`checks.relu = ...`, `np.maximum = ...`);
- holds a near-copy of one of nnlib's own answers to the exercise (`near_copy`).

Flags are for a person to look at (the default) or score zero: see `preprocessor.AuditAnswers`.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import nbformat

from nnlib.course import exercises

# Where AuditAnswers writes its findings in the autograded notebook (read by the class report).
METADATA_KEY = "nnlib_audit"

# What a from-scratch answer may import.
ALLOWED_MODULES = frozenset({"numpy", "math", "typing", "__future__", "collections", "itertools"})

# Names an answer never needs, and why each one is suspicious.
_NNLIB = "nnlib (the course's own answers)"
FORBIDDEN_NAMES: dict[str, str] = {
    "nnlib": _NNLIB,
    "checks": "the checkers",
    "grading": "the checkers' grading mode",
    "scipy": "scipy (a finished implementation)",
    "sklearn": "sklearn (a finished implementation)",
    "os": "os (the environment grading mode reads)",
    "environ": "os.environ (the environment grading mode reads)",
    "sys": "sys (the interpreter's internals)",
    "importlib": "importlib (imports by name)",
    "__import__": "__import__ (imports by name)",
    "exec": "exec (runs code from a string)",
    "eval": "eval (runs code from a string)",
    "compile": "compile (makes code from a string)",
    "inspect": "inspect (reads other code)",
    "setprofile": "setprofile (the checkers' call watcher)",
    "settrace": "settrace (the interpreter's tracing hook)",
    "threading": "threads",
    "_thread": "threads",
    "multiprocessing": "other processes",
    "subprocess": "other processes",
    "builtins": "Python's builtins",
    "__builtins__": "Python's builtins",
    "globals": "the notebook's global names",
    "locals": "the caller's names",
    "vars": "an object's or the notebook's names",
    "setattr": "setattr (changes objects by name)",
    "delattr": "delattr (changes objects by name)",
    "open": "files",
    "get_ipython": "the notebook's kernel (magics, run_cell, its namespace)",
    "run_cell": "the notebook's kernel (runs code from a string)",
    "user_ns": "the notebook's namespace",
}

# Near-copy: normalised-AST token similarity (difflib ratio) at or above NEAR_COPY_RATIO with one
# of nnlib's answers of at least NEAR_COPY_MIN_TOKENS tokens. Measured (tests/test_grading_audit.py,
# test_the_near_copy_threshold_separates_honest_answers_from_pasted_ones): against the nnlib answers
# of 70 tokens or more, the lessons' own solutions score at most 0.55 (numerical_gradient), while
# nnlib's code pasted into the cell scores 0.97-1.00, also with every variable renamed. Below 70
# tokens an honest answer is nnlib's answer, give or take (softmax: 0.87; nnlib's dropout_forward,
# 62 tokens, is the lesson's answer: 0.84), so a short function is never called a copy.
NEAR_COPY_RATIO = 0.90
NEAR_COPY_MIN_TOKENS = 70

# Same math: what a copy looks like once the checks are dropped, the variables renamed and the
# in-place steps folded (`copies.math_tokens`). Flagged at MATH_COPY_RATIO or more against an
# nnlib answer of MATH_MIN_TOKENS math tokens or more, except for the exercises in SAME_MATH: there
# an honest answer (the lesson's own solution, or another one known) already has nnlib's math (0.87
# or more), so a copy cannot be told from an honest answer (tests/test_grading_copies.py computes
# this set and the rates quoted in TEACHING.md, "Flags and manual grades").
MATH_COPY_RATIO = 0.87
MATH_MIN_TOKENS = 20
SAME_MATH = frozenset({"add_l2_grad", "backward_layers", "cosine_lr", "forward_layers", "one_hot", "relu",
                       "relu_backward", "scale_images", "sgd_momentum_step", "softmax", "train_step"})


@dataclass(frozen=True)
class Flag:
    """One reason to doubt that exercise `exercise`'s answer is the student's own work."""

    exercise: str
    reason: str


def _root_name(node: ast.expr) -> str | None:
    """`a` for `a`, `a.b.c`, `a[0].b`; None for anything else (a call, a literal)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def imported_names(tree: ast.AST) -> dict[str, str]:
    """Name -> module for every name an `import` in `tree` binds (`np` -> numpy,
    `softmax` -> nnlib.losses)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = node.module or ""
    return names


def _allowed_module(module: str) -> bool:
    return module.split(".")[0] in ALLOWED_MODULES


def lesson_imports(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The names the lesson's own (locked, non-solution) code cells import, with their modules."""
    names: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution"):
            continue
        try:
            names.update(imported_names(ast.parse(cell.source)))
        except SyntaxError:  # IPython magics: not Python, and they import nothing an answer sees
            continue
    return names


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the cell binds anywhere (assignments, parameters, defs, loop targets)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
    return bound


_ONLY = " (an answer imports only NumPy, math, collections and itertools)"


def _imports(tree: ast.AST) -> Iterator[str]:
    constants = _constant_uses(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _allowed_module(alias.name) and (alias.asname or alias.name) not in constants:
                    yield f"imports {alias.name}{_ONLY}"
        elif isinstance(node, ast.ImportFrom) and not _allowed_module(node.module or ""):
            yield f"imports from {node.module or '.'}{_ONLY}"


def _forbidden_names(tree: ast.AST, modules: set[str]) -> Iterator[str]:
    own = _bound_names(tree)  # a variable of the answer's own called `checks` or `vars` is harmless
    constants = _constant_uses(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in constants:
            continue
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES and node.id not in own:
            yield f"uses `{node.id}`: {FORBIDDEN_NAMES[node.id]}"
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_NAMES and node.attr not in {"open", "compile"}:
                yield f"uses `.{node.attr}`: {FORBIDDEN_NAMES[node.attr]}"
            elif node.attr.startswith("__") and node.attr.endswith("__") and not (
                    node.attr in HARMLESS_DUNDERS and isinstance(node.ctx, ast.Load)):
                yield f"uses `.{node.attr}`: Python's internals, which an answer never needs"
            elif node.attr.startswith("_") and _root_name(node) in modules:
                yield f"uses `{ast.unparse(node)}`: a module's private part, which an answer never needs"
        elif isinstance(node, ast.alias) and node.name.split(".")[0] in FORBIDDEN_NAMES \
                and not (node.name in CONSTANT_MODULES and (node.asname or node.name) in constants):
            yield f"imports {node.name}: {FORBIDDEN_NAMES[node.name.split('.')[0]]}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr") and node.func.id not in own:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)) \
                    or name.value.startswith("_"):
                yield f"uses `{node.func.id}` with a computed or private name, which an answer never needs"
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle" \
                and not (isinstance(node.value, ast.Constant) and node.value.value is False):
            yield "loads pickled objects (`allow_pickle`), which run code: an answer never needs them"
        elif isinstance(node, ast.FunctionDef) and node.name.startswith("__") and node.name.endswith("__"):
            yield f"defines `{node.name}`, one of Python's special methods, which an answer never needs"


# Attributes an answer may read although they are Python's internals: they change nothing.
HARMLESS_DUNDERS = frozenset({"__doc__", "__name__", "__qualname__"})
# Modules an answer may use for constants only (`sys.float_info.epsilon`, `sys.maxsize`).
CONSTANT_MODULES: dict[str, frozenset[str]] = {"sys": frozenset({"float_info", "maxsize", "int_info"})}


def _constant_uses(tree: ast.AST) -> set[str]:
    """Names of CONSTANT_MODULES (`sys`, or its alias) that the cell uses only for their constants
    (`sys.float_info.epsilon`): then importing and naming them is no reason to flag."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in CONSTANT_MODULES:
                    aliases[alias.asname or alias.name] = alias.name
    found = set()
    for name, module in aliases.items():
        uses = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == name]
        parents = {id(child): parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        if all(isinstance(parents.get(id(use)), ast.Attribute) and isinstance(use.ctx, ast.Load)
               and parents[id(use)].attr in CONSTANT_MODULES[module]
               and not isinstance(parents.get(id(parents[id(use)])), ast.Call)
               and isinstance(parents[id(use)].ctx, ast.Load) for use in uses):
            found.add(name)
    return found


def _lesson_names(tree: ast.AST, exercise: str, lesson: dict[str, str]) -> Iterator[str]:
    """Free names that the lesson imported from a module an answer may not use."""
    known = {e.name: e for e in exercises.all_exercises()}
    # the registry's `may_use`: names the lesson imports that this exercise's answer is meant to call
    allowed = known[exercise].may_use if exercise in known else frozenset()
    bound = _bound_names(tree) | set(imported_names(tree))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        module = lesson.get(node.id)
        if module and not _allowed_module(module) and node.id not in allowed and node.id not in bound:
            yield f"uses `{node.id}`, which the lesson imports from {module}"


def _binding(tree: ast.Module, exercise: str) -> Iterator[str]:
    """The exercise's name must be bound by one plain `def` at the top of the cell, nothing else."""
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == exercise]
    lambdas = [node for node in tree.body if isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Lambda)
               and [ast.unparse(t) for t in node.targets] == [exercise]]
    if not defs and not lambdas:
        yield f"does not define `{exercise}` with its own `def`"
    for node in defs:
        for decorator in node.decorator_list:
            if not _numpy_decorator(decorator):
                yield f"wraps `{exercise}` in a decorator (@{ast.unparse(decorator)[:40]}; NumPy's are fine)"
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if isinstance(statement, ast.AsyncFunctionDef | ast.ClassDef) and statement.name == exercise:
                yield f"binds `{exercise}` to a class or coroutine, not its own function"
            continue
        if statement in lambdas and len(lambdas) == 1:
            continue
        for node in ast.walk(statement):  # statements outside any def: assignments, imports, loops
            stored = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
            if stored and node.id == exercise:
                yield f"binds `{exercise}` to something other than its own `def`"
            elif isinstance(node, ast.alias) and (node.asname or node.name) == exercise:
                yield f"binds `{exercise}` to an import"
    for node in ast.walk(tree):
        if isinstance(node, ast.Global | ast.Nonlocal) and exercise in node.names:
            yield f"rebinds `{exercise}` from inside a function (`global`)"
        elif isinstance(node, ast.NamedExpr) and node.target.id == exercise:
            yield f"binds `{exercise}` with `:=`"


def _numpy_decorator(node: ast.expr) -> bool:
    """`@np.errstate(over="ignore")`, `@np.vectorize`: NumPy's, with plain arguments."""
    if isinstance(node, ast.Call):
        plain = all(isinstance(arg, ast.Constant) for arg in [*node.args, *(k.value for k in node.keywords)])
        return plain and _numpy_decorator(node.func)
    return isinstance(node, ast.Attribute) and _root_name(node) in {"np", "numpy"} \
        and not any(part.startswith("_") for part in ast.unparse(node).split("."))


def _aliases(tree: ast.AST, modules: set[str]) -> set[str]:
    """Names that may stand for a module: bound from an expression that names a module other
    than as the function of a call (`m = np`, `m = [np][0]`, `for m in [np]`, `def f(m=np)`)."""
    aliases = set(modules)
    for _ in range(5):  # aliases of aliases
        before = len(aliases)
        for node in ast.walk(tree):
            pairs: list[tuple[ast.expr, ast.expr]] = []
            if isinstance(node, ast.Assign):
                pairs = [(target, node.value) for target in node.targets]
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
                pairs = [(node.target, node.value)]
            elif isinstance(node, ast.For | ast.comprehension):
                pairs = [(node.target, node.iter)]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs = [(node.optional_vars, node.context_expr)]
            elif isinstance(node, ast.arguments):
                positional = [*node.posonlyargs, *node.args]
                with_default = positional[len(positional) - len(node.defaults):]
                pairs = [(ast.Name(arg.arg), default) for arg, default in zip(with_default, node.defaults,
                                                                               strict=True)]
                pairs += [(ast.Name(arg.arg), default)
                          for arg, default in zip(node.kwonlyargs, node.kw_defaults, strict=True) if default]
            for target, value in pairs:
                if _names_a_module(value, aliases):
                    aliases |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        if len(aliases) == before:
            break
    return aliases


def _names_a_module(value: ast.expr, modules: set[str]) -> bool:
    """Can `value` be a module (or a part of one that a later store could change)? `np`, `[np][0]`,
    `np.lib`, `[np.testing][0]`; not `np.zeros(3)`, `np.array([np.pi])` or `x.astype(np.float32)`."""
    parents = {id(child): parent for parent in ast.walk(value) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(value):
        if not isinstance(node, ast.Name | ast.Attribute) or _root_name(node) not in modules:
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute) or isinstance(node, ast.Attribute) and isinstance(node.value,
                                                                                               ast.Subscript):
            continue  # part of a longer chain, judged as that
        if isinstance(parent, ast.Call) and parent.func is node:
            continue  # np.zeros(...): its result
        if isinstance(node, ast.Name) or node is value:
            return True  # the module itself, or `m = np.lib`
        container = parent if isinstance(parent, ast.List | ast.Tuple | ast.Set | ast.Dict) else None
        outer = parents.get(id(container)) if container is not None else None
        if container is not None and not (isinstance(outer, ast.Call) and _root_name(outer.func) in modules):
            return True  # [np.testing][0]
    return False


def _call_root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _module_attributes(tree: ast.AST, modules: set[str]) -> Iterator[str]:
    """Assignments (or deletions) of attributes or items of modules, or of names that may stand
    for one: `checks.relu = ...`, `m = np; m.allclose = ...`."""
    modules = _aliases(tree, modules)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        while targets:
            target = targets.pop()
            if isinstance(target, ast.Tuple | ast.List):
                targets += target.elts
            elif isinstance(target, ast.Starred):
                targets.append(target.value)
            elif isinstance(target, ast.Attribute | ast.Subscript) and _root_name(target) in modules:
                yield f"changes `{ast.unparse(target)}`, part of the module {_root_name(target)}"


def normalised_tokens(function: ast.FunctionDef) -> list[str]:
    """The body of `function` as a token list in which names do not matter: node types,
    attribute names, operators and numbers stay; identifiers, strings, type hints and the
    docstring go. Two functions that differ only in their variable names give the same list."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    tokens: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            tokens.append("name")
            return
        if isinstance(node, ast.Constant):
            tokens.append(repr(node.value) if isinstance(node.value, int | float) else "constant")
            return
        tokens.append(type(node).__name__)
        if isinstance(node, ast.Attribute):
            tokens.append(node.attr)
        for field, value in ast.iter_fields(node):
            if field in {"annotation", "returns", "decorator_list", "type_comment"}:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child)

    for statement in body:
        visit(statement)
    return tokens


@cache
def reference_tokens(exercise: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """nnlib's own answers to `exercise` (the registry's `references`) as (name, normalised tokens)."""
    from nnlib.course.checks.grading import references, resolve

    found = []
    for spec in references(exercise):
        if not spec.startswith("nnlib."):
            continue  # sklearn's code is not course material a student copies from
        function = resolve(spec)
        tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(function, "__wrapped__", function))))
        definition = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
        found.append((spec.replace(":", "."), tuple(normalised_tokens(definition))))
    return tuple(found)


def similarity(a: list[str] | tuple[str, ...], b: list[str] | tuple[str, ...]) -> float:
    """How alike two token lists are, 0 to 1 (difflib's ratio, without its junk heuristic)."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def near_copy(tree: ast.AST, exercise: str) -> Iterator[str]:
    """A function in the cell that is (nearly) nnlib's own answer to `exercise`, renamed."""
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    for reference, tokens in reference_tokens(exercise):
        if len(tokens) < NEAR_COPY_MIN_TOKENS:
            continue
        for function in functions:
            ratio = similarity(normalised_tokens(function), tokens)
            if ratio >= NEAR_COPY_RATIO:
                yield f"is a near-copy of nnlib's {reference} (similarity {ratio:.2f})"
                return
    yield from same_math(functions, exercise)


@cache
def reference_math(exercise: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """nnlib's answers to `exercise` as (name, math tokens: `copies.math_tokens`)."""
    from nnlib.course.checks.grading import references, resolve
    from nnlib.course.grading.copies import math_tokens

    found = []
    for spec in references(exercise):
        if spec.startswith("nnlib."):
            function = resolve(spec)
            tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(function, "__wrapped__", function))))
            definition = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
            found.append((spec.replace(":", "."), tuple(math_tokens(definition))))
    return tuple(found)


def same_math(functions: list[ast.FunctionDef], exercise: str) -> Iterator[str]:
    """The exercise's function with the math of one of nnlib's answers (see MATH_COPY_RATIO)."""
    from nnlib.course.grading.copies import math_tokens

    mine = [f for f in functions if f.name == exercise]
    if exercise in SAME_MATH or not mine:
        return
    tokens = math_tokens(mine[0])
    for reference, theirs in reference_math(exercise):
        ratio = similarity(tokens, theirs)
        if len(theirs) >= MATH_MIN_TOKENS and ratio >= MATH_COPY_RATIO:
            yield (f"has the math of nnlib's {reference} (similarity {ratio:.2f} once argument checks, names "
                   "and in-place steps are set aside)")
            return


def _as_python(source: str) -> str:
    """The cell as the Python Jupyter runs (`%config ...` becomes a call of get_ipython())."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def audit_source(source: str, exercise: str, lesson: dict[str, str] | None = None) -> list[str]:
    """Every reason to flag the solution cell `source` of `exercise` (none: nothing found).
    `lesson`: the names the lesson's own cells import (`lesson_imports`)."""
    lesson = lesson or {}
    try:
        tree = ast.parse(_as_python(source))
    except (SyntaxError, ValueError):
        return []  # it cannot run, so its check fails: nothing to flag
    modules = {name for name, _ in imported_names(tree).items()} | set(lesson) | {"checks", "grading"}
    modules |= {"np", "numpy", "math"}
    reasons = [*_imports(tree), *_forbidden_names(tree, modules), *_lesson_names(tree, exercise, lesson),
               *_binding(tree, exercise), *_module_attributes(tree, modules), *near_copy(tree, exercise)]
    if "get_ipython" not in source:  # Jupyter's own translation of a magic line (`%timeit f(x)`)
        reasons = [reason for reason in reasons if not reason.startswith("uses `get_ipython`")]
    return list(dict.fromkeys(reasons))  # each reason once, in order


def audit_notebook(nb: nbformat.NotebookNode) -> list[Flag]:
    """The flags of every solution cell (nbgrader "autograded answer") of notebook `nb`."""
    lesson = lesson_imports(nb)
    flags = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution") or meta.get("grade"):
            continue
        exercise = meta.get("grade_id", "")
        flags += [Flag(exercise, reason) for reason in audit_source(cell.source, exercise, lesson)]
    return flags
