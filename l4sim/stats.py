"""Statistics across replications: ``summary.parquet``.

``points.parquet`` keeps every replication; the summary gives, per point (every
key column but ``replication``) and kernel-entry kind, the mean, standard
deviation and 95% Student-t confidence interval of each metric across the
replications. One row per point, kind and metric (a long table: pivot
``metric`` to get one column per metric).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from l4sim.runner import METRICS

CONFIDENCE = 0.95
SUMMARY_METRICS = (*METRICS, "measured_cycles")
SUMMARY_COLUMNS = ["metric", "n", "mean", "std", "ci_low", "ci_high"]


def summarize(points: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean, std (ddof 1) and t-interval per point, kind and metric.

    With a single replication the standard deviation and interval are NaN:
    one run says nothing about the spread.
    """
    metrics = [m for m in SUMMARY_METRICS if m in points.columns]
    keys = [c for c in points.columns if c not in metrics and c != "replication"]
    grouped = points.groupby(keys, sort=False, dropna=False)[metrics]
    table = pd.concat({"n": grouped.count().stack(), "mean": grouped.mean().stack(),
                       "std": grouped.std().stack()}, axis=1)
    table.index.names = [*keys, "metric"]
    table = table.reset_index()
    n = table["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
        half = t * table["std"].to_numpy() / np.sqrt(n)
    table["ci_low"] = table["mean"] - half
    table["ci_high"] = table["mean"] + half
    return table[[*keys, *SUMMARY_COLUMNS]]


def write_summary(out_dir: Path, points: pd.DataFrame | None = None) -> Path:
    """Write ``out_dir/summary.parquet`` from ``points`` (read from the folder if None)."""
    out_dir = Path(out_dir)
    if points is None:
        points = pd.read_parquet(out_dir / "points.parquet")
    path = out_dir / "summary.parquet"
    temporary = out_dir / ".summary.parquet.tmp"
    summarize(points).to_parquet(temporary, index=False)
    temporary.replace(path)
    return path
