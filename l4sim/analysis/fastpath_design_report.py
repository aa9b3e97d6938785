"""The report section "A fastpath design for SMP": designs found, measured against the paper's.

For the IPC benchmark (every client count and wait factor of
``scenarios/fastpath_design.toml``) and the Linux load
(``scenarios/fastpath_design_linux.toml``): the designs each fastpath ran
with (a readable check list, moved checks marked, and the verdict of the
checks they passed before use), the cycles a fastpath attempt spends before
falling back and the mean kernel-entry duration for the paper's, the
reordered and the optimized design, each change paired per replication with
a 95% interval, the slowpath/fastpath ratio of E5 per design (the slowpath
runs of ``scenarios/ipc_bench.toml`` share the random streams), and the E5
claims again with the optimized design.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from l4sim.analysis import claims as claims_module
from l4sim.analysis.check_order_effect import SLOWPATH_EXITS
from l4sim.analysis.checks_report import point_groups
from l4sim.analysis.document import Document, Table
from l4sim.kernel.fastpath_design import describe
from l4sim.sweep.cache import ResultCache
from l4sim.sweep.fastpath_designs import design_proposals
from l4sim.sweep.stats import mean_ci

DESIGNS = ("paper", "reordered", "optimized")
IPC = "ipc"


def _per_replication(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per (keys, design, replication): mean duration and mean cycles before falling back."""
    fallbacks = events[
        (events["path"] == "slow")
        & ~events["exit_point"].astype(str).str.startswith(SLOWPATH_EXITS)
    ]
    group = [*keys, "fastpath_design", "replication"]
    return pd.DataFrame(
        {
            "duration": events.groupby(group, observed=True)["duration"].mean(),
            "fallback": fallbacks.groupby(group, observed=True)["outcome_cycles"].mean(),
        }
    )


def _ci(series: pd.Series, digits: int = 1) -> str:
    series = series.dropna()
    if series.empty:
        return "-"
    mean, (low, high) = mean_ci(series)
    return f"{mean:.{digits}f} ({low:.{digits}f} .. {high:.{digits}f})"


def _comparison(frame: pd.DataFrame, keys: list[str], slow: pd.Series | None) -> pd.DataFrame:
    """One row per point: each design's fallback cycles and duration, paired changes."""
    rows = []
    for key, block in frame.groupby(level=keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        block = block.droplevel(keys)
        by = {
            d: block.xs(d, level="fastpath_design")
            for d in DESIGNS
            if d in block.index.get_level_values("fastpath_design")
        }
        row = dict(zip(keys, key, strict=True))
        paper = by["paper"]
        for design in DESIGNS[1:]:
            other = by[design]
            row[f"fallback {design} vs paper (%)"] = _ci(
                (other["fallback"] / paper["fallback"] - 1) * 100
            )
            row[f"duration {design} - paper"] = _ci(other["duration"] - paper["duration"])
        row["fallback paper"] = round(float(paper["fallback"].mean()), 1)
        row["fallback optimized"] = round(float(by["optimized"]["fallback"].mean()), 1)
        if slow is not None:
            base = slow.xs(key, level=keys) if keys else slow
            for design in DESIGNS:
                row[f"slow/fast {design}"] = _ci(base / by[design]["duration"], 3)
        rows.append(row)
    return pd.DataFrame(rows)


def _designs(document: Document, folder: Path) -> None:
    """The designs of the optimized points, each with its verdict."""
    cache = ResultCache(folder)  # the designs are filed beside the runs they explain
    for point, keys, _ in point_groups(folder):
        if point.fastpath_design != "optimized":
            continue
        proposals = design_proposals(point, cache.derived)
        where = (
            ", ".join(
                f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                for k, v in keys.items()
                if k != "fastpath_design"
            )
            or "the load"
        )
        for kind, entry in proposals.items():
            verdict = (
                "accepted: clean under the invariant checker with stress jitter on "
                "2 and 4 CPUs, same messages as with the fastpaths off"
                if entry["verdict"] is None
                else f"**rejected** ({entry['verdict']}); the reordered list ran"
            )
            expected = ", ".join(f"{d} {entry[d]['expected_cycles']:.1f}" for d in DESIGNS)
            document.text(
                f"**{kind} fastpath, {where}** ({entry['attempts']} profiled "
                f"attempts; expected cycles per attempt: {expected}; {verdict}):"
            )
            document.steps(describe(entry["optimized"]["design"], point.fastpaths()[kind]))


def fastpath_design_section(document: Document, folders: dict[str, Path]) -> None:
    """The section "A fastpath design for SMP".

    ``folders`` holds ``fastpath_design``, ``fastpath_design_linux`` and
    ``ipc_bench`` (whose slowpath runs pair with the designs').
    """
    document.heading("A fastpath design for SMP")
    document.text(
        "The paper's open problem: an IPC fastpath that is not slower than the slowpath "
        "under contention. A design moves checks across the lock stages: *hoisted* "
        "before any lock (it reads only fields the static scan proves never written), "
        "*early* (an unlocked precheck, checked again under its lock before the "
        "commit), and reordered; the search (`l4sim/kernel/design_search.py`) picks "
        "the design with the least expected cycles per attempt from a profiling run, "
        "and each design is checked before it runs. See docs/background/fastpath-design.md."
    )
    ipc_events = pd.read_parquet(
        folders["fastpath_design"] / "events.parquet",
        columns=[
            "clients",
            "wait_factor",
            "fastpath_design",
            "replication",
            "kind",
            "path",
            "exit_point",
            "duration",
            "outcome_cycles",
        ],
    )
    ipc_events = ipc_events[ipc_events["kind"] == IPC]
    bench = pd.read_parquet(folders["ipc_bench"] / "points.parquet")
    slow = bench[(bench["kind"] == IPC) & ~bench["fastpath_ipc"]].set_index(
        ["clients", "wait_factor", "replication"]
    )["duration_mean"]
    table = _comparison(
        _per_replication(ipc_events, ["clients", "wait_factor"]), ["clients", "wait_factor"], slow
    )
    document.heading(
        "IPC benchmark: cycles before falling back, IPC duration, slowpath/fastpath", level=3
    )
    document.text(
        "Means over replications, 95% intervals of the paired per-replication "
        "values in parentheses; `slow/fast`: slowpath over fastpath mean IPC "
        "duration (below 1: the fastpath is slower)."
    )
    document.table(Table(table))
    linux_events = pd.read_parquet(
        folders["fastpath_design_linux"] / "events.parquet",
        columns=[
            "fastpath_design",
            "replication",
            "kind",
            "path",
            "exit_point",
            "duration",
            "outcome_cycles",
        ],
    )
    document.heading("Linux load: per kernel-entry kind", level=3)
    document.table(Table(_comparison(_per_replication(linux_events, ["kind"]), ["kind"], None)))
    points = pd.read_parquet(folders["fastpath_design"] / "points.parquet")
    optimized = points[points["fastpath_design"] == "optimized"]
    redone = claims_module.ipc_bench_claims(
        pd.concat([bench[~bench["fastpath_ipc"]], optimized], ignore_index=True)
    )
    document.heading("E5 with the optimized design", level=3)
    document.text(
        "The paper's E5 rows, the fastpath now in the optimized design (a *does not "
        "hold* on the heavy-contention row is the point: the fastpath is no longer "
        "worse):"
    )
    document.table(Table(claims_module.claims_frame(redone), raw=True))
    document.heading("The designs found", level=3)
    _designs(document, folders["fastpath_design"])
    _designs(document, folders["fastpath_design_linux"])
