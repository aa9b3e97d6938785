"""``l4sim compare sel4bench DATA``: every run of every board calibrated and simulated.

DATA is a board's folder as published, several, or the folder of all boards
(:mod:`l4sim.analysis.sel4bench`); each SMP build of each board is a data set
of its own. For each run: calibrate a profile from its single-core figures
(:mod:`l4sim.analysis.calibration`; the FITTED lock from the other runs'
4-core figures), run the SMP benchmark's scenario with it on 4 CPUs as that
run's sel4bench version ran it (exponential or deterministic delay; delay 0
where its delay did not work), and set the prediction beside every measured
multi-core figure there is. Runs whose multi-core figures are absent
(withheld) get the prediction alone. Every run is labelled with its delay
regime and any anomaly (:mod:`l4sim.analysis.sel4bench_runs`), which no fit
uses.

Writes ``OUT/compare.csv`` (one row per board, build and run: measured,
predicted, error, the FITTED values, the residuals, the labels),
``OUT/compare.md`` (what was read and left aside, the residuals, the FITTED
values, the in-sample errors, delay 0 against delay 500, the predicted effects
of the changes, the anomalies and every run, as tables), the time-series
figure ``OUT/sel4bench_2026.png`` and ``.svg`` (every data set's 4-core
series), and ``OUT/BOARD/BUILD/profiles/RUN_ID.toml`` with their residuals;
``OUT/BOARD/BUILD/runs/RUN_ID/`` holds each run's simulated tables (and
cache); ``OUT/provenance.json`` says where the data came from (each file and
its SHA-256) and whether it was measured. The report's section is the same
blocks, from ``compare.csv``.

Data marked synthetic (:data:`l4sim.analysis.sel4bench.SYNTHETIC`: the
example data is) is never presented as a validation against hardware: every
title, heading and legend then says it is synthetic, and the report's section
says so before anything else. A comparison whose data's origin was not
recorded is not called a validation either.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from l4sim.analysis import calibration
from l4sim.analysis.document import Document, Table
from l4sim.analysis.sel4bench import SMP, Sel4benchData, Sel4benchError, Sel4benchSet
from l4sim.analysis.sel4bench_runs import CORES, DELAYS, NoWorkingDelay, rate_metric
from l4sim.analysis.style import Drawn
from l4sim.sweep.execute import run_scenario
from l4sim.sweep.provenance import Provenance, file_sha256, read_file, write_file
from l4sim.sweep.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

# Changes during sel4bench's 2026 series (every board ran the same workflow): seL4's
# IPC became about 25-50 cycles slower from the first date, and the benchmark's delay
# became deterministic on the second; the 4-core figures from 2026-05-01 on are withheld.
CHANGES = (
    ("2026-05-05", "seL4: IPC 25-50 cycles slower"),
    ("2026-06-26", "sel4bench: deterministic delay"),
)
CHANGES_TABLE = "changes.csv"  # the changes a comparison marks: date, change, predicted_on
# the 2026 series' 4-core figures from this date on were withheld from this work, to test
# its predictions: what came before is in-sample
WITHHELD_FROM = "2026-05-01"
READING = "reading.csv"  # what was read and left aside: board, file, read, why
TABLE = "compare.csv"
FIGURE = "sel4bench_2026"
TITLE = f"sel4bench on the boards against l4sim: {CORES}-core SMP benchmark"
SYNTHETIC_TITLE = (
    f"Synthetic sel4bench data against l4sim: {CORES}-core SMP benchmark "
    "(not measurements: no validation against hardware)"
)
COMPARED = "sel4bench"  # what a comparison's folder holds (its provenance's name)
# (board, build) and its rows, in the order of the table
DataSets = list[tuple[tuple[str, str], pd.DataFrame]]


@dataclass(frozen=True)
class DataSource:
    """Where a comparison's data came from.

    Its files (path, SHA-256), and if it is synthetic, what made it ('':
    measured; None: not recorded).
    """

    files: tuple[tuple[str, str], ...]
    synthetic: str | None

    @classmethod
    def of(cls, data: Sel4benchSet) -> DataSource:
        """The files a data set was read from, with their hashes, and its mark."""
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

    def record(self) -> dict[str, Any]:
        """The data's entry of ``provenance.json``."""
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
        shown = ", ".join(f"`{path}` (SHA-256 {digest[:12]})" for path, digest in self.files[:8])
        more = len(self.files) - 8
        files = shown + (f" and {more} more files (all in `provenance.json`)" if more > 0 else "")
        if self.synthetic:
            return (
                f"**Synthetic data, not measurements**: {files}, {self.synthetic}. The "
                "tables and figure below show how a comparison reads; they validate "
                "nothing against hardware."
            )
        return f"Data: {files}, sel4bench's results of the boards."

    @property
    def title(self) -> str:
        """The comparison's title: synthetic data say so in it."""
        return SYNTHETIC_TITLE if self.synthetic else TITLE


