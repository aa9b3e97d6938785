"""The trace buffer: one record per kernel entry, stored column by column.

Like the paper's in-kernel trace buffer: a record opens at kernel entry and
closes at the return to user mode (it is written then; entries still open
when a run ends are not in the buffer). Its ``duration`` counts only cycles the
kernel executes for it (including spinning on locks): while the operation is
blocked the count pauses, and it resumes when the operation continues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class TraceBuffer:
    """Columnar kernel-entry records (lists of ints, strings interned to codes)."""

    def __init__(self) -> None:
        self.kind: list[str] = []
        self.outcome: list = []  # the path's Outcome effect (path, exit point), or None
        self.outcome_at: list[int] = []  # kernel cycles spent when the outcome was decided
        # (-1: none)
        self.cpu: list[int] = []
        self.thread: list[int] = []
        self.entry: list[int] = []
        self.duration: list[int] = []
        self.lock_wait: list[int] = []

    def add(self, kind: str, outcome, outcome_at: int, cpu: int, thread: int, entry: int,
            duration: int, lock_wait: int) -> None:
        """Append one closed record (an entry is written when it returns to user mode)."""
        self.kind.append(kind)
        self.outcome.append(outcome)
        self.outcome_at.append(outcome_at)
        self.cpu.append(cpu)
        self.thread.append(thread)
        self.entry.append(entry)
        self.duration.append(duration)
        self.lock_wait.append(lock_wait)

    def __len__(self) -> int:
        return len(self.kind)

    def to_frame(self, since: int = 0, threads: list[str] | None = None) -> pd.DataFrame:
        """Closed records entered at or after cycle ``since``, as a DataFrame."""
        entry = np.asarray(self.entry, dtype=np.int64)
        duration = np.asarray(self.duration, dtype=np.int64)
        keep = (duration >= 0) & (entry >= since)
        outcomes = [o for o, k in zip(self.outcome, keep, strict=True) if k]

        def categorical(values) -> pd.Categorical:
            return pd.Categorical(np.asarray(values, dtype=object))

        frame = pd.DataFrame({
            "kind": categorical(np.asarray(self.kind, dtype=object)[keep]),
            "path": categorical([o.path if o else "none" for o in outcomes]),
            "exit_point": categorical([o.exit_point if o else "none" for o in outcomes]),
            "cpu": np.asarray(self.cpu, dtype=np.int16)[keep],
            "thread": np.asarray(self.thread, dtype=np.int32)[keep],
            "entry": entry[keep],
            "duration": duration[keep],
            "lock_wait": np.asarray(self.lock_wait, dtype=np.int64)[keep],
            "outcome_cycles": np.asarray(self.outcome_at, dtype=np.int64)[keep],
        })
        # the check profile's pass mask (-1: not profiled, or not a fastpath attempt)
        masks = [o.mask if o is not None and o.mask is not None else -1 for o in outcomes]
        frame["check_mask"] = np.asarray(masks, dtype=np.int64)
        if threads is not None:
            names = np.asarray(threads, dtype=object)
            frame["thread_name"] = pd.Categorical(names[frame["thread"].to_numpy()])
        # a canonical order (by entry cycle, then CPU), not the order in which the
        # simulator happened to open the records: lookahead may open a CPU's later
        # entry before another CPU's earlier one
        return frame.sort_values(["entry", "cpu"], kind="stable", ignore_index=True)
