"""The spinlock protocol: granting, spinning, handing over, releasing; and the designs.

A CPU spins by waiting on an event while it stays busy (never by polling);
the cache-line handoff is charged explicitly. A design (the kernel's
``LOCK_DESIGNS``) decides the order of service and the cycles a contended
grant costs, before the data the lock protects migrates (charged on top):

- ``tas``: test-and-set; a random spinning CPU wins; constant handoff.
- ``ticket``: FIFO; every waiter re-reads the shared ticket word, so with
  ``k`` CPUs holding or waiting a handoff costs ``handoff * k / 2``
  (Boyd-Wickizer et al., "Non-scalable locks are dangerous", 2012).
- ``mcs``, ``clh``: FIFO queue locks; each waiter spins on its own line, so
  the handoff is constant whatever the queue length.

Whatever the design, each CPU still spinning after a contended grant adds the
profile's ``lock_spinner_drag`` to it (0 unless a profile gives it): spinners
keep copies of the lock's and the kernel's shared lines that the new holder's
stores must invalidate again.

It also records a lock's hold times when a workload asks (the lock
microbenchmark's utilisation).

An uncontended acquisition or release that no other CPU could observe is
applied without an event by the effect interpreter itself
(:mod:`l4sim.sim.interpreter`, the lookahead fast path); everything else comes here.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from l4sim.kernel.locks import FIFO_DESIGNS, LOCK_DESIGNS, Lock, ensure_lock_order
from l4sim.sim.lookahead import NEVER
from l4sim.sim.simpy_internals import call_later, new_event, succeed, succeed_next

if TYPE_CHECKING:
    from array import array

    import numpy as np

    from l4sim.kernel.costs import Costs
    from l4sim.sim.simpy_internals import Clock, Event, Waits

try:
    import cython
except ImportError:  # no Cython: its declarations below mean nothing
    from l4sim.sim.no_cython import cython  # type: ignore[no-redef]


def is_fifo(design: str) -> bool:
    """Waiters are served in arrival order (every design but test-and-set)."""
    if design not in LOCK_DESIGNS:
        raise ValueError(f"unknown lock design {design!r} (known: {', '.join(LOCK_DESIGNS)})")
    return design in FIFO_DESIGNS


def handoff_cost(design: str, handoff: int, contenders: int) -> int:
    """Cycles of a contended grant with ``contenders`` CPUs holding or waiting (>= 2)."""
    if design == "ticket":
        return handoff * contenders // 2
    return handoff


class SpinState:
    """Simulator-side state of one spinlock."""

    __slots__ = ("free_at", "held_from", "holds", "last_cpu", "waiters")

    def __init__(self) -> None:
        self.waiters: deque[tuple[int, Event]] = deque()  # (cpu, event), in arrival order
        self.last_cpu: int | None = None
        self.free_at = 0  # a lazily applied release: still held until this cycle
        self.held_from = 0  # when the current run of holders began
        # (from, to) of every run of holders that ended, if a workload asked
        # for this lock's hold times (None: not recorded)
        self.holds: list[tuple[int, int]] | None = None

    def held_between(self, start: int, end: int, held_now: bool) -> int:
        """Cycles the lock was held within [start, end] (``held_now``: a run still going on).

        Exact with lookahead too: a run is clipped to the window whenever the
        simulator happened to process its release.
        """
        runs = list(self.holds or ())
        if held_now:
            runs.append((self.held_from, end))
        return sum(max(0, min(end, to) - max(start, since)) for since, to in runs)


class SpinLocks:
    """The contended side of the spinlock protocol for one machine.

    ``held[cpu]`` are the locks each CPU holds, in the order taken;
    ``spinning_on[cpu]`` the lock it waits for; ``next_act[cpu]`` when it may
    next touch shared state (NEVER while it waits: it acts only once granted).
    """

    def __init__(
        self,
        env: Clock,
        costs: Costs,
        design: str,
        rng: np.random.Generator,
        held: list[list[Lock]],
        next_act: array[int],
        spinning_on: list[Lock | None],
    ) -> None:
        self.env = env
        self.costs = costs
        self.design = design
        self.fifo = is_fifo(design)
        self.rng = rng  # test-and-set: which spinning CPU wins the line
        self.held = held
        self.next_act = next_act
        self.spinning_on = spinning_on
        self.enforce_lock_order = True  # refuse an acquisition that breaks the lock order

    # (compiled build: a lock's simulator state as its struct, cycles as C integers)
    @cython.locals(cpu=cython.int, spin=SpinState, lock=Lock)
    def grant(self, cpu: int, lock: Lock) -> int:
        """Make ``cpu`` the holder of a free lock; returns the acquisition's cost."""
        lock.holder = cpu
        self.held[cpu].append(lock)
        spin: SpinState = lock.sim
        spin.held_from = self.env.now
        costs = self.costs
        if spin.last_cpu is not None and spin.last_cpu != cpu:
            return costs.lock_acquire + lock.lines * costs.line_transfer
        return costs.lock_acquire

    @cython.locals(cpu=cython.int, spin=SpinState, now=cython.longlong)
    def acquire(self, cpu: int, lock: Lock) -> Waits[int]:
        """Spin until ``lock`` is ours; returns the cycles the acquisition costs."""
        if self.enforce_lock_order:
            ensure_lock_order(self.held[cpu], lock)
        spin: SpinState = lock.sim
        costs = self.costs
        env = self.env
        now = env.now
        if lock.holder is None and not spin.waiters:
            if spin.free_at <= now:
                return self.grant(cpu, lock)
            # released at the holder's local time, still ahead: it changes hands then
            call_later(env, spin.free_at - now, lambda _event: self.hand_over(lock, 0, True))
        granted = new_event(env)
        spin.waiters.append((cpu, granted))
        # a waiter acts only once granted: after its lock's holder acts (or at free_at)
        self.next_act[cpu] = spin.free_at if lock.holder is None else NEVER
        self.spinning_on[cpu] = lock
        contenders: int = yield granted  # the releaser made us the holder
        self.spinning_on[cpu] = None
        self.held[cpu].append(lock)
        # the CPUs still spinning behind us slow our first stores to the shared lines
        return (
            handoff_cost(self.design, costs.lock_handoff, contenders)
            + lock.lines * costs.line_transfer
            + costs.lock_spinner_drag * (contenders - 2)
        )

    @cython.locals(spin=SpinState, now=cython.longlong, lock=Lock, delay=cython.longlong)
    def hand_over(self, lock: Lock, delay: int = 0, last: bool = False) -> None:
        """Give a released lock to the waiter its design picks, ``delay`` cycles from now.

        The waiter is granted it then (its event is queued for that cycle), and
        acts from then on. A delay is exact only if no other CPU can act before
        then (the caller knows): nobody can join the queue or see the lock.
        ``last``: called as the last act of an event's callback (a release at
        a holder's local time, applied when it comes): the waiter may run at
        once (:func:`~l4sim.sim.simpy_internals.succeed_next`).
        """
        spin: SpinState = lock.sim
        contenders = 1 + len(spin.waiters)  # holding or waiting, for the handoff cost
        if self.fifo:
            waiter_cpu, granted = spin.waiters.popleft()
        else:  # test-and-set: whichever spinning CPU wins the line
            pick = int(self.rng.integers(len(spin.waiters)))
            waiter_cpu, granted = spin.waiters[pick]
            del spin.waiters[pick]
        now = self.env.now + delay
        if lock.holder is None:  # released lazily at free_at: a new run of holders
            spin.held_from = now
        lock.holder = waiter_cpu
        self.next_act[waiter_cpu] = now
        if last:
            succeed_next(self.env, granted, contenders)
        else:
            succeed(self.env, granted, contenders, delay)

    @cython.locals(cpu=cython.int, pending=cython.longlong, spin=SpinState, lock=Lock)
    def release(self, cpu: int, lock: Lock, pending: int) -> int:
        """Release ``lock`` ``pending`` cycles from now; returns the cycles the release costs.

        A waiter is handed the lock then (:meth:`hand_over`): with waiters, the
        caller lets the pending cycles elapse first unless no other CPU can act
        before they have.
        """
        held = self.held[cpu]
        if (not held or held[-1] is not lock) and lock not in held:
            raise RuntimeError(f"cpu{cpu} releases {lock.name} it does not hold")
        held.remove(lock)
        spin: SpinState = lock.sim
        spin.last_cpu = cpu
        release = self.costs.lock_release
        if spin.waiters:
            self.hand_over(lock, pending)
        else:
            lock.holder = None
            spin.free_at = self.env.now + pending + release
            if spin.holds is not None:
                spin.holds.append((spin.held_from, spin.free_at))
        return release
