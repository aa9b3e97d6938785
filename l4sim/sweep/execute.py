"""Run a scenario's sweep: points x replications -> cached results -> Parquet tables.

Each (point, replication) is an independent run: a pure function of the
point's configuration and its replication number (its seed derives from
them, see :func:`l4sim.simulation.simulate.seed_sequence`). A run's result is filed in
the cache (:mod:`l4sim.sweep.cache`) as soon as it arrives, whatever backend
computed it (:mod:`l4sim.sweep.backends`); a rerun computes only the missing ones. The
tables are then assembled from the cache in task order, so they do not depend
on the number of workers, on Dask, or on how many times the sweep was
interrupted.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from l4sim.simulation.resolution import Resolution, needs_resolution
from l4sim.sweep.backends import (
    BackendError,
    connect,
    default_jobs,
    run_dask,
    run_local,
    run_task,
)
from l4sim.sweep.cache import (
    ROW_GROUP_ROWS,
    CacheError,
    FolderLock,
    Record,
    ResultCache,
    task_key,
)
from l4sim.sweep.fastpath_designs import resolve_design
from l4sim.sweep.output_folder import claim, remove_stale_figures
from l4sim.sweep.progress import Progress
from l4sim.sweep.provenance import Provenance, parquet_table, read_table, with_metadata, write_file
from l4sim.sweep.scenario import Scenario, point_keys
from l4sim.sweep.stats import METRICS_ATTR, record_metrics, write_summary
from l4sim.workloads.base import COSTS_PREFIX, Point
from l4sim.workloads.registry import find_workload

__all__ = [
    "SweepRun",
    "default_jobs",
    "load_points",
    "point_from_row",
    "run_points",
    "run_scenario",
    "run_sweep",
]


# the tables a sweep writes
TABLES = ("points.parquet", "events.parquet", "summary.parquet")


class OutputError(CacheError):
    """The output folder cannot be written (a full disk, no permission): one line, exit 2."""


@dataclass
class SweepRun:
    """What a sweep produced and how much of it came from the cache."""

    points: pd.DataFrame
    out_dir: Path
    runs: int
    reused: int
    computed: int
    # figures drawn from the tables this sweep replaced with different ones
    removed_figures: list[Path] = field(default_factory=list)


def run_sweep(
    scenario: Scenario,
    out_dir: Path,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool | None = None,
    client=None,
    invariants: bool | None = None,
    overwrite: bool = False,
    provenance: Provenance | None = None,
) -> SweepRun:
    """Run what is missing from the cache, then write the tables into ``out_dir``.

    ``scheduler`` is a Dask scheduler address and ``client`` an existing Dask
    client (either replaces local processes); ``force`` recomputes every run.
    ``invariants`` runs the invariant checker on every run, so it recomputes
    them all: a cached result was not necessarily checked. ``progress``
    (default: on) shows the kernel entries simulated against the target, then
    the tables being assembled.
    Writes ``points.parquet``, ``events.parquet`` and ``summary.parquet``, each
    with ``provenance`` (default: the scenario's, :mod:`l4sim.sweep.provenance`) in
    its metadata, and ``provenance.json``. A folder holding another scenario's or
    study's results is refused (:class:`l4sim.sweep.output_folder.FolderTaken`),
    or emptied of them first with ``overwrite``; figures drawn from tables this
    sweep replaces with different ones are removed. A folder this call created is
    removed again if writing fails (a full disk): an :class:`OutputError` then
    says why.
    """
    points = scenario.points()
    tasks = [(point, rep) for point in points for rep in range(point.replications)]
    out_dir = Path(out_dir)
    provenance = provenance or Provenance.of_points(points, "run", scenario.name, scenario.source)
    claim(out_dir, "run", scenario.name, overwrite)  # before anything is written
    removed: list[Path] = []

    def tables(reader: CheckedReader, keys: list[str], mode: str) -> pd.DataFrame:
        frame, changed = _assemble(
            points,
            tasks,
            keys,
            reader,
            list(scenario.sweep),
            out_dir,
            Progress(len(tasks), f"{scenario.name}: tables", mode, unit="runs", delay=1.0),
            provenance,
        )
        write_summary(out_dir, frame, provenance)
        if changed:
            removed.extend(remove_stale_figures(out_dir))
        write_file(out_dir, provenance, tables=TABLES)
        return frame

    run = _run_tasks(
        tasks,
        scenario.name,
        out_dir,
        tables,
        jobs,
        scheduler,
        force or bool(invariants),
        progress,
        client,
        invariants,
    )
    run.removed_figures = removed
    return run


def run_points(
    points: list[Point],
    label: str,
    out_dir: Path,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool | None = None,
    client=None,
) -> SweepRun:
    """Run an explicit list of points, each with its replications, as :func:`run_sweep` does.

    The same cache (``out_dir/cache``, so a killed run resumes), backends,
    progress and cleanup of a folder it created; a point listed twice runs
    once (``reused`` and ``computed`` count distinct runs). Writes no table:
    returns the points' rows (``points.parquet``'s columns plus ``point``, the
    point's position in ``points``), in the order given, from the cached
    summaries alone (the events are not read).
    """
    tasks = [(point, rep) for point in points for rep in range(point.replications)]
    positions = [index for index, point in enumerate(points) for _ in range(point.replications)]

    def rows(reader: CheckedReader, keys: list[str], mode: str) -> pd.DataFrame:
        found: list[dict[str, Any]] = []
        for key, index, (point, rep) in zip(keys, positions, tasks, strict=True):
            summary, measured = reader.summary(key, point, rep)
            found.extend(
                {
                    "point": index,
                    **point.flat(),
                    "replication": rep,
                    "measured_cycles": measured,
                    **row,
                }
                for row in summary
            )
        return pd.DataFrame(found)

    return _run_tasks(
        tasks, label, Path(out_dir), rows, jobs, scheduler, force, progress, client, None
    )


def _run_tasks(
    tasks: list[tuple[Point, int]],
    label: str,
    out_dir: Path,
    collect: Callable[[CheckedReader, list[str], str], pd.DataFrame],
    jobs: int | None,
    scheduler: str | None,
    force: bool,
    progress: bool | None,
    client,
    invariants: bool | None,
) -> SweepRun:
    """Compute the tasks missing from ``out_dir``'s cache, then ``collect`` the results.

    A task is a (point, replication); the results are collected from the
    cache while the folder's lock is held.

    A folder this call created is removed again if writing fails (an
    :class:`OutputError` then says why), or if it is interrupted before any
    run was filed (nothing worth resuming).
    """
    owned = None
    if client is None and scheduler is not None:
        client = owned = connect(scheduler)  # before anything is written
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with FolderLock(out_dir):
            cache = ResultCache(out_dir)
            cache.remove_stale_temporaries()
            configs: dict[int, dict] = {}  # each point's configuration, dumped once
            keys = [
                task_key(configs.setdefault(id(point), point.model_dump()), rep, cache.model)
                for point, rep in tasks
            ]
            todo: dict[str, tuple] = {}  # each distinct run once, in task order
            targets: dict[str, int] = {}  # closed entries of the measured kind per run
            unusable: dict[str, str] = {}  # cached files that are not the run they are for
            for key, (point, rep) in zip(keys, tasks, strict=True):
                if key in todo:
                    continue
                if not force and cache.has(key):
                    reason = cache.check(key, configs[id(point)], rep)
                    if reason is None:
                        continue
                    unusable[key] = reason
                    cache.discard(key)
                todo[key] = (key, point, rep)
                targets[key] = find_workload(point.workload).measured_entries(point)
            if unusable:
                warn(_unusable(cache, unusable))
            mode = Progress.choose(progress)
            resolutions = _resolve([point for _, point, _ in todo.values()], cache, label, mode)
            missing = [
                (key, configs[id(point)], rep, resolutions.get(id(point)))
                for key, point, rep in todo.values()
            ]
            _compute(missing, targets, cache, label, mode, client, jobs, invariants)
            reader = CheckedReader(cache, configs, resolutions, invariants)
            frame = collect(reader, keys, mode)
    except OSError as error:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise OutputError(
            f"{out_dir}: cannot write ({_reason(error)})"
            + ("; nothing was kept" if created else "")
        ) from None
    except BaseException:
        if created and not any(out_dir.glob("cache/*/*.parquet")):
            shutil.rmtree(out_dir, ignore_errors=True)  # nothing worth resuming
        raise
    finally:
        if owned is not None:
            owned.close()
    distinct = len(set(keys))  # a run two tasks share is reused or computed once
    computed = len(missing) + len(reader.recomputed - {key for key, *_ in missing})
    return SweepRun(frame, out_dir, len(tasks), distinct - computed, computed)


def _unusable(cache: ResultCache, unusable: dict[str, str], named: int = 3) -> str:
    """The warning for cached runs that are not the runs they are for: each file and why."""
    shown = [f"{cache.path(key).name}: {why}" for key, why in list(unusable.items())[:named]]
    more = len(unusable) - len(shown)
    many = len(unusable) > 1
    return (
        f"{len(unusable)} cached run{'s' if many else ''} in {cache.folder} not usable ("
        + "; ".join(shown)
        + (f"; and {more} more" if more > 0 else "")
        + f"): computing {'them' if many else 'it'} again"
    )


def warn(message: str) -> None:
    """A warning: one line on stderr (the run goes on)."""
    shown = " ".join(message.split())  # one line
    print(f"l4sim: warning: {shown}", file=sys.stderr, flush=True)


class CheckedReader:
    """The cache's results, each read as the run it is for.

    One found damaged while the tables are assembled (its metadata was checked
    before, not every byte) is computed again in this process, with a warning,
    never trusted.
    """

    def __init__(
        self,
        cache: ResultCache,
        configs: dict[int, dict],
        resolutions: dict[int, Resolution],
        invariants: bool | None,
    ):
        self.cache, self.configs = cache, configs
        self.resolutions, self.invariants = resolutions, invariants
        self.recomputed: set[str] = set()  # the runs found damaged here and computed again

    def get(self, key: str, point: Point, replication: int) -> Record:
        try:
            return self.cache.get(key)
        except CacheError as error:
            self._recompute(key, point, replication, str(error))
            return self.cache.get(key)

    def summary(self, key: str, point: Point, replication: int) -> tuple[list[dict], int]:
        try:
            return self.cache.summary(key)
        except CacheError as error:
            self._recompute(key, point, replication, str(error))
            return self.cache.summary(key)

    def _recompute(self, key: str, point: Point, replication: int, reason: str) -> None:
        warn(f"{reason.split('; ')[0]}: computing it again")
        self.recomputed.add(key)
        self.cache.discard(key)
        resolution = self.resolutions.get(id(point))
        if resolution is None and needs_resolution(point):
            resolution = resolve_design(point, self.cache.derived)
        config = self.configs.get(id(point)) or point.model_dump()
        self.cache.put(key, run_task(config, replication, resolution, self.invariants))


def _resolve(
    points: list[Point], cache: ResultCache, label: str, mode: str
) -> dict[int, Resolution]:
    """Each point's fastpath order or design, resolved once before any run is sent.

    A point that needs one is profiled (and its designs searched and verified)
    here, once, not in every worker that runs one of its replications; the
    results are filed in the cache beside the runs, so a rerun resolves
    nothing again.
    """
    distinct = {id(point): point for point in points if needs_resolution(point)}
    if not distinct:
        return {}
    found = {}
    with Progress(len(distinct), f"{label}: fastpath designs", mode, unit="points") as bar:
        for identity, point in distinct.items():
            found[identity] = resolve_design(point, cache.derived)
            bar.update()
    return found


def _compute(
    missing: list,
    targets: dict[str, int],
    cache: ResultCache,
    label: str,
    mode: str,
    client,
    jobs: int | None,
    invariants: bool | None,
) -> None:
    """Run the missing runs, filing each result as it arrives, with a progress bar."""
    with Progress(sum(targets.values()), label, mode, unit="entries") as bar:
        if client is not None:  # a Dask worker's progress is seen when its run ends
            results = run_dask(missing, client, invariants)
        else:
            results = run_local(missing, jobs or default_jobs(), invariants, progress=bar.update)
        finished = 0
        bar.note(f"0/{len(missing)} runs")
        # stops the workers at once if this loop fails (a generator: it has close())
        with closing(results):  # type: ignore[type-var]
            for key, record in results:
                if record["model"] != cache.model:
                    raise BackendError(
                        f"a worker runs another version of l4sim "
                        f"(model {record['model']}, here {cache.model})"
                    )
                cache.put(key, record)
                finished += 1
                bar.note(f"{finished}/{len(missing)} runs")
                if client is not None:
                    bar.update(targets[key])


def _reason(error: OSError) -> str:
    """An OS error in a few words ('No space left on device')."""
    if error.strerror:
        return error.strerror
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def run_scenario(
    scenario: Scenario,
    out_dir: Path,
    jobs: int | None = None,
    progress: bool | None = None,
    **options,
) -> pd.DataFrame:
    """Run a sweep (see :func:`run_sweep`) and return its ``points.parquet`` table."""
    return run_sweep(scenario, out_dir, jobs=jobs, progress=progress, **options).points


def _assemble(
    points: list[Point],
    tasks,
    keys: list[str],
    reader: CheckedReader,
    swept: list[str],
    out_dir: Path,
    progress: Progress,
    provenance: Provenance,
) -> tuple[pd.DataFrame, bool]:
    """``points.parquet`` and ``events.parquet`` from the cache, in task order.

    Both are written under temporary names first and renamed together at the
    end, so a failure leaves the folder's previous tables, never half of new ones.
    Returns the points table, and whether it differs from the one it replaced.
    """
    rows: list[dict] = []
    metrics: dict[str, None] = {}  # every metric name the records carry, in order
    events_temporary = _temporary(out_dir, "events")
    points_temporary = _temporary(out_dir, "points")
    writer = None
    try:
        for (point, rep), key in zip(tasks, keys, strict=True):
            progress.update()
            record = reader.get(key, point, rep)
            config = point.flat()
            rows.extend(
                {**config, "replication": rep, "measured_cycles": record.measured_cycles, **row}
                for row in record.rows
            )
            metrics.update(dict.fromkeys(record_metrics(record.rows)))
            labels = {**{name: config[name] for name in swept}, "replication": rep}
            for table in _labelled(record.events, labels):
                if writer is None:
                    schema = with_metadata(table, provenance).schema
                    writer = pq.ParquetWriter(events_temporary, schema)
                writer.write_table(table)
        if writer is not None:
            writer.close()
            writer = None
        frame = pd.DataFrame(rows)
        ordered = [*point_keys(points), "replication"]
        frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
        # which columns are metrics (a workload's own too), kept in the file's metadata
        frame.attrs[METRICS_ATTR] = list(metrics)
        pq.write_table(parquet_table(frame, provenance), points_temporary)
        changed = not _same_bytes(points_temporary, out_dir / "points.parquet")
        if events_temporary.exists():
            os.replace(events_temporary, out_dir / "events.parquet")
        os.replace(points_temporary, out_dir / "points.parquet")
    finally:
        progress.close()
        if writer is not None:
            writer.close()
        for leftover in out_dir.glob(".*.parquet.tmp*"):
            leftover.unlink(missing_ok=True)
    return frame, changed


def _same_bytes(new: Path, old: Path) -> bool:
    """Whether file ``old`` exists and holds the bytes of ``new``."""
    try:
        if old.stat().st_size != new.stat().st_size:
            return False
        return old.read_bytes() == new.read_bytes()
    except OSError:
        return False


# rows of events.parquet written at a time (a row group): a long run's strings are
# expanded, and its pages encoded, a group at a time, so writing needs little memory
WRITE_ROWS = ROW_GROUP_ROWS


def _labelled(events: pa.Table, labels: dict):
    """``events`` with a constant column per label in front, ``WRITE_ROWS`` at a time.

    The labels are the swept keys and the replication; the events'
    dictionary-encoded labels come out as strings.
    """
    for start in range(0, max(events.num_rows, 1), WRITE_ROWS):
        part = events.slice(start, WRITE_ROWS)
        columns = [
            column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            for column in part.columns
        ]
        constants = [pa.repeat(value, part.num_rows) for value in labels.values()]
        yield pa.Table.from_arrays([*constants, *columns], names=[*labels, *part.column_names])


def _temporary(out_dir: Path, stem: str) -> Path:
    """A hidden name beside the final file, so the rename is atomic."""
    return out_dir / f".{stem}.parquet.tmp-{os.getpid()}"


def load_points(out_dir: Path) -> pd.DataFrame:
    """The ``points.parquet`` table of a run's folder: one row per point, replication and kind."""
    return read_table(Path(out_dir) / "points.parquet")


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
    removed = len(run.removed_figures)
    return (
        f"{run.runs} runs ({run.reused} reused from {run.out_dir / 'cache'}, "
        f"{run.computed} computed), {len(run.points)} rows -> "
        f"{run.out_dir / 'points.parquet'}, events.parquet, summary.parquet, provenance.json"
        + (
            f"; removed {removed} figure{'s' if removed > 1 else ''} drawn from the previous tables"
            if removed
            else ""
        )
    )
