"""Which kernel-object fields no code changes after creation: the proof a hoisted check needs.

A check that reads only such fields (a thread's CPU, its exception handler,
its priority and domain, a space's validity) gives the same answer at any
moment, with or without locks: it may run before the fastpath takes any lock.
The proof is a static scan of the package's source: every attribute name that
some statement assigns (outside a constructor of the object itself) or
mutates in place (``x.field.append(...)`` and the like) counts as written.
A name is written anywhere, on any object, counts against every object that
has a field of that name: the scan errs on the side of "written".
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import l4sim
from l4sim.kernel.checks import Check

PACKAGE = Path(l4sim.__file__).resolve().parent  # the package's source, not this folder
MUTATORS = {
    "append",
    "appendleft",
    "extend",
    "remove",
    "pop",
    "popleft",
    "clear",
    "insert",
    "setdefault",
    "update",
    "add",
    "discard",
}


@cache
def written_fields() -> frozenset[str]:
    """Attribute names that some statement of this package assigns or mutates in place."""
    return scan_written_fields(PACKAGE)


def scan_written_fields(package: Path) -> frozenset[str]:
    """Attribute names that some statement of the package at ``package`` assigns or mutates."""
    written: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                for sub in _assigned(target):
                    if not _is_self_in_init(sub, tree):
                        written.add(sub.attr)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
            ):
                # x.field.append(...), x.field[i].popleft(), x.field.setdefault(k).append(...):
                # every attribute along the receiver chain may be mutated
                receiver = node.func.value
                while isinstance(receiver, ast.Attribute | ast.Subscript | ast.Call):
                    if isinstance(receiver, ast.Attribute):
                        written.add(receiver.attr)
                    receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
    return frozenset(written)


def _assigned(target: ast.expr) -> Iterator[ast.Attribute]:
    """The attributes an assignment target writes: along its receiver chain, not in its subscripts.

    ``q[t.cpu] = x`` writes ``q``, and only reads ``t.cpu``.
    """
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _assigned(element)
    elif isinstance(target, ast.Starred):
        yield from _assigned(target.value)
    elif isinstance(target, ast.Attribute):
        yield target
        yield from _assigned(target.value)
    elif isinstance(target, ast.Subscript):
        yield from _assigned(target.value)


def immutable(fields: Iterable[str]) -> frozenset[str]:
    """Those of ``fields`` that no statement of the package assigns or mutates."""
    return frozenset(fields) - written_fields()


def _is_self_in_init(node: ast.Attribute, tree: ast.AST) -> bool:
    """``self.x = ...`` inside ``__init__``/``__post_init__`` is construction, not a write."""
    if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
        return False
    for function in ast.walk(tree):
        if (
            isinstance(function, ast.FunctionDef)
            and function.name in ("__init__", "__post_init__")
            and any(sub is node for sub in ast.walk(function))
        ):
            return True
    return False


def proven_immutable(fastpaths: Mapping[str, tuple[Check[Any], ...]]) -> frozenset[str]:
    """The fields these fastpaths' checks read that the scan proves never written."""
    return immutable(
        field for checks in fastpaths.values() for check in checks for field in check.reads
    )
