"""``l4sim compare sel4bench DATA``: every run calibrated, its SMP benchmark simulated.

For each run of the data: calibrate a profile from its single-core figures
(:mod:`l4sim.analysis.calibration`; the FITTED handoff from the other runs'
4-core figures), run the SMP benchmark's scenario with it on 4 CPUs at
sel4bench's two delays, and set the prediction beside every measured
multi-core figure there is. Runs whose multi-core figures are absent
(withheld) get the prediction alone.

Writes ``OUT/compare.csv`` (one row per run: measured, predicted, error,
the FITTED handoff, the residuals), ``OUT/compare.md`` (the residuals, the
in-sample errors, the predicted effects of the changes below and every run,
as tables), the time-series figure ``OUT/sel4bench_2026.png`` and ``.svg``,
and ``OUT/profiles/RUN_ID.toml`` with their residuals; ``OUT/runs/RUN_ID/``
holds each run's simulated tables (and cache); ``OUT/provenance.json`` says
where the data came from (each file and its SHA-256) and whether it was
measured. The report's section is the same blocks, from ``compare.csv``.

Data marked synthetic (:data:`l4sim.analysis.sel4bench.SYNTHETIC`: the
example data is) is never presented as a validation against hardware: every
title, heading and legend then says it is synthetic, and the report's section
says so before anything else. A comparison whose data's origin was not
recorded is not called a validation either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from l4sim.analysis import calibration
from l4sim.analysis.document import Document, Table
from l4sim.analysis.sel4bench import SMP, Sel4benchData
from l4sim.analysis.style import Drawn
from l4sim.sweep.execute import run_scenario
from l4sim.sweep.provenance import Provenance, file_sha256, read_file, write_file
from l4sim.sweep.scenario import Scenario, load_scenario

CORES = 4
# Changes during the 2026 series of the Sabre (the data set's own description):
# seL4's IPC became about 25 cycles slower from this date, and the benchmark
# itself changed on the second; the 4-core figures from 2026-05-01 on are withheld.
CHANGES = (("2026-05-05", "seL4: IPC ~25 cycles slower"), ("2026-06-26", "sel4bench changed"))
CHANGES_TABLE = "changes.csv"  # the changes a comparison marks: date, change
TABLE = "compare.csv"
FIGURE = "sel4bench_2026"
TITLE = f"sel4bench on the board against l4sim: {CORES}-core SMP benchmark"
SYNTHETIC_TITLE = (
    f"Synthetic sel4bench data against l4sim: {CORES}-core SMP benchmark "
    "(not measurements: no validation against hardware)"
)
COMPARED = "sel4bench"  # what a comparison's folder holds (its provenance's name)


@dataclass(frozen=True)
class DataSource:
    """Where a comparison's data came from.

    Its files (path, SHA-256), and if it is synthetic, what made it ('':
    measured; None: not recorded).
    """

    files: tuple[tuple[str, str], ...]
    synthetic: str | None

    @classmethod
    def of(cls, data: Sel4benchData) -> DataSource:
        return cls(tuple((str(path), file_sha256(path)) for path in data.files), data.synthetic)

    @classmethod
    def recorded(cls, folder: Path) -> DataSource:
        """What a comparison's ``provenance.json`` says (files none, synthetic None: nothing)."""
        found = (read_file(folder) or {}).get("data")
        if not isinstance(found, dict):
            return cls((), None)
        files = tuple(
            (str(entry.get("path")), str(entry.get("sha256")))
            for entry in found.get("files", [])
            if isinstance(entry, dict)
        )
        synthetic = found.get("synthetic")
        return cls(files, synthetic if isinstance(synthetic, str) else None)

    def record(self) -> dict:
        return {
            "files": [{"path": path, "sha256": digest} for path, digest in self.files],
            "synthetic": self.synthetic,
        }

    def sentence(self) -> str:
        """Where the data came from, in words (Markdown)."""
        if not self.files:
            return (
                "Where these data came from was not recorded (a comparison written by an "
                "older l4sim): run `l4sim compare` again. Until then this is no validation."
            )
        files = ", ".join(f"`{path}` (SHA-256 {digest[:12]})" for path, digest in self.files)
        if self.synthetic:
            return (
                f"**Synthetic data, not measurements**: {files}, {self.synthetic}. The "
                "tables and figure below show how a comparison reads; they validate "
                "nothing against hardware."
            )
        return f"Data: {files}, sel4bench's results of the board."

    @property
    def title(self) -> str:
        return SYNTHETIC_TITLE if self.synthetic else TITLE


