"""Global sensitivity of a scenario's results to its costs: which costs decide each claim.

Every cycle cost of a profile is an estimate. A study varies some of them
(and numeric workload keys) over ranges, runs the scenario once per sample
of that space and asks, with SALib, how much of each output's variance each
parameter explains: Sobol' indices (first order ``S1`` and total ``ST``,
Saltelli's estimators on a scrambled Sobol' sequence) or Morris elementary
effects (``mu_star``, ``sigma``: a cheap screening of many parameters).

Outputs are the scenario's metrics per kernel-entry kind (``ipc.duration_mean``:
the mean over the scenario's points and replications) and the claims the
report computes from the same tables (``E3.3``: the third E3 row). For each
claim the study also gives its robustness: the share of the sampled space in
which it holds, and where it fails along its most influential parameter.

Common random numbers: every sample of a study runs each point of the
scenario with that point's own random streams (``stream_key``, the digest of
the unsampled point), whatever costs or workload keys the sample changes, so
an index measures the parameter's effect and not the noise of fresh draws. A
parameter with no effect then leaves every result bit-identical. The study
carries such a parameter, ``(no effect)``, which is sampled but applied to
nothing: its index is the noise floor of the estimators (exactly 0 with
common random numbers; an index at or below it means no measurable effect).

Samples run as an explicit list of points through the sweep machinery
(:func:`l4sim.sweep.execute.run_points`): cached per (point, replication), so a
killed study resumes, on local processes or Dask, identical on any number of
workers. A point that two samples share (the ``(no effect)`` parameter's
steps) runs once.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4sim.analysis import claims as claims_module
from l4sim.analysis.sensitivity_params import (
    NO_EFFECT,
    Parameter,
    StudyError,
    parse_parameters,
    with_value,
)
from l4sim.analysis.style import Drawn
from l4sim.sweep.execute import run_points
from l4sim.sweep.output_folder import claim as claim_folder
from l4sim.sweep.provenance import Provenance, write_file, write_parquet
from l4sim.sweep.scenario import Scenario
from l4sim.workloads.base import Point

METHODS = ("sobol", "morris")
# SALib's base sample size: Sobol' needs a power of 2 (the sequence's balance), and
# enough of them for the bootstrap intervals to mean something; Morris, trajectories
MIN_SAMPLES = {"sobol": 8, "morris": 4}
MORRIS_LEVELS = 4
RESAMPLES = 200  # bootstrap resamples behind every interval
QUARTERS = 4  # where a claim fails: its share holding per quarter of a parameter's range
# the metrics reported per kernel-entry kind unless the study names others
DEFAULT_METRICS = (
    "duration_mean",
    "fast_fraction",
    "lock_wait_mean",
    "entries_per_mcycle",
    "acquisitions_per_mcycle",
    "calls_per_second",
)
STUDY_KEYS = ("params", "fixed", "method", "samples", "metrics")
# which claims a scenario can evaluate: (workload, keys it must sweep, claims)
CLAIMS = (
    ("linux", {"fastpath_syscall", "fastpath_ipc"}, claims_module.linux_claims),
    ("syscall_bench", {"cpus", "kernel_lock"}, claims_module.scaling_claims),
    ("syscall_bench", {"threads", "wait_factor"}, claims_module.syscall_claims),
    ("ipc_bench", {"clients", "wait_factor", "fastpath_ipc"}, claims_module.ipc_bench_claims),
)


@dataclass
class Study:
    """A scenario, the parameters it varies and how they are sampled."""

    scenario: Scenario
    parameters: list[Parameter]
    method: str
    samples: int  # SALib's base sample size (N; trajectories for Morris)
    metrics: tuple[str, ...] = DEFAULT_METRICS

    @property
    def seed(self) -> int:
        return int(self.scenario.base.get("seed", 0))

    def problem(self) -> dict:
        """SALib's problem: the parameters and the no-effect one, each over its range."""
        names = [p.name for p in self.parameters] + [NO_EFFECT]
        bounds = [[p.low, p.high] for p in self.parameters] + [[0.0, 1.0]]
        return {"num_vars": len(names), "names": names, "bounds": bounds}

    def design(self) -> np.ndarray:
        """The sample matrix, one row per sample, one column per parameter of the problem."""
        from SALib.sample import morris, sobol

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib's notes on sample sizes: checked here
            if self.method == "sobol":
                return sobol.sample(
                    self.problem(), self.samples, calc_second_order=False, seed=self.seed
                )
            return morris.sample(
                self.problem(), self.samples, num_levels=MORRIS_LEVELS, seed=self.seed
            )

    def points(self) -> list:
        """Every point the study runs (see :func:`sample_points`), validated."""
        return sample_points(self, self.design())


