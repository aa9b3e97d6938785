"""Spinlock designs: who gets a contended lock next, and what the handoff costs.

The engine spins by waiting on events; a design only decides the order of
service and the cycles a contended grant costs (before the data the lock
protects migrates, which the engine charges on top):

- ``tas``: test-and-set; a random spinning CPU wins; constant handoff.
- ``ticket``: FIFO; every waiter re-reads the shared ticket word, so with
  ``k`` CPUs holding or waiting a handoff costs ``handoff * k / 2``
  (Boyd-Wickizer et al., "Non-scalable locks are dangerous", 2012).
- ``mcs``, ``clh``: FIFO queue locks; each waiter spins on its own line, so
  the handoff is constant whatever the queue length.

It also records a lock's hold times when a workload asks (the lock
microbenchmark's utilisation).
"""

from __future__ import annotations

from collections import deque

LOCK_DESIGNS = ("tas", "ticket", "mcs", "clh")
FIFO_DESIGNS = frozenset({"ticket", "mcs", "clh"})


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

    __slots__ = ("waiters", "last_cpu", "free_at", "held_from", "holds")

    def __init__(self) -> None:
        self.waiters: deque = deque()  # (cpu, event), in arrival order
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