def compare(
    data: Sel4benchData,
    scenario: Scenario,
    out: Path,
    events: int = calibration.EVENTS,
    jobs: int = 1,
    data_paths: Sequence[Path] = (),
    changes: tuple[tuple[str, str], ...] = CHANGES,
) -> list[Path]:
    """Calibrate and simulate every run; write the table, its Markdown and the figure.

    ``changes`` are (date, what) of the changes to mark and to predict the
    effect of (those within the data's dates).
    """
    for run in data.runs:  # every run's figures are checked before anything is written
        calibration.derive(run)
    out = Path(out)
    source = DataSource.of(data)
    (out / "profiles").mkdir(parents=True, exist_ok=True)
    write_file(
        out,
        Provenance.of_points(scenario.points(), "compare", COMPARED, scenario.source),
        data=source.record(),
    )
    known: dict[int, float] = {}
    rows = []
    for run in data.runs:
        result = calibration.calibrate(data, run.run_id, events, known, jobs)
        profile = out / "profiles" / f"{run.run_id}.toml"
        calibration.write(
            result,
            profile,
            calibration.command_line(list(data_paths) or [Path(data.source)], result, events),
        )
        points = _simulate(
            scenario, profile.resolve(), out / "runs" / str(run.run_id), jobs, events
        )
        row = {
            "run_id": run.run_id,
            "ts": run.ts,
            "sha_kernel": run.sha_kernel,
            "sha_bench": run.sha_bench,
            "clock_hz": result.costs.clock_hz,
            "lock_handoff": result.costs.lock_handoff,
            "fit_runs": len(result.fit.runs) if result.fit else 0,
            "residual_max": max(abs(r["error"]) for r in result.residuals if r["used"]),
        }
        for residual in result.residuals:  # the model's single-core figures against the board
            row[f"residual_{residual['metric']}"] = residual["error"]
        for delay in calibration.DELAYS:
            metric = calibration.rate_metric(CORES, delay)
            chosen = points[(points["cpus"] == CORES) & (points["delay_cycles"] == delay)]
            row[f"{metric}_predicted"] = float(chosen["calls_per_second"].mean())
            row[f"{metric}_measured"] = run.mean(SMP, metric) if run.has(SMP, metric) else np.nan
            row[f"{metric}_error"] = row[f"{metric}_predicted"] / row[f"{metric}_measured"] - 1
        rows.append(row)
    return [
        *write_comparison(pd.DataFrame(rows), out, changes, source),
        out / "profiles",
        out / "provenance.json",
    ]


def write_comparison(
    table: pd.DataFrame,
    out: Path,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    source: DataSource | None = None,
) -> list[Path]:
    """Write the comparison's table, its changes, the figure and the Markdown from ``table``.

    ``source``: where the data came from (default: what ``out/provenance.json`` says).
    """
    out = Path(out)
    source = source or DataSource.recorded(out)
    table.to_csv(out / TABLE, index=False)
    pd.DataFrame(list(changes), columns=["date", "change"]).to_csv(out / CHANGES_TABLE, index=False)
    figure = time_series_figure(table, out, changes, source)
    document = Document(source.title)
    comparison_blocks(document, table, figure, changes, level=1, source=source)
    (out / "compare.md").write_text(document.markdown(out))
    return [out / TABLE, out / CHANGES_TABLE, out / "compare.md", figure.png, figure.svg]


def _simulate(
    scenario: Scenario, profile: Path, folder: Path, jobs: int, events: int
) -> pd.DataFrame:
    """The scenario's points on 4 CPUs at sel4bench's delays, with this profile."""
    delays = ", ".join(map(str, calibration.DELAYS))
    chosen = load_scenario(
        scenario.source,
        [
            f"profile={profile}",
            f"sweep.cpus=[{CORES}]",
            f"sweep.delay_cycles=[{delays}]",
            f"events={events}",
            f"warmup_events={max(1, events // 10)}",
        ],
    )
    return run_scenario(chosen, folder, jobs=jobs, progress=False)


def effects(table: pd.DataFrame, changes: tuple[tuple[str, str], ...] = CHANGES) -> list[dict]:
    """Each change's predicted effect on the 4-core rates: mean prediction after vs before.

    "Before" is the period from the previous change (or the start) to this
    one, "after" from this change to the next (or the end).
    """
    dates = table["ts"].str[:10]
    changes = sorted(changes)  # type: ignore[assignment]
    bounds = ["0000", *(date for date, _ in changes), "9999"]
    found = []
    for index, (date, what) in enumerate(changes):
        before = table[(dates >= bounds[index]) & (dates < date)]
        after = table[(dates >= date) & (dates < bounds[index + 2])]
        if before.empty or after.empty:
            continue
        entry = {"date": date, "change": what, "runs_before": len(before), "runs_after": len(after)}
        for delay in calibration.DELAYS:
            metric = calibration.rate_metric(CORES, delay)
            old = before[f"{metric}_predicted"].mean()
            new = after[f"{metric}_predicted"].mean()
            entry[f"{metric}_before"] = old
            entry[f"{metric}_after"] = new
            entry[f"{metric}_effect"] = new / old - 1
            entry[f"{metric}_measured_before"] = before[f"{metric}_measured"].mean()
        found.append(entry)
    return found


