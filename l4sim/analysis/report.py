"""``l4sim report``: run the paper's scenarios and hold every claim against them.

Writes ``<results>/report.md`` and ``<results>/report.html`` (the same
report as one self-contained page, figures inlined): the claims table, the
figures with their captions, the paper's future work answered in
simulation, and the model validated against hardware (what ``l4sim compare
sel4bench`` wrote into ``<results>/sel4bench_compare/``, if it ran). Each
scenario is run with :func:`l4sim.sweep.execute.run_sweep` into
``<results>/<name>/`` (so the same overrides give the same tables); the
command ends with one summary of where everything went and what was reused.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from l4sim.analysis import claims as claims_module
from l4sim.analysis.document import Document, Table
from l4sim.analysis.fastpath_design_report import fastpath_design_section
from l4sim.analysis.figures import ipc_bench_figure, linux_figure, syscall_figures
from l4sim.analysis.sel4_checks_report import sel4_checks_section
from l4sim.analysis.sel4bench_compare import hardware_section
from l4sim.analysis.sensitivity_report import sensitivity_section
from l4sim.analysis.style import KINDS, Drawn, number, words
from l4sim.sweep.execute import SweepRun, run_sweep
from l4sim.sweep.output_folder import claim
from l4sim.sweep.progress import Progress
from l4sim.sweep.provenance import Provenance, of_table, read_table, write_file
from l4sim.sweep.scenario import Scenario, load_scenario
from l4sim.sweep.stats import mean_ci

REPORT = "paper"  # what a report's folder holds (its provenance's name)
SCENARIOS = ("syscall_bench", "linux", "ipc_bench")
# the paper's future work, answered in simulation
BEYOND = ("check_order", "check_order_linux", "notify")
# its open problem: an IPC fastpath not slower than the slowpath under contention
DESIGN = ("fastpath_design", "fastpath_design_linux")


@dataclass
class Written:
    """What a report wrote and how much of its runs came from the cache."""

    markdown: Path
    html: Path
    runs: dict[str, SweepRun]
    figures: list[Drawn] = field(default_factory=list)

    def describe(self) -> str:
        """The closing summary: the report's files, each scenario's folder, what was reused."""
        total = sum(run.runs for run in self.runs.values())
        reused = sum(run.reused for run in self.runs.values())
        lines = [
            f"report: {self.markdown} and {self.html} (self-contained, figures inlined)",
            f"runs: {total:,} in {len(self.runs)} scenarios, {reused:,} reused from "
            f"their caches, {total - reused:,} computed",
        ]
        for name, run in self.runs.items():
            lines.append(f"  {name}: {run.out_dir}/ ({run.runs:,} runs, {run.reused:,} reused)")
        lines.append(
            "figures (PNG and SVG): " + ", ".join(str(f.png.with_suffix("")) for f in self.figures)
        )
        return "\n".join(lines)


def report_scenarios(scenario_dir: Path, overrides: Sequence[str] = ()) -> dict[str, Scenario]:
    """The report's scenarios, each read and checked (before any runs)."""
    return {
        name: load_scenario(Path(scenario_dir) / f"{name}.toml", overrides)
        for name in SCENARIOS + BEYOND + DESIGN
    }


