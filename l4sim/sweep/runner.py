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
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from l4sim.kernel.check_order import load_design_file, load_order_file, optimize, unique_masks
from l4sim.kernel.design_search import LockWaits, propose
from l4sim.kernel.fastpath_design import paper_design
from l4sim.kernel.immutable_fields import immutable
from l4sim.kernel.kernel import KernelConfig
from l4sim.sim.invariants import InvariantViolation, Monitor, deadlock_report
from l4sim.sim.machine import Machine, SimulationStalled
from l4sim.sim.threads import ProgramError
from l4sim.sweep.behaviour import compare_behaviour
from l4sim.workloads.base import Point, Setup
from l4sim.workloads.registry import find_workload
from l4sim.workloads.user_files import UserCodeError, raised_in_user_code

# the invariant checker is on in every simulate() when this is set (the test
# suite sets it; it reaches worker processes through the environment)
INVARIANTS_ENV = "L4SIM_CHECK_INVARIANTS"
PROFILING_EVENTS = 2000  # events of the profiling run behind check_order = "optimized"
# a run reports its progress every this many closed entries of its measured kind
# (a sweep's bar advances within a long run; a few reports per default-sized run)
PROGRESS_EVERY = 1000
# how a searched fastpath design is checked before it is used: the invariant checker
# under stress jitter, and fastpath on vs off, on these CPU counts
VERIFY_CPUS = (2, 4)
VERIFY_STRESS = 100  # cycles of stress jitter
VERIFY_EVENTS = 2000


# metrics some workloads add to their measured kind's rows (Setup.metrics)
WORKLOAD_METRICS = (
    "acquisitions_per_mcycle",
    "wait_mean",
    "wait_m2",
    "utilization",
    "calls_per_second",
    "call_cycles",
    "reply_recv_cycles",
)
METRICS = (
    "entries",
    "duration_mean",
    "duration_p50",
    "duration_p99",
    "fast_fraction",
    "lock_wait_mean",
    "contended_fraction",
    "entries_per_mcycle",
    *WORKLOAD_METRICS,
)


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


def build_machine(
    point: Point,
    replication: int = 0,
    observe: bool = False,
    invariants: bool = False,
    recorder=None,
    costs=None,
    lookahead: bool = True,
    design: dict | None = None,
) -> Machine:
    """The machine of one (point, replication), with the invariant checker if asked.

    ``lookahead=False`` flushes every effect to the clock instead of folding
    delays no other CPU can observe (the same records, slower: the reference
    the lookahead rules are tested against). ``design`` (kind -> steps)
    replaces the point's fastpath design (to check a design before using it).
    """
    workload_seeds, machine_seeds, check_seeds = seed_sequence(point, replication).spawn(3)
    costs = costs or point.cost_profile()
    setup = build_setup(point, costs, workload_seeds, kernel_config(point, design))
    machine = Machine(
        setup.kernel,
        setup.programs,
        np.random.default_rng(machine_seeds),
        setup.measure_kind,
        setup.warmup,
        setup.events,
        observe=observe,
        lookahead=lookahead,
        timers=setup.timers,
        probe=setup.probe,
        timed_locks=setup.timed_locks,
    )
    machine.enforce_lock_order = point.lock_order_check
    if invariants or recorder is not None:
        # unlocked reads are only truthful if kernel code runs at its true cycle
        Monitor(
            exact_time=setup.kernel.unlocked_fastpath or recorder is not None,
            order=point.lock_order_check,
            stress=point.stress_jitter,
            seed=int(check_seeds.generate_state(1)[0]),
            recorder=recorder,
        ).attach(machine)
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
        raise UserCodeError(f"{point.workload}: build returned {type(setup).__name__}, not a Setup")
    return setup


def check_build(point: Point) -> None:
    """Build a point's workload once (replication 0), to find a failing build early."""
    workload_seeds, _, _ = seed_sequence(point, 0).spawn(3)
    config = kernel_config(point, resolve=False)
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