def in_sample(table: pd.DataFrame) -> dict:
    """Errors on the runs whose 4-core figures are given: worst and mean absolute, per delay."""
    summary = {}
    for delay in calibration.DELAYS:
        metric = calibration.rate_metric(CORES, delay)
        errors = table[f"{metric}_error"].dropna()
        summary[delay] = {
            "runs": len(errors),
            "max": float(errors.abs().max()) if len(errors) else np.nan,
            "mean": float(errors.abs().mean()) if len(errors) else np.nan,
        }
    return summary


RESIDUALS = (
    ("Call (cycles)", "ipc_call_intra", True),
    ("ReplyRecv (cycles)", "ipc_reply_intra", True),
    ("Call, two address spaces (cycles; not modelled)", "ipc_call", False),
    ("ReplyRecv, two address spaces (cycles; not modelled)", "ipc_reply", False),
    (
        f"1 core, delay {calibration.DELAYS[0]} (calls/s)",
        calibration.rate_metric(1, calibration.DELAYS[0]),
        True,
    ),
    (
        f"1 core, delay {calibration.DELAYS[1]} (calls/s)",
        calibration.rate_metric(1, calibration.DELAYS[1]),
        True,
    ),
)


def _percent(value: float, sign: bool = True) -> str:
    if pd.isna(value):
        return "n/a"  # type: ignore[unreachable]
    return f"{100 * value:+.2f}%" if sign else f"{100 * value:.2f}%"


def _number(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:,.0f}"


