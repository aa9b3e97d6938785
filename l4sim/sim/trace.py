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
from typing import Any

import numpy as np
import pandas as pd

IDLE = -1  # the thread of an entry taken on an idle CPU (an interrupt): none
INT_COLUMNS = ("outcome_at", "cpu", "thread", "entry", "closed", "duration", "lock_wait")
ROW = ("kind", "outcome", *INT_COLUMNS)  # the order of a staged record's fields
OBJECT_COLUMNS = ("kind", "outcome")
# what each column is stored as: kinds and outcomes as codes (an index among the
# distinct objects seen), CPUs and threads as narrow as the frame has them
STORED = {"kind": np.int32, "outcome": np.int32, "cpu": np.int16, "thread": np.int32}

_KIND, _OUTCOME = itemgetter(0), itemgetter(1)
_INTS = itemgetter(*range(2, len(ROW)))


class TraceBuffer:
    """Columnar kernel-entry records: int arrays, and codes of the shared kind/outcome objects.

    The simulator stages each closed record as a row in ``rows`` (one append,
    the cheapest thing on its hot path); every ``CHUNK`` rows move into the
    columns, so at most one chunk of rows exists at a time. Columns:
    ``kind``, ``outcome`` (the path's Outcome effect: path, exit point, check
    mask; None if it had none), ``outcome_at`` (kernel cycles spent when the
    outcome was decided; -1: none), ``cpu``, ``thread`` (an index; ``IDLE``
    for an interrupt taken on an idle CPU), ``entry``, ``closed`` (the cycle
    it returned to user mode), ``duration``, ``lock_wait``. A run has a few
    kinds and outcomes, each one object shared by many records: they are
    stored as codes into the distinct objects (``objects``), so a record
    costs its integers and nothing per object.
    """

    CHUNK = 4096

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []  # staged records, fields in ROW order
        self.release()

    def release(self) -> None:
        """Drop every record (a finished run's trace, once its frame is built).

        A machine is a web of references (CPUs, threads, processes point at
        each other), so it is freed only when the garbage collector next runs;
        the records, the bulk of a long run's memory, need not wait for it.
        """
        self.rows.clear()
        self.objects: dict[str, list[Any]] = {name: [] for name in OBJECT_COLUMNS}
        self._code_of: dict[str, dict[int, int]] = {name: {} for name in OBJECT_COLUMNS}
        # each column one buffer, grown by doubling: a new buffer each time, so a
        # column handed out earlier stays valid, and large enough that it is
        # mapped memory, given back to the system when freed (many small arrays
        # would leave a fragmented heap the size of the whole trace behind)
        self._columns: dict[str, np.ndarray] = {
            name: np.empty(0, dtype=STORED.get(name, np.int64)) for name in ROW
        }
        self._size = 0

    def flush(self) -> None:
        """Move the staged rows into the columns."""
        if not self.rows:
            return
        rows = self.rows
        start, count = self._size, len(rows)
        end = start + count
        if end > len(self._columns["kind"]):
            self._grow(end)
        columns = self._columns
        for name, field in (("kind", _KIND), ("outcome", _OUTCOME)):
            columns[name][start:end] = self._codes(name, list(map(field, rows)))
        # the int fields of every row, row after row, into one (rows x columns) array
        width = len(INT_COLUMNS)
        ints = np.fromiter(
            chain.from_iterable(map(_INTS, rows)), dtype=np.int64, count=width * count
        ).reshape(count, width)
        for index, name in enumerate(INT_COLUMNS):
            columns[name][start:end] = ints[:, index]
        self._size = end
        rows.clear()

    GROW_FROM = 1 << 16  # rows of the first buffers

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * len(self._columns["kind"]), self.GROW_FROM)
        for name, old in self._columns.items():
            new = np.empty(capacity, dtype=old.dtype)
            new[: self._size] = old[: self._size]
            self._columns[name] = new

    def _codes(self, name: str, objects: list[Any]) -> np.ndarray:
        """Each object's code among the distinct ``name`` objects (by identity), new ones added."""
        ids = np.fromiter(map(id, objects), dtype=np.int64, count=len(objects))
        distinct, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        code_of, known = self._code_of[name], self.objects[name]
        table = np.empty(len(distinct), dtype=np.int32)
        for index, (ident, position) in enumerate(
            zip(distinct.tolist(), first.tolist(), strict=True)
        ):
            code = code_of.get(ident)
            if code is None:  # kept alive in ``objects``: its id stays its own
                code = code_of[ident] = len(known)
                known.append(objects[position])
            table[index] = code
        return table[inverse.reshape(-1)]

    def column(self, name: str) -> np.ndarray:
        """One column as stored: an int array (codes into ``objects`` for kind and outcome)."""
        self.flush()
        return self._columns[name][: self._size]

    def _objects_of(self, name: str) -> list[Any]:
        known = self.objects[name]
        return [known[code] for code in self.column(name).tolist()]

    kind = property(lambda self: self._objects_of("kind"))
    outcome = property(lambda self: self._objects_of("outcome"))
    outcome_at = property(lambda self: self.column("outcome_at"))
    cpu = property(lambda self: self.column("cpu"))
    thread = property(lambda self: self.column("thread"))
    entry = property(lambda self: self.column("entry"))
    duration = property(lambda self: self.column("duration"))
    lock_wait = property(lambda self: self.column("lock_wait"))
    closed = property(lambda self: self.column("closed"))

    def __len__(self) -> int:
        return self._size + len(self.rows)

    def to_frame(
        self, since: int = 0, threads: list[str] | None = None, until: int | None = None
    ) -> pd.DataFrame:
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
        del keep
        order = kept[np.lexsort((self.cpu[kept], entry[kept]))]
        del kept
        outcomes = self.objects["outcome"]
        outcome_codes = self.column("outcome")[order]
        columns = {
            "kind": _categorical(self.objects["kind"], self.column("kind")[order]),
            "path": _categorical([o.path if o else "none" for o in outcomes], outcome_codes),
            "exit_point": _categorical(
                [o.exit_point if o else "none" for o in outcomes], outcome_codes
            ),
            "cpu": self.cpu[order],
            "thread": self.thread[order],
            "entry": entry[order],
            "duration": self.duration[order],
            "lock_wait": self.lock_wait[order],
            "outcome_cycles": self.outcome_at[order],
        }
        # the check profile's pass mask (-1: not profiled, or not a fastpath attempt)
        masks = [o.mask if o is not None and o.mask is not None else -1 for o in outcomes]
        columns["check_mask"] = np.asarray(masks or [-1], dtype=np.int64)[outcome_codes]
        del outcome_codes
        if threads is not None:
            thread = columns["thread"]
            # IDLE (-1): the label after the threads'
            columns["thread_name"] = _categorical(
                [*threads, "idle"], np.where(thread < 0, len(threads), thread)
            )
        # each column its own block: no copy of the columns into a consolidated one
        return pd.DataFrame(columns, copy=False)


def _categorical(labels: list[str], codes: np.ndarray) -> pd.Categorical:
    """A categorical of ``labels[codes]`` whose categories are the sorted labels used."""
    if not labels:
        return pd.Categorical(np.asarray([], dtype=object))
    categories = sorted({labels[code] for code in np.unique(codes)})
    position = {label: index for index, label in enumerate(categories)}
    table = np.asarray([position.get(label, -1) for label in labels], dtype=np.int32)
    # (pandas takes any list of categories; its stubs ask for an Index)
    return pd.Categorical.from_codes(table[codes], categories=categories)  # type: ignore[call-overload, no-any-return]
