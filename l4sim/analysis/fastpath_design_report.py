"""The report section "A fastpath design for SMP": designs found, measured against the paper's.

For the IPC benchmark (every client count and wait factor of
``scenarios/fastpath_design.toml``) and the Linux load
(``scenarios/fastpath_design_linux.toml``): the cycles a fastpath attempt
spends before falling back, the mean kernel-entry duration, and the
slowpath/fastpath ratio of E5 (the slowpath runs of ``scenarios/ipc_bench.toml``
share the random streams) for the three designs, each change paired per
replication with a 95% interval; what the optimized design's ratios show,
stated as measured; and the designs the search found, each distinct one
listed once with the points it applies to.

The three designs' names mean one thing each, throughout the report:
*paper* (the paper's lists), *reordered* (the same checks in the order that
minimises the expected cycles per attempt; nothing moves across lock
stages) and *optimized* (the searched design: reordered, with checks
*hoisted*, moved before any lock, and *early* prechecks).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import pandas as pd

from l4sim.analysis import claims as claims_module
from l4sim.analysis.check_order_effect import SLOWPATH_EXITS
from l4sim.analysis.checks_report import point_groups
from l4sim.analysis.document import Document, Table, collapse_rows
from l4sim.analysis.style import KINDS, number
from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.fastpath_design import (
    EARLY,
    HANDOVER,
    HOISTED,
    PLAIN,
    RECHECK,
    parse_step,
    split_design_key,
)
from l4sim.sweep.cache import ResultCache
from l4sim.sweep.fastpath_designs import design_proposals
from l4sim.sweep.provenance import read_table
from l4sim.sweep.stats import mean_ci

DESIGNS = ("paper", "reordered", "optimized")
IPC = "ipc"
# what each design's name means (the report's one definition of the words)
MEANINGS = {
    "paper": "the paper's check lists, in its order",
    "reordered": "the same checks in the order that minimises the expected cycles per "
    "attempt (the order optimizer of `l4sim checks --optimize`; nothing moves "
    "across lock stages)",
    "optimized": "the searched design, one per operation (a Call's and a ReplyWait's, "
    "each from its own attempts): the checks reordered, some *hoisted* (moved before "
    "any lock: they read only fields the static scan proves never written), some "
    "checked *early* (an unlocked precheck, checked again under its lock before the "
    "commit), and what the lock-free checks decoded *handed over* to the slowpath "
    "when the fastpath falls back (it does not decode the message and destination "
    "again)",
}
# the operations of a fastpath with a design each, as the tables name them
OPERATION_NAMES = {"call": "Call", "reply_wait": "ReplyWait"}
NO_FALLBACK = "no fastpath attempt fell back here"


HELD = {
    Stage.LOCK_FREE: "no lock",
    Stage.SCHEDULER: "scheduler lock",
    Stage.THREADS: "scheduler + thread locks",
}
BIG_LOCK = "big kernel lock"


def describe(design: list[str], checks: tuple[Check, ...], big_lock: bool = False) -> list[str]:
    """The design as steps for a reader, in order: the locks held at each, moves marked.

    *Hoisted* means before any lock: a hoisted step the design places after a
    check that took a lock runs under that lock, so it is described as needing
    no lock of its own, not as hoisted. ``big_lock``: the kernel's one lock
    is what every locked step holds.
    """
    by_name = {check.name: check for check in checks}
    lines = []
    held = Stage.LOCK_FREE
    for text in design:
        how, name = parse_step(text)
        stage = Stage.LOCK_FREE if how in (HOISTED, EARLY) else by_name[name].stage
        held = max(held, stage)
        mark = {
            PLAIN: "",
            HOISTED: " **hoisted** (reads only fields never written)",
            EARLY: " **early** (unlocked precheck)",
            RECHECK: " (again under its lock, before the commit)",
            HANDOVER: " (what it decoded **handed over** to the slowpath on a fallback)",
        }[how]
        if how == HOISTED and held > Stage.LOCK_FREE:
            mark = " (needs no lock of its own: reads only fields never written)"
        holds = BIG_LOCK if big_lock and held > Stage.LOCK_FREE else HELD[held]
        lines.append(f"`{name}` [{holds}]{mark}")
    return lines


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


def _ci(series: pd.Series, digits: int = 1, sign: bool = False) -> str | None:
    """'mean (low .. high)'; None when there is no value (the table says why)."""
    series = series.dropna()
    if series.empty:
        return None
    mean, (low, high) = mean_ci(series)
    form = f"{'+' if sign else ''}.{digits}f"
    return f"{mean:{form}} ({low:{form}} .. {high:{form}})"


def _mean(series: pd.Series) -> float | None:
    series = series.dropna()
    return round(float(series.mean()), 1) if len(series) else None


def _comparison(
    frame: pd.DataFrame, keys: list[str], slow: pd.Series | None
) -> dict[str, pd.DataFrame]:
    """Per point, three narrow tables.

    ``fallback`` (cycles before falling back, each design, changes against the paper's),
    ``duration`` (changes of the mean duration) and, with ``slow``, ``ratio`` (slowpath /
    fastpath per design).
    """
    tables: dict[str, list[dict]] = {"fallback": [], "duration": [], "ratio": []}
    levels: list[Hashable] = [*keys]  # (pandas-stubs: a list of level names is list[Hashable])
    for key, block in frame.groupby(level=keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        block = block.droplevel(levels)
        by = {
            d: block.xs(d, level="fastpath_design")
            for d in DESIGNS
            if d in block.index.get_level_values("fastpath_design")
        }
        where = {_header(k): v for k, v in zip(keys, key, strict=True)}
        paper = by["paper"]
        fallback = {**where, "paper": _mean(paper["fallback"])}
        duration = dict(where)
        for design in DESIGNS[1:]:
            other = by[design]
            fallback[design] = _mean(other["fallback"])
            fallback[f"{design} vs paper (%)"] = _ci(
                (other["fallback"] / paper["fallback"] - 1) * 100, sign=True
            )
            duration[f"{design} - paper"] = _ci(other["duration"] - paper["duration"], sign=True)
        tables["fallback"].append(fallback)
        tables["duration"].append(duration)
        if slow is not None:
            # pandas takes a list of levels (its docs: level=[0, "locomotion"]); its stubs
            # type one level only
            base = slow.xs(key, level=keys) if keys else slow  # type: ignore[arg-type]
            tables["ratio"].append(
                {**where, **{design: _ci(base / by[design]["duration"], 3) for design in DESIGNS}}
            )
    return {name: pd.DataFrame(rows) for name, rows in tables.items() if rows}


def _header(key: str) -> str:
    return {"wait_factor": "wait factor", "kind": "kernel entry"}.get(key, key)


def ratio_verdict(ratios: pd.DataFrame, design: str = "optimized") -> str:
    """What the slowpath/fastpath ratios of ``design`` show, stated as measured.

    At how many points the fastpath is faster (the whole interval above 1), not told apart, or
    slower (the whole interval below 1), and which points are not faster.
    """
    # (where, interval) of the points where the fastpath is faster, level, slower
    faster: list[tuple[str, str]] = []
    level: list[tuple[str, str]] = []
    slower: list[tuple[str, str]] = []
    for row in ratios.to_dict("records"):
        text = row[design]
        _, low, high = (
            float(v) for v in text.replace("(", "").replace(")", "").replace("..", "").split()
        )
        where = _where(row)
        (faster if low > 1 else slower if high < 1 else level).append((where, text))
    parts = [
        f"faster than the slowpath (the whole 95% interval of slowpath/fastpath above 1) "
        f"at {len(faster)} of {len(ratios)} points"
    ]
    if level:
        parts.append(
            "not told apart from it (the interval holds 1) at "
            + "; ".join(f"{w}: {t}" for w, t in level)
        )
    if slower:
        parts.append(
            "never significantly slower except at " + "; ".join(f"{w}: {t}" for w, t in slower)
        )
    else:
        parts.append("never significantly slower")
    return f"With the {design} design the IPC fastpath is " + "; it is ".join(parts) + "."


def _where(row: dict) -> str:
    clients, factor = row.get("clients"), row.get("wait factor")
    count = f"{clients} client{'s' if clients != 1 else ''}" if clients is not None else ""
    factor = f"wait factor {number(factor)}" if isinstance(factor, float | int) else ""
    return ", ".join(p for p in (count, factor) if p)


def _designs(document: Document, folder: Path, keys: list[str], lists: dict) -> None:
    """The designs the search found for the optimized points.

    Each point's expected cycles and verdict in one table, each distinct design listed once with
    the points it applies to. ``lists`` (kind, steps) -> letter is shared by the section's
    calls, so that a letter names one design throughout.
    """
    cache = ResultCache(folder)  # the designs are filed beside the runs they explain
    rows, here = [], {}
    for point, values, _ in point_groups(folder):
        if point.fastpath_design != "optimized":
            continue
        proposals = design_proposals(point, cache.derived)
        where = {_header(k): v for k, v in values.items() if k in keys}
        for key, entry in proposals.items():
            kind = fastpath_name(key)
            steps = tuple(
                describe(entry["optimized"]["design"], point.fastpaths()[split_design_key(key)[0]])
            )
            verdict = (
                "accepted"
                if entry["verdict"] is None
                else f"**rejected** ({entry['verdict']}); the reordered list ran"
            )
            letter = lists.setdefault((kind, steps), LETTERS[len(lists) % len(LETTERS)])
            here[(kind, steps)] = letter
            rows.append(
                {
                    "fastpath": kind,
                    **where,
                    "profiled attempts": int(entry["attempts"]),
                    **{
                        f"expected cycles, {d}": round(float(entry[d]["expected_cycles"]), 1)
                        for d in DESIGNS
                    },
                    "design": letter,
                    "verdict": verdict,
                }
            )
    if not rows:
        return
    table = pd.DataFrame(rows)
    document.table(Table(table))
    for (kind, steps), letter in here.items():
        chosen = table[(table["fastpath"] == kind) & (table["design"] == letter)]
        document.text(
            f"**Design {letter}** ({kind} fastpath; "
            f"{_applies(chosen, [_header(k) for k in keys])}):"
        )
        document.steps(list(steps))


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def fastpath_name(key: str) -> str:
    """A design key as the tables name it: ``"ipc.call"`` -> ``"IPC (Call)"``."""
    kind, operation = split_design_key(key)
    name = KINDS.get(kind, kind)
    return name if operation is None else f"{name} ({OPERATION_NAMES.get(operation, operation)})"


def _applies(rows: pd.DataFrame, keys: list[str]) -> str:
    """Where a design applies, in words: '1 client at every wait factor.

    4 clients at wait factor 10, 100'.
    """
    if not keys:
        return "the load"
    if len(keys) == 1:
        return f"{keys[0]} " + ", ".join(
            number(v) if isinstance(v, float) else str(v) for v in rows[keys[0]]
        )
    first, second = keys[0], keys[1]
    parts = []
    for value, group in rows.groupby(first, sort=True):
        shown = collapse_rows(group[[second]].assign(_=0), second)[second].iloc[0]
        name = f"{value} {first if value != 1 else first.rstrip('s')}"
        every = shown.startswith("every one")
        parts.append(
            f"{name} at every {second} {shown.removeprefix('every one ')}"
            if every
            else f"{name} at {second} {shown}"
        )
    return "; ".join(parts)


def fastpath_design_section(document: Document, folders: dict[str, Path]) -> None:
    """The section "A fastpath design for SMP".

    ``folders`` holds ``fastpath_design``, ``fastpath_design_linux`` and
    ``ipc_bench`` (whose slowpath runs pair with the designs').
    """
    document.heading("A fastpath design for SMP")
    document.text(
        "The paper's open problem: an IPC fastpath that is not slower than the slowpath "
        "under contention. Three designs of each fastpath are measured; their names mean "
        "one thing each in this report:"
    )
    document.bullets([f"*{name}*: {meaning}" for name, meaning in MEANINGS.items()])
    document.text(
        "The search (`l4sim/design/search.py`) picks the optimized design with the "
        "least expected cycles per attempt from a profiling run, and each design is "
        "checked before it runs. See docs/background/fastpath-design.md."
    )
    ipc_events = read_table(
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
    bench = read_table(folders["ipc_bench"] / "points.parquet")
    slow = bench[(bench["kind"] == IPC) & ~bench["fastpath_ipc"]].set_index(
        ["clients", "wait_factor", "replication"]
    )["duration_mean"]
    tables = _comparison(
        _per_replication(ipc_events, ["clients", "wait_factor"]), ["clients", "wait_factor"], slow
    )
    document.heading("IPC benchmark", level=3)
    document.text(
        "Means over replications; in parentheses the 95% interval of the paired "
        "per-replication values. Rows that differ only in the wait factor and "
        "are identical to the digits shown are one row."
    )
    _tables(document, tables, "wait factor")
    document.text(ratio_verdict(tables["ratio"]))
    linux_events = read_table(
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
    document.heading("Linux load: per kind of kernel entry", level=3)
    linux = _comparison(_per_replication(linux_events, ["kind"]), ["kind"], None)
    for table in linux.values():
        table["kernel entry"] = table["kernel entry"].map(lambda k: KINDS.get(k, k))
    _tables(document, linux, None)
    points = read_table(folders["fastpath_design"] / "points.parquet")
    optimized = points[points["fastpath_design"] == "optimized"]
    redone = claims_module.ipc_bench_claims(
        pd.concat([bench[~bench["fastpath_ipc"]], optimized], ignore_index=True)
    )
    document.heading("E5 with the optimized design", level=3)
    document.text(
        "The paper's E5 rows, the IPC fastpath now in the optimized design. The "
        "paper's second row says the fastpath is worse under heavy contention: "
        "where it *does not hold* here, the optimized fastpath is not worse there."
    )
    document.table(Table(claims_module.claims_frame(redone), raw=True))
    document.heading("The designs found", level=3)
    document.text(
        "Per point of the optimized runs: the profiling run's attempts, the "
        "expected cycles per attempt of each design, which design the search "
        "chose (the same letter: the same steps) and the verdict of its check "
        "(accepted: clean under the invariant checker with stress jitter on 2 "
        "and 4 CPUs, the same messages as with the fastpaths off). Each design "
        "is listed once: its checks in running order, the locks held at each, "
        "and how each was moved."
    )
    letters: dict = {}
    document.text("*IPC benchmark:*")
    _designs(document, folders["fastpath_design"], ["clients", "wait_factor"], letters)
    document.text("*Linux load:*")
    _designs(document, folders["fastpath_design_linux"], [], letters)


FALLBACK = (
    "Cycles a fastpath attempt spends before falling back (means; the changes "
    "paired per replication)"
)
DURATION = "Mean duration, change against the paper's design (cycles)"
RATIO = (
    "Slowpath / fastpath mean IPC duration (above 1: the fastpath is faster; the "
    "slowpath runs of `scenarios/ipc_bench.toml` share the random streams)"
)


def _tables(document: Document, tables: dict[str, pd.DataFrame], varying: str | None) -> None:
    for name, caption in (("fallback", FALLBACK), ("duration", DURATION), ("ratio", RATIO)):
        if name not in tables:
            continue
        table = tables[name]
        if varying is not None:
            table = collapse_rows(table, varying)
        document.text(f"*{caption}:*")
        document.table(
            Table(
                table,
                missing={
                    str(column): NO_FALLBACK
                    for column in table
                    if name == "fallback"
                    and column not in ("clients", "wait factor", "kernel entry")
                },
            )
        )
