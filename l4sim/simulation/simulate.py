"""Simulate one point: a pure function of (point, replication, resolution) to plain records.

The entry point every run goes through, whatever computes it (this process,
a worker, a Dask cluster): the workload's kernel and programs are built, run
on the engine (:mod:`l4sim.sim`) and their records collected
(:mod:`l4sim.simulation.records`). This module and everything it imports
are what a cached result depends on: their sources make the model version
(:mod:`l4sim.sweep.model_version`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.syscalls import UnknownAction
from l4sim.sim.invariants import Monitor, Recorder, deadlock_report
from l4sim.sim.machine import Machine, NoMeasuredProgress, SimulationStalled
from l4sim.sim.threads import ProgramError
from l4sim.simulation.records import Result, measured_events, summarize_entries
from l4sim.simulation.resolution import AS_LISTED, Resolution, UnresolvedDesign, needs_resolution
from l4sim.workloads.base import Point, Setup
from l4sim.workloads.registry import find_workload
from l4sim.workloads.user_files import UserCodeError, raised_in_user_code

# the invariant checker is on in every simulate() when this is set (the test
# suite sets it; it reaches worker processes through the environment)
INVARIANTS_ENV = "L4SIM_CHECK_INVARIANTS"
# a run reports its progress every this many closed entries of its measured kind
# (a sweep's bar advances within a long run; a few reports per default-sized run)
PROGRESS_EVERY = 1000


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
    recorder: Recorder | None = None,
    costs: Costs | None = None,
    lookahead: bool = True,
    resolution: Resolution | None = None,
) -> Machine:
    """The machine of one (point, replication), with the invariant checker if asked.

    ``lookahead=False`` flushes every effect to the clock instead of folding
    delays no other CPU can observe (the same records, slower: the reference
    the lookahead rules are tested against). ``resolution``: the check order
    or fastpath design the point's fastpaths run (required where the point
    asks for an optimized one, :func:`l4sim.simulation.resolution.needs_resolution`).
    """
    workload_seeds, machine_seeds, check_seeds = seed_sequence(point, replication).spawn(3)
    costs = costs or point.cost_profile()
    setup = build_setup(point, costs, workload_seeds, kernel_config(point, resolution))
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
    machine.setup = setup  # type: ignore[attr-defined]  # (the setup it was built from)
    machine.workload = point.workload  # type: ignore[attr-defined]  # (named in its errors)
    return machine


def build_setup(
    point: Point, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    """The workload's kernel, threads and programs; a user's build that fails is one line."""
    workload = find_workload(point.workload)
    try:
        setup = workload.build(point, costs, seeds, config)
    except Exception as error:
        users = raised_in_user_code(error)
        if users is None:
            raise
        raise users from None
    if not isinstance(setup, Setup):
        raise UserCodeError(f"{point.workload}: build returned {type(setup).__name__}, not a Setup")
    declared = workload.measured_entries(point)
    if setup.warmup + setup.events != declared:  # a sweep's progress and estimate count it
        raise UserCodeError(
            f"{point.workload}: its Setup measures {setup.warmup + setup.events:,} "
            f"{setup.measure_kind} entries (warm-up {setup.warmup:,} + {setup.events:,}), "
            f"its measured_entries(params) says {declared:,} (declare measured_entries "
            "to match)"
        )
    return setup


def check_build(point: Point) -> None:
    """Build a point's workload once (replication 0), to find a failing build early."""
    workload_seeds, _, _ = seed_sequence(point, 0).spawn(3)
    config = kernel_config(point, AS_LISTED)  # the lists as given: a build, not a run
    build_setup(point, point.cost_profile(), workload_seeds, config)


def run_machine(machine: Machine, max_cycles: int | None = None) -> None:
    """Run; a stall with CPUs spinning in a wait-for cycle is reported as a deadlock."""
    try:
        machine.run(max_cycles)
        if machine.monitor is not None and not machine.done.triggered:
            machine.monitor.on_stall(bounded=True)  # stopped by max_cycles
    except (ProgramError, UnknownAction) as error:  # a program asked for the impossible
        # (a machine built by build_machine names its workload; one built by hand does not)
        named = getattr(machine, "workload", None)
        raise UserCodeError(f"{named}: {error}" if named else str(error)) from None
    except NoMeasuredProgress:
        raise  # time goes on: not a deadlock, and no thread need be blocked
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
    costs: Costs | None = None,
    lookahead: bool = True,
    progress: Callable[[int], object] | None = None,
    resolution: Resolution | None = None,
) -> Result:
    """Simulate one point; ``seed`` (if given) replaces the point's root seed.

    A point whose fastpaths run an optimized check order or design
    (``check_order`` or ``fastpath_design`` other than ``"paper"``) must be
    resolved first and given as ``resolution``:
    ``simulate(point, resolution=resolve_design(point))``; without it the
    call raises :class:`~l4sim.simulation.resolution.UnresolvedDesign`.

    ``invariants`` runs the invariant checker (default: on if ``L4SIM_CHECK_INVARIANTS``
    is set); a violation raises :class:`l4sim.sim.invariants.InvariantViolation`.
    ``costs`` replaces the point's profile (calibration scripts use it);
    ``lookahead`` as for :func:`build_machine`. ``progress(count)``
    is told of closed entries of the measured kind as the run goes,
    ``warmup_events + events`` in all (it changes no record).
    """
    if seed is not None:
        point = point.model_copy(update={"seed": seed})
    if invariants is None:
        invariants = invariants_by_default()
    machine = build_machine(
        point,
        replication,
        observe,
        invariants,
        costs=costs,
        lookahead=lookahead,
        resolution=resolution,
    )
    setup = machine.setup  # type: ignore[attr-defined]  # (noted by build_machine)
    if progress is not None:
        machine.window.report_progress(progress, PROGRESS_EVERY)
    try:
        run_machine(machine)
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


def kernel_config(point: Point, resolution: Resolution | None) -> KernelConfig:
    """The kernel options of a point (by name), with its fastpaths' resolved order or design."""
    if resolution is None:
        if needs_resolution(point):
            raise UnresolvedDesign(
                f"the point asks for check_order = {point.check_order!r}, fastpath_design = "
                f"{point.fastpath_design!r}: resolve it first "
                "(l4sim.sweep.fastpath_designs.resolve_design) and pass it as resolution="
            )
        resolution = AS_LISTED
    return KernelConfig.from_options(
        point,
        fastpaths=point.fastpaths(),
        order=resolution.order,
        design=resolution.design,
        proven_immutable=resolution.proven_immutable,
    )
