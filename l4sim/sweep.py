"""Run a scenario's sweep: points x replications -> records -> Parquet tables.

Each (point, replication) is an independent task: a pure function of the
point's configuration and its replication number (its seed derives from
them, see :func:`l4sim.runner.seed_sequence`). Tasks run in worker processes
and their results are written in task order, so the tables do not depend on
the number of workers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from l4sim.check.invariants import InvariantViolation
from l4sim.runner import simulate
from l4sim.scenario import Point, Scenario, point_keys


def run_task(point: Point, replication: int,
             check: bool | None = None) -> tuple[list[dict], pd.DataFrame]:
    """Simulate one (point, replication); plain rows and an events frame, nothing else."""
    try:
        result = simulate(point, replication, check=check)
    except InvariantViolation as error:  # issue 5: say which run broke the invariant
        first, _, rest = error.report.partition("\n")
        where = ", ".join(f"{k}={v}" for k, v in point.model_dump().items()
                          if k not in ("name", "profile"))
        raise InvariantViolation(f"{first}\n  in the run {where}, replication {replication}"
                                 f"\n{rest}", error.check, error.cycle) from None
    config = point.model_dump()
    rows = [{**config, "replication": replication, "measured_cycles": result.measured_cycles,
             **row} for row in result.rows]
    events = result.events
    events.insert(0, "replication", replication)
    return rows, events


def _run_star(args):
    return run_task(*args)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run_scenario(scenario: Scenario, out_dir: Path, jobs: int | None = None,
                 progress: bool | None = None, check: bool | None = None) -> pd.DataFrame:
    """Run every (point, replication); write ``points.parquet`` and ``events.parquet``.

    ``check`` runs the invariant checker on every task (issue 5).
    """
    points = scenario.points()
    tasks = [(point, rep, check) for point in points for rep in range(point.replications)]
    swept = list(scenario.sweep)
    jobs = jobs or default_jobs()
    show = sys.stderr.isatty() if progress is None else progress
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    try:
        rows: list[dict] = []
        writer = None
        events_path = scratch / "events.parquet"
        with tqdm(total=len(tasks), desc=scenario.name, unit="pt", disable=not show,
                  file=sys.stderr) as bar:
            for task_rows, events in _results(tasks, jobs):
                rows.extend(task_rows)
                point_columns = {key: task_rows[0][key] for key in swept} if task_rows else {}
                for offset, (key, value) in enumerate(point_columns.items()):
                    events.insert(offset, key, value)
                table = pa.Table.from_pandas(_plain(events), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(events_path, table.schema)
                writer.write_table(table)
                bar.update(1)
        if writer is not None:
            writer.close()
        frame = pd.DataFrame(rows)
        ordered = [*point_keys(points), "replication"]
        frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
        frame.to_parquet(scratch / "points.parquet", index=False)
        for name in ("points.parquet", "events.parquet"):
            if (scratch / name).exists():
                os.replace(scratch / name, out_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return frame


def _plain(events: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings, so every chunk of events.parquet has the same schema."""
    return events.astype({c: str for c in events.columns
                          if isinstance(events[c].dtype, pd.CategoricalDtype)})


def _results(tasks, jobs: int):
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_task(*task)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_run_star, tasks, chunksize=1)


def load_points(out_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(out_dir / "points.parquet")
