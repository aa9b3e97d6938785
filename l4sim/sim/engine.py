"""The SimPy engine: CPUs, thread processes, spinlocks, and the effect interpreter.

Time is integer CPU cycles. Each user thread (exception handlers included) is
a SimPy process running its user program; a kernel entry runs the kernel's
path generator inside the thread's process, as a real kernel runs on the
thread's kernel stack. Each CPU is a SimPy process that takes inter-processor
interrupts (waking an idle CPU, or preempting its running thread).

Speed comes from letting a CPU run ahead of the clock while no other CPU
could observe it (lookahead): consecutive ``Spend`` effects become one delay,
an uncontended ``Acquire`` is granted without an event (and a lock released
ahead of the clock is handed over without one when nobody else can act
first), a ``Release`` nobody waits for is applied at the releaser's local
time, and a thread switched to on the same CPU runs at once, inside the
switch, owing the switcher's cycles. Every rule is exact: the records equal
those of flushing every effect to the clock (``lookahead=False``, tested).
Spinning is never simulated by polling: a waiter waits on an event while its
CPU stays busy, and the cache-line handoff is charged explicitly.
"""

from __future__ import annotations

import gc
import heapq
import random
from collections import deque
from collections.abc import Generator
from heapq import heappush

import numpy as np
import simpy
from simpy.events import NORMAL, PENDING, Event

from l4sim.kernel.big_lock import with_kernel_lock
from l4sim.kernel.effects import Acquire, Kick, Outcome, Release, Switch, Sync
from l4sim.kernel.kernel import IRQ, Kernel
from l4sim.kernel.locks import Lock, check_order
from l4sim.kernel.objects import Message, Thread
from l4sim.kernel.syscalls import Compute, SharedAccess, StartIO
from l4sim.sim.spinlock import SpinState, handoff_cost, is_fifo
from l4sim.sim.trace import IDLE, TraceBuffer

NEVER = 2**62  # a time no run reaches
SCAN_CPUS = 8  # up to this many CPUs, "may another CPU act?" scans them one by one
AFTER_ALL = 2  # event priority after SimPy's NORMAL (1): last of its cycle
# Allocations between two passes of the cyclic garbage collector during a run. A
# run allocates about ten container objects per kernel entry (events, generators,
# tuples), all freed by reference counting: the default pass every 700
# allocations finds (almost) nothing in them and cost ~8% of a compiled run.
GC_THRESHOLD = 100_000
TRACE_CHUNK = TraceBuffer.CHUNK


class SimulationStalled(RuntimeError):
    """Simulated time cannot advance but the run has not reached its goal."""


class Runner:
    """Simulator-side state of one thread: its process and where it stands."""

    __slots__ = ("thread", "index", "program", "process", "wake", "in_user", "slice_left",
                 "carry")

    def __init__(self, thread: Thread, index: int, program: Generator, slice_left: int) -> None:
        self.thread = thread
        self.index = index
        self.program = program
        self.process: simpy.Process | None = None
        self.wake: simpy.Event | None = None
        self.in_user = False
        self.slice_left = slice_left
        # cycles the CPU still owes the thread that switched to this one when it
        # is woken early (see Machine._resume): its first delay includes them
        self.carry = 0