def comparison_blocks(
    document: Document,
    table: pd.DataFrame,
    figure: Drawn | None,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    level: int = 2,
    source: DataSource | None = None,
) -> None:
    """The comparison as blocks: the data's origin, residuals, FITTED, errors, every run."""
    low, high = calibration.DELAYS
    first, second = (calibration.rate_metric(CORES, d) for d in (low, high))
    document.text((source or DataSource((), None)).sentence())
    document.text(
        f"{len(table)} runs, each calibrated on its own single-core figures (`l4sim calibrate "
        f"sel4bench`); each prediction is `sel4bench_smp` on {CORES} CPUs with that run's "
        "profile. No run's own multi-core figures enter its profile."
    )
    document.heading("Residuals: the model's single-core figures against the data's", level + 1)
    rows = []
    for name, metric, used in RESIDUALS:
        column = f"residual_{metric}"
        if column not in table or table[column].isna().all():
            continue
        errors = table[column].dropna()
        rows.append(
            {
                "figure": name + (" *" if used else ""),
                "metric (SMP build)": metric,
                "runs": f"{len(errors)}",
                "largest error": _percent(errors.loc[errors.abs().idxmax()]),  # type: ignore[call-overload]
                "mean absolute error": _percent(errors.abs().mean(), sign=False),
            }
        )
    if rows:
        document.table(Table(pd.DataFrame(rows), raw=True))
    document.text(
        f"Each run's profile simulated on 1 CPU against that run's figures; *: a "
        "figure the calibration used; *not modelled*: the SMP benchmark's threads "
        "share one address space, so the model has no address-space switch and "
        "gives those figures the one-space cost (shown for reference). Largest "
        "residual of a used figure over all runs: "
        f"{100 * table['residual_max'].max():.3f}%."
    )
    fitted = table[table["fit_runs"] > 0]
    if len(fitted):
        values = sorted(fitted["lock_handoff"].unique())
        shown = f"{values[0]}" if len(values) == 1 else f"{values[0]} to {values[-1]}"
        points = sorted(fitted["fit_runs"].unique())
        counted = "/".join(str(n) for n in points)
        fit_metric = calibration.rate_metric(calibration.FIT_CORES, calibration.FIT_DELAY)
        document.text(
            f"**FITTED: one parameter**, `lock_handoff` (the cycles a contended grant of the "
            f"big lock costs): {shown} cycles in the {len(fitted)} profiles that have it, "
            f"each fitted to `{fit_metric}` "
            f"of the *other* runs ({counted} data points per profile). Everything else is "
            "derived from the run's own single-core figures, exact to a cycle."
        )
    document.heading(f"In-sample errors: runs whose {CORES}-core figures are given", level + 1)
    sample = in_sample(table)
    document.table(
        Table(
            pd.DataFrame(
                [
                    {
                        "delay (cycles)": f"{delay:,}",
                        f"runs with a measured {CORES}-core figure": f"{sample[delay]['runs']}",
                        "largest error": _percent(sample[delay]["max"], False),
                        "mean absolute error": _percent(sample[delay]["mean"], False),
                    }
                    for delay in (low, high)
                ]
            ),
            raw=True,
        )
    )
    found = effects(table, changes)
    if found:
        document.heading(f"Predicted effect of each change on {CORES}-core throughput", level + 1)
        document.text(
            "The mean prediction of the runs after each change against those "
            "before it (back to the previous change); stated before the withheld "
            "figures are checked."
        )
        document.table(
            Table(
                pd.DataFrame(
                    [
                        {
                            "change": f"{entry['date']}: {entry['change']}",
                            "runs before / after": (
                                f"{entry['runs_before']} / {entry['runs_after']}"
                            ),
                            f"delay {low:,}: before -> after": _before_after(entry, first),
                            f"effect at {low:,}": _percent(entry[first + "_effect"]),
                            f"delay {high:,}: before -> after": _before_after(entry, second),
                            f"effect at {high:,}": _percent(entry[second + "_effect"]),
                        }
                        for entry in found
                    ]
                ),
                raw=True,
            )
        )
    document.heading("Every run", level + 1)
    document.text(
        f"Calls per second, all {CORES} cores. Measured: sel4bench's figure (n/a: "
        "withheld); error: predicted / measured - 1; handoff: the FITTED value and "
        "how many runs' figures it was fitted to."
    )
    document.table(
        Table(
            pd.DataFrame(
                [
                    {
                        "run": str(row.run_id),
                        "date": row.ts[:10],  # type: ignore[index]  # (a table row)
                        "seL4": row.sha_kernel,
                        "sel4bench": row.sha_bench,
                        "handoff (FITTED, runs)": f"{row.lock_handoff} ({row.fit_runs})"  # type: ignore[str-bytes-safe]
                        if row.fit_runs
                        else f"{row.lock_handoff} (not fitted)",
                        f"c{low} measured": _number(values[first + "_measured"]),
                        f"c{low} predicted": _number(values[first + "_predicted"]),
                        f"c{low} error": _percent(values[first + "_error"]),
                        f"c{high} measured": _number(values[second + "_measured"]),
                        f"c{high} predicted": _number(values[second + "_predicted"]),
                        f"c{high} error": _percent(values[second + "_error"]),
                    }
                    for row, values in (
                        (row, row._asdict())  # type: ignore[misc, operator]  # (a named tuple)
                        for row in table.itertuples(index=False)
                    )
                ]
            ),
            raw=True,
        )
    )
    if figure is not None:
        document.figure(figure)


def _caption(
    table: pd.DataFrame, changes: tuple[tuple[str, str], ...] = (), synthetic: bool = False
) -> str:
    withheld = int(
        table[f"{calibration.rate_metric(CORES, calibration.DELAYS[0])}_measured"].isna().sum()
    )
    points = (
        f"Points: the synthetic data's {CORES}-core rate of each run (made up, not measured)"
        if synthetic
        else f"Points: sel4bench's measured {CORES}-core rate of each run"
    )
    return (
        f"{points}; line: l4sim's "
        f"prediction, from a profile calibrated on that run's single-core figures "
        f"({len(table)} runs"
        + (f", {withheld} with their {CORES}-core figures withheld, shaded" if withheld else "")
        + ")."
        + (
            " Vertical lines: the changes of the period; the predicted line is broken at "
            "each (a step, not a drift)."
            if _within(table, changes)
            else ""
        )
        + " Each prediction is the mean of the scenario's replications."
    )