def build_report(
    scenario_dir: Path,
    results: Path,
    overrides: Sequence[str] = (),
    jobs: int | None = None,
    progress: bool | None = None,
    **options,
) -> Written:
    """Run (or rerun) the scenarios, evaluate the claims, write the report files.

    ``options`` go to :func:`l4sim.sweep.execute.run_sweep` (``force``, ``scheduler``).
    """
    results = Path(results)
    scenarios = report_scenarios(scenario_dir, overrides)  # validate all before running any
    claim(results, "report", REPORT, bool(options.get("overwrite")))
    runs = {
        name: run_sweep(scenario, results / scenario.name, jobs=jobs, progress=progress, **options)
        for name, scenario in scenarios.items()
    }
    points = {name: run.points for name, run in runs.items()}
    folder = {name: run.out_dir for name, run in runs.items()}
    steps = Progress(
        6, "report: figures and sections", Progress.choose(progress), unit="steps", delay=1.0
    )
    with steps:
        figures = syscall_figures(points["syscall_bench"], folder["syscall_bench"], paper=True)
        steps.update()
        linux_events = read_table(
            folder["linux"] / "events.parquet",
            columns=["fastpath_syscall", "fastpath_ipc", "kind", "duration"],
        )
        figures.append(linux_figure(linux_events, folder["linux"], points["linux"], paper=True))
        steps.update()
        figures.append(ipc_bench_figure(points["ipc_bench"], folder["ipc_bench"], paper=True))
        steps.update()
        claims = (
            claims_module.linux_claims(points["linux"])
            + claims_module.syscall_claims(points["syscall_bench"])
            + claims_module.ipc_bench_claims(points["ipc_bench"])
        )
        document = Document("l4sim: the paper's claims against the simulation")
        provenance = Provenance.current("report")
        date = provenance_section(document, provenance, runs)
        _claims_section(document, claims, overrides)
        steps.update()
        document.heading("Figures")
        for figure in figures:
            document.figure(figure)
        beyond_the_paper(document, {name: folder[name] for name in BEYOND})
        fastpath_design_section(document, {name: folder[name] for name in (*DESIGN, "ipc_bench")})
        # against the board: what `l4sim compare sel4bench` wrote, if it ran (it needs data)
        hardware_section(document, results / "sel4bench_compare")
        sensitivity_section(document, results)  # what make sensitivity wrote, if anything
        sel4_checks_section(document, results)  # what make sel4checks wrote, if anything
        steps.update()
        markdown, page = results / "report.md", results / "report.html"
        write_file(
            results,
            replace(provenance, scenario=REPORT),
            date=date,
            scenarios={name: str(run.out_dir) for name, run in runs.items()},
        )
        _write(markdown, document.markdown(results))
        _write(page, document.html())
        steps.update()
    return Written(markdown, page, runs, figures)


def provenance_section(
    document: Document, provenance: Provenance, runs: dict[str, SweepRun]
) -> str:
    """The report's header block: what made it; returns the date it gives.

    The program, source, model, command and date, and each scenario's file,
    hash and seeds, from its tables.
    """
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    document.heading("Provenance")
    document.bullets(
        [
            f"program: {provenance.program}; source: {provenance.source()}"
            + (f" (`{provenance.commit}`)" if provenance.commit != "unknown" else ""),
            f"model version: `{provenance.model}` (a hash of the code that decides every "
            "record: a cached run is reused only under the same one)",
            f"command: `{provenance.command}`",
            f"date: {date} (also in `provenance.json`; the tables and figures hold no date, "
            "so the same command on the same source gives the same files)",
        ]
    )
    rows = []
    for name, run in runs.items():
        found = of_table(run.out_dir / "points.parquet")
        rows.append(
            {
                "scenario": name,
                "file": f"`{found.scenario_file}`" if found else "unknown",
                "SHA-256": f"`{found.scenario_sha256[:16]}`" if found else "unknown",
                "seeds": found.seeds if found else "unknown",
            }
        )
    document.table(Table(pd.DataFrame(rows), raw=True))
    return date


