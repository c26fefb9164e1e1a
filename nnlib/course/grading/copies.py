"""Copies of nnlib's answers, told from honest ones by "the math": a function with its argument
checks dropped, its in-place steps folded and its temporaries inlined, names ignored.

What a student who copies nnlib's `softmax` hands in is rarely nnlib's text: the argument
checks (`check_logits(...)`, `if ...: raise ValueError(...)`) go, variables get other names,
and `exps /= exps.sum(...)` becomes `return e / e.sum(...)`. So both sides are brought to one
form before they are compared (`math_tokens`):

- the docstring, assertions, `check_*(...)`/`integer(...)` calls, `if ...: raise ...` blocks and
  `x = np.asarray(x)` are dropped: they check arguments, they are not the math;
- `self.m` reads as `m` (nnlib's optimisers and layers keep state on `self`; a student's
  function takes it as arguments);
- in-place steps become plain ones: `a op= b` is `a = a op b`, `np.multiply(a, b, out=c)` is
  `c = a * b` (also `add`, `subtract`, `divide`, and `np.sqrt(x, out=c)` is `c = np.sqrt(x)`);
- every temporary assigned once in straight-line code is inlined where it is used, so
  `e = np.exp(s); return e / e.sum()` and `return np.exp(s) / np.exp(s).sum()` are the same;
- then `audit.normalised_tokens`: node types, attributes, operators and numbers; no names.

A copy then reads like the reference. An honest answer reads like it too when there is one
obvious way to write the function (`np.maximum(x, 0)`), which is why `audit.near_copy` compares
only references whose math is distinctive enough (`DISTINCT_MIN_TOKENS`): see TEACHING.md,
"Flags and manual grades", for the measured rates and what cannot be told apart.
"""

from __future__ import annotations

import ast
import copy

# Calls that check arguments rather than compute (nnlib's validators), by the called name.
_CHECK_PREFIXES = ("check", "_check", "validate", "_validate")
_CHECK_NAMES = frozenset({"integer", "real", "require", "expect_shape"})
# NumPy's ufuncs with an `out=` that a copy folds into an operator.
_UFUNC_OPERATORS = {"multiply": ast.Mult, "add": ast.Add, "subtract": ast.Sub, "divide": ast.Div,
                    "true_divide": ast.Div}


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_check(statement: ast.stmt) -> bool:
    """Is this statement an argument check (or the docstring), not the math?"""
    if isinstance(statement, ast.Assert):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True  # a docstring or a stray string
    if isinstance(statement, ast.If) and not statement.orelse and isinstance(statement.body[-1], ast.Raise):
        return True  # `if bad: raise ...` (also with a message built first)
    if isinstance(statement, ast.Assign) and _copies_of_arguments(statement):
        return True  # `w, v = w.copy(), v.copy()`: not to change the caller's arrays
    if isinstance(statement, ast.If) and not statement.orelse and all(
            isinstance(inner, ast.Assign) and _copies_of_arguments(inner) for inner in statement.body):
        return True  # `if not inplace: w = w.copy()`
    value = statement.value if isinstance(statement, ast.Expr | ast.Assign) else None
    if isinstance(value, ast.Call):
        name = _called_name(value)
        if name.startswith(_CHECK_PREFIXES) or name in _CHECK_NAMES:
            return True
        if (name == "asarray" and isinstance(statement, ast.Assign) and len(value.args) == 1
                and isinstance(value.args[0], ast.Name) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == value.args[0].id):
            return True
    return False


def _copies_of_arguments(statement: ast.Assign) -> bool:
    """`x = x.copy()` or `w, v = w.copy(), v.copy()`."""
    if len(statement.targets) != 1:
        return False
    target, value = statement.targets[0], statement.value
    pairs = (list(zip(target.elts, value.elts, strict=False))
             if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) else [(target, value)])
    return all(isinstance(t, ast.Name) and isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute)
               and v.func.attr == "copy" and isinstance(v.func.value, ast.Name) and v.func.value.id == t.id
               for t, v in pairs)


