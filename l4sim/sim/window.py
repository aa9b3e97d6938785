"""The measurement window: which kernel entries a run records, and when the run ends.

A run measures one kind of kernel entry (the workload's ``measure_kind``).
The window is defined in the order those entries close in simulated time: it
starts when the ``warmup``-th closes and ends when the ``events``-th of those
that entered after that closes. A point's records are the entries that
entered after the start and closed by the end.

The window also tells a long run's progress: every ``every`` closed entries
of the measured kind it calls a reporter with how many closed since the last
call, up to ``warmup + events`` in all (the run's target), so that a person
watching a single long run sees it advance. Off, it costs one comparison per
closed entry.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

import numpy as np

from l4sim.sim.simpy_internals import Clock, Event, call_after_all

NEVER = 2**62  # a count of closed entries no run reaches: progress off


class MeasurementWindow:
    """Counts closed entries of the measured kind and ends the run once the window is full."""

    def __init__(self, env: Clock, kind: str, warmup: int, events: int) -> None:
        self.env = env
        self.kind = kind  # the kernel-entry kind whose count ends the run
        self.warmup = warmup
        self.events = events
        # the close and entry cycles of each closed measured-kind entry, as int64
        # arrays (16 bytes an entry: a long run closes millions)
        self.closed_at = array("q")
        self.entered_at = array("q")
        self.settle_at: int | None = None  # when the window's end is checked next
        self.next_check = warmup + events  # closes before the window is worked out again
        self.start = 0
        self.end: int | None = None  # when the last measured entry closed
        self.done = env.event()  # triggered once the window is complete
        # called with closed entries since its last call
        self.progress: Callable[[int], object] | None = None
        self.report_every = 0
        self.reported = 0  # closed entries reported so far (at most warmup + events)
        self.next_report = NEVER  # closes at which progress is reported next

    def on_close(self, entry: int, at: int) -> None:
        """An entry of the measured kind closed at local cycle ``at`` (entered at ``entry``).

        With lookahead, entries close in the simulator slightly out of the
        order of simulated time (a CPU runs ahead of the clock), so once enough
        have closed the run goes on until the clock passes the window's end:
        then every entry that closes inside it is recorded, exactly as without
        lookahead.
        """
        closed_at = self.closed_at
        closed_at.append(at)
        self.entered_at.append(entry)
        closed = len(closed_at)
        if closed >= self.next_report:
            self._report(closed)
        if closed >= self.next_check and self.settle_at is None and not self.done.triggered:
            # the end can only move earlier as more entries close: one check at
            # the end found now is enough (then it recomputes)
            _, measured = self.measured_closes()
            if len(measured) < self.events:  # some entered before the warm-up ended
                self.next_check = closed + self.events - len(measured)
            else:
                self._settle_after(measured[self.events - 1])

    def report_progress(self, reporter: Callable[[int], object], every: int) -> None:
        """Call ``reporter(count)`` every ``every`` closed entries of the measured kind."""
        self.progress, self.report_every = reporter, max(1, every)
        self.next_report = min(self.report_every, self.warmup + self.events)

    def _report(self, closed: int) -> None:
        target = self.warmup + self.events
        step = min(closed, target) - self.reported
        self.reported += step
        self.next_report = self.reported + self.report_every if self.reported < target else NEVER
        self.progress(step)  # type: ignore[misc]  # (only with a reporter: next_report)

    def finish_progress(self) -> None:
        """The run is over: report what is left of its target, so each run counts it once."""
        if self.progress is not None:
            left = self.warmup + self.events - self.reported
            self.reported += left
            self.next_report = NEVER
            if left:
                self.progress(left)

    def measured_closes(self) -> tuple[int, list[int]]:
        """The window's start, and the close cycles of the entries measured so far, in order."""
        # in order of (close, entry), as sorting the pairs would order them
        close = np.array(self.closed_at, dtype=np.int64)
        entry = np.array(self.entered_at, dtype=np.int64)
        warmup = self.warmup
        if len(close) < warmup:
            return 0, []
        order = np.lexsort((entry, close))
        close, entry = close[order], entry[order]
        start = int(close[warmup - 1]) if warmup else 0
        later = close[warmup:]
        return start, later[entry[warmup:] >= start].tolist()

    def bounds(self) -> tuple[int, int | None]:
        """(start, end) from the entries closed so far (end None: not reached yet)."""
        start, measured = self.measured_closes()
        return start, measured[self.events - 1] if len(measured) >= self.events else None

    def cut_short(self) -> None:
        """The run stopped before the window was complete: it starts where it got to."""
        self.start = self.bounds()[0]

    def _settle_after(self, end: int | None) -> None:
        """End the run once every event up to cycle ``end`` has happened."""
        if end is None or (self.settle_at is not None and self.settle_at <= end):
            return
        self.settle_at = end
        call_after_all(self.env, end, self._settle)

    def _settle(self, _event: Event) -> None:
        self.settle_at = None
        if self.done.triggered:
            return
        start, end = self.bounds()
        if end is None or end > self.env.now:  # cannot happen: the end only moves earlier
            self._settle_after(end)
            return
        self.start, self.end = start, end
        self.done.succeed()
