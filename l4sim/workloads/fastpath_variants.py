"""Fastpath variants: a fastpath's own ordered checks, built in or from a user's Python file.

A scenario's ``fastpath_checks = "./my_fastpath.py"`` names a file that
defines ``FASTPATH_CHECKS``, a dict from a fastpath's kernel-entry kind
(``"syscall_exception"``, ``"ipc"``) to its checks in order: a tuple of
:class:`l4sim.kernel.checks.Check`. A kind left out keeps the paper's list.
The checks' predicates see the fastpath's context
(:class:`~l4sim.kernel.exception_fastpath.ExceptionContext`,
:class:`~l4sim.kernel.ipc_fastpath.IpcContext`); the commit after the last
check is the kernel's own. The invariant checker, the fastpath-equivalence
property and the order optimizer work on a variant as on the paper's lists.

A built-in variant is named without a path: ``fastpath_checks = "sel4"`` is
seL4's own IPC fastpath checks (:mod:`l4sim.workloads.sel4_fastpath`).
"""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from l4sim.kernel.checks import Check, Stage, validate_dependencies
from l4sim.kernel.costs import COST_KEYS
from l4sim.kernel.state import PAPER_FASTPATHS
from l4sim.workloads.user_files import UserFileError, is_path, load_python_file

if TYPE_CHECKING:
    from types import ModuleType

    from l4sim.kernel.exception_checks import ExceptionContext
    from l4sim.kernel.ipc_checks import IpcContext

NAME = "FASTPATH_CHECKS"
# optional: the fields the modelled kernel writes at run time through operations the
# model does not have (a capability's deletion, a thread's new priority or affinity):
# no static scan of the model can see those writes, and a hoist must not rest on them
WRITTEN = "WRITTEN_AT_RUN_TIME"
# the variants a scenario names without a path: name -> module of this package (their
# sources count in the model version, as the built-in workloads' do)
BUILTIN_VARIANTS = {"sel4": "l4sim.workloads.sel4_fastpath"}


class FastpathChecks(TypedDict, total=False):
    """The type of a variant file's ``FASTPATH_CHECKS``.

    Each fastpath's checks, each check's predicate on that fastpath's context (so a type checker
    sees its fields).
    """

    syscall_exception: tuple[Check[ExceptionContext], ...]
    ipc: tuple[Check[IpcContext], ...]


def load_fastpath_variant(value: str | Path) -> dict[str, tuple[Check[Any], ...]]:
    """The check lists a variant (a built-in name or a file) defines, validated.

    A problem is a ValueError of one line.
    """
    if not is_path(str(value)):
        module = BUILTIN_VARIANTS.get(str(value))
        if module is None:
            raise UserFileError(
                f"unknown fastpath variant {str(value)!r} (known: "
                f"{', '.join(BUILTIN_VARIANTS)}; or a path to a Python file, "
                "such as ./my_fastpath.py)"
            )
        return _validated(importlib.import_module(module), module)
    path = Path(value).expanduser().resolve()
    try:
        contents = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise UserFileError(f"{path}: file not found") from None
    return _load(path, contents)


def written_at_run_time(value: str | Path) -> frozenset[str]:
    """The fields a variant declares written at run time (``WRITTEN_AT_RUN_TIME``)."""
    load_fastpath_variant(value)  # validated, and its module loaded once
    if not is_path(str(value)):
        module = importlib.import_module(BUILTIN_VARIANTS[str(value)])
    else:
        module = load_python_file(Path(value).expanduser().resolve())
    return _written(module, str(value))


def _written(module: ModuleType, path: str) -> frozenset[str]:
    fields: object = getattr(module, WRITTEN, frozenset())
    if not (
        isinstance(fields, set | frozenset | tuple) and all(isinstance(f, str) for f in fields)
    ):
        raise UserFileError(f"{path}: {WRITTEN} must be a set of field names (got {fields!r})")
    return frozenset(fields)


@lru_cache(maxsize=32)
def _load(path: Path, _contents: str) -> dict[str, tuple[Check[Any], ...]]:
    return _validated(load_python_file(path), str(path))


@lru_cache(maxsize=8)
def _validated(module: ModuleType, path: str) -> dict[str, tuple[Check[Any], ...]]:
    """The lists ``module`` (from ``path``, a file or a built-in's module name) defines."""
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
    _written(module, path)
    return variant
