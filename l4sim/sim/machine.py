"""One simulated SMP machine: a kernel, its CPUs and threads, run by SimPy.

Time is integer CPU cycles. Each user thread (exception handlers included) is
a SimPy process running its user program (:mod:`l4sim.sim.threads`); a
kernel entry runs the kernel's path inside the thread's process
(:mod:`l4sim.sim.interpreter`). Each CPU is a SimPy process that takes
inter-processor interrupts (:mod:`l4sim.sim.interrupts`). Spinning is never
simulated by polling (:mod:`l4sim.sim.spinlock`). A CPU runs ahead of the
clock while no other CPU could observe it (:mod:`l4sim.sim.lookahead`), and
the run ends once its measurement window is complete (:mod:`l4sim.sim.window`).

The machine builds those parts, gives them the per-CPU state they share, and
runs them.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Protocol

import numpy as np

from l4sim.kernel.big_lock import with_kernel_lock
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Message, Thread
from l4sim.kernel.syscalls import Program
from l4sim.sim.interpreter import PathInterpreter
from l4sim.sim.interrupts import InterruptSources
from l4sim.sim.lookahead import Lookahead, action_times
from l4sim.sim.simpy_internals import Clock, Event, Process, run_until
from l4sim.sim.spinlock import SpinLocks, SpinState
from l4sim.sim.threads import ThreadRunner, UserThreads
from l4sim.sim.trace import TraceBuffer
from l4sim.sim.window import MeasurementWindow

if TYPE_CHECKING:
    from l4sim.sim.invariants import Monitor

# Allocations between two passes of the cyclic garbage collector during a run. A
# run allocates a handful of container objects per kernel entry (events,
# generators, tuples), all freed by reference counting: the default pass every
# 700 allocations would find (almost) nothing in them, many times per run.
GC_THRESHOLD = 100_000


class Probe(Protocol):
    """A workload's own measurements: told of each interrupt raised and message received."""

    def irq_raised(self, payload: tuple[object, ...], now: int) -> None: ...
    def received(self, thread: Thread, message: Message, now: int) -> None: ...


# A run stalls, too, when simulated time goes on but its measured kind makes no
# progress: no entry of that kind closes while the engine runs STALL_EVENTS events
# (a measured entry takes a few, a timeslice of user work one: a workload of the
# longest user work its keys allow, among other kinds of kernel entries, closes one
# within a thousandth of that). Looked at every WATCH_EVERY events.
STALL_EVENTS = 10_000_000
WATCH_EVERY = 100_000


class SimulationStalled(RuntimeError):
    """Simulated time cannot advance but the run has not reached its goal."""


class NoMeasuredProgress(SimulationStalled):
    """Simulated time advances but no kernel entry of the measured kind closes."""


