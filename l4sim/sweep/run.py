"""Run a scenario's sweep: points x replications -> cached results -> Parquet tables.

Each (point, replication) is an independent run: a pure function of the
point's configuration and its replication number (its seed derives from
them, see :func:`l4sim.sweep.runner.seed_sequence`). A run's result is filed in
the cache (:mod:`l4sim.sweep.cache`) as soon as it arrives, whatever backend
computed it (:mod:`l4sim.sweep.backends`); a rerun computes only the missing ones. The
tables are then assembled from the cache in task order, so they do not depend
on the number of workers, on Dask, or on how many times the sweep was
interrupted.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from l4sim.sweep.backends import BackendError, connect, default_jobs, run_dask, run_local
from l4sim.sweep.cache import FolderLock, ResultCache, task_key
from l4sim.sweep.progress import Progress
from l4sim.sweep.scenario import Point, Scenario, point_keys
from l4sim.sweep.stats import write_summary
from l4sim.workloads.base import COSTS_PREFIX
from l4sim.workloads.registry import find_workload

__all__ = ["SweepRun", "default_jobs", "load_points", "point_from_row", "run_points",
           "run_scenario", "run_sweep"]


@dataclass
class SweepRun:
    """What a sweep produced and how much of it came from the cache."""

    points: pd.DataFrame
    out_dir: Path
    runs: int
    reused: int
    computed: int


def run_sweep(scenario: Scenario, out_dir: Path, jobs: int | None = None,
              scheduler: str | None = None, force: bool = False,
              progress: bool | None = None, client=None,
              invariants: bool | None = None) -> SweepRun:
    """Run what is missing from the cache, then write the tables into ``out_dir``.

    ``scheduler`` is a Dask scheduler address and ``client`` an existing Dask
    client (either replaces local processes); ``force`` recomputes every run.
    ``invariants`` runs the invariant checker on every run, so it recomputes
    them all: a cached result was not necessarily checked.
    Writes ``points.parquet``, ``events.parquet`` and ``summary.parquet``.
    """
    force = force or bool(invariants)
    points = scenario.points()
    tasks = [(point, rep) for point in points for rep in range(point.replications)]
    owned = None
    if client is None and scheduler is not None:
        client = owned = connect(scheduler)  # before anything is written
    try:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with FolderLock(out_dir):
            cache = ResultCache(out_dir)
            cache.remove_stale_temporaries()
            keys = [task_key(point.model_dump(), rep, cache.model) for point, rep in tasks]
            todo: dict[str, tuple] = {}  # each distinct run once, in task order
            for key, (point, rep) in zip(keys, tasks, strict=True):
                if key not in todo and (force or not cache.has(key)):
                    todo[key] = (key, point.model_dump(), rep)
            missing = list(todo.values())
            _compute(missing, cache, scenario.name, jobs, client, progress, invariants)
            frame = _assemble(points, tasks, keys, cache, list(scenario.sweep), out_dir)
            write_summary(out_dir, frame)
    finally:
        if owned is not None:
            owned.close()
    reused = len(tasks) - len(missing)
    return SweepRun(frame, out_dir, len(tasks), reused, len(missing))


def run_points(points: list[Point], label: str, out_dir: Path, jobs: int | None = None,
               scheduler: str | None = None, force: bool = False,
               progress: bool | None = None, client=None) -> SweepRun:
    """Run an explicit list of points, each with its replications, as :func:`run_sweep` does.

    The same cache (``out_dir/cache``, so a killed run resumes), backends and
    progress; a point listed twice runs once (``reused`` and ``computed`` count
    distinct runs). Writes no table: returns the
    points' rows (``points.parquet``'s columns plus ``point``, the point's
    position in ``points``), in the order given.
    """
    tasks = [(index, point, rep) for index, point in enumerate(points)
             for rep in range(point.replications)]
    owned = None
    if client is None and scheduler is not None:
        client = owned = connect(scheduler)  # before anything is written
    try:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with FolderLock(out_dir):
            cache = ResultCache(out_dir)
            cache.remove_stale_temporaries()
            configs = {}  # a point's configuration, dumped once per distinct point
            keys = []
            for index, point, rep in tasks:
                config = configs.setdefault(index, point.model_dump())
                keys.append(task_key(config, rep, cache.model))
            todo: dict[str, tuple] = {}
            for key, (index, _, rep) in zip(keys, tasks, strict=True):
                if key not in todo and (force or not cache.has(key)):
                    todo[key] = (key, configs[index], rep)
            missing = list(todo.values())
            _compute(missing, cache, label, jobs, client, progress, None)
            rows = []
            for key, (index, point, rep) in zip(keys, tasks, strict=True):
                summary, measured = cache.summary(key)
                config = point.flat()
                rows.extend({"point": index, **config, "replication": rep,
                             "measured_cycles": measured, **row} for row in summary)
    finally:
        if owned is not None:
            owned.close()
    frame = pd.DataFrame(rows)
    distinct = len(set(keys))  # reused + computed: each distinct run once
    return SweepRun(frame, out_dir, len(tasks), distinct - len(missing), len(missing))


def _compute(missing: list[tuple], cache: ResultCache, label: str, jobs: int | None, client,
             progress: bool | None, invariants: bool | None) -> None:
    """Run the missing (key, config, replication) tasks, filing each result as it arrives."""
    with Progress(len(missing), label, Progress.choose(progress)) as bar:
        if client is not None:
            results = run_dask(missing, client, invariants)
        else:
            results = run_local(missing, jobs or default_jobs(), invariants)
        with closing(results):  # stops the workers at once if this loop fails
            for key, record in results:
                if record["model"] != cache.model:
                    raise BackendError(f"a worker runs another version of l4sim "
                                       f"(model {record['model']}, here {cache.model})")
                cache.put(key, record)
                bar.update()


def run_scenario(scenario: Scenario, out_dir: Path, jobs: int | None = None,
                 progress: bool | None = None, **options) -> pd.DataFrame:
    """Run a sweep (see :func:`run_sweep`) and return its ``points.parquet`` table."""
    return run_sweep(scenario, out_dir, jobs=jobs, progress=progress, **options).points


def _assemble(points: list[Point], tasks, keys: list[str], cache: ResultCache,
              swept: list[str], out_dir: Path) -> pd.DataFrame:
    """``points.parquet`` and ``events.parquet`` from the cache, in task order."""
    rows: list[dict] = []
    events_temporary = _temporary(out_dir, "events")
    writer = None
    try:
        for (point, rep), key in zip(tasks, keys, strict=True):
            record = cache.get(key)
            config = point.flat()
            rows.extend({**config, "replication": rep,
                         "measured_cycles": record.measured_cycles, **row}
                        for row in record.rows)
            events = record.events.to_pandas()
            events.insert(0, "replication", rep)
            for offset, name in enumerate(swept):
                events.insert(offset, name, config[name])
            table = pa.Table.from_pandas(events, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(events_temporary, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
            writer = None
            os.replace(events_temporary, out_dir / "events.parquet")
        frame = pd.DataFrame(rows)
        ordered = [*point_keys(points), "replication"]
        frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
        points_temporary = _temporary(out_dir, "points")
        frame.to_parquet(points_temporary, index=False)
        os.replace(points_temporary, out_dir / "points.parquet")
    finally:
        if writer is not None:
            writer.close()
        for leftover in out_dir.glob(".*.parquet.tmp*"):
            leftover.unlink(missing_ok=True)
    return frame


def _temporary(out_dir: Path, stem: str) -> Path:
    """A hidden name beside the final file, so the rename is atomic."""
    return out_dir / f".{stem}.parquet.tmp-{os.getpid()}"


def load_points(out_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(out_dir) / "points.parquet")


def point_from_row(row: dict) -> Point:
    """The point of a ``points.parquet`` row (its key columns; metric columns are ignored)."""
    model = find_workload(row["workload"]).Params
    values: dict = {"costs": {}}
    for key, value in row.items():
        value = value.item() if hasattr(value, "item") else value
        if isinstance(value, float) and value != value:  # NaN: a key left unset, or a cost
            value = None  # override another point of the run had
        if key.startswith(COSTS_PREFIX):
            if value is not None:
                values["costs"][key.removeprefix(COSTS_PREFIX)] = int(value)
        elif key in model.model_fields:
            values[key] = value
    return model.model_validate(values)


def describe(run: SweepRun) -> str:
    """One line for the terminal: where the tables went and what was reused."""
    return (f"{run.runs} runs ({run.reused} reused from {run.out_dir / 'cache'}, "
            f"{run.computed} computed), {len(run.points)} rows -> "
            f"{run.out_dir / 'points.parquet'}, events.parquet, summary.parquet")

