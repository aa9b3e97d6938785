"""The effect interpreter: runs one kernel path, turning its effects into time and contention.

Kernel paths are generators of effects (:mod:`l4sim.kernel.effects`): an int
is cycles spent; ``Acquire``/``Release`` take and drop spinlocks; ``Switch``
parks the running thread and resumes another; ``Outcome`` names the path and
its exit point for the record; ``Sync`` and ``Kick`` make time catch up
before an unlocked shared access or an IPI. The interpreter keeps the cycles
spent but not yet elapsed (``pending``) and turns them into a wait only when
another CPU could observe the difference (lookahead, :mod:`l4sim.sim.lookahead`):
every rule is exact, the records equal those of flushing every effect to the
clock (``lookahead=False``, tested). At the end of a path it writes the
kernel entry's record.

A free lock is granted without an event when no other CPU can act before
the path has it: every other CPU's next action (``next_act``; NEVER while it
spins, since it acts only once its lock's holder does), IPI and interrupt
lie strictly later (``Lookahead.others_quiet``, inline in ``run_path``).

The same rule settles two contended cases without letting the path's cycles
elapse first. A lock another CPU holds, asked for at the path's local time
while no other CPU can act until then: the holder cannot release it and
nobody can join its queue before that time, so the path queues now exactly
where it would queue then, and waits for its grant (the holder's release,
which comes later still). A lock released at the local time while CPUs wait
for it and no other CPU can act until then: the waiter its design picks is
the one it would pick then (nobody joins or leaves the queue; test-and-set
draws from the machine's generator, which nothing else draws from before
then), so the lock is handed over now, its grant queued for that time. The
release must cost cycles: the path's next wait then ends strictly later, and
the waiter runs before it, as it would if the path had stopped to wait.

An unlocked shared access (``Sync``) and an IPI (``Kick``) wait for the clock
only if some event is due by the path's local time: with none, nothing at all
happens before then (no other CPU, no interrupt, no timer), so the access
reads what it would read then, and the IPI, stamped with the local time,
takes the place in SimPy's queue it would take then (no event id is drawn
in between). The invariant monitor reads the clock at each of them: while
it watches, they always wait.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from l4sim.kernel.effects import Acquire, Kick, Outcome, Release, Switch, Sync
from l4sim.kernel.locks import Lock, ensure_lock_order
from l4sim.sim.lookahead import NEVER
from l4sim.sim.simpy_internals import (
    Event,
    Waits,
    nothing_due_by,
    park,
    processed_event,
    schedule_rearmed,
)
from l4sim.sim.spinlock import SpinState, handoff_cost
from l4sim.sim.threads import ThreadRunner
from l4sim.sim.trace import IDLE, TraceBuffer

if TYPE_CHECKING:
    import numpy as np

    from l4sim.kernel.effects import Effect
    from l4sim.sim.invariants import Monitor
    from l4sim.sim.machine import Machine

try:
    import cython
except ImportError:  # no Cython: its declarations below mean nothing
    from l4sim.sim.no_cython import cython  # type: ignore[no-redef]

TRACE_CHUNK = TraceBuffer.CHUNK


class KernelWaits:
    """Each CPU's waits in kernel mode: the clock catching up with the cycles it spent."""

    def __init__(self, machine: Machine) -> None:
        self.env = machine.env
        self.next_act = machine.next_act
        self.waits = [processed_event(self.env) for _ in range(machine.cpus)]  # see wait()

    def elapse(self, cpu: int, delay: int) -> Event:
        """Let the clock catch up with ``delay`` cycles ``cpu`` spent: the wait (:meth:`wait`)."""
        self.next_act[cpu] = self.env.now + delay
        return self.wait(cpu, delay)

    def wait(self, cpu: int, delay: int) -> Event:
        """A wait of ``delay`` cycles in kernel mode (or at a trap) on ``cpu``.

        A Timeout without building one: the CPU's one wait event, rearmed (the
        same queue entry as a Timeout). Kernel mode is not interruptible and a
        CPU runs one path at a time, so its last wait has been processed by then.
        """
        if delay < 0:
            raise ValueError(f"cpu{cpu}: a wait of {delay} cycles")
        wait = self.waits[cpu]
        if wait.callbacks is not None:
            raise RuntimeError(f"cpu{cpu} waits in kernel mode twice at once")
        # (reachable: callbacks is None once processed, which SimPy's types omit)
        return schedule_rearmed(self.env, wait, delay)  # type: ignore[unreachable]