class Machine:
    """One simulated SMP machine running a kernel and its user programs."""

    def __init__(self, kernel: Kernel, programs: dict[Thread, Generator],
                 rng: np.random.Generator, measure_kind: str, warmup: int, events: int,
                 observe: bool = False, lookahead: bool = True,
                 timers: tuple = (), probe=None, timed_locks: tuple = ()) -> None:
        self.env = simpy.Environment()
        kernel = with_kernel_lock(kernel)  # kernel_lock = "big": one lock around every path
        self.kernel = kernel
        self.costs = kernel.costs
        self.rng = rng
        self.trace = TraceBuffer()
        self.cpus = kernel.config.cpus
        self.held: list[list[Lock]] = [[] for _ in range(self.cpus)]
        self.resched = [False] * self.cpus
        self.pending_irqs: list[deque] = [deque() for _ in range(self.cpus)]
        # when device and timer interrupts are due on each CPU (heaps), for lookahead
        self.irq_due: list[list[int]] = [[] for _ in range(self.cpus)]
        self.busy = [False] * self.cpus  # a kernel path is executing on the CPU
        self._interrupting = [False] * self.cpus
        self.ipi: list[simpy.Event] = [self.env.event() for _ in range(self.cpus)]
        self._waits = [Event(self.env) for _ in range(self.cpus)]  # see _wait
        for wait in self._waits:
            wait.callbacks = None  # as if processed: free for the first wait
        self.design = kernel.config.lock  # spinlock design (l4sim.sim.spinlock)
        self.fifo = is_fifo(self.design)
        # hardware timing noise on every kernel entry (the profile's entry_jitter)
        # one stream per CPU: a CPU's noise must not depend on the order in which
        # the simulator happens to process different CPUs' events
        self._noise = [random.Random(int(seed)).random
                       for seed in rng.integers(2**63, size=self.cpus)]
        self._jitter_span = self.costs.entry_jitter + 1
        # the other CPUs, scanned one by one up to SCAN_CPUS; beyond, None: the
        # minimum over all of them is taken in C (_quiet_by_minimum)
        self._others = [tuple(o for o in range(self.cpus) if o != cpu)
                        if self.cpus <= SCAN_CPUS else None for cpu in range(self.cpus)]
        self._irq_next = NEVER  # the earliest interrupt due on any CPU
        self._ipi_next = NEVER  # the earliest IPI due on any CPU
        self._lock_costs = (self.costs.lock_acquire, self.costs.lock_release,
                            self.costs.line_transfer)
        self.lookahead = lookahead
        self.timers = tuple(timers)
        self.probe = probe  # a workload's own measurements (see workloads.Setup)
        # when each CPU may next touch shared kernel state (for lookahead)
        self.next_act = [0] * self.cpus
        self.ipi_due = [NEVER] * self.cpus  # the next IPI due on each CPU (head of _ipis)
        self._ipis: list[list[int]] = [[] for _ in range(self.cpus)]  # IPIs in flight (heaps)
        self.spinning_on: list[Lock | None] = [None] * self.cpus
        for lock in kernel.locks:
            lock.sim = SpinState()
        for lock in timed_locks:  # a workload's metrics need their hold times
            lock.sim.holds = []
        self.runners: dict[Thread, Runner] = {}
        for index, thread in enumerate(kernel.threads):
            program = programs.get(thread)
            if program is None:
                raise ValueError(f"thread {thread.name} has no program")
            self.runners[thread] = Runner(thread, index, program, self.costs.timeslice)
        self.thread_names = [t.name for t in kernel.threads]
        self.observations: dict[str, list] | None = (
            {t.name: [] for t in kernel.threads} if observe else None)
        # measurement: `warmup` entries of `measure_kind`, then `events` more that
        # entered after the warm-up ended, in the order they close (see _on_close)
        self._measure_kind = measure_kind
        self._warmup = warmup
        self._events = events
        self._closes: list[tuple[int, int]] = []  # (close, entry) of each measured-kind entry
        self._settle_at: int | None = None  # when the window's end is checked next
        self._window_check = warmup + events  # closes before the window is worked out again
        self.measure_from = 0
        self.measure_to: int | None = None  # when the last measured entry closed
        self.done = self.env.event()
        # issue 5: an invariant monitor (l4sim.check.invariants.Monitor.attach) and
        # whether the engine itself refuses a lock-order violation
        self.monitor = None
        self.check_lock_order = True
        self.eager_resume = lookahead  # decided again in run(), once a monitor is attached
        self._resuming = False  # a switched-to thread runs inside _resume right now

    # -- running ------------------------------------------------------------
    def run(self, max_cycles: int | None = None) -> None:
        """Run until the measurement is complete (or ``max_cycles``)."""
        for runner in self.runners.values():
            runner.wake = self.env.event()
            runner.process = self.env.process(self._thread_process(runner))
        for cpu, period, name in self.timers:
            self.env.process(self._timer_process(cpu, period, name))
        for cpu in range(self.cpus):
            self.env.process(self._cpu_process(cpu))
            self._ipi_arrive(cpu)  # boot: each CPU dispatches its first thread
        # the invariant monitor's exact time needs each thread to start at its cycle
        self.eager_resume = self.lookahead and not (self.monitor is not None
                                                    and self.monitor.exact_time)
        until = self.done
        if max_cycles is not None:
            until = self.env.any_of([self.done, self.env.timeout(max_cycles)])
        thresholds = gc.get_threshold()
        gc.set_threshold(max(GC_THRESHOLD, thresholds[0]), *thresholds[1:])
        try:
            self._run(until)
        finally:
            gc.set_threshold(*thresholds)
            if not self.done.triggered:  # cut short: the window as far as it got
                self.measure_from = self.window()[0]

    def _run(self, until) -> None:
        try:
            self.env.run(until=until)
        except RuntimeError as error:
            if "No scheduled events left" not in str(error):
                raise
            raise SimulationStalled(
                f"simulation stalled at cycle {self.env.now}: every thread is blocked "
                f"({len(self._closes)} of {self._warmup + self._events} measured-kind entries "
                "closed)") from None

    def _on_close(self, entry: int, at: int) -> None:
        """An entry of the measured kind closed at local cycle ``at`` (entered at ``entry``).

        The window is defined in the order entries close in simulated time:
        it starts when the ``warmup``-th closes and ends when the ``events``-th
        of those that entered after that closes. With lookahead, entries close
        in the simulator slightly out of that order (a CPU runs ahead of the
        clock), so once enough have closed the run goes on until the clock
        passes the window's end: then every entry that closes inside it is
        recorded, exactly as without lookahead.
        """
        closes = self._closes
        closes.append((at, entry))
        if (len(closes) >= self._window_check and self._settle_at is None
                and not self.done.triggered):
            # the end can only move earlier as more entries close: one check at
            # the end found now is enough (then it recomputes)
            _, measured = self._measured_closes()
            if len(measured) < self._events:  # some entered before the warm-up ended
                self._window_check = len(closes) + self._events - len(measured)
            else:
                self._settle_after(measured[self._events - 1])

    def _measured_closes(self) -> tuple[int, list[int]]:
        """The window's start, and the close cycles of the entries measured so far, in order."""
        closes = sorted(self._closes)
        warmup = self._warmup
        if len(closes) < warmup:
            return 0, []
        start = closes[warmup - 1][0] if warmup else 0
        return start, [close for close, entry in closes[warmup:] if entry >= start]

    def window(self) -> tuple[int, int | None]:
        """(start, end) of the measurement from the entries closed so far (end None: not yet)."""
        start, measured = self._measured_closes()
        return start, measured[self._events - 1] if len(measured) >= self._events else None

    def _settle_after(self, end: int | None) -> None:
        """End the run once every event up to cycle ``end`` has happened."""
        if end is None or (self._settle_at is not None and self._settle_at <= end):
            return
        self._settle_at = end
        check = Event(self.env)
        check._ok = True
        check._value = None
        check.callbacks.append(self._settle)
        # after every other event of that cycle, or now if the clock is past it
        self.env.schedule(check, AFTER_ALL, max(0, end - self.env._now))

    def _settle(self, _event) -> None:
        self._settle_at = None
        if self.done.triggered:
            return
        start, end = self.window()
        if end is None or end > self.env._now:  # cannot happen: the end only moves earlier
            self._settle_after(end)
            return
        self.measure_from, self.measure_to = start, end
        self.done.succeed()

    # -- processes --------------------------------------------------------------
    def _thread_process(self, runner: Runner):
        yield runner.wake  # dispatched for the first time
        thread = runner.thread
        cpu = thread.cpu
        program = runner.program
        result = None
        kernel = self.kernel
        observations = self.observations
        # somebody looks at what the thread receives
        watched = observations is not None or self.probe is not None or self.monitor is not None
        carry = runner.carry  # kernel cycles already spent but not yet elapsed (see _run_path)
        runner.carry = 0
        env = self.env
        resched = self.resched
        pending_irqs = self.pending_irqs
        next_act = self.next_act
        # one event for every stretch of user work, made pending again each time (no
        # Timeout to build); an interrupted stretch leaves it in SimPy's queue, so
        # then it is replaced. The same queue entries as a Timeout: same results.
        worked = Event(env)
        while True:
            action = program.send(result)
            kind_of = type(action)
            if kind_of is Compute:
                result = None
                cycles = action.cycles
                if cycles < 0:  # (a Timeout refused it; the queue below would not)
                    raise ValueError(f"thread {thread.name}: Compute({cycles}) is negative")
                if (cycles >= runner.slice_left or resched[cpu] or pending_irqs[cpu]
                        or self.monitor is not None):
                    carry = yield from self._compute(runner, cycles, carry)
                    continue
                # the common case of _compute, inline: no interrupt waiting, and the
                # work ends within the timeslice
                if cycles > 0 or carry:
                    user_start = env._now + carry
                    next_act[cpu] = user_start + cycles
                    runner.in_user = True
                    worked.callbacks = []
                    worked._ok = True
                    worked._value = None
                    # env.schedule(worked, NORMAL, carry + cycles), without the call
                    heappush(env._queue, (user_start + cycles, NORMAL, next(env._eid), worked))
                    try:
                        yield worked
                    except simpy.Interrupt:  # the rest as _compute does it
                        worked = Event(env)  # the old one is still queued
                        runner.in_user = False
                        self._interrupting[cpu] = False
                        now = env._now
                        carry = max(0, user_start - now)
                        ran = max(0, now - user_start)
                        runner.slice_left -= ran
                        if cycles > ran:
                            carry = yield from self._compute(runner, cycles - ran, carry)
                        continue
                    runner.in_user = False
                    runner.slice_left -= cycles
                    carry = 0
                continue
            if kind_of is SharedAccess:  # user memory another CPU uses: at our true cycle
                result = None
                if carry:
                    next_act[cpu] = env._now + carry
                    yield self._wait(cpu, carry)
                    carry = 0
                continue
            # a trap or a device access, at our local time: an interrupt arriving
            # before then is taken first, so let the cycles still pending elapse
            # if one could (user work above is interruptible: it needs no such stop)
            if carry and self._interruptible_before(cpu, env._now + carry):
                next_act[cpu] = env._now + carry
                yield self._wait(cpu, carry)
                carry = 0
            if resched[cpu] or pending_irqs[cpu]:
                carry = yield from self._service_interrupts(runner, carry)
            if kind_of is StartIO:
                self._start_io(action.latency + carry + action.cycles, action.irq)
                carry = yield from self._compute(runner, action.cycles, carry)
                result = None
                continue
            kind, path = kernel.enter(cpu, thread, action)
            result, carry = yield from self._run_path(cpu, runner, kind, path, carry)
            if watched and isinstance(result, Message):
                if observations is not None:
                    observations[thread.name].append(result.observed())
                if self.probe is not None:
                    self.probe.received(thread, result, self.env.now + carry)
                if self.monitor is not None:  # issue 5 hook
                    self.monitor.on_receive(thread, result)

    def _compute(self, runner: Runner, cycles: int, carry: int):
        """User-mode work after ``carry`` kernel cycles, cut by the timeslice or an interrupt."""
        env = self.env
        remaining = cycles
        cpu = runner.thread.cpu
        while True:
            if self.resched[cpu] or self.pending_irqs[cpu]:
                carry = yield from self._service_interrupts(runner, carry)
            if self.monitor is not None:  # issue 5 hook: who runs user code where
                self.monitor.on_user(cpu, runner.thread, carry)
            run = min(remaining, runner.slice_left)
            user_start = env._now + carry
            end = user_start + run
            self.next_act[cpu] = end
            runner.in_user = True
            try:
                yield env.timeout(carry + run)
            except simpy.Interrupt:
                self._interrupting[cpu] = False
            runner.in_user = False
            now = env._now
            carry = max(0, user_start - now)  # an interrupt can land before the kernel part ends
            ran = max(0, now - user_start)
            remaining -= ran
            runner.slice_left -= ran
            if runner.slice_left <= 0:
                runner.slice_left = self.costs.timeslice
                self.resched[cpu] = False
                _, carry = yield from self._run_path(
                    cpu, runner, None, self.kernel.reschedule(cpu, runner.thread, True), carry)
            if remaining <= 0:
                return carry

    def _service_interrupts(self, runner: Runner, carry: int):
        """Deliver this CPU's pending interrupts, then reschedule if an IPI asked to."""
        cpu = runner.thread.cpu
        kernel = self.kernel
        while True:
            if self.pending_irqs[cpu]:
                payload = self.pending_irqs[cpu].popleft()
                _, carry = yield from self._run_path(
                    cpu, runner, IRQ, kernel.deliver_irq(cpu, runner.thread, payload), carry)
            elif self.resched[cpu]:
                self.resched[cpu] = False
                _, carry = yield from self._run_path(
                    cpu, runner, None, kernel.reschedule(cpu, runner.thread, False), carry)
            else:
                return carry

    def _cpu_process(self, cpu: int):
        """Take IPIs and interrupts: an idle CPU dispatches, a busy one is interrupted."""
        while True:
            yield self.ipi[cpu]
            self.ipi[cpu] = self.env.event()
            due = self._ipis[cpu]  # those arrived now; another may still be on its way
            while due and due[0] <= self.env.now:
                heapq.heappop(due)
            self.ipi_due[cpu] = due[0] if due else NEVER
            self._ipi_next = min(self.ipi_due)
            current = self.kernel.scheduler.current[cpu]
            if self.busy[cpu]:
                # a kernel path runs here (perhaps on its way to idle): it looks at
                # the flags when it leaves, and kicks us again if it goes idle
                self.resched[cpu] = True
                continue
            if current is None:
                if self.pending_irqs[cpu]:
                    payload = self.pending_irqs[cpu].popleft()
                    path = self.kernel.deliver_irq(cpu, None, payload)
                    kind = IRQ
                else:
                    self.resched[cpu] = False
                    path = self.kernel.dispatch(cpu)
                    kind = None
                _, carry = yield from self._run_path(cpu, None, kind, path)
                if carry:
                    yield self.env.timeout(carry)
                if self.pending_irqs[cpu] and self.kernel.scheduler.current[cpu] is None:
                    self._ipi_arrive(cpu)  # more interrupts for a CPU still idle
                continue
            self.resched[cpu] = True
            self._interrupt(cpu, self.runners[current])

    def raise_irq(self, cpu: int, payload: tuple) -> None:
        """A device or timer interrupt on ``cpu`` (delivered as IPC by the kernel)."""
        if self.probe is not None:
            self.probe.irq_raised(payload, self.env.now)
        due = self.irq_due[cpu]
        while due and due[0] <= self.env.now:
            heapq.heappop(due)
        self._irq_next = min((heap[0] for heap in self.irq_due if heap), default=NEVER)
        self.pending_irqs[cpu].append(payload)
        current = self.kernel.scheduler.current[cpu]
        if current is None:
            self._ipi_arrive(cpu)
        else:
            self._interrupt(cpu, self.runners[current])

    def _interrupt(self, cpu: int, runner: Runner) -> None:
        """Interrupt a thread in user mode; one in the kernel checks on its way out."""
        if runner.in_user and not self._interrupting[cpu]:
            self._interrupting[cpu] = True
            runner.process.interrupt()

    def _start_io(self, delay: int, payload: tuple) -> None:
        heapq.heappush(self.irq_due[0], self.env.now + delay)  # CPU 0 acts then
        self._irq_next = min(self._irq_next, self.env.now + delay)
        arrival = self.env.timeout(delay)
        arrival.callbacks.append(lambda _event: self.raise_irq(0, payload))

    def _timer_process(self, cpu: int, period: int, name: str):
        """A periodic interrupt (the guest's tick) on ``cpu``."""
        count = 0
        while True:
            heapq.heappush(self.irq_due[cpu], self.env.now + period)  # the CPU acts then
            self._irq_next = min(self._irq_next, self.env.now + period)
            yield self.env.timeout(period)
            count += 1
            self.raise_irq(cpu, (name, count))

    def _ipi_arrive(self, cpu: int) -> None:
        if not self.ipi[cpu].triggered:
            self.ipi[cpu].succeed()

    def _kick(self, target: int, source: int) -> None:
        if target == source:
            return
        due = self.env.now + self.costs.ipi_latency
        heapq.heappush(self._ipis[target], due)
        self.ipi_due[target] = self._ipis[target][0]
        self._ipi_next = min(self._ipi_next, due)
        arrival = self.env.timeout(self.costs.ipi_latency)
        arrival.callbacks.append(lambda _event: self._ipi_arrive(target))

    def _interruptible_before(self, cpu: int, time: int) -> bool:
        """An interrupt or IPI may reach ``cpu`` at or before ``time``.

        Those already on their way are due then; any other CPU that may act by
        then could still send one (or start a device) before it.
        """
        if self.ipi_due[cpu] <= time:
            return True
        due = self.irq_due[cpu]
        if due and due[0] <= time:
            return True
        return not self._others_quiet(cpu, time)

    def _others_quiet(self, cpu: int, time: int) -> bool:
        """No other CPU can act before ``time`` (strictly); _run_path has it inline.

        Up to SCAN_CPUS a scan that stops at the first CPU that may act, beyond
        that the minima of _quiet_by_minimum.
        """
        others = self._others[cpu]
        if others is None:
            return self._quiet_by_minimum(cpu, time)
        next_act = self.next_act
        ipi_due = self.ipi_due
        irq_due = self.irq_due
        for other in others:
            if next_act[other] <= time or ipi_due[other] <= time:
                return False
            if irq_due[other] and irq_due[other][0] <= time:
                return False
        return True

    def _earliest_other_action(self, cpu: int) -> int:
        """The earliest next action of any CPU but ``cpu`` (a minimum taken in C)."""
        next_act = self.next_act
        own = next_act[cpu]
        next_act[cpu] = NEVER
        earliest = min(next_act)
        next_act[cpu] = own
        return earliest

    def _quiet_by_minimum(self, cpu: int, time: int) -> bool:
        """No other CPU can act before ``time``, for many CPUs: minima instead of a scan.

        Conservative where a scan is exact: this CPU's own IPIs and interrupts
        count too (a needless stop of the clock changes no result).
        """
        return (self._ipi_next > time and self._irq_next > time
                and self._earliest_other_action(cpu) > time)

    # -- the effect interpreter ---------------------------------------------------
    def _run_path(self, cpu: int, runner: Runner | None, kind: str | None, path: Generator,
                  pending: int = 0):
        """Run one kernel path: charge its time, spin for its locks, switch threads.

        ``pending`` counts cycles spent but not yet elapsed in simulated time: a
        path only turns them into a timeout when another CPU could observe the
        difference (a lock it could contend for, an IPI, a lock handoff). It
        returns (the path's value, cycles still pending), and the caller folds
        the latter into its next delay.

        A free lock is granted without an event when no other CPU can act
        before we have it: every other CPU's next action (``next_act``; NEVER
        while it spins, since it acts only once its lock's holder does), IPI
        and interrupt lie strictly later (_others_quiet, inline here).
        """
        env = self.env
        if self.monitor is not None:  # issue 5 hook: the monitor watches every effect
            path = self.monitor.wrap(cpu, runner, kind, path)
        entry = env._now + pending  # the record's entry cycle (written when it closes)
        outcome = None
        outcome_at = -1
        # the pending cycles handed in belong to the previous path (already in its
        # record): count this path's duration from where they end
        duration = -pending
        pending += int(self._noise[cpu]() * self._jitter_span)
        lock_wait = 0
        lookahead = self.lookahead
        busy = self.busy
        busy[cpu] = True
        held = self.held[cpu]
        others = self._others[cpu]
        next_act = self.next_act
        ipi_due = self.ipi_due
        irq_due = self.irq_due
        acquire_cost, release_cost, line_transfer = self._lock_costs
        others_min = None  # many CPUs: the others' earliest next action, while it holds
        try:
            effect = next(path)
            while True:
                kind_of = type(effect)
                if kind_of is int:  # Spend
                    pending += effect
                elif kind_of is Acquire:
                    for lock in effect.locks:
                        spin = lock.sim
                        if lookahead and lock.holder is None and not spin.waiters:
                            at = env._now + pending
                            free_at = spin.free_at
                            until = at if free_at <= at else free_at
                            # _others_quiet(cpu, until), inline: the hottest test of all
                            quiet = True
                            if others is None:  # many CPUs: their earliest action, in C
                                if others_min is None:  # (fixed while only we run)
                                    others_min = self._earliest_other_action(cpu)
                                quiet = (others_min > until and self._ipi_next > until
                                         and self._irq_next > until)
                            else:
                                for other in others:
                                    if next_act[other] <= until or ipi_due[other] <= until:
                                        quiet = False
                                        break
                                    due = irq_due[other]
                                    if due and due[0] <= until:
                                        quiet = False
                                        break
                            if quiet:
                                # nobody else can act before we have it: granted at our
                                # local time, or, if its last holder released it later
                                # (at its own local time), handed over to us then
                                if (held and held[-1].order_key >= lock.order_key
                                        and self.check_lock_order):
                                    check_order(held, lock)  # raises, naming both locks
                                lock.holder = cpu
                                held.append(lock)
                                if free_at <= at:
                                    spin.held_from = at
                                    last = spin.last_cpu
                                    pending += (acquire_cost if last is None or last == cpu
                                                else acquire_cost + lock.lines * line_transfer)
                                    continue
                                # as _hand_over would at free_at, with us the only waiter
                                spin.held_from = free_at  # (a one-waiter pick draws nothing)
                                cost = (handoff_cost(self.design, self.costs.lock_handoff, 2)
                                        + lock.lines * line_transfer)
                                waited = free_at - at
                                lock_wait += waited + cost
                                pending += waited + cost
                                continue
                        if pending:
                            next_act[cpu] = env._now + pending
                            yield self._wait(cpu, pending)
                            duration += pending
                            pending = 0
                        start = env._now
                        cost = yield from self._acquire(cpu, lock)
                        others_min = None  # other CPUs ran meanwhile
                        waited = env._now - start
                        duration += waited
                        if waited:
                            lock_wait += waited + cost
                        pending += cost
                elif kind_of is Release:
                    for lock in effect.locks:
                        spin = lock.sim
                        if spin.waiters:
                            if pending:
                                next_act[cpu] = env._now + pending
                                yield self._wait(cpu, pending)
                                duration += pending
                                pending = 0
                            pending += self._release(cpu, lock, pending)
                            others_min = None  # other CPUs ran meanwhile; a waiter acts now
                            continue
                        if held[-1] is lock:
                            held.pop()
                        else:
                            held.remove(lock)
                        # nobody waits: released at our local time, without an event
                        spin.last_cpu = cpu
                        lock.holder = None
                        pending += release_cost
                        free_at = spin.free_at = env._now + pending
                        if spin.holds is not None:
                            spin.holds.append((spin.held_from, free_at))
                elif kind_of is Outcome:
                    if outcome is None:  # the first outcome wins: a fallback names its check
                        outcome = effect
                        outcome_at = duration + pending
                elif kind_of is Switch:
                    if held:
                        raise RuntimeError(f"cpu{cpu} switches while holding {held}")
                    target = effect.to
                    if runner is None or target is not runner.thread:
                        if target is None and pending:
                            # idle only once the path's last cycles have elapsed: an IPI
                            # must not make this CPU dispatch before its path has ended
                            next_act[cpu] = env._now + pending
                            yield self._wait(cpu, pending)
                            duration += pending
                            pending = 0
                            others_min = None
                        duration += pending
                        next_act[cpu] = env._now + pending if target is not None else NEVER
                        busy[cpu] = False
                        if runner is not None:  # parked from here (a switch back finds us so)
                            # one wake event per thread, made pending again at each park:
                            # its last use is over (it was processed or run directly)
                            wake = runner.wake
                            wake.callbacks = []
                            wake._value = PENDING
                        if target is not None:
                            self._resume(self.runners[target], pending)
                            others_min = None  # it may have run, and handed locks over
                        elif self.pending_irqs[cpu] or self.resched[cpu]:
                            self._ipi_arrive(cpu)  # idle, with an interrupt waiting
                        pending = 0
                        if runner is not None:
                            yield wake  # paused: the count resumes on our return
                            others_min = None
                            cpu = runner.thread.cpu
                            busy[cpu] = True
                            held = self.held[cpu]
                            others = self._others[cpu]
                            # woken early: the cycles of the path that switched to us
                            # have not elapsed yet; they are not ours to count
                            pending = runner.carry
                            runner.carry = 0
                            duration -= pending
                elif kind_of is Sync or kind_of is Kick:
                    # time catches up first: before an unlocked shared access (Sync,
                    # issue 5), and before an IPI leaves (another CPU acts on it)
                    if pending:
                        next_act[cpu] = env._now + pending
                        yield self._wait(cpu, pending)
                        duration += pending
                        pending = 0
                        others_min = None
                    if kind_of is Kick:
                        self._kick(effect.cpu, cpu)
                else:
                    raise TypeError(f"unknown effect {effect!r}")
                effect = next(path)
        except StopIteration as stop:
            busy[cpu] = False
            if held:
                raise RuntimeError(f"kernel path left cpu{cpu} holding {held}") from None
            if kind is not None:
                rows = self.trace.rows  # one record, in trace.ROW order
                rows.append((kind, outcome, outcome_at, cpu,
                             runner.index if runner is not None else IDLE, entry,
                             env._now + pending, duration + pending, lock_wait))
                if len(rows) == TRACE_CHUNK:
                    self.trace.flush()
                if kind == self._measure_kind:
                    self._on_close(entry, env._now + pending)
            if not lookahead and pending:
                next_act[cpu] = env._now + pending
                yield self._wait(cpu, pending)
                pending = 0
            return stop.value, pending

    def _wait(self, cpu: int, delay: int) -> Event:
        """A wait of ``delay`` cycles in kernel mode (or at a trap) on ``cpu``.

        A Timeout without building one: the CPU's one event, made pending again
        (the same queue entry as a Timeout, so the same results). Kernel mode is
        not interruptible and a CPU runs one kernel path at a time, so its last
        wait has always been processed by then.
        """
        if delay < 0:
            raise ValueError(f"cpu{cpu}: a wait of {delay} cycles")
        wait = self._waits[cpu]
        if wait.callbacks is not None:
            raise RuntimeError(f"cpu{cpu} waits in kernel mode twice at once")
        wait.callbacks = []
        wait._ok = True
        wait._value = None
        env = self.env
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), wait))
        return wait

    def _resume(self, runner: Runner, delay: int) -> None:
        """Continue a parked thread ``delay`` cycles from now.

        Without lookahead: one event, ``delay`` cycles from now. With it, the
        thread runs now, ``delay`` cycles in debt (its ``carry``): its kernel
        continuation and user code fold them into their first delay, and its
        CPU's next action is known at once, so other CPUs need not stop to
        wait for the switch to elapse.
        """
        wake = runner.wake
        if wake is None or wake._value is not PENDING:  # not parked, or already woken
            raise RuntimeError(f"thread {runner.thread.name} switched to but not parked")
        wake._ok = True
        wake._value = None
        env = self.env
        if not self.eager_resume:
            env.schedule(wake, delay=delay)
            return
        runner.carry = delay
        process = runner.process
        if self._resuming or process._target is not wake:
            env.schedule(wake)  # from inside a resumption: as an event, at this instant
            return
        # Run the thread now, as SimPy would when it processes `wake` at this
        # instant, without the event's round trip through the queue: one event
        # fewer per switch. Once at a time (no nesting: the thread it switches
        # to next goes through the queue).
        wake.callbacks = None  # processed: the queue never sees it
        active = env._active_proc
        self._resuming = True
        try:
            # what Process._resume(wake) does, for a thread process (which never
            # ends, and always waits next on an event not yet processed)
            env._active_proc = process
            target = process._generator.send(None)
            if target.callbacks is None:  # (processed already: SimPy's own loop)
                process._resume(target)
            else:
                target.callbacks.append(process._resume)
                process._target = target
        finally:
            self._resuming = False
            env._active_proc = active

    def _grant(self, cpu: int, lock: Lock) -> int:
        """Make ``cpu`` the holder of a free lock; returns the acquisition's cost."""
        lock.holder = cpu
        self.held[cpu].append(lock)
        spin: SpinState = lock.sim
        spin.held_from = self.env.now
        costs = self.costs
        if spin.last_cpu is not None and spin.last_cpu != cpu:
            return costs.lock_acquire + lock.lines * costs.line_transfer
        return costs.lock_acquire

    def _acquire(self, cpu: int, lock: Lock):
        """Spin until ``lock`` is ours; returns the cycles the acquisition costs."""
        if self.check_lock_order:
            check_order(self.held[cpu], lock)
        spin: SpinState = lock.sim
        costs = self.costs
        env = self.env
        if lock.holder is None and not spin.waiters:
            if spin.free_at <= env._now:
                return self._grant(cpu, lock)
            # released at the holder's local time, still ahead: it changes hands then
            handover = env.timeout(spin.free_at - env._now)
            handover.callbacks.append(lambda _event: self._hand_over(lock))
        granted = env.event()
        spin.waiters.append((cpu, granted))
        # a waiter acts only once granted: after its lock's holder acts (or at free_at)
        self.next_act[cpu] = spin.free_at if lock.holder is None else NEVER
        self.spinning_on[cpu] = lock
        contenders = yield granted  # the releaser made us the holder
        self.spinning_on[cpu] = None
        self.held[cpu].append(lock)
        return (handoff_cost(self.design, costs.lock_handoff, contenders)
                + lock.lines * costs.line_transfer)

    def _hand_over(self, lock: Lock) -> None:
        """Give a released lock to the waiter its design picks."""
        spin: SpinState = lock.sim
        contenders = 1 + len(spin.waiters)  # holding or waiting, for the handoff cost
        if self.fifo:
            waiter_cpu, granted = spin.waiters.popleft()
        else:  # test-and-set: whichever spinning CPU wins the line
            pick = int(self.rng.integers(len(spin.waiters)))
            waiter_cpu, granted = spin.waiters[pick]
            del spin.waiters[pick]
        if lock.holder is None:  # released lazily at free_at: a new run of holders
            spin.held_from = self.env.now
        lock.holder = waiter_cpu
        self.next_act[waiter_cpu] = self.env.now
        granted.succeed(contenders)

    def _release(self, cpu: int, lock: Lock, pending: int) -> int:
        """Release ``lock``; returns the cycles the release costs."""
        held = self.held[cpu]
        if not held or held[-1] is not lock:
            if lock not in held:
                raise RuntimeError(f"cpu{cpu} releases {lock.name} it does not hold")
        held.remove(lock)
        spin: SpinState = lock.sim
        spin.last_cpu = cpu
        release = self.costs.lock_release
        if spin.waiters:
            self._hand_over(lock)
        else:
            lock.holder = None
            spin.free_at = self.env.now + pending + release
            if spin.holds is not None:
                spin.holds.append((spin.held_from, spin.free_at))
        return release