def study_from(
    scenario: Scenario,
    params: list[str],
    fixed: list[str],
    method: str | None,
    samples: int | None,
    metrics: Sequence[str] = (),
) -> Study:
    """The study the command line and the scenario's ``[sensitivity]`` table describe.

    Options given on the command line replace the table's.
    """
    table = scenario.study
    for key in table:
        if key not in STUDY_KEYS:
            raise StudyError(
                f"{scenario.source}: key 'sensitivity.{key}': unknown key "
                f"(known: {', '.join(STUDY_KEYS)})"
            )
    specs = list(params) or _strings(table, "params", scenario)
    fixes = list(fixed) or _strings(table, "fixed", scenario)
    option = "--param" if params else f"{scenario.source}: key 'sensitivity.params':"
    method = method or table.get("method", "sobol")
    if method not in METHODS:
        raise StudyError(f"--method {method}: unknown method (known: {', '.join(METHODS)})")
    samples = samples if samples is not None else table.get("samples", 64)
    if type(samples) is not int:
        raise StudyError(f"--samples {samples!r}: must be a whole number")
    if samples < MIN_SAMPLES[method]:
        raise StudyError(
            f"--samples {samples}: too few for {method} (at least {MIN_SAMPLES[method]})"
        )
    if method == "sobol" and samples & (samples - 1):
        raise StudyError(f"--samples {samples}: sobol needs a power of 2 (8, 16, 32, ...)")
    chosen = tuple(metrics) or tuple(_strings(table, "metrics", scenario)) or DEFAULT_METRICS
    from l4sim.simulation.records import METRICS

    for metric in chosen:
        if metric not in METRICS:
            raise StudyError(f"--metric {metric}: unknown metric (known: {', '.join(METRICS)})")
    parameters = parse_parameters(specs, fixes, scenario, option)
    return Study(scenario, parameters, method, samples, chosen)


def _strings(table: dict, key: str, scenario: Scenario) -> list[str]:
    values = table.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise StudyError(f"{scenario.source}: key 'sensitivity.{key}': must be a list of strings")
    return values


@dataclass
class StudyResult:
    """What a study wrote and how much of it came from the cache."""

    study: Study
    out_dir: Path
    indices: pd.DataFrame
    samples: pd.DataFrame
    robustness: pd.DataFrame
    runs: int
    reused: int
    computed: int
    figures: list[Drawn] = field(default_factory=list)


def sample_points(study: Study, design: np.ndarray) -> list:
    """Every sample's points: the profile's own values first, then one block per design row.

    Each point keeps the random streams of the unsampled point it comes from.
    """
    base = study.scenario.points()
    streams = [point.stream_key or point.stream_digest() for point in base]
    rows = [[p.value for p in study.parameters]] + [
        row[: len(study.parameters)] for row in design.tolist()
    ]
    points: list[Point] = []
    for row in rows:
        values = dict(zip(study.parameters, row, strict=True))
        points.extend(
            with_value(point, values, key) for point, key in zip(base, streams, strict=True)
        )
    return points


# the tables a study writes (each written whole or not at all)
TABLES = ("sensitivity.parquet", "samples.parquet", "robustness.parquet")


