"""The kernel scheduler: per-CPU ready queues by priority, round-robin within one.

All of it is protected by the global scheduler lock: it decides what runs
next and where, which is why every fastpath commit takes that lock first.
"""

from __future__ import annotations

from collections import deque

from l4sim.kernel.objects import Thread, ThreadState


class Scheduler:
    """Ready queues and the thread currently running on each CPU."""

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus
        self.current: list[Thread | None] = [None] * cpus
        self._ready: list[dict[int, deque[Thread]]] = [{} for _ in range(cpus)]
        # issue 5: told of every change to the scheduler's (global, shared) state
        self.monitor = None

    def make_ready(self, thread: Thread) -> None:
        """Put ``thread`` at the tail of its CPU's queue for its priority."""
        thread.state = ThreadState.READY
        if self.monitor is not None:  # issue 5 hook
            self.monitor.write_scheduler()
        queues = self._ready[thread.cpu]
        queue = queues.get(thread.priority)
        if queue is None:
            queue = queues[thread.priority] = deque()
        queue.append(thread)

    def highest_ready(self, cpu: int) -> int | None:
        """Priority of the best ready thread on ``cpu``, or None if none is ready."""
        best = None
        for priority, queue in self._ready[cpu].items():
            if queue and (best is None or priority > best):
                best = priority
        return best

    def pick_next(self, cpu: int) -> Thread | None:
        """Dequeue the best ready thread of ``cpu`` and make it current (None: idle)."""
        best = self.highest_ready(cpu)
        if self.monitor is not None:  # issue 5 hook
            self.monitor.write_scheduler()
        if best is None:
            self.current[cpu] = None
            return None
        thread = self._ready[cpu][best].popleft()
        self.run(cpu, thread)
        return thread

    def run(self, cpu: int, thread: Thread) -> None:
        """Make ``thread`` the running thread of ``cpu`` (it must not be queued)."""
        if self.monitor is not None:  # issue 5 hook
            self.monitor.write_scheduler()
        thread.state = ThreadState.RUNNING
        self.current[cpu] = thread

    def ready_threads(self, cpu: int) -> list[Thread]:
        """The ready threads of ``cpu``, best priority first (for inspection)."""
        return [t for p in sorted(self._ready[cpu], reverse=True) for t in self._ready[cpu][p]]
