"""Run one point: a pure function of (point, replication) to plain records.

Nothing returned holds a SimPy object: a :class:`Result` is a DataFrame of
kernel-entry records plus summary rows, safe to send between processes.
This module and everything it runs (the kernel, the simulator, the
workloads, :mod:`l4sim.workloads.registry`) are what a cached result depends
on: their sources make the model version (:func:`l4sim.sweep.cache.model_version`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from l4sim.kernel.check_order import load_order_file, optimize
from l4sim.kernel.kernel import KernelConfig
from l4sim.sim.invariants import InvariantViolation, Monitor, deadlock_report
from l4sim.sim.machine import Machine, SimulationStalled
from l4sim.workloads.base import Point, Setup
from l4sim.workloads.registry import find_workload
from l4sim.workloads.user_files import UserCodeError, raised_in_user_code

# the invariant checker is on in every simulate() when this is set (the test
# suite sets it; it reaches worker processes through the environment)
INVARIANTS_ENV = "L4SIM_CHECK_INVARIANTS"
PROFILING_EVENTS = 2000  # events of the profiling run behind check_order = "optimized"


# metrics some workloads add to their measured kind's rows (Setup.metrics)
WORKLOAD_METRICS = ("acquisitions_per_mcycle", "wait_mean", "wait_m2", "utilization",
                    "calls_per_second")
METRICS = ("entries", "duration_mean", "duration_p50", "duration_p99", "fast_fraction",
           "lock_wait_mean", "contended_fraction", "entries_per_mcycle", *WORKLOAD_METRICS)


@dataclass
class Result:
    """What one (point, replication) produced."""

    point: Point
    replication: int
    events: pd.DataFrame  # one row per measured kernel entry
    rows: list[dict]  # one summary row per kernel-entry kind
    measured_cycles: int
    observations: dict[str, list] | None = None

    @property
    def total_entries(self) -> int:
        return len(self.events)


def seed_sequence(point: Point, replication: int) -> np.random.SeedSequence:
    """The root of every random stream of one (point, replication)."""
    return np.random.SeedSequence(point.seed, spawn_key=(*point.seed_key(), replication))


def invariants_by_default() -> bool:
    """Whether simulate() checks invariants when not told (the tests turn it on)."""
    return os.environ.get(INVARIANTS_ENV, "") not in ("", "0")


def build_machine(point: Point, replication: int = 0, observe: bool = False,
                  invariants: bool = False, recorder=None, costs=None,
                  lookahead: bool = True) -> Machine:
    """The machine of one (point, replication), with the invariant checker if asked.

    ``lookahead=False`` flushes every effect to the clock instead of folding
    delays no other CPU can observe (the same records, slower: the reference
    the lookahead rules are tested against).
    """
    workload_seeds, machine_seeds, check_seeds = seed_sequence(point, replication).spawn(3)
    costs = costs or point.cost_profile()
    setup = build_setup(point, costs, workload_seeds, kernel_config(point))
    machine = Machine(setup.kernel, setup.programs, np.random.default_rng(machine_seeds),
                      setup.measure_kind, setup.warmup, setup.events, observe=observe,
                      lookahead=lookahead, timers=setup.timers, probe=setup.probe,
                      timed_locks=setup.timed_locks)
    machine.enforce_lock_order = point.lock_order_check
    if invariants or recorder is not None:
        # unlocked reads are only truthful if kernel code runs at its true cycle
        Monitor(exact_time=setup.kernel.unlocked_fastpath or recorder is not None,
                order=point.lock_order_check, stress=point.stress_jitter,
                seed=int(check_seeds.generate_state(1)[0]), recorder=recorder).attach(machine)
    machine.setup = setup
    return machine


def build_setup(point: Point, costs, seeds, config: KernelConfig) -> Setup:
    """The workload's kernel, threads and programs; a user's build that fails is one line."""
    try:
        setup = find_workload(point.workload).build(point, costs, seeds, config)
    except Exception as error:
        users = raised_in_user_code(error)
        if users is None:
            raise
        raise users from None
    if not isinstance(setup, Setup):
        raise UserCodeError(f"{point.workload}: build returned {type(setup).__name__}, "
                            "not a Setup")
    return setup


def check_build(point: Point) -> None:
    """Build a point's workload once (replication 0), to find a failing build early."""
    workload_seeds, _, _ = seed_sequence(point, 0).spawn(3)
    config = kernel_config(point, check_order=None)
    build_setup(point, point.cost_profile(), workload_seeds, config)


def run_machine(machine: Machine, max_cycles: int | None = None) -> None:
    """Run; a stall with CPUs spinning in a wait-for cycle is reported as a deadlock."""
    try:
        machine.run(max_cycles)
        if machine.monitor is not None and not machine.done.triggered:
            machine.monitor.on_stall(bounded=True)  # stopped by max_cycles
    except SimulationStalled:
        deadlock = deadlock_report(machine)
        if deadlock is not None:
            raise deadlock from None
        if machine.monitor is not None:
            machine.monitor.on_stall()
        raise