def simulate(
    point: Point,
    replication: int = 0,
    seed: int | None = None,
    observe: bool = False,
    invariants: bool | None = None,
    costs=None,
    lookahead: bool = True,
    progress=None,
    design: dict | None = None,
) -> Result:
    """Simulate one point; ``seed`` (if given) replaces the point's root seed.

    ``invariants`` runs the invariant checker (default: on if ``L4SIM_CHECK_INVARIANTS``
    is set); a violation raises :class:`l4sim.sim.invariants.InvariantViolation`.
    ``costs`` replaces the point's profile (calibration scripts use it);
    ``lookahead`` and ``design`` as for :func:`build_machine`. ``progress(count)``
    is told of closed entries of the measured kind as the run goes,
    ``warmup_events + events`` in all (it changes no record).
    """
    if seed is not None:
        point = point.model_copy(update={"seed": seed})
    if invariants is None:
        invariants = invariants_by_default()
    machine = build_machine(
        point, replication, observe, invariants, costs=costs, lookahead=lookahead, design=design
    )
    setup = machine.setup
    if progress is not None:
        machine.window.report_progress(progress, PROGRESS_EVERY)
    try:
        run_machine(machine)
    except ProgramError as error:  # a program asked for the impossible: one line
        raise UserCodeError(f"{point.workload}: {error}") from None
    except Exception as error:  # a user's program or check raised: one line, not a trace
        users = raised_in_user_code(error)
        if users is None:
            raise
        raise users from None
    machine.window.finish_progress()
    events = measured_events(machine)
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
    machine.trace.release()  # the frame has the records now: free them before the caller goes on
    return Result(point, replication, events, rows, measured, machine.observations)


def measured_events(machine: Machine) -> pd.DataFrame:
    """The records of a run's measurement window."""
    return machine.trace.to_frame(
        since=machine.measure_from, threads=machine.thread_names, until=machine.measure_to
    )


def kernel_config(point: Point, design: dict | None = None, resolve: bool = True) -> KernelConfig:
    """The kernel options of a point (the keys every workload shares); ``design``, if given,
    replaces the point's fastpath design. ``resolve=False`` leaves out the profiling run
    an optimized order or design needs (the lists as given: to check a build quickly)."""
    if design is None:
        design = resolve_fastpath_design(point) if resolve else {}
    return KernelConfig(
        cpus=point.cpus,
        lock=point.lock,
        kernel_lock=point.kernel_lock,
        fastpath_syscall=point.fastpath_syscall,
        fastpath_ipc=point.fastpath_ipc,
        fastpath_checks=point.fastpaths(),
        check_order=(None if design or not resolve else resolve_check_order(point)),
        fastpath_design=design or None,
        proven_immutable=proven_immutable(point) if design else frozenset(),
        profile_checks=point.check_profile,
        fastpath_notify=point.fastpath_notify,
        fastpath_variant=point.fastpath_variant,
        lock_order=point.lock_order,
    )


def proven_immutable(point: Point) -> frozenset[str]:
    """The fields of a point's checks that the static scan proves never written."""
    return immutable(
        field for checks in point.fastpaths().values() for check in checks for field in check.reads
    )


def resolve_check_order(point: Point) -> dict[str, list[str]] | None:
    """The check order a point runs with: None for its lists as given, else names per fastpath.

    ``optimized`` (and ``fastpath_design = "reordered"``) takes the order of
    ``check_order_file`` if given, else profiles the same point first (its
    lists as given, replication 0, ``PROFILING_EVENTS`` events) and
    optimises from that.
    """
    if point.check_order == "paper" and point.fastpath_design != "reordered":
        return None
    if point.check_order_file:
        return load_order_file(point.check_order_file, point.fastpaths())
    return _profiled_order(_profiling_config(point))


def _profiling_config(point: Point) -> str:
    """The point that profiles ``point``: its lists as given, check profile on."""
    profiling = point.model_copy(
        update={
            "check_order": "paper",
            "fastpath_design": "paper",
            "check_profile": True,
            "events": min(point.events, PROFILING_EVENTS),
        }
    )
    return json.dumps(profiling.model_dump(), sort_keys=True)


