"""The kernel scheduler: per-CPU ready queues by priority, round-robin within one.

All of it is protected by the global scheduler lock: it decides what runs
next and where, which is why every fastpath commit takes that lock first.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from l4sim.kernel.objects import READY, RUNNING, Thread

if TYPE_CHECKING:
    from l4sim.kernel.state import StateMonitor


class Scheduler:
    """Ready queues and the thread currently running on each CPU."""

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus
        self.current: list[Thread | None] = [None] * cpus
        self._ready: list[dict[int, deque[Thread]]] = [{} for _ in range(cpus)]
        # bit p set: a thread of priority p is ready on that CPU (the ready bitmap
        # of OKL4 and seL4: the best priority is its highest set bit)
        self._ready_bitmap: list[int] = [0] * cpus
        # the invariant monitor, told of every change to the scheduler's shared state
        self.monitor: StateMonitor | None = None

    def make_ready(self, thread: Thread) -> None:
        """Put ``thread`` at the tail of its CPU's queue for its priority."""
        thread.state = READY
        if self.monitor is not None:  # the scheduler's shared state changes
            self.monitor.write_scheduler()
        queue = self._ready[thread.cpu].get(thread.priority)
        if queue is None:
            if thread.priority < 0:
                raise ValueError(f"thread {thread.name}: negative priority {thread.priority}")
            queue = self._ready[thread.cpu][thread.priority] = deque()
        queue.append(thread)
        self._ready_bitmap[thread.cpu] |= 1 << thread.priority

    def highest_ready(self, cpu: int) -> int | None:
        """Priority of the best ready thread on ``cpu``, or None if none is ready."""
        bits = self._ready_bitmap[cpu]
        return bits.bit_length() - 1 if bits else None

    def pick_next(self, cpu: int) -> Thread | None:
        """Dequeue the best ready thread of ``cpu`` and make it current (None: idle)."""
        best = self.highest_ready(cpu)
        if self.monitor is not None:  # the scheduler's shared state changes
            self.monitor.write_scheduler()
        if best is None:
            self.current[cpu] = None
            return None
        thread = self._ready[cpu][best].popleft()
        if not self._ready[cpu][best]:
            self._ready_bitmap[cpu] &= ~(1 << best)
        self.run(cpu, thread)
        return thread

    def run(self, cpu: int, thread: Thread) -> None:
        """Make ``thread`` the running thread of ``cpu`` (it must not be queued)."""
        if self.monitor is not None:  # the scheduler's shared state changes
            self.monitor.write_scheduler()
        thread.state = RUNNING
        self.current[cpu] = thread