def simulate(point: Point, replication: int = 0, seed: int | None = None,
             observe: bool = False, invariants: bool | None = None, costs=None,
             lookahead: bool = True) -> Result:
    """Simulate one point; ``seed`` (if given) replaces the point's root seed.

    ``invariants`` runs the invariant checker (default: on if ``L4SIM_CHECK_INVARIANTS``
    is set); a violation raises :class:`l4sim.sim.invariants.InvariantViolation`.
    ``costs`` replaces the point's profile (calibration scripts use it);
    ``lookahead`` as for :func:`build_machine`.
    """
    if seed is not None:
        point = point.model_copy(update={"seed": seed})
    if invariants is None:
        invariants = invariants_by_default()
    machine = build_machine(point, replication, observe, invariants, costs=costs,
                            lookahead=lookahead)
    setup = machine.setup
    try:
        run_machine(machine)
    except Exception as error:  # a user's program or check raised: one line, not a trace
        users = raised_in_user_code(error)
        if users is None:
            raise
        raise users from None
    events = machine.trace.to_frame(since=machine.measure_from, threads=machine.thread_names,
                                    until=machine.measure_to)
    end = machine.env.now if machine.measure_to is None else machine.measure_to
    measured = end - machine.measure_from
    rows = summarize_entries(events, measured)
    if setup.metrics is not None:
        extra = setup.metrics(machine, events, measured)
        for row in rows:
            if row["kind"] == setup.measure_kind:
                row.update(extra)
    if setup.probe is not None:
        rows += setup.probe.rows(machine.measure_from, measured)
    return Result(point, replication, events, rows, measured, machine.observations)


def kernel_config(point: Point, check_order="resolve") -> KernelConfig:
    """The kernel options of a point (the keys every workload shares).

    ``check_order`` is resolved from the point (a profiling run for
    ``optimized``) unless given.
    """
    return KernelConfig(cpus=point.cpus, lock=point.lock, kernel_lock=point.kernel_lock,
                        fastpath_syscall=point.fastpath_syscall,
                        fastpath_ipc=point.fastpath_ipc,
                        fastpath_checks=point.fastpaths(),
                        check_order=(resolve_check_order(point) if check_order == "resolve"
                                     else check_order),
                        profile_checks=point.check_profile,
                        fastpath_notify=point.fastpath_notify,
                        fastpath_variant=point.fastpath_variant,
                        lock_order=point.lock_order)


def resolve_check_order(point: Point) -> dict[str, list[str]] | None:
    """The check order a point runs with: None for its lists as given, else names per fastpath.

    ``optimized`` takes the order of ``check_order_file`` if given, else
    profiles the same point first (its lists as given, replication 0,
    ``PROFILING_EVENTS`` events) and optimises from that.
    """
    if point.check_order == "paper":
        return None
    if point.check_order_file:
        return load_order_file(point.check_order_file, point.fastpaths())
    profiling = point.model_copy(update={"check_order": "paper", "check_profile": True,
                                         "events": min(point.events, PROFILING_EVENTS)})
    return _profiled_order(json.dumps(profiling.model_dump(), sort_keys=True))


@lru_cache(maxsize=64)
def _profiled_order(config: str) -> dict[str, list[str]]:
    values = json.loads(config)
    point = find_workload(values["workload"]).Params.model_validate(values)
    events = simulate(point, 0).events
    orders = optimize(check_masks(events), point.fastpaths(), point.cost_profile())
    return {kind: entry["order"] for kind, entry in orders.items()}


def check_masks(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per fastpath kind, the check masks of its profiled attempts (one per attempt)."""
    profiled = events[events["check_mask"] >= 0]
    return {str(kind): group["check_mask"].to_numpy()
            for kind, group in profiled.groupby("kind", observed=True)}


def run_record(config: dict, replication: int, invariants: bool | None = None) -> dict:
    """One (point, replication) as plain data: what a worker receives and returns.

    A worker gets only the point's configuration (a dict) and the replication
    number and sends back the summary rows, the measured cycles, the events as
    plain arrays (categories as strings) and the model version it ran, which
    the caller checks against its own so a stale worker cannot pass its
    results off as current ones.
    """
    from l4sim.sweep.cache import model_version

    point = find_workload(config["workload"]).Params.model_validate(config)
    try:
        result = simulate(point, replication, invariants=invariants)
    except InvariantViolation as error:  # say which run broke the invariant
        first, _, rest = error.report.partition("\n")
        where = ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("name", "profile"))
        raise InvariantViolation(f"{first}\n  in the run {where}, replication {replication}"
                                 f"\n{rest}", error.check, error.cycle) from None
    events = {name: (column.astype(str).to_numpy(dtype=object)
                     if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy())
              for name, column in result.events.items()}
    return {"config": config, "replication": replication, "rows": result.rows,
            "measured_cycles": int(result.measured_cycles), "events": events,
            "model": model_version()}


def summarize_entries(events: pd.DataFrame, measured_cycles: int) -> list[dict]:
    """One row of metrics per kernel-entry kind present in ``events``."""
    rows = []
    for kind, group in events.groupby("kind", observed=True, sort=True):
        duration = group["duration"].to_numpy()
        lock_wait = group["lock_wait"].to_numpy()
        rows.append({
            "kind": str(kind),
            "entries": int(len(group)),
            "duration_mean": float(duration.mean()),
            "duration_p50": float(np.percentile(duration, 50)),
            "duration_p99": float(np.percentile(duration, 99)),
            "fast_fraction": float((group["path"] == "fast").mean()),
            "lock_wait_mean": float(lock_wait.mean()),
            "contended_fraction": float((lock_wait > 0).mean()),
            "entries_per_mcycle": float(len(group) * 1e6 / max(measured_cycles, 1)),
        })
    return rows
