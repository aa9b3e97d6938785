"""A run's records: one row per measured kernel entry, and the metrics summarising them.

Nothing here holds a SimPy object: the events are a DataFrame, the summary
rows plain dicts, a worker's reply plain arrays, all safe to send between
processes and to file in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from l4sim.sim.machine import Machine
from l4sim.simulation.behaviour import Observations
from l4sim.workloads.base import Point

# metrics some workloads add to their measured kind's rows (Setup.metrics)
WORKLOAD_METRICS = (
    "acquisitions_per_mcycle",
    "wait_mean",
    "wait_m2",
    "utilization",
    "calls_per_second",
    "call_cycles",
    "reply_recv_cycles",
)
METRICS = (
    "entries",
    "duration_mean",
    "duration_p50",
    "duration_p99",
    "fast_fraction",
    "lock_wait_mean",
    "contended_fraction",
    "entries_per_mcycle",
    *WORKLOAD_METRICS,
)


@dataclass
class Result:
    """What one (point, replication) produced.

    Attributes:
        point: The point simulated.
        replication: Its replication number.
        events: One row per measured kernel entry (the columns of ``events.parquet``).
        rows: One summary row per kernel-entry kind (the columns of ``points.parquet``).
        measured_cycles: The cycles of the measurement window.
        observations: What each thread received, when the run was asked to observe it.
    """

    point: Point
    replication: int
    events: pd.DataFrame  # one row per measured kernel entry
    rows: list[dict[str, Any]]  # one summary row per kernel-entry kind
    measured_cycles: int
    observations: Observations | None = None

    @property
    def total_entries(self) -> int:
        """How many kernel entries were measured."""
        return len(self.events)


def measured_events(machine: Machine) -> pd.DataFrame:
    """The records of a run's measurement window."""
    return machine.trace.to_frame(
        since=machine.measure_from, threads=machine.thread_names, until=machine.measure_to
    )


def events_columns(events: pd.DataFrame) -> dict[str, np.ndarray | pd.Categorical]:
    """The events as plain columns (a worker's reply).

    Numpy arrays, and the string columns as categoricals of their labels (a
    code per row: a long run's reply stays small, and it is sent and filed
    without expanding a string per row).
    """
    columns: dict[Any, np.ndarray | pd.Categorical] = {}
    for name, column in events.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            labels = [str(label) for label in column.cat.categories]
            columns[name] = pd.Categorical.from_codes(column.cat.codes.to_numpy(), labels)  # type: ignore[call-overload]  # (pandas takes a list of categories)
        else:
            columns[name] = column.to_numpy()
    return columns


def summarize_entries(events: pd.DataFrame, measured_cycles: int) -> list[dict[str, Any]]:
    """One row of metrics per kernel-entry kind present in ``events``."""
    rows = []
    kinds = events["kind"]
    # each kind's rows of the three columns used, in order (not a copy of every column)
    fast = (events["path"] == "fast").to_numpy()
    durations = events["duration"].to_numpy()
    lock_waits = events["lock_wait"].to_numpy()
    for kind in sorted(set(kinds.unique())):
        rows_of_kind = (kinds == kind).to_numpy()
        duration = durations[rows_of_kind]
        lock_wait = lock_waits[rows_of_kind]
        entries = len(duration)
        rows.append(
            {
                "kind": str(kind),
                "entries": int(entries),
                "duration_mean": float(duration.mean()),
                "duration_p50": float(np.percentile(duration, 50)),
                "duration_p99": float(np.percentile(duration, 99)),
                "fast_fraction": float(fast[rows_of_kind].mean()),
                "lock_wait_mean": float(lock_wait.mean()),
                "contended_fraction": float((lock_wait > 0).mean()),
                "entries_per_mcycle": float(entries * 1e6 / max(measured_cycles, 1)),
            }
        )
    return rows
