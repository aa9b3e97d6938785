"""When each CPU may next touch shared kernel state, with a cheap minimum.

The engine's lookahead asks, at every lock acquisition, whether any other CPU
could act before a given cycle. Scanning every CPU makes that cost grow with
the CPU count; this list keeps a lazy min-heap next to the values, so the
question costs O(log CPUs) whatever the machine's size.

It is a ``list`` (the engine assigns ``next_act[cpu] = t`` as before); each
assignment also pushes ``(t, cpu)`` on the heap, and stale heap entries are
dropped when they reach the top. ``NEVER`` (an idle or spinning CPU) is not
pushed: it can never be the minimum that matters.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush


class ActTimes(list):
    """``next_act`` per CPU, plus ``quiet(cpu, time)`` over the other CPUs."""

    __slots__ = ("_heap", "_never")

    def __init__(self, cpus: int, never: int, initial: int = 0) -> None:
        super().__init__([initial] * cpus)
        self._never = never
        self._heap = [(initial, cpu) for cpu in range(cpus)] if initial < never else []
        heapify(self._heap)

    def __setitem__(self, cpu: int, time: int) -> None:
        list.__setitem__(self, cpu, time)
        if time < self._never:
            heap = self._heap
            heappush(heap, (time, cpu))
            if len(heap) > 64 + 8 * len(self):  # stale entries buried deep: rebuild
                self._heap = [(t, c) for c, t in enumerate(self) if t < self._never]
                heapify(self._heap)

    def others_after(self, cpu: int, time: int) -> bool:
        """Every CPU but ``cpu`` has its next action strictly after ``time``."""
        heap = self._heap
        mine = []
        quiet = True
        while heap:
            top, other = heap[0]
            if list.__getitem__(self, other) != top:
                heappop(heap)  # stale: that CPU's value changed since
                continue
            if top > time:
                break
            if other != cpu:
                quiet = False
                break
            mine.append(heappop(heap))  # our own entry: look below it
        for entry in mine:
            heappush(heap, entry)
        return quiet
