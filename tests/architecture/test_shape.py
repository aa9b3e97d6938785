"""Code a reader can hold: no class over 300 lines, no function over 100 lines.

The one exception is the compiled engine loop (``PathInterpreter.run_path``):
one frame per kernel path, on purpose, because every call it saved is a call
per simulated effect. Complexity is held by ruff's mccabe rule (C901, at most
30; configured in pyproject.toml), which runs in ``make test`` and ``make lint``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import l4sim

PACKAGE = Path(l4sim.__file__).resolve().parent
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 100
# (module, qualified name): the compiled engine loop
EXEMPT = {("sim/interpreter.py", "PathInterpreter.run_path")}


def definitions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every class and function, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from definitions(node, f"{name}.")
        else:
            yield from definitions(node, prefix)


def too_long() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        for name, node in definitions(ast.parse(path.read_text())):
            lines = node.end_lineno - node.lineno + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit and (module, name) not in EXEMPT:
                found.append(f"{module}: {name} has {lines} lines (at most {limit})")
    return found


def test_no_class_or_function_is_longer_than_a_reader_can_hold():
    assert too_long() == []


def test_the_rule_sees_a_long_function(tmp_path, monkeypatch):
    (tmp_path / "long.py").write_text("def f():\n" + "    x = 1\n" * 120)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", tmp_path)
    assert too_long() == ["long.py: f has 121 lines (at most 100)"]