def run_study(
    study: Study,
    out_dir: Path,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool | None = None,
    client=None,
    overwrite: bool = False,
) -> StudyResult:
    """Run (or resume) the study's samples, compute the indices, write the tables and figures.

    Writes ``sensitivity.parquet``, ``samples.parquet``, ``robustness.parquet``,
    ``study.json``, ``provenance.json`` and the figures (``sensitivity``,
    ``robustness``; PNG and SVG) into ``out_dir``, which may hold no other
    scenario's or study's results (unless ``overwrite``:
    :func:`l4sim.sweep.output_folder.claim`).
    """
    from l4sim.analysis.sensitivity_figures import indices_figure, robustness_figure

    design = study.design()
    points = sample_points(study, design)  # validated before anything is written
    claim_folder(out_dir, "sensitivity", study.scenario.name, overwrite)
    provenance = Provenance.of_points(
        points, "sensitivity", study.scenario.name, study.scenario.source
    )
    run = run_points(
        points,
        study.scenario.name,
        out_dir,
        jobs=jobs,
        scheduler=scheduler,
        force=force,
        progress=progress,
        client=client,
    )
    per_sample = len(study.scenario.points())
    frame = run.points
    frame["sample"] = frame["point"] // per_sample - 1  # -1: the profile's own values
    claims_of = claims_for(study.scenario)
    outputs: dict[Any, dict[str, float]] = {}
    claims: list[Any] = []
    for sample, rows in frame.groupby("sample", sort=True):
        values, found = sample_outputs(
            rows.drop(columns=["point", "sample"]), claims_of, study.metrics
        )
        outputs[sample] = values
        if sample == -1:
            claims = found
    table = pd.DataFrame.from_dict(outputs, orient="index").sort_index()
    samples = _samples_table(study, design, table)
    indices = compute_indices(study, design, table.drop(index=-1))
    robustness = robustness_table(study, samples, indices, claims)
    out_dir = Path(out_dir)
    for name, table in (
        ("sensitivity.parquet", indices),
        ("samples.parquet", samples),
        ("robustness.parquet", robustness),
    ):
        write_parquet(table, out_dir / name, provenance)
    write_file(out_dir, provenance, tables=[*TABLES])
    subtitle = (
        f"scenario {study.scenario.name}: {study.method} (N = {study.samples}), "
        f"{len(study.parameters)} parameters, {len(design)} samples x {per_sample} "
        f"point{'s' if per_sample > 1 else ''}, {int(points[0].events):,} events "
        "per run"
    )
    figures = [indices_figure(indices, influence_column(study.method), out_dir, subtitle)]
    if len(robustness):
        figures.append(robustness_figure(samples, robustness, out_dir, subtitle))
    (out_dir / "study.json").write_text(
        json.dumps(
            {
                "scenario": study.scenario.name,
                "source": study.scenario.source,
                "method": study.method,
                "samples": study.samples,
                "seed": study.seed,
                "parameters": [[p.name, p.low, p.high, p.value] for p in study.parameters],
                "sampled": len(design),
                "points_per_sample": per_sample,
                "events": int(points[0].events),
                "replications": int(points[0].replications),
                "runs": run.runs,
                "distinct_runs": run.reused + run.computed,
                "figures": [
                    {"png": f.png.name, "svg": f.svg.name, "title": f.title, "caption": f.caption}
                    for f in figures
                ],
            },
            indent=1,
        )
        + "\n"
    )
    return StudyResult(
        study, out_dir, indices, samples, robustness, run.runs, run.reused, run.computed, figures
    )


def claims_for(scenario: Scenario):
    """The claims function that applies to this scenario's workload and sweep, or None."""
    workload = scenario.base.get("workload", "syscall_bench")
    for name, swept, function in CLAIMS:
        if workload == name and swept <= set(scenario.sweep):
            return function
    return None