class PathInterpreter(KernelWaits):
    """Runs the kernel paths of one machine's CPUs (one at a time per CPU)."""

    def __init__(self, machine: Machine, rng: np.random.Generator) -> None:
        super().__init__(machine)
        costs = self.costs = machine.costs
        cpus = machine.cpus
        self.held = machine.held
        interrupts = self.interrupts = machine.interrupts
        self.busy = interrupts.busy
        self.resched = interrupts.resched
        self.pending_irqs = interrupts.pending_irqs
        self.ipi_due = interrupts.ipi_due
        self.irq_due = interrupts.irq_due
        self.lookahead = machine.lookahead
        self.others = self.lookahead.others
        self.lookahead_on = machine.lookahead_enabled
        self.locks = machine.locks  # the contended side of the spinlock protocol
        self.design = machine.locks.design
        self.lock_costs = (costs.lock_acquire, costs.lock_release, costs.line_transfer)
        self.enforce_lock_order = True
        self.threads = machine.threads
        self.runners = machine.runners
        self.trace = machine.trace
        self.window = machine.window
        self.measure_kind = machine.window.kind
        self.monitor: Monitor | None = None  # the invariant monitor, if one watches the run
        # hardware timing noise on every kernel entry (the profile's entry_jitter),
        # one stream per CPU: a CPU's noise must not depend on the order in which
        # the simulator happens to process different CPUs' events
        self.noise = [random.Random(int(seed)).random for seed in rng.integers(2**63, size=cpus)]
        self.jitter_span = costs.entry_jitter + 1

    # compiled: cycles and CPU numbers as C integers, locks as structs (same values)
    @cython.locals(
        cpu=cython.int,
        pending=cython.longlong,
        now=cython.longlong,
        entry=cython.longlong,
        base=cython.longlong,
        lock_wait=cython.longlong,
        at=cython.longlong,
        free_at=cython.longlong,
        until=cython.longlong,
        waited=cython.longlong,
        cost=cython.longlong,
        start=cython.longlong,
        acquire_cost=cython.longlong,
        release_cost=cython.longlong,
        line_transfer=cython.longlong,
        spin=SpinState,
        runner=ThreadRunner,
        lock=Lock,
        top=Lock,
        next_act=cython.longlong[::1],
    )
    def run_path(  # noqa: C901 (the compiled engine loop: one frame per path, on purpose)
        self,
        cpu: int,
        runner: ThreadRunner | None,
        kind: str | None,
        path: Generator[Effect, None, Any],
        pending: int = 0,
    ) -> Waits[tuple[Any, int]]:
        """Run one kernel path: charge its time, spin for its locks, switch threads.

        ``pending``: cycles spent but not yet elapsed in simulated time (turned
        into a wait only when another CPU could observe the difference).
        Returns (the path's value, cycles still pending), which the caller
        folds into its next delay.
        """
        env = self.env
        monitor = self.monitor
        if monitor is not None:  # the invariant monitor watches every effect
            path = monitor.wrap(cpu, runner, kind, path)
        # the clock moves only while this path waits (at its yields): read it after each
        now = env.now
        entry = now + pending  # the record's entry cycle (written when it closes)
        outcome = None
        outcome_at = -1
        # the path's duration is now + base: time elapsed while it runs, plus the
        # cycles it has spent and the clock not yet shown, minus pauses. The
        # pending cycles handed in belong to the previous path (already in its
        # record): count this path's duration from where they end
        base = -pending - now
        pending += int(self.noise[cpu]() * self.jitter_span)
        lock_wait = 0
        lookahead = self.lookahead_on
        busy = self.busy
        busy[cpu] = True
        held = self.held[cpu]
        others = self.others[cpu]
        next_act = self.next_act
        ipi_due = self.ipi_due
        irq_due = self.irq_due
        acquire_cost, release_cost, line_transfer = self.lock_costs
        others_min = None  # many CPUs: the others' earliest next action, while it holds
        try:
            # (Any: dispatched on its class, kept in kind_of, which the checker does not follow)
            effect: Any = next(path)
            while True:
                kind_of = type(effect)
                if kind_of is int:  # Spend
                    pending += effect
                elif kind_of is Acquire:
                    for lock in effect.locks:
                        spin = lock.sim
                        holder = lock.holder
                        free = holder is None and not spin.waiters
                        quiet = False
                        if lookahead and (free or (holder is not None and holder != cpu)):
                            at = now + pending
                            free_at = spin.free_at
                            # a free lock: ours from our local time or its release, the
                            # later; another CPU's: we queue for it at our local time
                            until = at if not free or free_at <= at else free_at
                            # others_quiet(cpu, until), inline: the hottest test of all
                            quiet = True
                            if others is None:  # many CPUs: their earliest action, in C
                                if others_min is None:  # (fixed while only we run)
                                    others_min = self.lookahead.earliest_other_action(cpu)
                                interrupts = self.interrupts
                                quiet = (
                                    others_min > until
                                    and interrupts.ipi_next > until
                                    and interrupts.irq_next > until
                                )
                            else:
                                for other in others:
                                    if next_act[other] <= until or ipi_due[other] <= until:
                                        quiet = False
                                        break
                                    due = irq_due[other]
                                    if due and due[0] <= until:
                                        quiet = False
                                        break
                            if quiet and free:
                                # nobody else can act before we have it: granted at our
                                # local time, or, if its last holder released it later
                                # (at its own local time), handed over to us then
                                if held:
                                    top = held[-1]
                                    if top.order_key >= lock.order_key and self.enforce_lock_order:
                                        ensure_lock_order(held, lock)  # raises, naming both
                                lock.holder = cpu
                                held.append(lock)
                                if free_at <= at:
                                    spin.held_from = at
                                    last = spin.last_cpu
                                    pending += (
                                        acquire_cost
                                        if last is None or last == cpu
                                        else acquire_cost + lock.lines * line_transfer
                                    )
                                    continue
                                # as hand_over would at free_at, with us the only waiter
                                spin.held_from = free_at  # (a one-waiter pick draws nothing)
                                cost = (
                                    handoff_cost(self.design, self.costs.lock_handoff, 2)
                                    + lock.lines * line_transfer
                                )
                                waited = free_at - at
                                lock_wait += waited + cost
                                pending += waited + cost
                                continue
                        # time catches up: another CPU may grant it; unless (quiet) it is held
                        # by a CPU acting only after our local time: we queue now, as then
                        start = now + pending
                        if pending and not quiet:
                            yield self.elapse(cpu, pending)
                        cost = yield from self.locks.acquire(cpu, lock)
                        now = env.now
                        if now < start:  # (cannot be: its holder acts after our local time)
                            raise RuntimeError(f"cpu{cpu} granted {lock.name} before it asked")
                        pending = 0  # elapsed by the grant
                        others_min = None  # other CPUs ran meanwhile
                        waited = now - start
                        if waited:
                            lock_wait += waited + cost
                        pending += cost
                elif kind_of is Release:
                    for lock in effect.locks:
                        spin = lock.sim
                        if spin.waiters:
                            # a waiter takes it at our local time: time catches up, unless
                            # nobody else can act before then (handed over now, for then)
                            if pending:
                                if (
                                    release_cost
                                    and lookahead
                                    and self.lookahead.others_quiet(cpu, now + pending)
                                ):
                                    next_act[cpu] = now + pending  # (as the wait would set it)
                                else:
                                    yield self.elapse(cpu, pending)
                                    now = env.now
                                    pending = 0
                            pending += self.locks.release(cpu, lock, pending)
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
                        free_at = spin.free_at = now + pending
                        if spin.holds is not None:
                            spin.holds.append((spin.held_from, free_at))
                elif kind_of is Outcome:
                    if outcome is None:  # the first outcome wins: a fallback names its check
                        outcome = effect
                        outcome_at = now + base + pending
                elif kind_of is Switch:
                    if held:
                        raise RuntimeError(f"cpu{cpu} switches while holding {held}")
                    target = effect.to
                    if runner is None or target is not runner.thread:
                        if target is None and pending:
                            # idle only once the path's last cycles have elapsed: an IPI
                            # must not make this CPU dispatch before its path has ended
                            yield self.elapse(cpu, pending)
                            now = env.now
                            pending = 0
                            others_min = None
                        base += pending  # ours, though they elapse in the next thread's time
                        next_act[cpu] = now + pending if target is not None else NEVER
                        busy[cpu] = False
                        if runner is not None:  # parked from here (a switch back finds us so)
                            # one wake event per thread, made pending again at each park:
                            # its last use is over (it was processed or run directly)
                            park(runner.wake)
                        if target is not None:
                            self.threads.resume(self.runners[target], pending)
                            others_min = None  # it may have run, and handed locks over
                        elif self.pending_irqs[cpu] or self.resched[cpu]:
                            self.interrupts.ipi_arrive(cpu)  # idle, with an interrupt waiting
                        pending = 0
                        if runner is not None:
                            start = now
                            yield runner.wake  # paused: the count resumes on our return
                            now = env.now
                            base -= now - start  # the pause is not the path's time
                            others_min = None
                            cpu = runner.thread.cpu
                            busy[cpu] = True
                            held = self.held[cpu]
                            others = self.others[cpu]
                            # woken early: the cycles of the path that switched to us
                            # have not elapsed yet; they are not ours to count
                            pending = runner.carry
                            runner.carry = 0
                            base -= pending
                elif kind_of is Sync or kind_of is Kick:
                    # time catches up first: before an unlocked shared access (Sync),
                    # and before an IPI leaves (another CPU acts on it); unless no
                    # event at all is due by our local time (then nothing can happen
                    # before it: the access or the IPI happens now, at that time)
                    if pending:
                        if lookahead and monitor is None and nothing_due_by(env, now + pending):
                            next_act[cpu] = now + pending  # (as the wait would set it)
                        else:
                            yield self.elapse(cpu, pending)
                            now = env.now
                            pending = 0
                            others_min = None
                    if kind_of is Kick:
                        self.interrupts.kick(effect.cpu, cpu, pending)
                else:
                    raise TypeError(f"unknown effect {effect!r}")
                effect = next(path)
        except StopIteration as stop:
            busy[cpu] = False
            if held:
                raise RuntimeError(f"kernel path left cpu{cpu} holding {held}") from None
            if kind is not None:
                rows = self.trace.rows  # one record, in trace.ROW order
                rows.append(
                    (
                        kind,
                        outcome,
                        outcome_at,
                        cpu,
                        runner.index if runner is not None else IDLE,
                        entry,
                        now + pending,
                        now + base + pending,
                        lock_wait,
                    )
                )
                if len(rows) == TRACE_CHUNK:
                    self.trace.flush()
                if kind == self.measure_kind:
                    self.window.on_close(entry, now + pending)
            if not lookahead and pending:
                yield self.elapse(cpu, pending)
                pending = 0
            return stop.value, pending