def resolve_fastpath_design(point: Point) -> dict[str, list[str]] | None:
    """The fastpath design a point runs with (kind -> steps), or None for none.

    ``optimized`` reads the designs of ``check_order_file`` if given, else
    profiles the point (as for the check order), searches, checks every
    design found (:func:`verify_design`) and uses those that pass; a fastpath
    whose design is rejected runs its reordered list instead.
    """
    if point.fastpath_design != "optimized":
        return None
    if point.check_order_file:
        return load_design_file(point.check_order_file, point.fastpaths())
    found = design_proposals(point)
    return {
        kind: entry["optimized"]["design"]
        if entry["verdict"] is None
        else entry["reordered"]["design"]
        for kind, entry in found.items()
    }


def design_proposals(point: Point) -> dict[str, dict]:
    """Per profiled fastpath of ``point``: paper, reordered and optimized designs with their
    expected cycles, the measured lock waits, and the verdict on the optimized design
    (None: accepted; else the violation that rejected it)."""
    return _profiled_designs(_profiling_config(point))


@lru_cache(maxsize=64)
def _profiled_order(config: str) -> dict[str, list[str]]:
    values = json.loads(config)
    point = find_workload(values["workload"]).Params.model_validate(values)
    events = simulate(point, 0).events
    orders = optimize(check_masks(events), point.fastpaths(), point.cost_profile())
    return {kind: entry["order"] for kind, entry in orders.items()}


@lru_cache(maxsize=64)
def _profiled_designs(config: str) -> dict[str, dict]:
    values = json.loads(config)
    point = find_workload(values["workload"]).Params.model_validate(values)
    machine = build_machine(point, 0, invariants=invariants_by_default())
    machine.kernel.scheduler_lock.sim.holds = []  # its hold times, for the lock-wait model
    run_machine(machine)
    events = measured_events(machine)
    waits = lock_waits(machine, events)
    proven = proven_immutable(point)
    found = {}
    for kind, masks in check_masks(events).items():
        if len(masks) == 0 or kind not in point.fastpaths():
            continue
        masks, counts = unique_masks(masks)
        entry = propose(
            point.fastpaths()[kind], masks, counts, point.cost_profile(), waits[kind], proven
        )
        entry["attempts"] = int(counts.sum())
        entry["lock_waits"] = asdict(waits[kind])
        found[kind] = entry
    point = find_workload(values["workload"]).Params.model_validate(
        {**values, "check_profile": False}
    )
    for kind, entry in found.items():
        others = {k: paper_design(point.fastpaths()[k]) for k in found if k != kind}
        entry["verdict"] = verify_design(point, {**others, kind: entry["optimized"]["design"]})
    return found


def lock_waits(machine: Machine, events: pd.DataFrame) -> dict[str, LockWaits]:
    """Per fastpath kind, the measured contention its design search works with.

    The scheduler stage's wait: the mean lock-wait cycles of the kind's
    fastpath attempts that went through (they waited for the scheduler lock
    and, under it, the thread locks, which no one else can hold then: every
    thread-lock acquisition in this kernel happens under the scheduler lock).
    Waiters per held cycle: all lock-wait cycles of the window over the
    cycles the scheduler lock was held in it (lock-wait includes the cache
    lines a grant moves, so this errs high).
    """
    lock = machine.kernel.scheduler_lock
    end = machine.measure_to if machine.measure_to is not None else machine.env.now
    held = lock.sim.held_between(machine.measure_from, end, lock.holder is not None)
    per_cycle = float(events["lock_wait"].sum()) / held if held > 0 else 0.0
    result = {}
    for kind, group in events.groupby("kind", observed=True):
        fast = group[group["path"] == "fast"]["lock_wait"]
        wait = float(fast.mean()) if len(fast) else float(group["lock_wait"].mean())
        result[str(kind)] = LockWaits(scheduler=wait, threads=0.0, waiters_per_held_cycle=per_cycle)
    return result