class _SelfToNames(ast.NodeTransformer):
    """`self.m` -> `m`."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            return ast.copy_location(ast.Name(node.attr, node.ctx), node)
        self.generic_visit(node)
        return node


def _unfold(statement: ast.stmt) -> ast.stmt:
    """An in-place step as a plain assignment (`a op= b`, `np.multiply(a, b, out=c)`)."""
    if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
        read = ast.Name(statement.target.id, ast.Load())
        return ast.Assign([ast.Name(statement.target.id, ast.Store())],
                          ast.BinOp(read, statement.op, statement.value), lineno=0)
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        out = next((k.value for k in call.keywords if k.arg == "out"), None)
        if out is None and len(call.args) == 3 and _called_name(call) in _UFUNC_OPERATORS:
            out = call.args[2]
        if isinstance(out, ast.Name):
            name = _called_name(call)
            target = [ast.Name(out.id, ast.Store())]
            if name in _UFUNC_OPERATORS and len(call.args) >= 2:
                value: ast.expr = ast.BinOp(call.args[0], _UFUNC_OPERATORS[name](), call.args[1])
            else:
                value = ast.Call(call.func, call.args[:1], [k for k in call.keywords if k.arg != "out"])
            return ast.Assign(target, value, lineno=0)
    return statement


class _Unwrap(ast.NodeTransformer):
    """A validator that returns its checked argument (`real(lam, "lam", "l2_penalty")`,
    `_parameters(weights, "add_l2_grad")`: nnlib's take the caller's name for their messages)
    -> that argument."""

    def __init__(self, function_name: str):
        self.function_name = function_name

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        names_caller = any(isinstance(arg, ast.Constant) and arg.value == self.function_name
                           for arg in node.args)
        if node.args and (names_caller or _called_name(node) in _CHECK_NAMES):
            return node.args[0]
        return node


class _Inline(ast.NodeTransformer):
    """Names read -> the expression last assigned to them (in straight-line code)."""

    def __init__(self, known: dict[str, ast.expr]):
        self.known = known

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.known:
            return copy.deepcopy(self.known[node.id])
        return node


def _stored(statement: ast.stmt) -> set[str]:
    return {node.id for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)}


def math_of(function: ast.FunctionDef) -> ast.FunctionDef:
    """`function` as its math: checks dropped, `self.` gone, in-place steps unfolded,
    temporaries inlined (see the module's docstring). `function` is not changed."""
    function = _SelfToNames().visit(copy.deepcopy(function))
    function = _Unwrap(function.name).visit(function)
    known: dict[str, ast.expr] = {}
    body: list[ast.stmt] = []
    state = _state([statement for statement in function.body if not _is_check(statement)])
    for statement in function.body:
        if _is_check(statement):
            continue
        statement = _unfold(statement)
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            known[statement.targets[0].id] = _Inline(known).visit(statement.value)
            continue  # inlined where it is read
        statement = _Inline(known).visit(statement)
        for name in _stored(statement):  # assigned in a loop or a branch: no longer known
            known.pop(name, None)
        body.append(statement)
    if not any(isinstance(node, ast.Return) for node in body):
        # state updated in place (an optimiser's step): the final values of the state are the math
        body += [ast.Expr(known[name]) for name in state if name in known]
    function.body = _outputs_in_one_order(body) or [ast.Pass()]
    return function


def _state(body: list[ast.stmt]) -> list[str]:
    """Names a body updates in place before ever assigning them plainly (`m *= b1`,
    `np.sqrt(v, out=s)`): the state an optimiser's step changes, in order of first update."""
    assigned: set[str] = set()
    state: list[str] = []
    for statement in body:
        unfolded = _unfold(statement)
        if isinstance(unfolded, ast.Assign) and len(unfolded.targets) == 1 \
                and isinstance(unfolded.targets[0], ast.Name):
            name = unfolded.targets[0].id
            reads = {n.id for n in ast.walk(unfolded.value) if isinstance(n, ast.Name)}
            if name in reads and name not in assigned and name not in state:
                state.append(name)
            assigned.add(name)
    return state


def _outputs_in_one_order(body: list[ast.stmt]) -> list[ast.stmt]:
    """A returned tuple and the final values of the state, as one list of expressions in an
    order of their own (`return w, m, v` and nnlib's updates of m, v, values in place compare alike)."""
    outputs: list[ast.expr] = []
    rest = []
    for statement in body:
        if isinstance(statement, ast.Return) and isinstance(statement.value, ast.Tuple):
            outputs += statement.value.elts
        elif isinstance(statement, ast.Expr) and statement is body[-1] and outputs == [] and rest \
                and all(isinstance(s, ast.Expr) for s in body[len(rest):]):
            outputs.append(statement.value)
        else:
            rest.append(statement)
    if not outputs:
        return body
    return rest + [ast.Expr(value) for value in sorted(outputs, key=ast.dump)]


def math_tokens(function: ast.FunctionDef) -> list[str]:
    """The normalised tokens of `function`'s math (what near-copies are compared on)."""
    from nnlib.course.grading.audit import normalised_tokens

    return normalised_tokens(math_of(function))
