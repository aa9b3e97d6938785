"""The trace buffer: one record per kernel entry, stored column by column.

Like the paper's in-kernel trace buffer: a record opens at kernel entry and
closes at the return to user mode (it is written then; entries still open
when a run ends are not in the buffer). Its ``duration`` counts only cycles the
kernel executes for it (including spinning on locks): while the operation is
blocked the count pauses, and it resumes when the operation continues.
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd

IDLE = -1  # the thread of an entry taken on an idle CPU (an interrupt): none
INT_COLUMNS = ("outcome_at", "cpu", "thread", "entry", "closed", "duration", "lock_wait")
ROW = ("kind", "outcome", *INT_COLUMNS)  # the order of a staged record's fields

_KIND, _OUTCOME = itemgetter(0), itemgetter(1)
_INTS = itemgetter(*range(2, len(ROW)))


class TraceBuffer:
    """Columnar kernel-entry records: int64 arrays, and the shared kind/outcome objects.

    The simulator stages each closed record as a row in ``rows`` (one append,
    the cheapest thing on its hot path); every ``CHUNK`` rows move into the
    columns, so at most one chunk of rows exists at a time. Columns:
    ``kind``, ``outcome`` (the path's Outcome effect: path, exit point, check
    mask; None if it had none), ``outcome_at`` (kernel cycles spent when the
    outcome was decided; -1: none), ``cpu``, ``thread`` (an index; ``IDLE``
    for an interrupt taken on an idle CPU), ``entry``, ``closed`` (the cycle
    it returned to user mode), ``duration``, ``lock_wait``.
    """

    CHUNK = 4096

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # staged records, fields in ROW order
        self._objects: dict[str, list] = {"kind": [], "outcome": []}
        self._chunks: dict[str, list[np.ndarray]] = {name: [] for name in INT_COLUMNS}

    def flush(self) -> None:
        """Move the staged rows into the columns."""
        if not self.rows:
            return
        rows = self.rows
        self._objects["kind"].extend(map(_KIND, rows))
        self._objects["outcome"].extend(map(_OUTCOME, rows))
        # the int fields of every row, row after row, into one (rows x columns) array
        width = len(INT_COLUMNS)
        ints = np.fromiter(chain.from_iterable(map(_INTS, rows)), dtype=np.int64,
                           count=width * len(rows)).reshape(len(rows), width)
        for index, name in enumerate(INT_COLUMNS):
            self._chunks[name].append(ints[:, index])
        rows.clear()

    def column(self, name: str):
        """One column: an int64 array, or a list of shared objects (kind, outcome)."""
        self.flush()
        if name in self._objects:
            return self._objects[name]
        chunks = self._chunks[name]
        if len(chunks) > 1:  # keep one array: later calls need not concatenate again
            chunks[:] = [np.concatenate(chunks)]
        return chunks[0] if chunks else np.zeros(0, dtype=np.int64)

    kind = property(lambda self: self.column("kind"))
    outcome = property(lambda self: self.column("outcome"))
    outcome_at = property(lambda self: self.column("outcome_at"))
    cpu = property(lambda self: self.column("cpu"))
    thread = property(lambda self: self.column("thread"))
    entry = property(lambda self: self.column("entry"))
    duration = property(lambda self: self.column("duration"))
    lock_wait = property(lambda self: self.column("lock_wait"))
    closed = property(lambda self: self.column("closed"))

    def __len__(self) -> int:
        return len(self._objects["kind"]) + len(self.rows)

    def to_frame(self, since: int = 0, threads: list[str] | None = None,
                 until: int | None = None) -> pd.DataFrame:
        """Records entered at or after cycle ``since`` (and closed by ``until``), as a DataFrame."""
        entry = self.entry
        keep = entry >= since
        if until is not None:
            keep &= self.closed <= until
        # a canonical order (by entry cycle, then CPU), not the order in which the
        # simulator happened to close the records: lookahead may run a CPU's later
        # entry before another CPU's earlier one. A stable sort of the kept records'
        # positions, so that each column is copied once, already in order
        kept = np.flatnonzero(keep)
        cpu = self.cpu[kept]
        order = kept[np.lexsort((cpu, entry[kept]))]
        del kept, keep, cpu
        # kinds and outcomes are a few shared objects: group them by identity and
        # look at each distinct one once
        outcomes, outcome_codes = _distinct(self.outcome, order)
        frame = pd.DataFrame({
            "kind": _categorical(*_distinct(self.kind, order)),
            "path": _categorical([o.path if o else "none" for o in outcomes], outcome_codes),
            "exit_point": _categorical([o.exit_point if o else "none" for o in outcomes],
                                       outcome_codes),
            "cpu": self.cpu[order].astype(np.int16),
            "thread": self.thread[order].astype(np.int32),
            "entry": entry[order],
            "duration": self.duration[order],
            "lock_wait": self.lock_wait[order],
            "outcome_cycles": self.outcome_at[order],
        })
        # the check profile's pass mask (-1: not profiled, or not a fastpath attempt)
        masks = [o.mask if o is not None and o.mask is not None else -1 for o in outcomes]
        frame["check_mask"] = np.asarray(masks or [-1], dtype=np.int64)[outcome_codes]
        if threads is not None:
            thread = frame["thread"].to_numpy()
            # IDLE (-1): the label after the threads'
            frame["thread_name"] = _categorical([*threads, "idle"],
                                                np.where(thread < 0, len(threads), thread))
        return frame


def _distinct(objects: list, order: np.ndarray) -> tuple[list, np.ndarray]:
    """The distinct objects of ``objects`` (by identity) and, for each one at a position in
    ``order``, the index of its object among them."""
    ids = np.fromiter(map(id, objects), dtype=np.int64, count=len(objects))
    _, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    del ids
    return [objects[index] for index in first], codes.reshape(-1)[order]


def _categorical(labels: list[str], codes: np.ndarray) -> pd.Categorical:
    """A categorical of ``labels[codes]`` whose categories are the sorted labels used."""
    if not labels:
        return pd.Categorical(np.asarray([], dtype=object))
    categories = sorted({labels[code] for code in np.unique(codes)})
    position = {label: index for index, label in enumerate(categories)}
    table = np.asarray([position.get(label, -1) for label in labels], dtype=np.int64)
    return pd.Categorical.from_codes(table[codes], categories=categories)
