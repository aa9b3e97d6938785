"""Paper vs optimized check order, measured in simulation with paired replications.

For each scenario point that exists in both orders: the mean cycles of
fastpath attempts that fall back (spent before the fallback) and the mean
kernel-entry duration, per kind, each as paper, optimized and their paired
difference with a 95% t-interval.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from l4sim.sweep.provenance import read_table
from l4sim.sweep.stats import mean_ci

# the exit points of the slowpaths' own records; any other slow exit point is a
# fastpath check that failed (a fallback)
SLOWPATH_EXITS = ("slow_", "irq_")


def compare(directory: Path) -> pd.DataFrame:
    """One row per (point, kind): fallback cycles and durations, paper vs optimized."""
    points = read_table(directory / "points.parquet")
    events = read_table(directory / "events.parquet")
    if "check_order" not in events.columns or set(events["check_order"]) != {"paper", "optimized"}:
        raise ValueError("the run does not sweep check_order over paper and optimized")
    swept = [
        c
        for c in events.columns
        if c in points.columns and c not in ("replication", "kind", "check_order")
    ]
    fallbacks = events[
        (events["path"] == "slow")
        & ~events["exit_point"].astype(str).str.startswith(SLOWPATH_EXITS)
    ]
    fallback = (
        fallbacks.groupby([*swept, "kind", "check_order", "replication"], observed=True)[
            "outcome_cycles"
        ]
        .mean()
        .rename("fallback")
    )
    duration = points.set_index([*swept, "kind", "check_order", "replication"])["duration_mean"]
    rows = []
    for key, _ in duration.groupby(level=[*swept, "kind"]):
        key = key if isinstance(key, tuple) else (key,)  # type: ignore[assignment]
        row = dict(zip([*swept, "kind"], key, strict=True))  # type: ignore[arg-type]
        for metric, series in (("duration", duration), ("fallback_cycles", fallback)):
            try:
                paper = series.xs((*key, "paper"), level=[*swept, "kind", "check_order"])  # type: ignore[arg-type, misc]  # (pandas takes a list of levels)
                best = series.xs((*key, "optimized"), level=[*swept, "kind", "check_order"])  # type: ignore[arg-type, misc]
            except KeyError:
                continue
            paired = (best - paper).dropna()
            if paired.empty:
                continue
            diff, ci = mean_ci(paired)
            row[f"{metric}_paper"] = float(paper.mean())
            row[f"{metric}_optimized"] = float(best.mean())
            row[f"{metric}_change"] = diff
            row[f"{metric}_change_ci"] = f"{ci[0]:+.1f} .. {ci[1]:+.1f}"
        rows.append(row)
    return pd.DataFrame(rows)
