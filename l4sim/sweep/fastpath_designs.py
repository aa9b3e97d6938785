"""Resolving a point's fastpath check order or design, once, before its runs are sent.

A point asking for ``check_order = "optimized"`` or ``fastpath_design =
"reordered" | "optimized"`` without a ``check_order_file`` is profiled first:
the same point with its checks as listed and the check profile on
(replication 0, at most ``PROFILING_EVENTS`` measured entries), which
records at every fastpath decision which checks pass and how long locks
were waited for. From that profile the order optimizer
(:mod:`l4sim.design.order`) and the design search (:mod:`l4sim.design.search`)
propose; every optimized design is verified (:func:`verify_design`) before
it is used. The result is a :class:`~l4sim.simulation.resolution.Resolution`
that each run of the point receives.

What is computed here can be filed: ``derived(name, config, compute)``
returns a result for (``name``, the profiling point's configuration),
computing it only the first time; a sweep passes its result cache's
:meth:`~l4sim.sweep.cache.ResultCache.derived`, so points that differ only
in their order or design share one profile, and a rerun profiles nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from l4sim.design.files import load_design_file, load_order_file
from l4sim.design.order import optimize, unique_masks
from l4sim.design.search import LockWaits, propose
from l4sim.kernel.checks import Check
from l4sim.kernel.fastpath_design import (
    CALL,
    OPERATIONS,
    design_key,
    paper_design,
    split_design_key,
)
from l4sim.kernel.locks import Lock
from l4sim.sim.invariants import InvariantViolation
from l4sim.sim.machine import Machine
from l4sim.simulation.behaviour import compare_behaviour
from l4sim.simulation.records import measured_events
from l4sim.simulation.resolution import AS_LISTED, Resolution, needs_resolution
from l4sim.simulation.simulate import build_machine, invariants_by_default, run_machine, simulate
from l4sim.workloads.base import Point
from l4sim.workloads.registry import find_workload

PROFILING_EVENTS = 2000  # measured entries of the profiling run behind an optimized order
# how a searched fastpath design is checked before it is used: the invariant checker
# under stress jitter, and fastpath on vs off, on these CPU counts
VERIFY_CPUS = (2, 4)
VERIFY_STRESS = 100  # cycles of stress jitter
VERIFY_EVENTS = 2000

T = TypeVar("T")
Derived = Callable[[str, dict[str, Any], Callable[[], Any]], Any]


def compute_now(name: str, config: dict[str, Any], compute: Callable[[], T]) -> T:
    """The ``derived`` that files nothing: compute every time."""
    return compute()


@dataclass(frozen=True)
class FastpathProfile:
    """What the profiling run measured: check masks and lock waits.

    Per fastpath kind, and per design key (each operation of a fastpath that
    serves several).
    """

    masks: dict[str, np.ndarray]  # one pass mask per profiled fastpath attempt, by kind
    waits: dict[str, LockWaits]  # by design key (a kind, or one of its operations)
    operations: dict[str, np.ndarray]  # the masks by design key


def profiling_point(point: Point) -> Point:
    """The point that profiles ``point``: its checks as listed, the check profile on."""
    values = point.model_copy(
        update={
            "check_order": "paper",
            "fastpath_design": "paper",
            "check_profile": True,
            "events": min(point.events, PROFILING_EVENTS),
        }
    ).model_dump()
    return find_workload(values["workload"]).Params.model_validate(values)


def resolve_design(point: Point, derived: Derived = compute_now) -> Resolution:
    """The check order or fastpath design ``point``'s fastpaths run with.

    ``fastpath_design = "optimized"``: the designs of ``check_order_file`` if
    given, else the searched designs that passed verification (a fastpath
    whose design was rejected runs its reordered list instead). An optimized
    or reordered check order: that of ``check_order_file``, else the
    optimizer's on the profile. Anything else: the checks as listed.
    """
    if not needs_resolution(point):
        return AS_LISTED
    fastpaths = point.fastpaths()
    if point.fastpath_design == "optimized":
        if point.check_order_file:
            design = load_design_file(point.check_order_file, fastpaths)
        else:
            design = {
                key: entry["optimized"]["design"]
                if entry["verdict"] is None
                else entry["reordered"]["design"]
                for key, entry in design_proposals(point, derived).items()
            }
        if design:
            return Resolution(design=design, proven_immutable=point.proven_immutable())
    order = resolve_order(point, derived)
    return AS_LISTED if order is None else Resolution(order=order)


def resolve_order(point: Point, derived: Derived = compute_now) -> dict[str, list[str]] | None:
    """The check order ``point``'s fastpaths run in, where it asks for one; else None.

    ``check_order = "optimized"`` (and ``fastpath_design = "reordered"``) takes
    the order of ``check_order_file`` if given, else the optimizer's on the profile.
    """
    if point.check_order == "paper" and point.fastpath_design != "reordered":
        return None
    if point.check_order_file:
        return load_order_file(point.check_order_file, point.fastpaths())
    return optimized_orders(point, derived)


def optimized_orders(point: Point, derived: Derived = compute_now) -> dict[str, list[str]]:
    """Per profiled fastpath of ``point``: the check order the optimizer finds on its profile."""
    profiling = profiling_point(point)
    profile = derived("fastpath_profile", profiling.model_dump(), lambda: profile_point(profiling))
    orders = optimize(profile.masks, profiling.fastpaths(), profiling.cost_profile())
    return {kind: entry["order"] for kind, entry in orders.items()}


def design_proposals(point: Point, derived: Derived = compute_now) -> dict[str, dict[str, Any]]:
    """The designs proposed for each profiled fastpath of ``point``, with their verdict.

    Per fastpath (per operation, for a fastpath that serves several:
    ``"ipc.call"``, ``"ipc.reply_wait"``): paper, reordered and optimized
    designs with their expected cycles, the measured lock waits, and the
    verdict on the optimized designs (None: accepted; else the violation that
    rejected them).
    """
    profiling = profiling_point(point)
    config = profiling.model_dump()
    profile = derived("fastpath_profile", config, lambda: profile_point(profiling))
    return derived("design_proposals", config, lambda: _proposals(profiling, profile))


def profile_point(profiling: Point) -> FastpathProfile:
    """Run the profiling point once: each fastpath's check masks and lock waits.

    Per operation, too, for a fastpath that serves several.
    """
    machine = build_machine(profiling, 0, invariants=invariants_by_default())
    first_lock(machine).sim.holds = []  # its hold times, for the lock-wait model
    run_machine(machine)
    events = measured_events(machine)
    fastpaths = profiling.fastpaths()
    masks, operations = {}, {}
    for kind, kind_masks in check_masks(events).items():
        if kind in fastpaths:
            checks = len(fastpaths[kind])
            masks[kind] = kind_masks & ((1 << checks) - 1)
            operations.update(operation_masks(kind, kind_masks, checks))
    return FastpathProfile(masks, lock_waits(machine, events, fastpaths), operations)


def _proposals(profiling: Point, profile: FastpathProfile) -> dict[str, dict[str, Any]]:
    """Search each profiled fastpath's design (each operation's), then verify them.

    The optimized designs of one fastpath's operations are verified together.
    """
    proven = profiling.proven_immutable()
    fastpaths = profiling.fastpaths()
    found = {}
    for key, masks in profile.operations.items():
        kind, _ = split_design_key(key)
        if len(masks) == 0 or kind not in fastpaths:
            continue
        distinct, counts = unique_masks(masks)
        entry = propose(
            fastpaths[kind],
            distinct,
            counts,
            profiling.cost_profile(),
            profile.waits[key],
            proven,
        )
        entry["attempts"] = int(counts.sum())
        entry["lock_waits"] = asdict(profile.waits[key])
        found[key] = entry
    point = profiling.model_copy(update={"check_profile": False})
    for kind in dict.fromkeys(split_design_key(key)[0] for key in found):
        own = {key: entry for key, entry in found.items() if split_design_key(key)[0] == kind}
        others = {k: paper_design(fastpaths[k]) for k in fastpaths if k != kind}
        designs = {key: entry["optimized"]["design"] for key, entry in own.items()}
        verdict = verify_design(point, {**others, **designs})
        for entry in own.values():
            entry["verdict"] = verdict
    return found


def first_lock(machine: Machine) -> Lock:
    """The lock a fastpath takes first: the scheduler lock, or a big kernel lock."""
    lock: Lock = getattr(machine.kernel, "big_lock", machine.kernel.scheduler_lock)
    return lock


def operation_masks(kind: str, masks: np.ndarray, checks: int) -> dict[str, np.ndarray]:
    """A fastpath's profiled masks by design key.

    Per operation for a fastpath that serves several (the bit above the
    ``checks`` bits says which, :mod:`l4sim.kernel.ipc_fastpath`), with that
    bit cleared; else the kind's own.
    """
    operations = OPERATIONS.get(kind)
    if operations is None:
        return {kind: masks}
    is_call = (masks >> checks) & 1
    clear = masks & ((1 << checks) - 1)
    return {
        design_key(kind, operation): clear[is_call == (operation == CALL)]
        for operation in operations
        if (is_call == (operation == CALL)).any()
    }


def lock_waits(
    machine: Machine, events: pd.DataFrame, fastpaths: dict[str, tuple[Check[Any], ...]]
) -> dict[str, LockWaits]:
    """Per fastpath kind (and operation), the measured contention its design search works with.

    The first stage's wait: the mean lock-wait cycles of the fastpath
    attempts that went through (they waited for the scheduler lock and, under
    it, the thread locks, which no one else can hold then: every thread-lock
    acquisition in this kernel happens under the scheduler lock; under a big
    kernel lock, for that lock). Waiters per held cycle: all lock-wait cycles
    of the window over the cycles that lock was held in it (lock-wait
    includes the cache lines a grant moves, so this errs high).
    """
    lock = first_lock(machine)
    big = lock is not machine.kernel.scheduler_lock
    end = machine.measure_to if machine.measure_to is not None else machine.env.now
    held = lock.sim.held_between(machine.measure_from, end, lock.holder is not None)
    per_cycle = float(events["lock_wait"].sum()) / held if held > 0 else 0.0

    def waits(group: pd.DataFrame) -> LockWaits:
        fast = group[group["path"] == "fast"]["lock_wait"]
        wait = float(fast.mean()) if len(fast) else float(group["lock_wait"].mean())
        return LockWaits(wait, 0.0, per_cycle, big_lock=big)

    result = {}
    for kind, group in events.groupby("kind", observed=True):
        kind = str(kind)
        result[kind] = waits(group)
        if kind in OPERATIONS and kind in fastpaths:
            attempts = group[group["check_mask"] >= 0]
            is_call = (attempts["check_mask"].to_numpy() >> len(fastpaths[kind])) & 1
            for operation in OPERATIONS[kind]:
                mine = attempts[is_call == (operation == CALL)]
                if len(mine):
                    result[design_key(kind, operation)] = waits(mine)
    return result


def verify_design(point: Point, design: dict[str, list[str]]) -> str | None:
    """Check a design before it is used: None if it passes, else the violation (one line).

    On each of ``VERIFY_CPUS`` CPU counts, the point's workload runs with the
    design under the invariant checker with ``VERIFY_STRESS`` cycles of stress
    jitter, and again with the fastpaths off: what every thread received must
    agree (the equivalence property, :mod:`l4sim.simulation.behaviour`), unless the
    paper's own design disagrees with the fastpaths off on this load as well.
    """
    designed = Resolution(design=design, proven_immutable=point.proven_immutable())
    for cpus in VERIFY_CPUS:
        update = {
            "cpus": cpus,
            "events": VERIFY_EVENTS,
            "warmup_events": VERIFY_EVENTS // 10,
            "fastpath_design": "paper",
            "check_order": "paper",
            "check_order_file": "",
            "check_profile": False,
        }
        try:
            probe = find_workload(point.workload).Params.model_validate(
                {**point.model_dump(), **update}
            )
        except ValueError:
            continue  # the workload does not run on this many CPUs
        stressed = probe.model_copy(update={"stress_jitter": VERIFY_STRESS})
        try:
            with_design = simulate(stressed, 0, observe=True, invariants=True, resolution=designed)
        except InvariantViolation as error:
            return f"{cpus} CPUs, stress {VERIFY_STRESS}: {str(error).splitlines()[0]}"
        without = simulate(
            probe.model_copy(update={"fastpath_syscall": False, "fastpath_ipc": False}),
            0,
            observe=True,
            invariants=False,
        )
        _, difference = compare_behaviour(with_design.observations, without.observations)  # type: ignore[arg-type]  # (observed runs)
        if difference is not None:
            # on a load whose messages depend on timing (the Linux load's replies carry
            # what the server saw last), the paper's own fastpath differs too: there the
            # comparison says nothing about the design, and only the checker counts
            paper = Resolution(
                design={
                    kind: paper_design(probe.fastpaths()[kind])
                    for kind in {split_design_key(key)[0] for key in design}
                },
                proven_immutable=designed.proven_immutable,
            )
            baseline = simulate(stressed, 0, observe=True, invariants=False, resolution=paper)
            if compare_behaviour(baseline.observations, without.observations)[1] is None:  # type: ignore[arg-type]  # (observed runs)
                return f"{cpus} CPUs: fastpath on and off differ: {difference}"
    return None


def check_masks(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per fastpath kind, the check masks of its profiled attempts (one per attempt)."""
    profiled = events[events["check_mask"] >= 0]
    return {
        str(kind): group["check_mask"].to_numpy()
        for kind, group in profiled.groupby("kind", observed=True)
    }