def sample_outputs(points: pd.DataFrame, claims_of, metrics) -> tuple[dict, list]:
    """One sample's outputs: each kind's metrics (mean over points and replications), claims."""
    values = {}
    for kind, rows in points.groupby("kind", sort=True):
        for metric in metrics:
            if metric in rows and rows[metric].notna().any():
                values[f"{kind}.{metric}"] = float(rows[metric].mean())
    found = claims_of(points) if claims_of is not None else []
    for name, claim in claim_names(found).items():
        values[name] = float(claim.value)
    return values, found


def claim_names(claims: list) -> dict:
    """``E3.1``, ``E3.2``...: each claim row by its experiment and its place among its rows."""
    names: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for claim in claims:
        seen[claim.id] = seen.get(claim.id, 0) + 1
        names[f"{claim.id}.{seen[claim.id]}"] = claim
    return names


def _samples_table(study: Study, design: np.ndarray, outputs: pd.DataFrame) -> pd.DataFrame:
    """Every sample's applied inputs (rounded as run) and its outputs; sample -1: the profile."""
    inputs = {
        p.name: [p.applied(p.value)] + [p.applied(v) for v in design[:, i]]
        for i, p in enumerate(study.parameters)
    }
    frame = pd.DataFrame({"sample": range(-1, len(design)), **inputs})
    return frame.merge(outputs, left_on="sample", right_index=True, how="left")


def compute_indices(study: Study, design: np.ndarray, outputs: pd.DataFrame) -> pd.DataFrame:
    """One row per (output, parameter): SALib's indices and their 95% bootstrap intervals."""
    from SALib.analyze import morris, sobol

    problem = study.problem()
    rows = []
    for output in outputs.columns:
        y = outputs[output].to_numpy(dtype=float)
        usable = bool(np.all(np.isfinite(y)) and np.ptp(y) > 0)
        result = None
        if usable:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                if study.method == "sobol":
                    result = sobol.analyze(
                        problem,
                        y,
                        calc_second_order=False,
                        num_resamples=RESAMPLES,
                        seed=study.seed,
                    )
                else:
                    result = morris.analyze(
                        problem,
                        design,
                        y,
                        num_resamples=RESAMPLES,
                        num_levels=MORRIS_LEVELS,
                        seed=study.seed,
                    )
        columns = (
            ("S1", "S1_conf", "ST", "ST_conf")
            if study.method == "sobol"
            else ("mu_star", "mu_star_conf", "sigma")
        )
        for index, name in enumerate(problem["names"]):
            row = {"output": output, "parameter": name}
            for column in columns:
                row[column] = float(result[column][index]) if result is not None else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def influence_column(method: str) -> str:
    """The index that ranks parameters: total order (Sobol') or mu* (Morris)."""
    return "ST" if method == "sobol" else "mu_star"


def robustness_table(
    study: Study, samples: pd.DataFrame, indices: pd.DataFrame, claims: list
) -> pd.DataFrame:
    """Each claim's robustness.

    Per claim: the share of samples where it holds, its most influential
    parameters, and where along the first of them it fails.
    """
    column = influence_column(study.method)
    sampled = samples[samples["sample"] >= 0]
    rows = []
    for name, claim in claim_names(claims).items():
        values = sampled[name].to_numpy(dtype=float)
        holds = (claim.band[0] <= values) & (values <= claim.band[1])
        ranked = indices[
            (indices["output"] == name) & (indices["parameter"] != NO_EFFECT)
        ].sort_values(column, ascending=False, na_position="last")
        ranked = ranked[ranked[column] > _floor(indices, name, study.method)]
        top = list(ranked["parameter"].head(3))
        rows.append(
            {
                "output": name,
                "claim": claim.id,
                "text": claim.text,
                "band": claim.band_text(),
                "band_low": float(claim.band[0]),
                "band_high": float(claim.band[1]),
                "at_profile": float(claim.value),
                "holds_at_profile": bool(claim.holds),
                "share_holding": float(holds.mean()),
                "samples": len(values),
                "top_parameters": ", ".join(top),
                "top_indices": ", ".join(f"{v:.2g}" for v in ranked[column].head(3)),
                "fails_where": _fails_where(study, sampled, holds, top),
            }
        )
    return pd.DataFrame(rows)


