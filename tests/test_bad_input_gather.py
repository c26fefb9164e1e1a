"""Bad input to `assemble.gather`: an earlier lesson's notebook is read for its defs, and nothing else
of it runs at gather time (no default value, decorator, annotation or top-level statement; no magic
or shell line); a def that cannot be used, and a lesson file that cannot be read, is one reason that
names the function or the file (see tests/bad_input.py). The reason is what gather prints after
"⏳ using nnlib's relu until yours is done"; here it is raised as `Borrowed` to be judged."""

# ruff: noqa: E501 (one table row per case reads better than wrapped rows)

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from nnlib.course import assemble
from tests.bad_input import Case, case_id, expected, outcome

LESSON = "02_forward_pass.ipynb"
RELU = "def relu(x):\n    return np.maximum(x, 0)\n"


class Borrowed(Exception):
    """gather borrowed nnlib's piece; the message is gather's reason."""


def notebook(cells: list, nbformat: int = 4) -> dict:
    return {"cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                       "execution_count": None} for source in cells],
            "metadata": {}, "nbformat": nbformat, "nbformat_minor": 5}


def gathered(tmp: Path, name: str = "relu", earlier: tuple = (LESSON,)):
    pieces = assemble.gather(earlier=list(earlier), folder=tmp)
    if name in pieces.borrowed:
        raise Borrowed(pieces.borrowed[name])
    return pieces.functions[name]


def with_cells(*cells: str, name: str = "relu"):
    """Run gather on a lesson made of `cells` ("{victim}" is a file that must survive)."""

    def run(tmp: Path):
        victim = tmp / "victim"
        victim.write_text("keep me")
        sources = ["import numpy as np\nimport os\n", *(cell.replace("{victim}", str(victim)).replace("{tmp}", str(tmp)) for cell in cells)]
        (tmp / LESSON).write_text(json.dumps(notebook(sources)))
        return gathered(tmp, name)

    return run


def with_file(write):
    """Run gather on a lesson file that `write(path)` makes."""

    def run(tmp: Path):
        write(tmp / LESSON)
        return gathered(tmp)

    return run


def victim_kept(tmp: Path) -> bool:
    return (tmp / "victim").read_text() == "keep me"


def no_shell(tmp: Path) -> bool:
    return victim_kept(tmp) and not (tmp / "shell_ran").exists()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def symlink_loop(path: Path) -> None:
    path.symlink_to(path)


def sparse(size: int):
    def write(path: Path) -> None:
        with open(path, "wb") as file:
            file.truncate(size)

    return write


def text(content: str | bytes):
    def write(path: Path) -> None:
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)

    return write


def json_of(value):
    return text(json.dumps(value))


def with_module(source: str, *cells: str, name: str = "relu"):
    """A module `mine.py` (its `source`, "{victim}" filled in) beside the lesson, importable as in
    Jupyter (whose kernel runs in the lesson's folder); then gather on the lesson's `cells`."""

    def run(tmp: Path):
        (tmp / "mine.py").write_text(source.replace("{victim}", str(tmp / "victim")))
        sys.path.insert(0, str(tmp))
        try:
            return with_cells(*cells, name=name)(tmp)
        finally:
            sys.path.remove(str(tmp))
            sys.modules.pop("mine", None)

    return run


def other_earlier(earlier):
    def run(tmp: Path):
        return assemble.gather(earlier=earlier, folder=tmp)

    return run


B, V = Borrowed, ValueError
REMOVE = "os.remove(r'{victim}')"