def compare(
    data: Sel4benchSet | Sel4benchData,
    scenario: Scenario,
    out: Path,
    events: int = calibration.EVENTS,
    jobs: int = 1,
    data_paths: Sequence[Path] = (),
    changes: tuple[tuple[str, str], ...] = CHANGES,
) -> list[Path]:
    """Calibrate and simulate every run of every data set; write the tables and the figure.

    ``changes`` are (date, what) of the changes to mark and to predict the
    effect of (those within the data's dates).
    """
    found = data if isinstance(data, Sel4benchSet) else _one(data)
    prepared, skipped = [], [f"{b.name}: {b.problem}" for b in found.boards if b.problem]
    for data_set in found.data_sets:  # every run's figures are checked before anything is written
        try:
            prepared.append(calibration.prepare(data_set))
        except NoWorkingDelay as error:
            skipped.append(str(error))
    if not prepared:
        raise Sel4benchError(f"{found.source}: nothing to compare ({'; '.join(skipped)})")
    out = Path(out)
    source = DataSource.of(found)
    out.mkdir(parents=True, exist_ok=True)
    write_file(
        out,
        Provenance.of_points(scenario.points(), "compare", COMPARED, scenario.source),
        data=source.record(),
    )
    rows, contrasts = [], []
    for ready in prepared:
        data_set = ready.data
        folder = out / data_set.board / data_set.build
        (folder / "profiles").mkdir(parents=True, exist_ok=True)
        known: dict[int, calibration.Matching] = {}
        last_in_sample = None
        for run in data_set.runs:
            result = calibration.calibrate(data_set, run.run_id, events, known, jobs, ready)
            profile = folder / "profiles" / f"{run.run_id}.toml"
            calibration.write(
                result,
                profile,
                calibration.command_line(
                    list(data_paths) or [Path(data_set.source)], result, events
                ),
            )
            delays = sorted({result.kind.simulated_delay(delay) for delay in DELAYS})
            points = _simulate(
                scenario,
                profile.resolve(),
                folder / "runs" / str(run.run_id),
                jobs,
                events,
                delays,
                result.kind.distribution,
            )
            rows.append(_row(result, points))
            if result.kind.anomalies == () and result.fit is not None and _measured(run):
                last_in_sample = result
        if last_in_sample is not None:
            contrasts.append(delay_contrast(last_in_sample, events))
    table = pd.DataFrame(rows)
    reading = _reading(found, skipped)
    written = write_comparison(table, out, changes, reading, pd.DataFrame(contrasts), source=source)
    return [
        *written,
        *(out / data_set.board for data_set in found.data_sets),
        out / "provenance.json",
    ]


def _one(data: Sel4benchData) -> Sel4benchSet:
    from l4sim.analysis.sel4bench import Board

    files = [(path, role) for role, path in data.files.items()]
    return Sel4benchSet(data.source, [Board(data.board, [data], files, [])])


def _measured(run) -> bool:
    return any(run.has(SMP, rate_metric(CORES, delay)) for delay in DELAYS)


def _row(result: calibration.Calibration, points: pd.DataFrame) -> dict:
    run, kind, data = result.run, result.kind, result.data
    fit = result.fit
    row = {
        "board": data.board,
        "build": data.build,
        "run_id": run.run_id,
        "ts": run.ts,
        "sha_kernel": run.sha_kernel,
        "sha_bench": run.sha_bench,
        "distribution": kind.distribution,
        "regime": kind.regime,
        "delay_ratio": kind.delay_ratio,
        "anomaly": "; ".join(kind.anomalies),
        "synthetic": run.synthetic,  # what made the run's figures, if they were not measured
        "clock_hz": result.costs.clock_hz,
        "clock_run": result.clock_run.run_id,
        "smp_bench_loop": result.costs.smp_bench_loop,
        "lock_handoff": result.costs.lock_handoff,
        "lock_spinner_drag": result.costs.lock_spinner_drag,
        "fit_runs": len(fit.runs) if fit else 0,
        "fit_regimes": " ".join(f"{n} {r}" for r, n in fit.regimes.items()) if fit else "",
        "own_drag": bool(fit and fit.own_drag),
        "residual_max": max(abs(r["error"]) for r in result.residuals if r["used"]),
    }
    for residual in result.residuals:  # the model's single-core figures against the board
        row[f"residual_{residual['metric']}"] = residual["error"]
    for delay in DELAYS:
        metric = rate_metric(CORES, delay)
        chosen = points[
            (points["cpus"] == CORES) & (points["delay_cycles"] == kind.simulated_delay(delay))
        ]
        row[f"{metric}_predicted"] = float(chosen["calls_per_second"].mean())
        row[f"{metric}_measured"] = run.mean(SMP, metric) if run.has(SMP, metric) else np.nan
        row[f"{metric}_error"] = row[f"{metric}_predicted"] / row[f"{metric}_measured"] - 1
    return row


def delay_contrast(result: calibration.Calibration, events: int) -> dict:
    """The model's 4-core rate at delay 0 against delay 500, one profile, the same loop."""
    costs = result.costs
    rows = calibration.simulate_rows(
        [
            (calibration.benchmark_point(CORES, delay, events, result.kind.distribution), costs)
            for delay in (0, calibration.FIT_DELAY)
        ]
    )
    return {
        "board": result.data.board,
        "build": result.data.build,
        "run_id": result.run.run_id,
        "distribution": result.kind.distribution,
        "delay0": rows[0]["calls_per_second"],
        "delay500": rows[1]["calls_per_second"],
        "predicted": rows[0]["calls_per_second"] / rows[1]["calls_per_second"] - 1,
        "own_drag": bool(result.fit and result.fit.own_drag),
    }