def _within(table: pd.DataFrame, changes: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The changes dated within the runs' dates."""
    dates = table["ts"].str[:10]
    return [(date, what) for date, what in changes if dates.min() <= date <= dates.max()]


def time_series_figure(
    table: pd.DataFrame,
    out_dir: Path,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    source: DataSource | None = None,
) -> Drawn:
    """Measured 4-core rates as points, predicted as a line, the changes marked.

    The predicted line is broken at every change: a prediction holds for the
    kernel and benchmark of its run, so a line drawn across a change would show
    a gradual drift where there is a step.
    """
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from l4sim.analysis.style import PALETTE, save

    when = pd.to_datetime(table["ts"])
    synthetic = bool(source and source.synthetic)
    marked = _within(table, changes)
    stamps = [pd.Timestamp(date, tz=when.dt.tz) for date, _ in marked]
    # each run's period: how many changes came before it
    period = sum(
        ((when >= stamp).to_numpy().astype(int) for stamp in stamps), np.zeros(len(when), dtype=int)
    )
    figure, axes = plt.subplots(2, 1, figsize=(11.5, 7.4), sharex=True)
    for axis, delay in zip(axes, calibration.DELAYS, strict=True):
        metric = calibration.rate_metric(CORES, delay)
        for index, part in enumerate(sorted(set(period))):
            chosen = period == part
            axis.plot(
                when[chosen],
                table.loc[chosen, f"{metric}_predicted"],
                "-",
                color=PALETTE[0],
                linewidth=1.5,
                marker=".",
                markersize=5,
                label="predicted (l4sim)" if index == 0 else "_",
            )
        measured = table[f"{metric}_measured"]
        axis.plot(
            when[measured.notna()],
            measured.dropna(),
            "o",
            color=PALETTE[6],
            markersize=4,
            label="synthetic (not measured)" if synthetic else "measured (sel4bench)",
        )
        withheld = when[measured.isna()]
        if len(withheld):  # wide enough to see, even around one run
            pad = max((when.max() - when.min()) * 0.01, pd.Timedelta(hours=12))
            axis.axvspan(
                withheld.min() - pad,
                withheld.max() + pad,
                color="0.9",
                zorder=0,
                label=f"{CORES}-core figures withheld",
            )
        for index, ((date, what), stamp) in enumerate(zip(marked, stamps, strict=True)):
            axis.axvline(
                stamp,
                color=PALETTE[1],
                linewidth=1.2,
                linestyle=("--", ":", "-.")[index % 3],
                label=f"{date}: {what}",
            )
        axis.set_ylabel(f"calls per second, {CORES} cores")
        axis.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        axis.set_title(f"delay {delay:,} cycles", fontsize=9.5, loc="left")
        axis.grid(alpha=0.3)
    # beside the panels: inside, it would cover runs
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    axes[-1].set_xlabel("run date")
    figure.autofmt_xdate()
    title = figure_title(synthetic)
    figure.suptitle(title, fontsize=10.5)
    return save(figure, out_dir, FIGURE, title, [_caption(table, changes, synthetic)])


def figure_title(synthetic: bool) -> str:
    if synthetic:
        return (
            f"sel4bench's SMP benchmark on {CORES} cores: synthetic data (not measured) "
            "and predicted"
        )
    return f"sel4bench's SMP benchmark on {CORES} cores: measured and predicted"


def hardware_section(document: Document, folder: Path) -> None:
    """The report's section on the model against sel4bench, from what ``compare`` wrote.

    Headed "Validated against hardware" only when the comparison's data were
    recorded as measured; synthetic data (or data of unrecorded origin) head it
    as such.
    """
    folder = Path(folder)
    table_path = folder / TABLE
    source = DataSource.recorded(folder)
    if not table_path.is_file() or (source.files and not source.synthetic):
        document.heading(f"Validated against hardware (sel4bench, {CORES} cores)")
    elif source.synthetic:
        document.heading(
            f"Synthetic sel4bench data (not measurements: no validation against hardware, "
            f"{CORES} cores)"
        )
    else:
        document.heading(f"Against sel4bench data of unrecorded origin ({CORES} cores)")
    if not table_path.is_file():
        document.text(
            f"No comparison yet: `{table_path}` is absent. Run `l4sim compare "
            "sel4bench DATA` (DATA: sel4bench-results files of the board; see "
            "docs/how-to/calibration.md), then `l4sim report` again."
        )
        return
    table = pd.read_csv(table_path, dtype={"sha_kernel": str, "sha_bench": str})
    changes_path = folder / CHANGES_TABLE
    changes = (
        tuple(pd.read_csv(changes_path, dtype=str).itertuples(index=False, name=None))
        if changes_path.is_file()
        else ()
    )
    png, svg = folder / f"{FIGURE}.png", folder / f"{FIGURE}.svg"
    synthetic = bool(source.synthetic)
    figure = (
        Drawn(png, svg, figure_title(synthetic), _caption(table, changes, synthetic))
        if png.is_file()
        else None
    )
    comparison_blocks(document, table, figure, changes, level=2, source=source)


def _before_after(entry: dict, metric: str) -> str:
    """A metric's value before and after a change, as 'before -> after'."""
    return f"{_number(entry[metric + '_before'])} -> {_number(entry[metric + '_after'])}"
