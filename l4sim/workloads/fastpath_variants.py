"""Fastpath variants: a fastpath's own ordered checks, from a user's Python file.

A scenario's ``fastpath_checks = "./my_fastpath.py"`` names a file that
defines ``FASTPATH_CHECKS``, a dict from a fastpath's kernel-entry kind
(``"syscall_exception"``, ``"ipc"``) to its checks in order: a tuple of
:class:`l4sim.kernel.checks.Check`. A kind left out keeps the paper's list.
The checks' predicates see the fastpath's context
(:class:`~l4sim.kernel.exception_fastpath.ExceptionContext`,
:class:`~l4sim.kernel.ipc_fastpath.IpcContext`); the commit after the last
check is the kernel's own. The invariant checker, the fastpath-equivalence
property and the order optimizer work on a variant as on the paper's lists.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from l4sim.kernel.checks import Check, Stage, validate_dependencies
from l4sim.kernel.costs import COST_KEYS
from l4sim.kernel.state import PAPER_FASTPATHS
from l4sim.workloads.user_files import UserFileError, load_python_file

if TYPE_CHECKING:
    from l4sim.kernel.exception_checks import ExceptionContext
    from l4sim.kernel.ipc_checks import IpcContext

NAME = "FASTPATH_CHECKS"


class FastpathChecks(TypedDict, total=False):
    """The type of a variant file's ``FASTPATH_CHECKS``.

    Each fastpath's checks, each check's predicate on that fastpath's context (so a type checker
    sees its fields).
    """

    syscall_exception: tuple[Check[ExceptionContext], ...]
    ipc: tuple[Check[IpcContext], ...]


def load_fastpath_variant(path: str | Path) -> dict[str, tuple[Check[Any], ...]]:
    """The check lists a variant file defines, validated (ValueError: one line)."""
    path = Path(path).expanduser().resolve()
    try:
        contents = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise UserFileError(f"{path}: file not found") from None
    return _load(path, contents)


@lru_cache(maxsize=32)
def _load(path: Path, _contents: str) -> dict[str, tuple[Check[Any], ...]]:
    module = load_python_file(path)
    lists = getattr(module, NAME, None)
    shape = f"a dict: fastpath kind ({', '.join(PAPER_FASTPATHS)}) -> its checks in order"
    if lists is None:
        raise UserFileError(f"{path}: defines no {NAME} ({shape})")
    if not isinstance(lists, dict) or not lists:
        raise UserFileError(f"{path}: {NAME} must be {shape} (got {type(lists).__name__})")
    variant = {}
    for kind, checks in lists.items():
        where = f"{path}: {NAME}[{kind!r}]"
        if kind not in PAPER_FASTPATHS:
            raise UserFileError(f"{where}: unknown fastpath (known: {', '.join(PAPER_FASTPATHS)})")
        if not isinstance(checks, tuple | list) or not checks:
            raise UserFileError(f"{where}: must be a non-empty tuple of Check")
        for check in checks:
            if not isinstance(check, Check):
                raise UserFileError(f"{where}: {check!r} is not a Check")
            if not isinstance(check.stage, Stage):
                raise UserFileError(f"{where}: check {check.name}: stage must be a Stage")
            if check.cost not in COST_KEYS:
                raise UserFileError(
                    f"{where}: check {check.name}: unknown cost "
                    f"{check.cost!r} (a profile key, such as check_load_compare)"
                )
            if not callable(check.passes):
                raise UserFileError(f"{where}: check {check.name}: passes must be callable")
        names = [check.name for check in checks]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise UserFileError(f"{where}: more than one check is named {', '.join(twice)}")
        for check in checks:
            if not (
                isinstance(check.needs, tuple)
                and all(isinstance(need, str) for need in check.needs)
            ):
                raise UserFileError(
                    f"{where}: check {check.name}: needs must be a tuple of "
                    f"check names (got {check.needs!r})"
                )
            unknown = [need for need in check.needs if need not in names]
            if unknown:
                raise UserFileError(
                    f"{where}: check {check.name} needs "
                    f"{', '.join(unknown)}, which is not in the list"
                )
        try:
            validate_dependencies(tuple(checks))
        except ValueError as error:
            raise UserFileError(f"{where}: {error}") from None
        variant[kind] = tuple(checks)
    return variant
