"""``l4sim compare sel4bench DATA``: every run calibrated, its SMP benchmark simulated.

For each run of the data: calibrate a profile from its single-core figures
(:mod:`l4sim.analysis.calibration`; the FITTED handoff from the other runs'
4-core figures), run the SMP benchmark's scenario with it on 4 CPUs at
sel4bench's two delays, and set the prediction beside every measured
multi-core figure there is. Runs whose multi-core figures are absent
(withheld) get the prediction alone.

Writes ``OUT/compare.csv`` (one row per run), ``OUT/compare.md`` (the same
as a table, and the effects of the changes below), ``OUT/sel4bench_2026.png``
(the time series), and ``OUT/profiles/RUN_ID.toml`` with their residuals;
``OUT/runs/RUN_ID/`` holds each run's simulated tables (and cache).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from l4sim.analysis import calibration
from l4sim.analysis.sel4bench import SMP, Sel4benchData
from l4sim.sweep.run import run_scenario
from l4sim.sweep.scenario import Scenario, load_scenario

CORES = 4
# Changes during the 2026 series of the Sabre (the data set's own description):
# seL4's IPC became about 25 cycles slower from this date, and the benchmark
# itself changed on the second; the 4-core figures from 2026-05-01 on are withheld.
CHANGES = (("2026-05-05", "seL4: IPC ~25 cycles slower"),
           ("2026-06-26", "sel4bench changed"))
TABLE = "compare.csv"


def compare(data: Sel4benchData, scenario: Scenario, out: Path, events: int = calibration.EVENTS,
            jobs: int = 1, data_paths: list[Path] = ()) -> list[Path]:
    """Calibrate and simulate every run; write the table, its Markdown and the figure."""
    for run in data.runs:  # every run's figures are checked before anything is written
        calibration.derive(run)
    out = Path(out)
    (out / "profiles").mkdir(parents=True, exist_ok=True)
    known: dict[int, float] = {}
    rows = []
    for run in data.runs:
        result = calibration.calibrate(data, run.run_id, events, known, jobs)
        profile = out / "profiles" / f"{run.run_id}.toml"
        calibration.write(result, profile, calibration.command_line(
            list(data_paths) or [Path(data.source)], result, events))
        points = _simulate(scenario, profile.resolve(), out / "runs" / str(run.run_id), jobs,
                           events)
        row = {"run_id": run.run_id, "ts": run.ts, "sha_kernel": run.sha_kernel,
               "sha_bench": run.sha_bench, "clock_hz": result.costs.clock_hz,
               "lock_handoff": result.costs.lock_handoff,
               "fit_runs": len(result.fit.runs) if result.fit else 0,
               "residual_max": max(abs(r["error"]) for r in result.residuals if r["used"])}
        for delay in calibration.DELAYS:
            metric = calibration.rate_metric(CORES, delay)
            chosen = points[(points["cpus"] == CORES) & (points["delay_cycles"] == delay)]
            row[f"{metric}_predicted"] = float(chosen["calls_per_second"].mean())
            row[f"{metric}_measured"] = (run.mean(SMP, metric) if run.has(SMP, metric)
                                         else np.nan)
            row[f"{metric}_error"] = row[f"{metric}_predicted"] / row[f"{metric}_measured"] - 1
        rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(out / TABLE, index=False)
    (out / "compare.md").write_text(markdown(table))
    figure = time_series_figure(table, out / "sel4bench_2026.png")
    return [out / TABLE, out / "compare.md", figure, out / "profiles"]


def _simulate(scenario: Scenario, profile: Path, folder: Path, jobs: int,
              events: int) -> pd.DataFrame:
    """The scenario's points on 4 CPUs at sel4bench's delays, with this profile."""
    delays = ", ".join(map(str, calibration.DELAYS))
    chosen = load_scenario(scenario.source, [
        f"profile={profile}", f"sweep.cpus=[{CORES}]", f"sweep.delay_cycles=[{delays}]",
        f"events={events}", f"warmup_events={max(1, events // 10)}"])
    return run_scenario(chosen, folder, jobs=jobs, progress=False)


def effects(table: pd.DataFrame) -> list[dict]:
    """Each change's predicted effect on the 4-core rates: mean prediction after vs before.

    "Before" is the period from the previous change (or the start) to this
    one, "after" from this change to the next (or the end).
    """
    dates = table["ts"].str[:10]
    bounds = ["0000", *(date for date, _ in CHANGES), "9999"]
    found = []
    for index, (date, what) in enumerate(CHANGES):
        before = table[(dates >= bounds[index]) & (dates < date)]
        after = table[(dates >= date) & (dates < bounds[index + 2])]
        if before.empty or after.empty:
            continue
        entry = {"date": date, "change": what, "runs_before": len(before),
                 "runs_after": len(after)}
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
        summary[delay] = {"runs": len(errors), "max": float(errors.abs().max())
                          if len(errors) else np.nan,
                          "mean": float(errors.abs().mean()) if len(errors) else np.nan}
    return summary


def markdown(table: pd.DataFrame) -> str:
    """The comparison as Markdown: the in-sample errors, the effects, then every run."""
    low, high = calibration.DELAYS
    first, second = (calibration.rate_metric(CORES, d) for d in (low, high))
    sample = in_sample(table)
    lines = [f"# sel4bench on the board against l4sim: {CORES}-core SMP benchmark", "",
             f"{len(table)} runs, each calibrated on its own single-core figures "
             "(`l4sim calibrate`); predictions: `sel4bench_smp` on 4 CPUs with that profile. "
             f"Largest residual of a single-core figure the calibration used: "
             f"{100 * table['residual_max'].max():.3f}%.", "",
             "| delay | runs with a measured 4-core figure | largest error | mean absolute "
             "error |", "|---|---|---|---|"]
    for delay in (low, high):
        entry = sample[delay]
        lines.append(f"| {delay} | {entry['runs']} | {100 * entry['max']:.2f}% | "
                     f"{100 * entry['mean']:.2f}% |")
    lines += ["", "Predicted effect of each change on the 4-core rate (mean prediction of the "
              "runs after it against those before it):", "",
              f"| change | runs before / after | delay {low}: before -> after | effect | "
              f"delay {high}: before -> after | effect |", "|---|---|---|---|---|---|"]
    for entry in effects(table):
        lines.append(
            f"| {entry['date']}: {entry['change']} | {entry['runs_before']} / "
            f"{entry['runs_after']} | {entry[first + '_before']:,.0f} -> "
            f"{entry[first + '_after']:,.0f} | {100 * entry[first + '_effect']:+.2f}% | "
            f"{entry[second + '_before']:,.0f} -> {entry[second + '_after']:,.0f} | "
            f"{100 * entry[second + '_effect']:+.2f}% |")
    lines += ["", f"Calls per second, all {CORES} cores. Measured: sel4bench's figure (blank: "
              "withheld); error: predicted / measured - 1.", "",
              "| run | date | seL4 | sel4bench | handoff (FITTED, runs) | "
              f"c{low} measured | c{low} predicted | error | c{high} measured | "
              f"c{high} predicted | error |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    def number(value: float) -> str:
        return "" if pd.isna(value) else f"{value:,.0f}"

    def error(value: float) -> str:
        return "" if pd.isna(value) else f"{100 * value:+.2f}%"

    for row in table.itertuples(index=False):
        values = row._asdict()
        lines.append(
            f"| {row.run_id} | {row.ts[:10]} | {row.sha_kernel} | {row.sha_bench} | "
            f"{row.lock_handoff} ({row.fit_runs}) | {number(values[first + '_measured'])} | "
            f"{number(values[first + '_predicted'])} | {error(values[first + '_error'])} | "
            f"{number(values[second + '_measured'])} | {number(values[second + '_predicted'])}"
            f" | {error(values[second + '_error'])} |")
    return "\n".join(lines) + "\n"


def time_series_figure(table: pd.DataFrame, path: Path) -> Path:
    """Measured 4-core rates as points, predicted as a line, the changes marked."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    when = pd.to_datetime(table["ts"])
    figure, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for axis, delay in zip(axes, calibration.DELAYS, strict=True):
        metric = calibration.rate_metric(CORES, delay)
        axis.plot(when, table[f"{metric}_predicted"], "-", color="tab:blue", linewidth=1.5,
                  label="predicted (l4sim, calibrated on each run's single-core figures)")
        measured = table[f"{metric}_measured"]
        axis.plot(when[measured.notna()], measured.dropna(), "o", color="black",
                  markersize=4, label="measured (sel4bench)")
        withheld = when[measured.isna()]
        if len(withheld):
            axis.axvspan(withheld.min(), withheld.max(), color="0.92", zorder=0,
                         label="4-core figures withheld")
        for date, what in CHANGES:
            moment = pd.Timestamp(date, tz=when.dt.tz)
            if when.min() <= moment <= when.max():
                axis.axvline(moment, color="tab:red", linestyle="--", linewidth=1)
                axis.annotate(what, (moment, 1), xycoords=("data", "axes fraction"),
                              xytext=(3, -12), textcoords="offset points", fontsize=8,
                              color="tab:red")
        axis.set_ylabel("calls per second, 4 cores")
        axis.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        axis.set_title(f"sel4bench SMP benchmark on 4 cores, delay {delay} cycles",
                       fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower left")
    axes[-1].set_xlabel("run date (2026)")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def hardware_section(folder: Path) -> str:
    """The report's "validated against hardware" section, from what ``compare`` wrote."""
    lines = ["", "## Validated against hardware (sel4bench, Sabre, 4 cores)", ""]
    table_path = Path(folder) / TABLE
    if not table_path.is_file():
        lines += [f"No comparison yet: `{table_path}` is absent. Run `l4sim compare sel4bench "
                  "DATA` (DATA: sel4bench-results files of the board; see "
                  "docs/calibration.md), then `l4sim report` again.", ""]
        return "\n".join(lines)
    table = pd.read_csv(table_path, dtype={"sha_kernel": str, "sha_bench": str})
    text = markdown(table).split("\n", 2)[2]  # without its title
    lines += [text, f"![time series]({Path(folder).name}/sel4bench_2026.png)", ""]
    return "\n".join(lines)
