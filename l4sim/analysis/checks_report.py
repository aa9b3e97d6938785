"""``l4sim checks DIR``: the check profile of a run, implied checks, and the optimal order.

For each scenario point and each fastpath: how often each check was reached
and failed, the cycles spent before a failure, the locks held then
(``DIR/checks.parquet``, ``DIR/checks.png``); with a run made with
``check_profile = true``, the implied check pairs (``DIR/implied_checks.parquet``)
and, with ``--optimize``, the order minimising the expected cycles per attempt
(``DIR/check_order.json``, usable as ``check_order_file``).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from l4sim.analysis.check_profile import check_table, implied_pairs  # noqa: E402
from l4sim.kernel.check_order import optimize  # noqa: E402
from l4sim.kernel.checks import reorder  # noqa: E402
from l4sim.sweep.run import point_from_row  # noqa: E402
from l4sim.sweep.runner import METRICS, check_masks, resolve_check_order  # noqa: E402

METRIC_COLUMNS = {"replication", "kind", "measured_cycles", *METRICS}


def point_groups(directory: Path):
    """(point, its key values, its events) for each scenario point of a run folder."""
    points = pd.read_parquet(directory / "points.parquet")
    events = pd.read_parquet(directory / "events.parquet")
    keys = [c for c in points.columns if c not in METRIC_COLUMNS]
    swept = [k for k in keys if k in events.columns]
    for values, _ in points.groupby(keys, sort=False, dropna=False):  # keys may be None
        config = dict(zip(keys, values, strict=True))
        point = point_from_row(config)
        mask = pd.Series(True, index=events.index)
        for key in swept:
            mask &= events[key] == config[key]
        yield point, {k: config[k] for k in swept}, events[mask]


def build(directory: Path, optimize_order: bool) -> dict:
    """Write the check profile files; returns what to print."""
    tables, profiled = [], []
    for point, key_values, events in point_groups(directory):
        order = resolve_check_order(point) or {}
        for kind, paper in point.fastpaths().items():
            attempts = events[events["kind"] == kind]
            if attempts.empty or not attempts["exit_point"].isin(
                    [c.name for c in paper] + ["fast_switch", "fast_call",
                                                "fast_reply_wait"]).any():
                continue
            checks = reorder(paper, order[kind]) if kind in order else paper
            table = check_table(events, kind, checks)
            for key, value in reversed(key_values.items()):
                table.insert(0, key, value)
            tables.append(table)
        if (events["check_mask"] >= 0).any():
            profiled.append((point, events))
    if not tables:
        raise ValueError("no fastpath attempts in this run (were the fastpaths on?)")
    if optimize_order and not profiled:  # (before anything is written)
        raise ValueError("--optimize needs a run with check_profile = true "
                         "(rerun with --set check_profile=true)")
    table = pd.concat(tables, ignore_index=True)
    table.to_parquet(directory / "checks.parquet", index=False)
    result = {"table": table, "figure": _figure(table, directory / "checks.png")}
    if profiled:  # implied pairs: across the whole run, every point pooled
        fastpaths = profiled[0][0].fastpaths()  # (a fastpath variant is not swept)
        pooled = pd.concat([events for _, events in profiled], ignore_index=True)
        pairs = [found for kind, paper in fastpaths.items()
                 if not (found := implied_pairs(pooled, kind, paper)).empty]
        result["pairs"] = pd.concat(pairs, ignore_index=True) if pairs else implied_pairs(
            pooled.iloc[:0], "ipc", fastpaths["ipc"])
        result["pairs"].to_parquet(directory / "implied_checks.parquet", index=False)
    if optimize_order:
        point = profiled[0][0]
        pooled = pd.concat([events for _, events in profiled], ignore_index=True)
        orders = optimize(check_masks(pooled), point.fastpaths(), point.cost_profile())
        path = directory / "check_order.json"
        path.write_text(json.dumps(orders, indent=2) + "\n")
        result["orders"] = orders
        result["order_file"] = path
    return result


def _figure(table: pd.DataFrame, path: Path) -> Path:
    kinds = list(dict.fromkeys(table["fastpath"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.5), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = table[table["fastpath"] == kind]
        summed = rows.groupby(["position", "check"], sort=True)[["reached", "failed"]].sum()
        labels = [f"{pos}. {name}" for pos, name in summed.index]
        rate = (summed["failed"] / summed["reached"].clip(lower=1) * 100).to_numpy()
        ax.barh(labels[::-1], rate[::-1], color="tab:red")
        ax.set_xlabel("failure rate when reached (%), all points")
        ax.set_title(f"{kind} fastpath: checks in the order run")
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
