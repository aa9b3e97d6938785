"""l4sim: a discrete-event simulator of the SMP fastpaths of an L4 microkernel.

The public API is what this package exports (``from l4sim import simulate``):
simulate a point, load and run a scenario, read its results, and write a
workload, a fastpath variant or a cost profile of one's own. Every name in
``__all__`` is described in the API reference (``docs/reference/api.md``).
The names are imported on first use (:pep:`562`), so that ``import
l4sim.kernel.costs``, which every worker process does, costs no more than
the package itself.

Layers, one subpackage each, each importing only those below it (checked by
import-linter, ``lint-imports``; contracts in ``pyproject.toml``)::

    cli         l4sim run / validate / summarize / plot / report / checks / trace / timeline
    analysis    claims, report, figures, check profile, validation, timelines
    sweep       scenario file -> points x replications -> cached runs -> tables
    simulation  one run of one point: kernel configuration, engine, records
    workloads   the keys every workload has, the registry, the built-in workloads
    sim         SimPy (only here): CPUs, thread processes, effects, lock spinning, trace
    design      (beside sim, independent of it) fastpath check orders and designs
    kernel      plain Python: objects, locks, checks, fastpaths, slowpaths, costs

``sim``, ``workloads`` and ``kernel`` run compiled by Cython when built
(``python -m l4sim.build``, done by ``make venv``); see :mod:`l4sim.compiled`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from l4sim import compiled as _compiled

_compiled.install()  # the hot modules' compiled builds, where they match their source

# Each public name -> the module that defines it, imported when the name is first used.
_PUBLIC: dict[str, str] = {
    # simulate one point
    "simulate": "l4sim.simulation.simulate",
    "Result": "l4sim.simulation.records",
    "point_from_dict": "l4sim.sweep.scenario",
    "resolve_design": "l4sim.sweep.fastpath_designs",
    "Resolution": "l4sim.simulation.resolution",
    "UnresolvedDesign": "l4sim.simulation.resolution",
    "InvariantViolation": "l4sim.sim.invariants",
    # load and run a scenario
    "load_scenario": "l4sim.sweep.scenario",
    "Scenario": "l4sim.sweep.scenario",
    "ScenarioError": "l4sim.sweep.scenario",
    "run_sweep": "l4sim.sweep.execute",
    "run_scenario": "l4sim.sweep.execute",
    "SweepRun": "l4sim.sweep.execute",
    # read results
    "load_points": "l4sim.sweep.execute",
    "point_from_row": "l4sim.sweep.execute",
    "summarize": "l4sim.sweep.stats",
    "mean_ci": "l4sim.sweep.stats",
    # write a workload
    "Point": "l4sim.workloads.base",
    "Setup": "l4sim.workloads.base",
    "Kernel": "l4sim.kernel.kernel",
    "KernelConfig": "l4sim.kernel.config",
    "SYSCALL_EXCEPTION": "l4sim.kernel.decode",
    "IPC": "l4sim.kernel.decode",
    "Compute": "l4sim.kernel.syscalls",
    "Spin": "l4sim.kernel.syscalls",
    "RaiseException": "l4sim.kernel.syscalls",
    "Call": "l4sim.kernel.syscalls",
    "Send": "l4sim.kernel.syscalls",
    "Notify": "l4sim.kernel.syscalls",
    "Reply": "l4sim.kernel.syscalls",
    "Wait": "l4sim.kernel.syscalls",
    "ReplyWait": "l4sim.kernel.syscalls",
    "StartIO": "l4sim.kernel.syscalls",
    "SharedAccess": "l4sim.kernel.syscalls",
    # write a fastpath variant
    "Check": "l4sim.kernel.checks",
    "Stage": "l4sim.kernel.checks",
    "ExceptionContext": "l4sim.kernel.exception_checks",
    "IpcContext": "l4sim.kernel.ipc_checks",
    "SYSCALL_EXCEPTION_CHECKS": "l4sim.kernel.exception_checks",
    "IPC_CHECKS": "l4sim.kernel.ipc_checks",
    "NOTIFY_CHECKS": "l4sim.kernel.ipc_checks",
    "FastpathChecks": "l4sim.workloads.fastpath_variants",
    # cost profiles
    "Costs": "l4sim.kernel.costs",
    "load_profile": "l4sim.kernel.costs",
    "ProfileError": "l4sim.kernel.costs",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # what a type checker and an IDE see; at run time, __getattr__ below
    from l4sim.kernel.checks import Check as Check
    from l4sim.kernel.checks import Stage as Stage
    from l4sim.kernel.config import KernelConfig as KernelConfig
    from l4sim.kernel.costs import Costs as Costs
    from l4sim.kernel.costs import ProfileError as ProfileError
    from l4sim.kernel.costs import load_profile as load_profile
    from l4sim.kernel.decode import IPC as IPC
    from l4sim.kernel.decode import SYSCALL_EXCEPTION as SYSCALL_EXCEPTION
    from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS as SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.exception_checks import ExceptionContext as ExceptionContext
    from l4sim.kernel.ipc_checks import IPC_CHECKS as IPC_CHECKS
    from l4sim.kernel.ipc_checks import NOTIFY_CHECKS as NOTIFY_CHECKS
    from l4sim.kernel.ipc_checks import IpcContext as IpcContext
    from l4sim.kernel.kernel import Kernel as Kernel
    from l4sim.kernel.syscalls import Call as Call
    from l4sim.kernel.syscalls import Compute as Compute
    from l4sim.kernel.syscalls import Notify as Notify
    from l4sim.kernel.syscalls import RaiseException as RaiseException
    from l4sim.kernel.syscalls import Reply as Reply
    from l4sim.kernel.syscalls import ReplyWait as ReplyWait
    from l4sim.kernel.syscalls import Send as Send
    from l4sim.kernel.syscalls import SharedAccess as SharedAccess
    from l4sim.kernel.syscalls import Spin as Spin
    from l4sim.kernel.syscalls import StartIO as StartIO
    from l4sim.kernel.syscalls import Wait as Wait
    from l4sim.sim.invariants import InvariantViolation as InvariantViolation
    from l4sim.simulation.records import Result as Result
    from l4sim.simulation.resolution import Resolution as Resolution
    from l4sim.simulation.resolution import UnresolvedDesign as UnresolvedDesign
    from l4sim.simulation.simulate import simulate as simulate
    from l4sim.sweep.execute import SweepRun as SweepRun
    from l4sim.sweep.execute import load_points as load_points
    from l4sim.sweep.execute import point_from_row as point_from_row
    from l4sim.sweep.execute import run_scenario as run_scenario
    from l4sim.sweep.execute import run_sweep as run_sweep
    from l4sim.sweep.fastpath_designs import resolve_design as resolve_design
    from l4sim.sweep.scenario import Scenario as Scenario
    from l4sim.sweep.scenario import ScenarioError as ScenarioError
    from l4sim.sweep.scenario import load_scenario as load_scenario
    from l4sim.sweep.scenario import point_from_dict as point_from_dict
    from l4sim.sweep.stats import mean_ci as mean_ci
    from l4sim.sweep.stats import summarize as summarize
    from l4sim.workloads.base import Point as Point
    from l4sim.workloads.base import Setup as Setup
    from l4sim.workloads.fastpath_variants import FastpathChecks as FastpathChecks

    __version__: str


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached here)."""
    if name == "__version__":
        # the one place the version is written is the package's metadata (pyproject.toml)
        from importlib.metadata import version

        value: Any = version("l4sim")
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module 'l4sim' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet imported included."""
    return sorted(set(globals()) | set(__all__))
