"""Statistics across replications: ``summary.parquet``.

``points.parquet`` keeps every replication; the summary gives, per point (every
key column but ``replication``) and kernel-entry kind, the mean, standard
deviation and 95% Student-t confidence interval of each metric across the
replications. One row per point, kind and metric (a long table: pivot
``metric`` to get one column per metric).

Which columns are metrics comes from the records themselves: every name a
run's summary rows carry (the built-in metrics and whatever a workload's
``Setup.metrics`` adds) is listed in ``points.parquet``'s metadata
(``points.attrs["metrics"]`` once read with pandas), so a user workload's own
metric is summarised like a built-in one. A table without that list (written
by hand, or by an older l4sim) falls back to the built-in names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from l4sim.simulation.records import METRICS
from l4sim.sweep.provenance import Provenance, of_table, read_table, write_parquet

CONFIDENCE = 0.95  # of every interval l4sim reports, unless a caller asks otherwise
SUMMARY_METRICS = (*METRICS, "measured_cycles")
SUMMARY_COLUMNS = ["metric", "n", "mean", "std", "ci_low", "ci_high"]


def t_interval(mean, std, n, confidence: float = CONFIDENCE):
    """Two-sided Student-t interval of a mean from ``n`` values with sample std ``std``.

    Works on arrays; NaN where ``n < 2`` (one value says nothing about the spread).
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n > 1, np.asarray(std, dtype=float) / np.sqrt(n), np.nan)
        # the Student-t quantile (what scipy.stats.t.ppf computes, without importing
        # scipy.stats, a second of every run's start-up) times the scale: scipy's
        # t.interval refuses a zero spread
        half = stdtrit(np.maximum(n - 1, 1), 0.5 + confidence / 2) * scale
    return mean - half, mean + half


def mean_ci(values, confidence: float = CONFIDENCE) -> tuple[float, tuple[float, float]]:
    """Mean of per-replication values and its t-interval.

    With fewer than two values, or values all equal, the interval is the mean
    itself: no spread was seen.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or np.allclose(values, values[0]):
        return mean, (mean, mean)
    low, high = t_interval(mean, values.std(ddof=1), len(values), confidence)
    return mean, (float(low), float(high))


METRICS_ATTR = "metrics"  # the points table's attrs entry naming its metric columns


def metric_columns(points: pd.DataFrame) -> list[str]:
    """The metric columns of a points table.

    Those its records named (see above), else the built-in ones it has.
    """
    named = points.attrs.get(METRICS_ATTR)
    chosen = list(named) if named else list(SUMMARY_METRICS)
    return [m for m in chosen if m in points.columns]


def record_metrics(rows: list[dict]) -> list[str]:
    """The metric names of a run's summary rows, then ``measured_cycles``.

    Every key but the kind, in order of first appearance.
    """
    names = dict.fromkeys(name for row in rows for name in row if name != "kind")
    return [*names, "measured_cycles"]


def summarize(points: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean, std (ddof 1) and t-interval per point, kind and metric.

    With a single replication the standard deviation and interval are NaN:
    one run says nothing about the spread. A metric a kind never has (no value
    in any replication) gets no row for that kind.
    """
    metrics = metric_columns(points)
    keys = [c for c in points.columns if c not in metrics and c != "replication"]
    grouped = points.groupby(keys, sort=False, dropna=False)[metrics]
    table = pd.concat(
        {
            "n": grouped.count().stack(),
            "mean": grouped.mean().stack(),
            "std": grouped.std().stack(),
        },
        axis=1,
    )
    table.index.names = [*keys, "metric"]
    table = table.reset_index()
    low, high = t_interval(
        table["mean"].to_numpy(), table["std"].to_numpy(), table["n"].to_numpy(), confidence
    )
    table["ci_low"] = low
    table["ci_high"] = high
    # a metric some kinds do not have (a workload's own, of its measured kind): no row
    table = table[table["n"] > 0].reset_index(drop=True)
    return table[[*keys, *SUMMARY_COLUMNS]]


def write_summary(
    out_dir: Path, points: pd.DataFrame | None = None, provenance: Provenance | None = None
) -> Path:
    """Write ``out_dir/summary.parquet`` from ``points`` (read from the folder if None).

    It carries ``provenance``, or else that of the points table it summarises.
    """
    out_dir = Path(out_dir)
    if points is None:
        points = read_table(out_dir / "points.parquet")
    if provenance is None:
        provenance = of_table(out_dir / "points.parquet")
    return write_parquet(summarize(points), out_dir / "summary.parquet", provenance)