def _write(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _claims_section(document: Document, claims, overrides) -> None:
    held = sum(c.verdict == "holds" for c in claims)
    command = "l4sim report" + "".join(f" --set {o}" for o in overrides)
    document.text(
        f"Generated by `{command}`. {held} of {len(claims)} rows hold (the whole "
        "95% interval inside the band)."
    )
    document.table(Table(claims_module.claims_frame(claims), raw=True))
    document.text(
        "Values are means over replications with 95% t-intervals; points that "
        "differ only in kernel options share their random streams, so ratios are "
        "paired per replication. *Fitted*: the profile has one cost fitted to each "
        "of E1 and E2 (`fp_copy_exception_state`, `fp_ipc_transfer`; see "
        "`scripts/calibrate_linux.py`), so those two rows hold by calibration, not "
        "by prediction. Every other row is a prediction of the model."
    )


def beyond_the_paper(document: Document, folders: dict[str, Path]) -> None:
    """The future-work sections: check profile, implied checks, optimal order, notifications."""
    from l4sim.analysis.checks_report import point_groups

    document.heading("Beyond the paper: its future work, in simulation")
    groups = [
        (p, k, e) for p, k, e in point_groups(folders["check_order"]) if p.check_order == "paper"
    ]
    _failing_checks(document, groups)
    _implied_checks(document, groups)
    _reordered_checks(document, folders)
    _notifications(document, folders["notify"])


def _failing_checks(document: Document, groups: list) -> None:
    """Which checks fail: the IPC benchmark at its heaviest contention, paper order."""
    from l4sim.analysis.check_profile import check_table

    point, _, events = min(groups, key=lambda g: g[0].wait_factor)
    table = check_table(events, "ipc", point.fastpaths()["ipc"])
    table["fail_rate"] = table["fail_rate"].where(table["reached"] > 0)  # never reached: n/a
    table["stage"] = table["stage"].map(lambda stage: STAGES.get(stage, stage))
    table["check"] = "`" + table["check"].astype(str) + "`"
    document.heading(
        f"Which IPC-fastpath checks fail ({point.clients} clients, wait factor "
        f"{point.wait_factor:g}, paper order)",
        3,
    )
    document.table(
        Table(
            table[
                [
                    "position",
                    "check",
                    "stage",
                    "reached",
                    "failed",
                    "fail_rate",
                    "cycles_before_failure",
                    "locks_held_at_failure",
                ]
            ],
            missing={
                "cycles_before_failure": "the check never failed",
                "fail_rate": "the check was never reached",
                "locks_held_at_failure": "the check never failed",
            },
            percent=("fail_rate",),
        )
    )


def _implied_checks(document: Document, groups: list) -> None:
    """Checks implied by others, and checks that never failed, over every paper-order point."""
    from l4sim.analysis.check_profile import implied_pairs

    pooled = pd.concat([e for _, _, e in groups], ignore_index=True)
    pairs = implied_pairs(pooled, "ipc")
    never = pairs[~pairs["then_ever_failed"].astype(bool)].drop_duplicates("then_passes")
    real = pairs[pairs["then_ever_failed"].astype(bool)]
    document.heading("Implied checks (IPC fastpath, all points of the check-order scenario)", 3)
    if len(real):
        document.text(
            f"{len(real)} pairs where passing A always meant passing B, and B "
            "failed at least once (so B is implied by A here, not merely never "
            "failing):"
        )
        document.table(Table(real[["if_passes", "then_passes", "support", "basis"]]))
    else:
        document.text(
            "No check implied another here: for no pair did passing A always mean "
            "passing B while B failed at least once, so no check can be dropped "
            "because an earlier one vouches for it."
        )
    never = never.rename(columns={"then_passes": "check"})
    never["basis"] = never["basis"].str.replace("B reads", "it reads")
    never["check"] = "`" + never["check"].astype(str) + "`"
    document.text("Checks that never failed in these runs (removal candidates for this load):")
    document.table(Table(never[["check", "basis"]]))


def _reordered_checks(document: Document, folders: dict[str, Path]) -> None:
    """The order optimizer's order, measured against the paper's (paired replications)."""
    from l4sim.analysis.check_order_effect import compare
    from l4sim.analysis.checks_report import point_groups
    from l4sim.sweep.cache import ResultCache
    from l4sim.sweep.fastpath_designs import resolve_order

    document.heading("Reordered checks, measured (paired replications)", 3)
    document.text(
        "*Reordered*: the paper's checks in the order that minimises the expected "
        "cycles per attempt, nothing moved across lock stages (the runs' "
        '`check_order = "optimized"`, found by the same optimizer as the '
        "design *reordered* of the next section). Cycles are means per entry; "
        "a change is reordered minus paper, with its 95% interval."
    )
    for name in ("check_order", "check_order_linux"):
        effect = compare(folders[name])
        effect = effect[effect["kind"].isin(["ipc", "syscall_exception"])]
        document.text(f"`scenarios/{name}.toml`:")
        document.table(
            Table(
                _order_effect(effect),
                missing=dict.fromkeys(
                    ("fallback paper", "fallback reordered", "fallback change"),
                    "no fastpath attempt of this kind fell back",
                ),
            )
        )
        orders = []
        cache = ResultCache(folders[name])  # the orders were filed beside the runs
        for point, keys, _ in point_groups(folders[name]):
            if point.check_order == "optimized":
                order = resolve_order(point, cache.derived) or {}
                described = "; ".join(
                    f"{KINDS.get(kind, kind)}: {', '.join(f'`{n}`' for n in names)}"
                    for kind, names in order.items()
                )
                where = ", ".join(
                    f"{words(k)} {number(v) if isinstance(v, float) else v}"
                    for k, v in keys.items()
                    if k != "check_order"
                )
                orders.append((where, described))
        document.bullets(_same_orders(orders))


def _notifications(document: Document, folder: Path) -> None:
    """Notifications through the IPC fastpath: an interrupt's forwarding cost and latency."""
    points = read_table(folder / "points.parquet")
    events = read_table(
        folder / "events.parquet",
        columns=[
            "irq_forward",
            "fastpath_notify",
            "replication",
            "thread_name",
            "kind",
            "exit_point",
            "duration",
        ],
    )
    forwards = events[
        (events["thread_name"] == "irq0")
        & (events["kind"] == "ipc")
        & events["exit_point"].isin(FORWARD_EXITS)
    ]
    cost = forwards.groupby(["irq_forward", "fastpath_notify"])["duration"].mean()
    latency = (
        points[points["kind"] == "irq_latency"]
        .groupby(["irq_forward", "fastpath_notify"])["duration_mean"]
        .apply(_ci_text)
    )
    rows = pd.DataFrame(
        {"forward cycles (mean)": cost, "IRQ to server latency, cycles (95% CI)": latency}
    ).reset_index()
    document.heading("Notifications through the IPC fastpath (Linux load, IRQ forwarding)", 3)
    document.text(
        "Forwarding from CPU 0's interrupt thread to the other CPU: a Send IPC, or a "
        "mailbox write plus a notification; the notification fastpath on or off. "
        "Forward cycles: kernel cycles per forwarding operation; latency: from the "
        "interrupt to its Linux server receiving it."
    )
    document.table(Table(rows, missing={"forward cycles (mean)": "no forwarding was measured"}))


STAGES = {
    "lock_free": "no lock",
    "scheduler": "scheduler lock",
    "threads": "scheduler + thread locks",
}


def _order_effect(effect: pd.DataFrame) -> pd.DataFrame:
    """compare()'s table as the report shows it.

    Each change with its interval in one cell, kinds in words (7 columns instead of 10).
    """
    rows = []
    for row in effect.to_dict("records"):
        shown = {
            words(str(k)): (number(v) if isinstance(v, float) else v)
            for k, v in row.items()
            if k not in ("kind",) and not str(k).startswith(("duration", "fallback"))
        }
        shown["kernel entry"] = KINDS.get(row["kind"], row["kind"])
        for metric, name in (("duration", "duration"), ("fallback_cycles", "fallback")):
            paper = row.get(f"{metric}_paper")
            missing = paper is None or paper != paper
            shown[f"{name} paper"] = None if missing else paper
            shown[f"{name} reordered"] = None if missing else row[f"{metric}_optimized"]
            shown[f"{name} change"] = (
                None
                if missing
                else (f"{row[f'{metric}_change']:+.1f} ({row[f'{metric}_change_ci']})")
            )
        rows.append(shown)
    return pd.DataFrame(rows)


def _same_orders(orders: list[tuple[str, str]]) -> list[str]:
    """One line per distinct order, naming every point it applies to."""
    by_order: dict[str, list[str]] = {}
    for where, described in orders:
        by_order.setdefault(described, []).append(where or "the load")
    return [
        f"reordered ({' and '.join(wheres)}): {described}" for described, wheres in by_order.items()
    ]


FORWARD_EXITS = {
    "slow_deliver",
    "slow_queue",
    "slow_notify",
    "slow_notify_pending",
    "fast_notify",
    "destination_waiting_open",
    "no_pending_notification",
    "valid_space",
    "valid_destination",
}


def _ci_text(values: pd.Series) -> str:
    mean, (low, high) = mean_ci(values)
    return f"{mean:,.0f} ({low:,.0f} .. {high:,.0f})"