def _reading(found: Sel4benchSet, skipped: list[str]) -> pd.DataFrame:
    rows = []
    for board in found.boards:
        rows += [
            {"board": board.name, "file": path.name, "read": True, "why": role}
            for path, role in board.read
        ]
        rows += [
            {"board": board.name, "file": path.name, "read": False, "why": why}
            for path, why in board.left_aside
        ]
    for line in skipped:
        name, _, why = line.partition(": ")
        rows.append({"board": name, "file": "", "read": False, "why": f"nothing calibrated: {why}"})
    return pd.DataFrame(rows, columns=["board", "file", "read", "why"])


def write_comparison(
    table: pd.DataFrame,
    out: Path,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    reading: pd.DataFrame | None = None,
    contrasts: pd.DataFrame | None = None,
    predicted_on: str | None = None,
    source: DataSource | None = None,
) -> list[Path]:
    """Write the comparison's tables, the figure and the Markdown from ``table``.

    ``predicted_on`` (default: :func:`prediction_date`) is the date the
    predictions are made, written beside each change (``changes.csv``).
    ``source``: where the data came from (default: what ``out/provenance.json`` says).
    """
    out = Path(out)
    source = source or DataSource.recorded(out)
    predicted_on = predicted_on or prediction_date()
    table.to_csv(out / TABLE, index=False)
    marked = pd.DataFrame(list(changes), columns=["date", "change"])
    marked["predicted_on"] = predicted_on
    marked.to_csv(out / CHANGES_TABLE, index=False)
    written = [out / TABLE, out / CHANGES_TABLE]
    if reading is not None:
        reading.to_csv(out / READING, index=False)
        written.append(out / READING)
    if contrasts is not None and len(contrasts):
        contrasts.to_csv(out / CONTRASTS, index=False)
        written.append(out / CONTRASTS)
    figure = time_series_figure(table, out, changes, source)
    document = Document(source.title)
    comparison_blocks(
        document,
        table,
        figure,
        changes,
        level=1,
        reading=reading,
        contrasts=contrasts,
        predicted_on=predicted_on,
        source=source,
    )
    (out / "compare.md").write_text(document.markdown(out))
    return [*written, out / "compare.md", figure.png, figure.svg]


CONTRASTS = "delay0.csv"  # the model's 4-core rate at delay 0 against 500, per data set


def prediction_date() -> str:
    """Today's date (UTC), the day predictions are made; ``SOURCE_DATE_EPOCH`` fixes it.

    A build that must be byte for byte the same on another day sets
    ``SOURCE_DATE_EPOCH`` (seconds since 1970), the reproducible-builds convention.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
    else:
        moment = datetime.datetime.now(datetime.UTC)
    return moment.date().isoformat()


def _simulate(
    scenario: Scenario,
    profile: Path,
    folder: Path,
    jobs: int,
    events: int,
    delays: list[int],
    distribution: str,
) -> pd.DataFrame:
    """The scenario's points on 4 CPUs at these delays, with this profile and version."""
    chosen = load_scenario(
        scenario.source,
        [
            f"profile={profile}",
            f"sweep.cpus=[{CORES}]",
            f"sweep.delay_cycles=[{', '.join(map(str, delays))}]",
            f'delay_distribution="{distribution}"',
            f"events={events}",
            f"warmup_events={max(1, events // 10)}",
        ],
    )
    return run_scenario(chosen, folder, jobs=jobs, progress=False)


def _data_sets(table: pd.DataFrame) -> DataSets:
    """(board, build) and its rows, in the order of the table."""
    if "board" not in table:  # a comparison written before boards were named
        return [(("", ""), table)]
    order = list(dict.fromkeys(zip(table["board"], table["build"], strict=True)))
    return [(key, table[(table["board"] == key[0]) & (table["build"] == key[1])]) for key in order]


def _name(key: tuple[str, str]) -> str:
    return " ".join(part for part in key if part) or "the board"