class Machine:
    """One simulated SMP machine running a kernel and its user programs.

    ``measure_kind``, ``warmup`` and ``events`` define the measurement window;
    ``lookahead=False`` flushes every effect to the clock (the reference the
    lookahead rules are tested against); ``observe`` keeps every message each
    thread receives; ``timers`` are periodic interrupts ``(cpu, period, name)``;
    ``probe`` and ``timed_locks`` are a workload's own measurements.
    """

    def __init__(
        self,
        kernel: Kernel,
        programs: dict[Thread, Program],
        rng: np.random.Generator,
        measure_kind: str,
        warmup: int,
        events: int,
        observe: bool = False,
        lookahead: bool = True,
        timers: tuple[tuple[int, int, str], ...] = (),
        probe: Probe | None = None,
        timed_locks: tuple[Lock, ...] = (),
    ) -> None:
        self.env = Clock()
        kernel = with_kernel_lock(kernel)  # kernel_lock = "big": one lock around every path
        self.kernel = kernel
        self.costs = kernel.costs
        self.cpus = kernel.config.cpus
        self.trace = TraceBuffer()
        self.timers = tuple(timers)
        self.probe = probe
        self.lookahead_enabled = lookahead
        # when each CPU may next touch shared kernel state (for lookahead)
        self.next_act = action_times(self.cpus)
        self.held: list[list[Lock]] = [[] for _ in range(self.cpus)]  # locks held, in order
        self.spinning_on: list[Lock | None] = [None] * self.cpus
        for lock in kernel.locks:
            lock.sim = SpinState()
        for lock in timed_locks:  # a workload's metrics need their hold times
            lock.sim.holds = []
        self.runners: dict[Thread, ThreadRunner] = {}
        for index, thread in enumerate(kernel.threads):
            program = programs.get(thread)
            if program is None:
                raise ValueError(f"thread {thread.name} has no program")
            self.runners[thread] = ThreadRunner(thread, index, program, self.costs.timeslice)
        self.thread_names = [t.name for t in kernel.threads]
        self.observations: dict[str, list[tuple[str, str, tuple[object, ...]]]] | None = (
            {t.name: [] for t in kernel.threads} if observe else None
        )
        self.window = MeasurementWindow(self.env, measure_kind, warmup, events)
        self.interrupts = InterruptSources(self.env, kernel, self.cpus, probe)
        self.interrupts.runners = self.runners
        self.lookahead = Lookahead(self.cpus, self.next_act, self.interrupts)
        self.locks = SpinLocks(
            self.env,
            self.costs,
            kernel.config.lock,
            rng,
            self.held,
            self.next_act,
            self.spinning_on,
        )
        self.threads = UserThreads(self)
        self.interpreter = PathInterpreter(self, rng)  # draws the per-CPU noise seeds
        self.threads.interpreter = self.interpreter
        self.interrupts.interpreter = self.interpreter
        self._monitor: Monitor | None = None
        self._enforce_lock_order = True
        # the measured kind's progress, as last seen by _watch
        self._watched_closed = 0
        self._watched_at = 0
        self._watched_entries = 0
        self._watched_events = 0

    # -- what a run's users read and set ----------------------------------------
    @property
    def monitor(self) -> Monitor | None:
        """The invariant monitor watching the run (None: none)."""
        return self._monitor

    @monitor.setter
    def monitor(self, monitor: Monitor | None) -> None:
        self._monitor = monitor
        self.threads.monitor = monitor
        self.interpreter.monitor = monitor

    @property
    def enforce_lock_order(self) -> bool:
        """Whether the engine itself refuses an acquisition that breaks the lock order."""
        return self._enforce_lock_order

    @enforce_lock_order.setter
    def enforce_lock_order(self, check: bool) -> None:
        self._enforce_lock_order = check
        self.locks.enforce_lock_order = check
        self.interpreter.enforce_lock_order = check

    @property
    def done(self) -> Event:
        """Triggered once the measurement window is complete."""
        return self.window.done

    @property
    def measure_from(self) -> int:
        """The cycle the measurement window starts."""
        return self.window.start

    @property
    def measure_to(self) -> int | None:
        """The cycle the last measured entry closed (None: the run was cut short)."""
        return self.window.end

    # -- running ------------------------------------------------------------
    def run(self, max_cycles: int | None = None) -> None:
        """Run until the measurement is complete (or ``max_cycles``)."""
        env = self.env
        threads = self.threads
        for runner in self.runners.values():
            runner.wake = env.event()
            runner.process = Process(env, threads.process(runner))
        interrupts = self.interrupts
        for cpu, period, name in self.timers:
            Process(env, interrupts.timer_process(cpu, period, name))
        for cpu in range(self.cpus):
            Process(env, interrupts.cpu_process(cpu))
            interrupts.ipi_arrive(cpu)  # boot: each CPU dispatches its first thread
        # the invariant monitor's exact time needs each thread to start at its cycle
        threads.eager_resume = self.lookahead_enabled and not (
            self.monitor is not None and self.monitor.exact_time
        )
        until = self.done
        if max_cycles is not None:
            until = env.any_of([self.done, env.timeout(max_cycles)])
        thresholds = gc.get_threshold()
        gc.set_threshold(max(GC_THRESHOLD, thresholds[0]), *thresholds[1:])
        try:
            self._run(until)
        finally:
            gc.set_threshold(*thresholds)
            if not self.done.triggered:  # cut short: the window as far as it got
                self.window.cut_short()

    def _run(self, until: Event) -> None:
        try:
            run_until(self.env, until, self._watch, WATCH_EVERY)
        except RuntimeError as error:
            if "No scheduled events left" not in str(error):
                raise
            window = self.window
            raise SimulationStalled(
                f"simulation stalled at cycle {self.env.now}: every thread is blocked "
                f"({len(window.closed_at)} of {window.warmup + window.events} measured-kind "
                "entries closed)"
            ) from None

    def _watch(self, now: int) -> None:
        """Every WATCH_EVERY events: end a run whose measured kind makes no progress.

        Raises :class:`NoMeasuredProgress` once no entry of that kind has closed
        for STALL_EVENTS events.
        """
        closed = len(self.window.closed_at)
        if closed != self._watched_closed:
            self._watched_closed, self._watched_at = closed, now
            self._watched_entries, self._watched_events = len(self.trace), 0
            return
        self._watched_events += WATCH_EVERY
        if self._watched_events >= STALL_EVENTS:
            raise NoMeasuredProgress(
                self._no_progress(now, len(self.trace) - self._watched_entries)
            )

    def _no_progress(self, now: int, others: int) -> str:
        """What the workload did instead of closing entries of its measured kind, in a line."""
        window = self.window
        kinds = self.trace.kind[-others:] if others else []
        counted: dict[str, int] = {}
        for kind in kinds:
            counted[str(kind)] = counted.get(str(kind), 0) + 1
        did = (
            ", ".join(f"{count:,} {kind}" for kind, count in sorted(counted.items()))
            if counted
            else "none"
        )
        return (
            f"no {window.kind} kernel entry closed in {now - self._watched_at:,} simulated "
            f"cycles ({self._watched_events:,} engine events, up to cycle {now:,}; "
            f"{len(window.closed_at):,} of {window.warmup + window.events:,} closed; "
            f"kernel entries meanwhile: {did}): "
            f"check that the workload's programs make {window.kind} kernel entries "
            "(its Setup's measure_kind) and that they are not blocked for good"
        )
