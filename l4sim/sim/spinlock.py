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

It also keeps each lock's busy time, for the lock microbenchmark's utilisation.
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

    __slots__ = ("waiters", "last_cpu", "free_at", "held_from", "busy", "busy_mark")

    def __init__(self) -> None:
        self.waiters: deque = deque()  # (cpu, event), in arrival order
        self.last_cpu: int | None = None
        self.free_at = 0  # a lazily applied release: still held until this cycle
        self.held_from = 0  # when the current run of holders began
        self.busy = 0  # cycles held, summed over runs of holders that ended
        self.busy_mark = 0  # ``busy`` when the measurement began

    def mark(self) -> None:
        """The measurement begins: busy time counts from here."""
        self.busy_mark = self.busy

    @property
    def busy_measured(self) -> int:
        """Cycles held since the measurement began (runs counted when they end)."""
        return self.busy - self.busy_mark
