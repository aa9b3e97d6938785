"""The one registry of workloads: built in, installed, or a user's Python file.

A scenario names its workload by one of

- a built-in name (``syscall_bench``, ``ipc_bench``, ``linux``,
  ``lock_microbench``, ``smp_pingpong``, ``sel4bench_smp``);
- the name of an installed entry point of the group ``l4sim.workloads``
  whose value is the workload's module (``name = "mypackage.myworkload"``
  in the ``[project.entry-points."l4sim.workloads"]`` table of its
  ``pyproject.toml``);
- a path to a Python file, relative to the scenario file
  (``workload = "./my_workload.py"``).

The module declares ``Params`` (a subclass of :class:`~l4sim.workloads.base.Point`)
and ``build``, and may declare ``measured_entries(params)`` (how many entries
of the measured kind one replication closes, warm-up included: its Setup's
``warmup + events``, which a sweep's progress counts; by default ``events +
warmup_events``) and ``kernel_entries(params)`` (how many kernel entries of
every kind it simulates, for ``l4sim validate``'s estimate of its time; by
default the measured ones). Anything wrong with it is one line naming the
module or file.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from l4sim.workloads.base import Point, Setup, is_path
from l4sim.workloads.user_files import UserFileError, load_python_file

BUILTIN = {
    name: f"l4sim.workloads.{name}"
    for name in (
        "syscall_bench",
        "ipc_bench",
        "linux",
        "lock_microbench",
        "smp_pingpong",
        "sel4bench_smp",
    )
}
ENTRY_POINT_GROUP = "l4sim.workloads"


class WorkloadError(ValueError):
    """A workload that cannot be found or used (one line)."""


@dataclass(frozen=True)
class Workload:
    """A workload: its parameter model and its builder, and where it came from."""

    name: str  # as the scenario names it
    Params: type[Point]
    # build(params, costs, seeds, config): the workload ready to simulate
    build: Callable[..., Setup]
    source: Path | None = None  # a user's file (its contents key the cached results)
    # kernel entries one replication simulates (the module's kernel_entries(params), if
    # it has one), for validate's size estimate
    sizing: Callable[[Any], int] | None = None  # (takes the workload's own Params)
    # entries of the measured kind one replication closes (the module's
    # measured_entries(params), if it has one): a sweep's progress target
    counting: Callable[[Any], int] | None = None

    def kernel_entries(self, params: Point) -> int:
        if self.sizing is not None:
            return self.sizing(params)
        if self.counting is not None:
            return self.counting(params)
        return params.kernel_entries()

    def measured_entries(self, params: Point) -> int:
        return self.counting(params) if self.counting is not None else params.measured_entries()


def installed() -> dict[str, str]:
    """Entry-point name -> module of every installed workload."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}


def known_workloads() -> list[str]:
    """The names a scenario can use without a path."""
    return [*BUILTIN, *sorted(set(installed()) - set(BUILTIN))]


def find_workload(name: str) -> Workload:
    """The workload a scenario names (a path must already be absolute or relative to here)."""
    if not isinstance(name, str) or not name:
        raise WorkloadError("must be a workload name or a path to a Python file")
    if is_path(name):
        return _from_file(str(Path(name).expanduser().resolve()))
    return _by_name(name)


@cache
def _by_name(name: str) -> Workload:
    if name in BUILTIN:
        return workload_of(importlib.import_module(BUILTIN[name]), name)
    module_name = installed().get(name)
    if module_name is None:
        raise WorkloadError(
            f"unknown workload {name!r} (known: {', '.join(known_workloads())}; "
            "or a path to a Python file, such as ./my_workload.py)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an installed package's import failure: one line
        raise WorkloadError(
            f"workload {name!r} (entry point {module_name}): importing it "
            f"raised {type(error).__name__}: {error}"
        ) from None
    return workload_of(module, name)


def _from_file(path: str) -> Workload:
    try:
        module = load_python_file(path)
    except UserFileError as error:
        raise WorkloadError(str(error)) from None
    return workload_of(module, path, Path(path))


def workload_of(module: ModuleType, name: str, source: Path | None = None) -> Workload:
    """Check that ``module`` declares a usable ``Params`` and ``build``."""
    where = str(source) if source is not None else f"workload {name!r} ({module.__name__})"
    params = getattr(module, "Params", None)
    if params is None:
        raise WorkloadError(
            f"{where}: defines no Params, a subclass of "
            "l4sim.workloads.Point (the workload's parameter model)"
        )
    if not (
        isinstance(params, type) and issubclass(params, BaseModel) and issubclass(params, Point)
    ):
        raise WorkloadError(
            f"{where}: Params is not a subclass of l4sim.workloads.Point "
            "(the workload's parameter model)"
        )
    build = getattr(module, "build", None)
    if not callable(build):
        raise WorkloadError(
            f"{where}: defines no build(params, costs, seeds, config) returning a Setup"
        )
    try:  # every default must itself be valid: a run re-validates all of its keys
        made = params.model_validate({"name": "check", "workload": name})
        with warnings.catch_warnings():  # (a default of the wrong type: said below)
            warnings.simplefilter("ignore")
            values = made.model_dump()
        params.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(model)"
        raise WorkloadError(
            f"{where}: Params: key '{key}': {first['msg']} (a parameter "
            "model needs a valid default for every key)"
        ) from None
    except Exception as error:  # a validator of the user's that raises anything else
        raise WorkloadError(
            f"{where}: Params: validating its defaults raised {type(error).__name__}: {error}"
        ) from None
    sizing = getattr(module, "kernel_entries", None)
    counting = getattr(module, "measured_entries", None)
    return Workload(
        name,
        params,
        build,
        source,
        sizing if callable(sizing) else None,
        counting if callable(counting) else None,
    )