CASES = [
    # --- nothing runs at gather time but imports, plain values and definitions -----------------
    Case("default argument deletes a file", with_cells(f"def relu(x, _={REMOVE}):\n    return np.maximum(x, 0)\n"), B, ("relu", "default value", "would run code"), kept=victim_kept),
    Case("keyword-only default deletes a file", with_cells(f"def relu(x, *, _={REMOVE}):\n    return np.maximum(x, 0)\n"), B, ("relu", "default value"), kept=victim_kept),
    Case("decorator deletes a file", with_cells(f"@(lambda f: {REMOVE} or f)\n{RELU}"), B, ("relu", "decorator", "remove it"), kept=victim_kept),
    Case("decorator on a helper relu uses", with_cells(f"@(lambda f: {REMOVE} or f)\ndef helper(x):\n    return x\n", "def relu(x):\n    return np.maximum(helper(x), 0)\n"), B, ("relu uses helper", "decorator"), kept=victim_kept),
    Case("default argument of a helper relu uses", with_cells(f"def helper(x, _={REMOVE}):\n    return x\n", "def relu(x):\n    return np.maximum(helper(x), 0)\n"), B, ("relu uses helper", "default value"), kept=victim_kept),
    Case("functools decorator", with_cells(f"import functools\n@functools.lru_cache\n{RELU}"), B, ("relu", "decorator", "functools.lru_cache")),
    Case("default lambda", with_cells("def relu(x, f=lambda v: v):\n    return np.maximum(f(x), 0)\n"), B, ("default value", "lambda")),
    Case("default list", with_cells("def relu(x, seen=[]):\n    return np.maximum(x, 0)\n"), B, ("default value", "a number, a string")),
    Case("default numpy call", with_cells("def relu(x, zero=np.float32(0)):\n    return np.maximum(x, zero)\n"), B, ("default value", "np.float32(0)")),
    Case("default 10**10**10 (would hang)", with_cells("def relu(x, big=10**10**10):\n    return np.maximum(x, 0)\n"), B, ("default value",)),
    Case("default walrus", with_cells(f"def relu(x, _=(y := {REMOVE})):\n    return np.maximum(x, 0)\n"), B, ("default value",), kept=victim_kept),
    Case("top-level call in a cell", with_cells(f"{REMOVE}\n", RELU), None, (), kept=victim_kept),
    Case("top-level loop in a cell", with_cells(f"for _ in range(1):\n    {REMOVE}\n", RELU), None, (), kept=victim_kept),
    Case("class body with a side effect", with_cells(f"class Trap:\n    {REMOVE}\n", RELU), None, (), kept=victim_kept),
    Case("argument annotation deletes a file", with_cells(f"def relu(x: {REMOVE}):\n    return np.maximum(x, 0)\n"), None, (), kept=victim_kept),
    Case("return annotation deletes a file", with_cells(f"def relu(x) -> {REMOVE}:\n    return np.maximum(x, 0)\n"), None, (), kept=victim_kept),
    Case("assignment of a computed value", with_cells(f"done = {REMOVE}\n", RELU), None, (), kept=victim_kept),
    Case("with statement at the top", with_cells("with open(r'{victim}', 'w') as f:\n    f.write('gone')\n", RELU), None, (), kept=victim_kept),
    Case("del relu after its def", with_cells(RELU, "del relu\n"), None, ()),
    Case("training loop at the top", with_cells(RELU, "while True:\n    pass\n"), None, ()),
    Case("negative and tuple defaults", with_cells("def relu(x, floor=-0.0, pair=(1, 'a', None), flag=True, rest=...):\n    return np.maximum(x, 0)\n"), None, ()),
    Case("last definition wins: decorated", with_cells(RELU, f"@(lambda f: {REMOVE} or f)\n{RELU}"), B, ("decorator",), kept=victim_kept),
    Case("last definition wins: plain", with_cells(f"@(lambda f: {REMOVE} or f)\n{RELU}", RELU), None, (), kept=victim_kept),
    Case("async def relu", with_cells("async def relu(x):\n    return x\n"), B, ("relu", "not a plain def")),
    Case("relu = lambda", with_cells("relu = lambda x: np.maximum(x, 0)\n"), B, ("relu",)),
    Case("relu is a class", with_cells("class relu:\n    pass\n"), B, ("relu", "not a plain def")),
    # --- imports: only of modules already loaded (importing another runs its code) --------------
    Case("import of a module that deletes a file", with_module(f"import os\n{REMOVE}\n", "import mine\n", RELU), None, (), kept=victim_kept),
    Case("relu uses a module gather did not import", with_module(f"import os\n{REMOVE}\ndef f(x):\n    return x\n", "import mine\n", "def relu(x):\n    return mine.f(np.maximum(x, 0))\n"), B, ("relu uses mine", "would run its code"), kept=victim_kept),
    Case("from-import of a module that deletes a file", with_module(f"import os\n{REMOVE}\ndef f(x):\n    return x\n", "from mine import f\n", "def relu(x):\n    return f(np.maximum(x, 0))\n"), B, ("relu uses f", "import mine"), kept=victim_kept),
    Case("relative import", with_cells("from . import mine\n", RELU), None, ()),
    Case("import antigravity (opens a browser)", with_cells("import antigravity\n", RELU), None, (), kept=lambda tmp: "antigravity" not in sys.modules),
    Case("import of a loaded submodule", with_cells("import numpy.linalg as la\n", "def relu(x):\n    return np.maximum(x, 0) + 0 * la.norm(x)\n"), None, ()),
    Case("from numpy import maximum", with_cells("from numpy import maximum\n", "def relu(x):\n    return maximum(x, 0)\n"), None, ()),
    # --- top-level names a def needs ---------------------------------------------------------
    Case("computed top-level constant", with_cells("ZERO = np.float32(0)\n", "def relu(x):\n    return np.maximum(x, ZERO)\n"), B, ("relu uses ZERO", "computed by a cell")),
    Case("plain top-level constant", with_cells("ZERO = 0.0\n", "def relu(x):\n    return np.maximum(x, ZERO)\n"), None, ()),
    Case("name defined nowhere", with_cells("def relu(x):\n    return np.maximum(x, floor)\n"), B, ("relu uses floor", "define it inside the function")),
    Case("helper uses a computed constant", with_cells("ZERO = np.zeros(1)[0]\n", "def helper(x):\n    return x * (x > ZERO)\n", "def relu(x):\n    return helper(x)\n"), B, ("relu uses ZERO", "computed")),
    Case("helper def", with_cells("def helper(x):\n    return x * (x > 0)\n", "def relu(x):\n    return helper(x)\n"), None, ()),
    Case("relu uses a class", with_cells("class Rectifier:\n    pass\n", "def relu(x):\n    Rectifier()\n    return np.maximum(x, 0)\n"), B, ("relu uses Rectifier", "not a plain def")),
    Case("unpacked constants", with_cells("LOW, HIGH = 0, 1\n", "def relu(x):\n    return np.maximum(x, LOW)\n"), B, ("relu uses LOW",)),
    Case("module that is not installed", with_cells("import nnlib_no_such_module as nm\n", "def relu(x):\n    return nm.relu(x)\n"), B, ("relu uses nm",)),
    Case("global statement for a counter", with_cells("calls = 0\n", "def relu(x):\n    global calls\n    calls += 1\n    return np.maximum(x, 0)\n"), None, ()),
    Case("nested function uses a computed name", with_cells("ZERO = np.float32(0)\n", "def relu(x):\n    def inner(v):\n        return np.maximum(v, ZERO)\n    return inner(x)\n"), B, ("relu uses ZERO",)),
    # --- Jupyter magics and shell lines, read as Jupyter reads them ----------------------------
    Case("%timeit line", with_cells(f"%timeit np.zeros(3)\n{RELU}"), None, ()),
    Case("!ls shell line", with_cells(f"!touch {{tmp}}/shell_ran\n{RELU}"), None, (), kept=no_shell),
    Case("files = !ls", with_cells(f"files = !ls\n{RELU}"), None, ()),
    Case("%%bash cell magic", with_cells("%%bash\nrm {victim}\n", RELU), None, (), kept=victim_kept),
    Case("%matplotlib inline", with_cells(f"%matplotlib inline\n{RELU}"), None, ()),
    Case("help line relu?", with_cells(RELU, "relu?\n"), None, ()),
    Case("%load_ext", with_cells(f"%load_ext autoreload\n%autoreload 2\n{RELU}"), None, ()),
    Case("relu's cell under %%time (issue 27)", with_cells(f"%%time\n{RELU}"), None, ()),
    Case("relu's cell under %%capture", with_cells(f"%%capture output\n{RELU}"), None, ()),
    Case("relu's cell under %%timeit (issue 27)", with_cells(f"%%timeit\n{RELU}"), B, ("relu", "%%timeit", LESSON, "remove the %%timeit line")),
    Case("relu's cell under %%writefile", with_cells(f"%%writefile {{tmp}}/relu.py\n{RELU}"), B, ("relu", "%%writefile")),
    Case("magic inside the def", with_cells("def relu(x):\n    %time y = np.maximum(x, 0)\n    return y\n"), B, ("relu", "magic or shell line")),
    Case("syntax error in relu's cell", with_cells("def relu(x):\n    return np.maximum(x, 0\n"), B, ("syntax error", LESSON, "line")),
    Case("null byte in a cell", with_cells("def relu(x):\n    return x\x00\n"), B, ("syntax error", LESSON)),
    Case("deeply nested expression", with_cells("def relu(x):\n    return " + "(" * 5000 + "x" + ")" * 5000 + "\n"), B, ("syntax error",)),
    # --- the lesson file itself ----------------------------------------------------------------
    Case("lesson file missing", lambda tmp: gathered(tmp), B, (LESSON, "not in this folder")),
    Case("empty lesson file", with_file(text("")), B, (LESSON, "JSON is broken")),
    Case("truncated lesson file", with_file(text(json.dumps(notebook([RELU]))[:-40])), B, (LESSON, "JSON is broken", "save it again")),
    Case("non-UTF-8 lesson file", with_file(text(b"\xff\xfe{\"cells\": []}")), B, (LESSON, "UTF-8")),
    Case("nbformat 3 lesson file", with_file(json_of({"nbformat": 3, "worksheets": [{"cells": []}]})), B, (LESSON, "nbformat 3")),
    Case("JSON list, not a notebook", with_file(json_of([1, 2])), B, (LESSON, "not a notebook")),
    Case("cells is not a list", with_file(json_of({"cells": "def relu(x): ..."})), B, (LESSON, "no list of cells")),
    Case("cell without source", with_file(json_of({"cells": [{"cell_type": "code"}]})), B, (LESSON, "cell 1 has no source")),
    Case("cell source is a number", with_file(json_of({"cells": [{"cell_type": "code", "source": 42}]})), B, (LESSON, "no source")),
    Case("cell source list of numbers", with_file(json_of({"cells": [{"cell_type": "code", "source": [1, 2]}]})), B, (LESSON, "no source")),
    Case("cell is not an object", with_file(json_of({"cells": ["def relu(x): ..."]})), B, ("no function relu", LESSON)),
    Case("cell without cell_type", with_file(json_of({"cells": [{"source": RELU}]})), B, ("no function relu",)),
    Case("deeply nested JSON", with_file(text("[" * 100_000 + "]" * 100_000)), B, (LESSON, "JSON is broken")),
    Case("lesson is a folder", with_file(lambda path: path.mkdir()), B, (LESSON, "folder")),
    Case("lesson is a FIFO", with_file(fifo), B, (LESSON, "FIFO")),
    Case("lesson is a symlink loop", with_file(symlink_loop), B, (LESSON, "cannot be read")),
    Case("lesson is 300 MB of zeros", with_file(sparse(300 * 2**20)), B, (LESSON, "bytes")),
    Case("lesson is a dangling symlink", with_file(lambda path: path.symlink_to(path.parent / "gone.ipynb")), B, (LESSON, "not in this folder")),
    # --- gather's arguments --------------------------------------------------------------------
    Case("misspelt lesson in earlier", other_earlier(["02_forward.ipynb"]), V, ("earlier", "02_forward.ipynb", LESSON)),
    Case("earlier is a string", other_earlier(LESSON), V, ("earlier", "must list")),
    Case("earlier is None", other_earlier(None), V, ("earlier",)),
    Case("earlier names a lesson without pieces", other_earlier(["07_results.ipynb"]), V, ("earlier", "07_results.ipynb")),
    Case("here is a list", lambda _: assemble.gather(here=[print]), V, ("here", "list")),
    Case("here names no piece", lambda _: assemble.gather(here={"relu2": print}), V, ("relu2", "not a piece")),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gather_reads_only_defs_and_says_why_not(case, tmp_path):
    kind, why = outcome(case, tmp_path)
    assert kind == expected(case), why


def test_a_skipped_piece_is_named_in_gathers_output(tmp_path, capsys):
    (tmp_path / "victim").write_text("keep me")
    cells = ["import numpy as np\nimport os\n",
             f"def relu(x, _=os.remove(r'{tmp_path / 'victim'}')):\n    return np.maximum(x, 0)\n"]
    (tmp_path / LESSON).write_text(json.dumps(notebook(cells)))
    assemble.gather(earlier=[LESSON], folder=tmp_path)
    out = capsys.readouterr().out
    assert "⏳ using nnlib's relu until yours is done (relu in 02_forward_pass.ipynb has the default value" in out
    assert victim_kept(tmp_path)