def verify_design(point: Point, design: dict[str, list[str]]) -> str | None:
    """Check a design before it is used: None if it passes, else the violation (one line).

    On each of ``VERIFY_CPUS`` CPU counts, the point's workload runs with the
    design under the invariant checker with ``VERIFY_STRESS`` cycles of stress
    jitter, and again with the fastpaths off: what every thread received must
    agree (the equivalence property, :mod:`l4sim.sweep.behaviour`), unless the
    paper's own design disagrees with the fastpaths off on this load as well.
    """
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
            with_design = simulate(stressed, 0, observe=True, invariants=True, design=design)
        except InvariantViolation as error:
            return f"{cpus} CPUs, stress {VERIFY_STRESS}: {str(error).splitlines()[0]}"
        without = simulate(
            probe.model_copy(update={"fastpath_syscall": False, "fastpath_ipc": False}),
            0,
            observe=True,
            invariants=False,
        )
        _, difference = compare_behaviour(with_design.observations, without.observations)
        if difference is not None:
            # on a load whose messages depend on timing (the Linux load's replies carry
            # what the server saw last), the paper's own fastpath differs too: there the
            # comparison says nothing about the design, and only the checker counts
            paper = {kind: paper_design(probe.fastpaths()[kind]) for kind in design}
            baseline = simulate(stressed, 0, observe=True, invariants=False, design=paper)
            if compare_behaviour(baseline.observations, without.observations)[1] is None:
                return f"{cpus} CPUs: fastpath on and off differ: {difference}"
    return None


def check_masks(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per fastpath kind, the check masks of its profiled attempts (one per attempt)."""
    profiled = events[events["check_mask"] >= 0]
    return {
        str(kind): group["check_mask"].to_numpy()
        for kind, group in profiled.groupby("kind", observed=True)
    }


def run_record(
    config: dict, replication: int, invariants: bool | None = None, progress=None
) -> dict:
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
        result = simulate(point, replication, invariants=invariants, progress=progress)
    except InvariantViolation as error:  # say which run broke the invariant
        first, _, rest = error.report.partition("\n")
        where = ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("name", "profile"))
        raise InvariantViolation(
            f"{first}\n  in the run {where}, replication {replication}\n{rest}",
            error.check,
            error.cycle,
        ) from None
    return {
        "config": config,
        "replication": replication,
        "rows": result.rows,
        "measured_cycles": int(result.measured_cycles),
        "events": events_columns(result.events),
        "model": model_version(),
    }


def events_columns(events: pd.DataFrame) -> dict[str, np.ndarray | pd.Categorical]:
    """The events as plain columns (a worker's reply): numpy arrays, and the string
    columns as categoricals of their labels (a code per row: a long run's reply
    stays small, and it is sent and filed without expanding a string per row).
    """
    columns = {}
    for name, column in events.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            labels = [str(label) for label in column.cat.categories]
            columns[name] = pd.Categorical.from_codes(column.cat.codes.to_numpy(), labels)
        else:
            columns[name] = column.to_numpy()
    return columns


def summarize_entries(events: pd.DataFrame, measured_cycles: int) -> list[dict]:
    """One row of metrics per kernel-entry kind present in ``events``."""
    rows = []
    kinds = events["kind"]
    # each kind's rows of the three columns used, in order (not a copy of every column)
    fast = (events["path"] == "fast").to_numpy()
    durations = events["duration"].to_numpy()
    lock_waits = events["lock_wait"].to_numpy()
    for kind in sorted(set(kinds.unique())):
        rows_of_kind = (kinds == kind).to_numpy()
        duration = durations[rows_of_kind]
        lock_wait = lock_waits[rows_of_kind]
        entries = len(duration)
        rows.append(
            {
                "kind": str(kind),
                "entries": int(entries),
                "duration_mean": float(duration.mean()),
                "duration_p50": float(np.percentile(duration, 50)),
                "duration_p99": float(np.percentile(duration, 99)),
                "fast_fraction": float(fast[rows_of_kind].mean()),
                "lock_wait_mean": float(lock_wait.mean()),
                "contended_fraction": float((lock_wait > 0).mean()),
                "entries_per_mcycle": float(entries * 1e6 / max(measured_cycles, 1)),
            }
        )
    return rows