def _clean(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that are no anomaly."""
    if "anomaly" not in rows:
        return rows
    return rows[rows["anomaly"].fillna("") == ""]


def effects(table: pd.DataFrame, changes: tuple[tuple[str, str], ...] = CHANGES) -> list[dict]:
    """Each change's predicted effect on the 4-core rates, per data set and delay regime.

    The mean prediction of the runs after a change (to the next change, or
    the end) against those before it (from the previous change, or the start),
    anomalies left out, within one delay regime where both sides have runs of
    it (else from the regime before to the regime after), and of the runs
    before only those at the clock of the runs after.
    """
    found = []
    ordered = sorted(changes)
    bounds = ["0000", *(date for date, _ in ordered), "9999"]
    for key, rows in _data_sets(table):
        rows = _clean(rows)
        dates = rows["ts"].str[:10]
        regimes = rows["regime"] if "regime" in rows else pd.Series("delay", rows.index)
        for index, (date, what) in enumerate(ordered):
            before = rows[(dates >= bounds[index]) & (dates < date)]
            after = rows[(dates >= date) & (dates < bounds[index + 2])]
            if before.empty or after.empty:
                continue
            shared = [
                r
                for r in ("delay", "delay 0")
                if (regimes[before.index] == r).any() and (regimes[after.index] == r).any()
            ]
            pairs = (
                [(r, r) for r in shared]
                if shared
                else [(regimes[before.index].mode()[0], regimes[after.index].mode()[0])]
            )
            for old_regime, new_regime in pairs:
                old = before[regimes[before.index] == old_regime]
                new = after[regimes[after.index] == new_regime]
                old = _same_clock(old, new)
                entry: dict[str, Any] = {
                    "board": key[0],
                    "build": key[1],
                    "date": date,
                    "change": what,
                    "regimes": (
                        old_regime if old_regime == new_regime else f"{old_regime} -> {new_regime}"
                    ),
                    "runs_before": len(old),
                    "runs_after": len(new),
                }
                for delay in DELAYS:
                    metric = rate_metric(CORES, delay)
                    entry[f"{metric}_before"] = old[f"{metric}_predicted"].mean()
                    entry[f"{metric}_after"] = new[f"{metric}_predicted"].mean()
                    entry[f"{metric}_effect"] = (
                        entry[f"{metric}_after"] / entry[f"{metric}_before"] - 1
                    )
                    entry[f"{metric}_measured_before"] = old[f"{metric}_measured"].mean()
                    entry[f"{metric}_measured_after"] = new[f"{metric}_measured"].mean()
                found.append(entry)
    return found


def _same_clock(rows: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """The ``rows`` whose clock is that of ``like`` (within CLOCK_GROUP), if there are any.

    A board whose counter ran at another rate before (a step in the derived
    clock) is compared with itself at the same clock, not across the step.
    """
    from l4sim.analysis.sel4bench_runs import CLOCK_GROUP

    if "clock_hz" not in rows or rows.empty or like.empty:
        return rows
    clock = like["clock_hz"].median()
    same = rows[(rows["clock_hz"] / clock - 1).abs() <= CLOCK_GROUP]
    return same if len(same) else rows


def in_sample(table: pd.DataFrame) -> dict:
    """Errors on the runs whose 4-core figures are given (anomalies left out), per delay."""
    summary = {}
    rows = _clean(table)
    for delay in DELAYS:
        metric = rate_metric(CORES, delay)
        errors = rows[f"{metric}_error"].dropna()
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
    (f"1 core, delay {DELAYS[0]} (calls/s)", rate_metric(1, DELAYS[0]), True),
    (f"1 core, delay {DELAYS[1]} (calls/s)", rate_metric(1, DELAYS[1]), True),
)


def _percent(value: float, sign: bool = True) -> str:
    if pd.isna(value):
        return "n/a"  # type: ignore[unreachable]
    return f"{100 * value:+.2f}%" if sign else f"{100 * value:.2f}%"


def _number(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:,.0f}"


def _range(values) -> str:
    values = sorted(set(values))
    return f"{values[0]}" if len(values) == 1 else f"{values[0]} to {values[-1]}"


def comparison_blocks(
    document: Document,
    table: pd.DataFrame,
    figure: Drawn | None,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    level: int = 2,
    reading: pd.DataFrame | None = None,
    contrasts: pd.DataFrame | None = None,
    predicted_on: str | None = None,
    source: DataSource | None = None,
) -> None:
    """The comparison as blocks: origin, reading, summary, residuals, FITTED, errors, runs.

    ``predicted_on``: the date the predictions were made (the comparison's), stated
    with the predicted effects of the changes. ``source``: where the data came from.
    """
    sets = _data_sets(table)
    document.text((source or DataSource((), None)).sentence())
    document.text(
        f"{len(table)} runs of {len(sets)} board{'s' if len(sets) > 1 else ''} and SMP "
        "build, each calibrated on its own single-core figures (`l4sim calibrate "
        f"sel4bench`); each prediction is `sel4bench_smp` on {CORES} CPUs with that run's "
        "profile, as that run's sel4bench version ran it: an exponential delay before "
        "sel4bench 1fb8af24, a deterministic one from it, delay 0 where the delay did not "
        "work. No run's own multi-core figures enter its profile; anomalies enter no fit."
    )
    if reading is not None and len(reading):
        _reading_block(document, reading, level)
    _summary_block(document, sets, level)
    _residual_block(document, sets, level)
    _fitted_blocks(document, sets, level)
    _in_sample_block(document, sets, level)
    if contrasts is not None and len(contrasts):
        _contrast_block(document, table, contrasts, level)
    _effects_block(document, table, changes, level, predicted_on)
    _anomaly_block(document, table, level)
    _runs_block(document, sets, level)
    if figure is not None:
        document.figure(figure)


def _reading_block(document: Document, reading: pd.DataFrame, level: int) -> None:
    document.heading("What was read", level + 1)
    document.table(
        Table(
            pd.DataFrame(
                [
                    {
                        "board": row.board,
                        "file": row.file or "-",
                        "read or left aside": "read" if row.read else "left aside",
                        "why": row.why,
                    }
                    for row in reading.itertuples(index=False)
                ]
            ),
            raw=True,
        )
    )


def _summary_block(document: Document, sets: DataSets, level: int) -> None:
    low, high = DELAYS
    document.heading("Summary: every board and SMP build", level + 1)
    summary = []
    for key, rows in sets:
        sample = in_sample(rows)
        fitted = rows[rows["fit_runs"] > 0]
        broken = int((rows["regime"] == "delay 0").sum()) if "regime" in rows else 0
        summary.append(
            {
                "board, build": _name(key),
                "runs": f"{len(rows)}",
                "delay 0 (did not work)": f"{broken}",
                "anomalies": f"{len(rows) - len(_clean(rows))}",
                "handoff (FITTED)": _range(fitted["lock_handoff"]) if len(fitted) else "not fitted",
                "drag (FITTED)": _range(fitted["lock_spinner_drag"])
                if len(fitted) and "lock_spinner_drag" in fitted
                else "-",
                "points": _range(fitted["fit_runs"]) if len(fitted) else "0",
                "largest residual": _percent(rows["residual_max"].max(), False),
                f"in-sample c{low}: largest / mean": _largest_mean(sample[low]),
                f"in-sample c{high}: largest / mean": _largest_mean(sample[high]),
            }
        )
    document.table(Table(pd.DataFrame(summary), raw=True))
    document.text(
        "Runs: all of the data set; delay 0: runs whose delay did not work, calibrated and "
        "predicted as delay-0 runs; handoff and drag: the FITTED `lock_handoff` and "
        "`lock_spinner_drag` (cycles) over the profiles, and how many runs' 4-core figures "
        "each profile's were fitted to; largest residual: of a single-core figure the "
        "calibration used, over every run; in-sample: runs whose 4-core figures are given "
        "and that are no anomaly, each predicted from its own profile (fitted to the others)."
    )


def _largest_mean(sample: dict) -> str:
    return f"{_percent(sample['max'], False)} / {_percent(sample['mean'], False)}"


def _residual_block(document: Document, sets: DataSets, level: int) -> None:
    document.heading("Residuals: the model's single-core figures against the data's", level + 1)
    residual_rows = []
    for key, rows in sets:
        for name, metric, used in RESIDUALS:
            column = f"residual_{metric}"
            if column not in rows or rows[column].isna().all():
                continue
            errors = rows[column].dropna()
            residual_rows.append(
                {
                    "board, build": _name(key),
                    "figure": name + (" *" if used else ""),
                    "runs": f"{len(errors)}",
                    "largest error": _percent(errors.iloc[int(errors.abs().to_numpy().argmax())]),
                    "mean absolute error": _percent(errors.abs().mean(), sign=False),
                }
            )
    if residual_rows:
        document.table(Table(pd.DataFrame(residual_rows), raw=True))
    document.text(
        "Each run's profile simulated on 1 CPU against that run's figures (the "
        "fastest sample of a cycle figure, the mean of a rate; a run whose delay did not "
        "work simulated at delay 0 against both its rates); *: a figure the "
        "calibration used; *not modelled*: the SMP benchmark's threads share one "
        "address space, so the model has no address-space switch and gives those "
        "figures the one-space cost (shown for reference)."
    )


def _in_sample_block(document: Document, sets: DataSets, level: int) -> None:
    document.heading(f"In-sample errors: runs whose {CORES}-core figures are given", level + 1)
    errors = []
    for key, rows in sets:
        sample = in_sample(rows)
        for delay in DELAYS:
            errors.append(
                {
                    "board, build": _name(key),
                    "delay (cycles)": f"{delay:,}",
                    "runs": f"{sample[delay]['runs']}",
                    "largest error": _percent(sample[delay]["max"], False),
                    "mean absolute error": _percent(sample[delay]["mean"], False),
                }
            )
    document.table(Table(pd.DataFrame(errors), raw=True))
    document.text(
        "Anomalies are left out here; their errors are in the runs' tables below. "
        "For a run whose delay did not work both figures are delay-0 figures."
    )


def _effects_block(
    document: Document,
    table: pd.DataFrame,
    changes: tuple[tuple[str, str], ...],
    level: int,
    predicted_on: str | None,
) -> None:
    low, high = DELAYS
    first, second = (rate_metric(CORES, d) for d in (low, high))
    found = effects(table, changes)
    if not found:
        return
    document.heading(f"Predicted effect of each change on {CORES}-core throughput", level + 1)
    when = f"made on {predicted_on}" if predicted_on else "made when this comparison ran"
    document.text(
        f"Predictions, {when}, before the withheld figures are checked: the mean "
        "prediction of the runs after each change against those before it (back to the "
        "previous change), anomalies left out, within one delay regime where both sides "
        "have it, and of the runs before only those at the clock of the runs after. "
        "Measured: the mean of the figures given, for reference (n/a: withheld)."
    )
    document.table(
        Table(
            pd.DataFrame(
                [
                    {
                        "board, build": _name((entry["board"], entry["build"])),
                        "change": f"{entry['date']}: {entry['change']}",
                        "regime": entry["regimes"],
                        "runs before / after": f"{entry['runs_before']} / {entry['runs_after']}",
                        f"c{low}: before -> after": _before_after(entry, first),
                        f"effect at {low:,}": _percent(entry[first + "_effect"]),
                        f"c{high}: before -> after": _before_after(entry, second),
                        f"effect at {high:,}": _percent(entry[second + "_effect"]),
                        f"measured c{low} before": _number(entry[first + "_measured_before"]),
                        f"measured c{low} after": _number(entry[first + "_measured_after"]),
                    }
                    for entry in found
                ]
            ),
            raw=True,
        )
    )


def _before_after(entry: dict, metric: str) -> str:
    """A metric's predicted value before and after a change, as 'before -> after'."""
    return f"{_number(entry[metric + '_before'])} -> {_number(entry[metric + '_after'])}"


def _runs_block(document: Document, sets: DataSets, level: int) -> None:
    document.heading("Every run", level + 1)
    document.text(
        f"Calls per second, all {CORES} cores. Regime: whether the run's delay "
        "worked (delay 0: it did not); anomaly: why the run is not fitted to. "
        "Measured: sel4bench's figure (n/a: withheld); error: predicted / measured "
        "- 1; handoff and drag: the FITTED values and how many runs' figures they "
        "were fitted to."
    )
    for key, rows in sets:
        if len(sets) > 1:
            document.heading(_name(key), level + 2)
        document.table(
            Table(pd.DataFrame([_run_cells(row) for row in rows.to_dict("records")]), raw=True)
        )


def _run_cells(row: dict) -> dict:
    low, high = DELAYS
    first, second = (rate_metric(CORES, d) for d in (low, high))
    fitted = (
        f"{row['lock_handoff']} / {row.get('lock_spinner_drag', 0)} ({row['fit_runs']})"
        if row["fit_runs"]
        else f"{row['lock_handoff']} (not fitted)"
    )
    anomaly = row.get("anomaly")
    return {
        "run": str(row["run_id"]),
        "date": row["ts"][:10],
        "seL4": row["sha_kernel"],
        "sel4bench": row["sha_bench"],
        "regime": row.get("regime", "delay"),
        "anomaly": anomaly if isinstance(anomaly, str) and anomaly else "-",
        "handoff / drag (FITTED, runs)": fitted,
        f"c{low} measured": _number(row[first + "_measured"]),
        f"c{low} predicted": _number(row[first + "_predicted"]),
        f"c{low} error": _percent(row[first + "_error"]),
        f"c{high} measured": _number(row[second + "_measured"]),
        f"c{high} predicted": _number(row[second + "_predicted"]),
        f"c{high} error": _percent(row[second + "_error"]),
    }


def _fitted_blocks(document: Document, sets, level: int) -> None:
    """What was FITTED on each data set, to how many points, and what it stands for."""
    rows = []
    for key, data in sets:
        fitted = data[data["fit_runs"] > 0]
        if not len(fitted):
            continue
        own = bool(fitted.get("own_drag", pd.Series(False, fitted.index)).any())
        regimes = fitted["fit_regimes"].iloc[-1] if "fit_regimes" in fitted else ""
        rows.append(
            {
                "board, build": _name(key),
                "lock_handoff": _range(fitted["lock_handoff"]),
                "lock_spinner_drag": _range(fitted.get("lock_spinner_drag", [0])),
                "drag FITTED to": "these runs' two delay regimes"
                if own
                else f"DELAY0_CONTRAST {100 * calibration.DELAY0_CONTRAST:+.2f}% (FITTED to "
                f"{calibration.DELAY0_CONTRAST_SOURCE}), transferred",
                "points per profile": _range(fitted["fit_runs"]),
                "the points' regimes": regimes or "delay",
            }
        )
    if not rows:
        return
    document.heading("FITTED: the big lock's handoff and the spinners' drag", level + 1)
    document.table(Table(pd.DataFrame(rows), raw=True))
    document.text(
        "Two parameters per board and build, fitted to the 4-core figures of the other runs "
        f"of the same board and build (at delay {calibration.FIT_DELAY} where the delay "
        "worked, both delay-0 figures where it did not), never the calibrated run's own; "
        "everything else is derived from the run's own single-core figures. "
        "`lock_handoff` is what a contended grant of the big lock costs beyond an "
        "uncontended acquisition and the lock's two migrating lines: the waiter seeing its "
        "predecessor's release, and the kernel data the new holder finds in another core's "
        "cache (the critical section runs with cold lines after every change of core). It "
        "stands for the board's cache-to-cache latency times the lines a Call or "
        "ReplyRecv touches in the kernel, so it does not carry from one board to another. "
        "`lock_spinner_drag` is what each core still spinning adds to a grant: spinners "
        "hold copies of the lock's and the kernel's shared lines that the new holder's "
        "stores must invalidate again. Where a board's runs have one delay regime only, "
        "they cannot show the drag: it is the one with which the model gives "
        "`DELAY0_CONTRAST`, itself FITTED to one board's runs of both regimes and "
        "transferred to the others."
    )


def _contrast_block(
    document: Document, table: pd.DataFrame, contrasts: pd.DataFrame, level: int
) -> None:
    document.heading(f"Delay 0 against delay 500: the {CORES}-core rate", level + 1)
    metric = f"{rate_metric(CORES, calibration.FIT_DELAY)}_measured"
    rows = []
    for row in contrasts.to_dict("records"):
        data = table[(table["board"] == row["board"]) & (table["build"] == row["build"])]
        own = row.get("own_drag")
        if own is None or pd.isna(own):  # written before the column was
            own = bool(data.get("own_drag", pd.Series(False, data.index)).any())
        data = _clean(data[data["ts"].str[:10] < WITHHELD_FROM])
        measured = np.nan
        if "regime" in data and data["regime"].nunique() == 2:
            worked = data[data["regime"] == "delay"][metric]
            zero = data[data["regime"] == "delay 0"][metric]
            measured = zero.mean() / worked.mean() - 1
        rows.append(
            {
                "board, build": _name((row["board"], row["build"])),
                "profile of run": str(row["run_id"]),
                "model: delay 0 / delay 500 - 1": _percent(row["predicted"]),
                "its sign": "in-sample: the drag is FITTED to these runs' two regimes"
                if own
                else "follows from the transferred DELAY0_CONTRAST (not a prediction)",
                "measured (runs of either regime, before the withheld)": _percent(measured),
            }
        )
    document.table(Table(pd.DataFrame(rows), raw=True))
    document.text(
        f"Model: the {CORES}-core rate at delay 0 against delay 500 under one profile (its "
        "board's last in-sample run's, the same loop): more cores spin for the lock at "
        "delay 0. Where a board's runs have one delay regime, its drag is the one with "
        "which the model gives DELAY0_CONTRAST, FITTED to "
        f"{calibration.DELAY0_CONTRAST_SOURCE}: there the sign is what that transfer "
        "makes it, not a prediction; the withheld figures check it. Measured: the mean "
        "delay-0 figure of the runs whose delay did not work against the mean delay-500 "
        "figure of those whose delay did, where a board's runs before the withheld ones "
        "have both."
    )


def _anomaly_block(document: Document, table: pd.DataFrame, level: int) -> None:
    if "anomaly" not in table:
        return
    flagged = table[table["anomaly"].fillna("") != ""]
    document.heading("Anomalies: flagged, not fitted", level + 1)
    if not len(flagged):
        document.text("None found by the rules (docs/how-to/calibration.md).")
        return
    document.table(
        Table(
            pd.DataFrame(
                [
                    {
                        "board, build": _name((row["board"], row["build"])),
                        "run": str(row["run_id"]),
                        "date": row["ts"][:10],
                        "why": row["anomaly"],
                    }
                    for row in flagged.to_dict("records")
                ]
            ),
            raw=True,
        )
    )


def _caption(
    table: pd.DataFrame, changes: tuple[tuple[str, str], ...] = (), synthetic: bool = False
) -> str:
    withheld = int(table[f"{rate_metric(CORES, DELAYS[0])}_measured"].isna().sum())
    points = (
        f"Points: the synthetic data's {CORES}-core rate of each run (made up, not measured; "
        if synthetic
        else f"Points: sel4bench's measured {CORES}-core rate of each run ("
    )
    return (
        f"{points}filled: its delay "
        "worked; open triangles: it did not, a delay-0 figure; crosses: an anomaly, not "
        "fitted); lines: l4sim's prediction of each run, from a profile calibrated on "
        f"that run's single-core figures, one line per delay regime ({len(table)} runs"
        + (f", {withheld} with their {CORES}-core figures withheld, shaded" if withheld else "")
        + ")."
        + (
            " Vertical lines: the changes of the period; the predicted lines are broken at "
            "each (a step, not a drift)."
            if _within(table, changes)
            else ""
        )
        + " Each prediction is the mean of the scenario's replications. A panel whose "
        "values span more than a factor of 3 has a log axis."
    )


def _within(table: pd.DataFrame, changes: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The changes dated within the runs' dates."""
    dates = table["ts"].str[:10]
    return [(date, what) for date, what in changes if dates.min() <= date <= dates.max()]


# the two delay regimes as drawn: name, colour index, line style, marker, words
REGIMES = (
    ("delay", 0, "-", "o", "delay worked"),
    ("delay 0", 2, "--", "^", "delay did not work (delay 0)"),
)


def _title(key: tuple[str, str]) -> str:
    """A data set in words: the board's name, its build's parts spelt out."""
    board, build = key
    parts = build.split("_") if build else []
    said = ["SMP" if part == "SMP" else f"{part}-bit" if part.isdigit() else part for part in parts]
    return " ".join(filter(None, [board.replace("_", " "), ", ".join(said)])) or "the board"


def _series_panel(
    axis: Axes,
    rows: pd.DataFrame,
    delay: int,
    changes: tuple[tuple[str, str], ...],
    synthetic: bool = False,
) -> None:
    """One data set's measured (or synthetic) and predicted 4-core rates at one delay."""
    seen = "synthetic (not measured)" if synthetic else "measured"
    import matplotlib.dates
    import matplotlib.ticker

    from l4sim.analysis.style import PALETTE

    when = pd.to_datetime(rows["ts"])
    regime = rows["regime"] if "regime" in rows else pd.Series("delay", rows.index)
    flagged = (
        rows["anomaly"].fillna("") != "" if "anomaly" in rows else pd.Series(False, rows.index)
    )
    marked = _within(rows, changes)
    stamps = [pd.Timestamp(date, tz=when.dt.tz) for date, _ in marked]
    # each run's period: how many changes came before it; a line never crosses one
    period = sum(((when >= stamp).astype(int) for stamp in stamps), pd.Series(0, rows.index))
    metric = rate_metric(CORES, delay)
    measured = rows[f"{metric}_measured"]
    predicted = rows[f"{metric}_predicted"]
    for name, colour, style, marker, words in REGIMES:
        mine = regime == name
        if not mine.any():
            continue
        for index, part in enumerate(sorted(set(period[mine]))):
            # one line per regime and period, broken where a run of the other regime comes
            chosen = period == part
            axis.plot(
                when[chosen],
                predicted[chosen].where(mine[chosen]),
                style,
                color=PALETTE[colour],
                linewidth=1.3,
                marker=".",
                markersize=3,
                label=f"predicted, {words}" if index == 0 else "_",
            )
        points = mine & measured.notna() & ~flagged
        axis.plot(
            when[points],
            measured[points],
            marker,
            color=PALETTE[6] if name == "delay" else PALETTE[1],
            markersize=4,
            markerfacecolor="none" if name == "delay 0" else None,
            linestyle="none",
            label=f"{seen}, {words}",
        )
    odd = measured.notna() & flagged
    if odd.any():
        axis.plot(
            when[odd],
            measured[odd],
            "x",
            color="0.45",
            markersize=5,
            linestyle="none",
            label=f"{seen}, anomaly (not fitted)",
        )
    withheld = when[measured.isna()]
    if len(withheld):  # wide enough to see, even around one run
        pad = max((when.max() - when.min()) * 0.01, pd.Timedelta(hours=12))
        axis.axvspan(
            matplotlib.dates.date2num(withheld.min() - pad),
            matplotlib.dates.date2num(withheld.max() + pad),
            color="0.92",
            zorder=0,
            label=f"{CORES}-core figures withheld",
        )
    for index, ((date, what), stamp) in enumerate(zip(marked, stamps, strict=True)):
        axis.axvline(
            matplotlib.dates.date2num(stamp),
            color=PALETTE[4],
            linewidth=1.0,
            linestyle=(":", "-.")[index % 2],
            label=f"{date}: {what}",
        )
    values = pd.concat([measured.dropna(), predicted.dropna()])
    if len(values) and values.min() > 0 and values.max() / values.min() > 3:
        axis.set_yscale("log")
        axis.set_ylabel(f"calls/s, {CORES} cores (log scale)", fontsize=8)
    else:
        digits = 1 if len(values) and values.max() - values.min() < 2e4 else 0
        axis.yaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(
                lambda value, _, digits=digits: f"{value / 1e3:,.{digits}f}k"
            )
        )
        axis.set_ylabel(f"calls/s, {CORES} cores", fontsize=8)
    axis.grid(alpha=0.3)


def figure_title(synthetic: bool) -> str:
    """The figure's title: synthetic data say so in it."""
    if synthetic:
        return (
            f"sel4bench's SMP benchmark on {CORES} cores: synthetic data (not measured) "
            "and predicted"
        )
    return f"sel4bench's SMP benchmark on {CORES} cores, every board: measured and predicted"


def time_series_figure(
    table: pd.DataFrame,
    out_dir: Path,
    changes: tuple[tuple[str, str], ...] = CHANGES,
    source: DataSource | None = None,
) -> Drawn:
    """Every data set's measured 4-core rates as points, predicted as lines, changes marked.

    The predicted lines are broken at every change: a prediction holds for the
    kernel and benchmark of its run, so a line drawn across a change would show
    a gradual drift where there is a step.
    """
    import matplotlib.pyplot as plt

    from l4sim.analysis.style import save

    synthetic = bool(source and source.synthetic)
    sets = _data_sets(table)
    height = 1.6 + 2.2 * len(sets)  # inches: the title and legend, then a row per data set
    figure, axes = plt.subplots(
        len(sets), len(DELAYS), figsize=(12, height), sharex=True, squeeze=False
    )
    for row_axes, (key, rows) in zip(axes, sets, strict=True):
        for axis, delay in zip(row_axes, DELAYS, strict=True):
            _series_panel(axis, rows, delay, changes, synthetic)
            axis.set_title(f"{_title(key)}: delay {delay:,} cycles", fontsize=9, loc="left")
    handles: dict[str, Artist] = {}
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    # above the panels, off every panel's data
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="upper center",
        ncol=3,
        fontsize=8,
        bbox_to_anchor=(0.5, 1 - 0.3 / height),
        frameon=False,
    )
    figure.autofmt_xdate()
    title = figure_title(synthetic)
    figure.suptitle(title, fontsize=10.5, y=1 - 0.06 / height)
    # the title and the legend's rows above the panels: a title line of room for each
    caption = _caption(table, changes, synthetic)
    legend_rows = -(-len(handles) // 3)
    return save(figure, out_dir, FIGURE, title, [caption], title_lines=1 + legend_rows)


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
            f"sel4bench DATA --out {folder}` (DATA: a board's folder of sel4bench-results, or the "
            "folder of all boards; see docs/how-to/calibration.md), then `l4sim report` "
            "again."
        )
        return
    table = pd.read_csv(
        table_path,
        dtype={"sha_kernel": str, "sha_bench": str, "anomaly": str, "board": str, "build": str},
    )
    changes_path = folder / CHANGES_TABLE
    marked = (
        pd.read_csv(changes_path, dtype=str, keep_default_na=False)
        if changes_path.is_file()
        else pd.DataFrame(columns=["date", "change"])
    )
    changes = tuple(marked[["date", "change"]].itertuples(index=False, name=None))
    dates = set(marked.get("predicted_on", pd.Series(dtype=str))) - {""}
    reading = (
        pd.read_csv(folder / READING, dtype=str, keep_default_na=False)
        if (folder / READING).is_file()
        else None
    )
    if reading is not None:
        reading["read"] = reading["read"] == "True"
    contrasts = (
        pd.read_csv(folder / CONTRASTS, dtype={"board": str, "build": str})
        if (folder / CONTRASTS).is_file()
        else None
    )
    png, svg = folder / f"{FIGURE}.png", folder / f"{FIGURE}.svg"
    synthetic = bool(source.synthetic)
    figure = (
        Drawn(png, svg, figure_title(synthetic), _caption(table, changes, synthetic))
        if png.is_file()
        else None
    )
    comparison_blocks(
        document,
        table,
        figure,
        changes,
        level=2,
        reading=reading,
        contrasts=contrasts,
        predicted_on=", ".join(sorted(dates)) or None,
        source=source,
    )
