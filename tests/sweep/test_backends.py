"""Same tables on one process, two processes and a Dask cluster; progress in a log."""

import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from l4sim.sweep import backends
from l4sim.sweep.backends import BackendError, connect
from l4sim.sweep.execute import run_sweep
from l4sim.sweep.provenance import of_table
from l4sim.sweep.scenario import load_scenario

pytestmark = pytest.mark.slow  # worker processes and a Dask cluster

SCENARIO = Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml"
SMALL = [
    "events=200",
    "warmup_events=20",
    "replications=2",
    "sweep.threads=[1,3]",
    "sweep.wait_factor=[10,1000]",
    "lock=tas",
]


def test_jobs_1_jobs_2_and_dask_give_bit_identical_tables(tmp_path):
    distributed = pytest.importorskip("distributed")
    scenario = load_scenario(SCENARIO, SMALL)
    one = run_sweep(scenario, tmp_path / "one", jobs=1, progress=False)
    two = run_sweep(scenario, tmp_path / "two", jobs=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = run_sweep(
            scenario, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False
        )
        command = subprocess.run(
            [
                sys.executable,
                "-m",
                "l4sim.cli",
                "run",
                str(SCENARIO),
                *[f"--set={s}" for s in SMALL],
                "--quiet",
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(tmp_path / "cli"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert command.returncode == 0, command.stderr
    assert one.computed == two.computed == dask.computed == 16
    assert "16 computed" in command.stdout
    for name in ("points.parquet", "events.parquet", "summary.parquet"):
        reference = (tmp_path / "one" / name).read_bytes()
        for other in ("two", "dask"):
            assert (tmp_path / other / name).read_bytes() == reference, (other, name)
        # the command line's: the same table, its provenance naming the command
        table, made = pq.read_table(tmp_path / "one" / name), of_table(tmp_path / "one" / name)
        assert pq.read_table(tmp_path / "cli" / name).equals(table)
        assert made is not None and made.command.startswith("python ")
        assert of_table(tmp_path / "cli" / name) == replace(
            made,
            command=shlex.join(["l4sim", "run", str(SCENARIO), *(f"--set={s}" for s in SMALL)]),
        )


def test_a_worker_running_other_code_is_refused(tmp_path, monkeypatch):
    from l4sim.sweep import backends

    monkeypatch.setattr(backends, "model_version", lambda: "0123456789abcdef")
    scenario = load_scenario(SCENARIO, [*SMALL, "sweep.threads=[1]"])
    with pytest.raises(BackendError, match="another version of l4sim"):
        run_sweep(scenario, tmp_path / "out", jobs=1, progress=False)
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_worker_gets_a_config_and_returns_plain_records():
    point = load_scenario(SCENARIO, SMALL).points()[0]
    record = backends.run_task(point.model_dump(), 1, None, None)
    assert set(record) == {"config", "replication", "rows", "measured_cycles", "events", "model"}
    plain = (str, int, float, bool, type(None))
    assert all(isinstance(v, plain) for row in record["rows"] for v in row.values())
    for name, column in record["events"].items():
        if isinstance(column, pd.Categorical):  # a string column: a code per row, str labels
            assert all(type(label) is str for label in column.categories), name
            assert column.codes.dtype.kind == "i" and len(column) == len(record["events"]["entry"])
        else:
            assert type(column).__module__ == "numpy" and column.dtype.kind in "iufb", name
    assert {"kind", "path", "exit_point", "thread_name"} <= {
        name for name, column in record["events"].items() if isinstance(column, pd.Categorical)
    }


def test_unreachable_scheduler_is_one_line(tmp_path):
    with pytest.raises(BackendError, match="cannot connect"):
        connect("tcp://127.0.0.1:1")


def test_run_in_a_log_prints_plain_progress_lines(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "l4sim.cli",
            "run",
            str(SCENARIO),
            *[f"--set={s}" for s in SMALL],
            "--jobs",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    # 16 runs of 220 closed syscall exceptions each: the bar counts entries, the runs beside
    assert "syscall_bench: 3,520/3,520 entries (100%" in result.stderr
    assert "16 runs (0 reused" in result.stdout and "16 computed" in result.stdout