def _floor(indices: pd.DataFrame, output: str, method: str) -> float:
    """The no-effect parameter's index plus its interval: what counts as no effect."""
    row = indices[(indices["output"] == output) & (indices["parameter"] == NO_EFFECT)]
    if row.empty:
        return 0.0
    column = influence_column(method)
    value = float(row[column].iloc[0]) + float(row[f"{column}_conf"].iloc[0])
    return 0.0 if math.isnan(value) else value


def noise_floor(indices: pd.DataFrame, method: str) -> float:
    """The largest index (plus interval) the no-effect parameter gets over all outputs."""
    return max(
        (_floor(indices, output, method) for output in indices["output"].unique()), default=0.0
    )


def _fails_where(study: Study, sampled: pd.DataFrame, holds: np.ndarray, top: list) -> str:
    """How many samples fail, and where along the most influential parameter.

    The share holding in each quarter of that parameter's range says where
    along it the claim breaks.
    """
    failures = int((~holds).sum())
    if failures == 0:
        return "holds in every sample"
    if holds.sum() == 0:
        return "fails in every sample"
    if not top:
        return f"fails in {failures} of {len(holds)} samples, along no parameter in particular"
    name = top[0]
    parameter = next(p for p in study.parameters if p.name == name)
    values = sampled[name].to_numpy(dtype=float)
    edges = np.linspace(parameter.low, parameter.high, QUARTERS + 1)
    quarter = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, QUARTERS - 1)
    shares = [
        f"{100 * holds[quarter == q].mean():.0f}%" if (quarter == q).any() else "-"
        for q in range(QUARTERS)
    ]
    return (
        f"fails in {failures} of {len(holds)} samples; by quarter of {name} "
        f"{parameter.low:g}..{parameter.high:g} (low to high) it holds in "
        f"{' / '.join(shares)}"
    )


def console_table(result: StudyResult, top: int = 3) -> str:
    """Per output, its most influential parameters; per claim, its robustness."""
    method = result.study.method
    column = influence_column(method)
    indices = result.indices
    lines = [f"{'output':<34} most influential parameters ({column} +- 95% interval)"]
    for output, rows in indices.groupby("output", sort=False):
        ranked = rows[rows["parameter"] != NO_EFFECT].sort_values(column, ascending=False)
        if ranked[column].isna().all():
            lines.append(f"{output:<34} constant over the sampled space")
            continue
        cells = [
            f"{r.parameter} {getattr(r, column):.3f} +- {getattr(r, column + '_conf'):.3f}"
            for r in ranked.head(top).itertuples()
        ]
        lines.append(f"{output:<34} " + "; ".join(cells))
    lines.append(
        f"noise floor (the no-effect parameter's {column} + interval, largest over "
        f"outputs): {noise_floor(indices, method):.3g}"
    )
    if len(result.robustness):
        lines.append("")
        lines.append(f"{'claim':<8} {'holds in':>9}  at profile  most influential")
        for r in result.robustness.itertuples():
            lines.append(
                f"{r.output:<8} {100 * r.share_holding:8.0f}%  "  # type: ignore[operator, str-bytes-safe]  # (a table row)
                f"{r.at_profile:10.4g}  {r.top_parameters or '-'}  ({r.text})"  # type: ignore[str-bytes-safe]
            )
    return "\n".join(lines)


def describe(result: StudyResult) -> str:
    """One line: where the tables went and what was reused."""
    distinct = result.reused + result.computed
    return (
        f"{result.runs} runs, {distinct} distinct ({result.reused} reused from "
        f"{result.out_dir / 'cache'}, {result.computed} computed) -> "
        f"{result.out_dir / 'sensitivity.parquet'}, samples.parquet, robustness.parquet, "
        + ", ".join(f"{figure.png.stem} (PNG, SVG)" for figure in result.figures)
    )
