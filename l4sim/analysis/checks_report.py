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
import matplotlib.pyplot as plt
import pandas as pd

from l4sim.analysis.check_profile import check_table, implied_pairs
from l4sim.analysis.style import FOOTER_INCHES, write_figure
from l4sim.design.immutability import proven_immutable
from l4sim.design.order import optimize, unique_masks
from l4sim.design.search import LockWaits, search
from l4sim.kernel.checks import reorder
from l4sim.kernel.fastpath_design import paper_design
from l4sim.simulation.records import METRICS
from l4sim.sweep.execute import point_from_row
from l4sim.sweep.fastpath_designs import check_masks, resolve_order, verify_design
from l4sim.sweep.provenance import of_folder, read_table, write_parquet
from l4sim.sweep.stats import metric_columns

METRIC_COLUMNS = {"replication", "kind", "measured_cycles", *METRICS}


def point_groups(directory: Path):
    """(point, its key values, its events) for each scenario point of a run folder."""
    points = read_table(directory / "points.parquet")
    events = read_table(directory / "events.parquet")
    metrics = METRIC_COLUMNS | set(metric_columns(points))  # a workload's own too
    keys = [c for c in points.columns if c not in metrics]
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
        order = resolve_order(point) or {}
        for kind, paper in point.fastpaths().items():
            attempts = events[events["kind"] == kind]
            if (
                attempts.empty
                or not attempts["exit_point"]
                .isin([c.name for c in paper] + ["fast_switch", "fast_call", "fast_reply_wait"])
                .any()
            ):
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
        raise ValueError(
            "--optimize needs a run with check_profile = true (rerun with --set check_profile=true)"
        )
    table = pd.concat(tables, ignore_index=True)
    provenance = of_folder(directory)  # the run's: the checks are read from its events
    write_parquet(table, directory / "checks.parquet", provenance)
    result = {"table": table, "figure": _figure(table, directory / "checks.png")}
    if profiled:  # implied pairs: across the whole run, every point pooled
        fastpaths = profiled[0][0].fastpaths()  # (a fastpath variant is not swept)
        pooled = pd.concat([events for _, events in profiled], ignore_index=True)
        pairs = [
            found
            for kind, paper in fastpaths.items()
            if not (found := implied_pairs(pooled, kind, paper)).empty
        ]
        result["pairs"] = (
            pd.concat(pairs, ignore_index=True)
            if pairs
            else implied_pairs(pooled.iloc[:0], "ipc", fastpaths["ipc"])
        )
        write_parquet(result["pairs"], directory / "implied_checks.parquet", provenance)  # type: ignore[arg-type]
    if optimize_order:
        point = profiled[0][0]
        pooled = pd.concat([events for _, events in profiled], ignore_index=True)
        orders = optimize(check_masks(pooled), point.fastpaths(), point.cost_profile())
        for kind, entry in fastpath_designs(point, pooled).items():
            orders[kind].update(entry)
            if orders[kind]["design"] is None:  # rejected: the order alone
                orders[kind]["design"] = list(orders[kind]["order"])
        path = directory / "check_order.json"
        path.write_text(json.dumps(orders, indent=2) + "\n")
        result["orders"] = orders
        result["order_file"] = path
    return result


def fastpath_designs(point, events: pd.DataFrame) -> dict[str, dict]:
    """Per profiled fastpath: the searched design, checked on ``point`` before it is written.

    The lock wait of the scheduler stage is measured from the events (the
    mean lock-wait of the fastpath attempts that went through); how long the
    scheduler lock was held is not in the events table, so the hold-time
    term of the cost model is left out here (a run with ``fastpath_design =
    "optimized"`` and no file measures it in its profiling run). A design
    that fails its check is written as the order optimizer's order, with the
    violation under ``"rejected"``.
    """
    result = {}
    proven = proven_immutable(point.fastpaths())
    for kind, masks in check_masks(events).items():
        checks = point.fastpaths().get(kind)
        if checks is None or len(masks) == 0:
            continue
        attempts = events[(events["kind"] == kind) & (events["path"] == "fast")]
        waits = LockWaits(scheduler=float(attempts["lock_wait"].mean()) if len(attempts) else 0.0)
        masks, counts = unique_masks(masks)
        design = search(checks, masks, counts, point.cost_profile(), waits, proven)
        others = {
            other: paper_design(point.fastpaths()[other])
            for other in point.fastpaths()
            if other != kind
        }
        violation = verify_design(
            point.model_copy(update={"check_profile": False}), {**others, kind: design}
        )
        result[kind] = {"design": design, "lock_waits": {"scheduler": waits.scheduler}}
        if violation is not None:
            result[kind].update(design=None, rejected={"design": design, "violation": violation})  # type: ignore[call-overload]
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
    fig.tight_layout(rect=(0, FOOTER_INCHES / fig.get_figheight(), 1, 1))
    title = "Fastpath checks: failure rate when reached"
    write_figure(fig, path, title, "All points of the run pooled.", of_folder(path.parent))
    plt.close(fig)
    return path
