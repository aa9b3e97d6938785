"""Run one point: a pure function of (point, replication) to plain records.

Nothing returned holds a SimPy object: a :class:`Result` is a DataFrame of
kernel-entry records plus summary rows, safe to send between processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from l4sim.check.invariants import Monitor, deadlock_report
from l4sim.scenario import Point
from l4sim.sim.engine import Machine, SimulationStalled
from l4sim.workloads import syscall_bench

BUILDERS = {"syscall_bench": syscall_bench.build}

# the engine folds delays when no other CPU can observe them; False flushes every effect
LOOKAHEAD = True

# issue 5: the invariant checker is on in every simulate() when this is set
# (the test suite sets it; it reaches worker processes through the environment)
CHECK_ENV = "L4SIM_CHECK_INVARIANTS"

METRICS = ("entries", "duration_mean", "duration_p50", "duration_p99", "fast_fraction",
           "lock_wait_mean", "contended_fraction", "entries_per_mcycle")


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


def checking_by_default() -> bool:
    """Whether simulate() checks invariants when not told (the tests turn it on)."""
    return os.environ.get(CHECK_ENV, "") not in ("", "0")


def build_machine(point: Point, replication: int = 0, observe: bool = False,
                  check: bool = False, recorder=None) -> Machine:
    """The machine of one (point, replication), with the invariant checker if asked."""
    workload_seeds, machine_seeds, check_seeds = seed_sequence(point, replication).spawn(3)
    setup = BUILDERS[point.workload](point, point.costs(), workload_seeds)
    machine = Machine(setup.kernel, setup.programs, np.random.default_rng(machine_seeds),
                      setup.measure_kind, setup.warmup, setup.events, observe=observe,
                      lookahead=LOOKAHEAD)
    machine.check_lock_order = point.lock_order_check
    if check or recorder is not None:
        # unlocked reads are only truthful if kernel code runs at its true cycle
        Monitor(exact_time=setup.kernel.unlocked_fastpath or recorder is not None,
                order=point.lock_order_check, stress=point.stress_jitter,
                seed=int(check_seeds.generate_state(1)[0]), recorder=recorder).attach(machine)
    return machine


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
             observe: bool = False, check: bool | None = None) -> Result:
    """Simulate one point; ``seed`` (if given) replaces the point's root seed.

    ``check`` runs the invariant checker (default: on if ``L4SIM_CHECK_INVARIANTS``
    is set); a violation raises :class:`l4sim.check.invariants.InvariantViolation`.
    """
    if seed is not None:
        point = point.model_copy(update={"seed": seed})
    if check is None:
        check = checking_by_default()
    machine = build_machine(point, replication, observe, check)
    run_machine(machine)
    events = machine.trace.to_frame(since=machine.measure_from, threads=machine.thread_names)
    measured = machine.env.now - machine.measure_from
    rows = summarize_entries(events, measured)
    return Result(point, replication, events, rows, measured, machine.observations)


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
