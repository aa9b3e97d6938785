"""summary.parquet: mean, std and 95% t-interval across replications."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from l4sim.sweep.stats import summarize, write_summary


def _points(replications):
    rng = np.random.default_rng(1)
    rows = []
    for threads in (1, 2):
        for kind in ("ipc", "syscall_exception"):
            for rep in range(replications):
                rows.append(
                    {
                        "name": "s",
                        "threads": threads,
                        "wait_factor": 10.0,
                        "replication": rep,
                        "measured_cycles": 1000 + rep,
                        "kind": kind,
                        "entries": 100,
                        "duration_mean": float(rng.normal(500, 20)),
                        "lock_wait_mean": float(rng.exponential(5)),
                    }
                )
    return pd.DataFrame(rows)


def test_summary_matches_scipy_t_interval():
    points = _points(5)
    summary = summarize(points)
    # 2 points x 2 kinds x 4 metrics present
    assert len(summary) == 16
    assert list(summary.columns) == [
        "name",
        "threads",
        "wait_factor",
        "kind",
        "metric",
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
    ]
    row = summary[
        (summary.threads == 2)
        & (summary.kind == "syscall_exception")
        & (summary.metric == "duration_mean")
    ].iloc[0]
    values = points[(points.threads == 2) & (points.kind == "syscall_exception")][
        "duration_mean"
    ].to_numpy()
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert row.n == 5
    assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert row["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert (row.ci_low, row.ci_high) == (
        pytest.approx(low, rel=1e-12),
        pytest.approx(high, rel=1e-12),
    )
    constant = summary[summary.metric == "entries"]
    assert (constant.ci_low == 100).all() and (constant.ci_high == 100).all()


def test_one_replication_has_no_interval():
    summary = summarize(_points(1))
    assert summary["n"].eq(1).all()
    assert summary["std"].isna().all() and summary["ci_low"].isna().all()


def test_summarize_command_writes_summary(tmp_path):
    _points(3).to_parquet(tmp_path / "points.parquet", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "l4sim.cli", "summarize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "summary.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "summary.parquet"), summarize(_points(3))
    )
    assert write_summary(tmp_path) == tmp_path / "summary.parquet"


WORKLOAD = '''
import numpy as np
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Compute, RaiseException, ReplyWait, Wait
from l4sim.workloads import Point, Setup


class Params(Point):
    gap: int = 500


def worker(rng, gap):
    while True:
        yield Compute(int(rng.integers(gap)))
        yield RaiseException("syscall", ())


def handler():
    message = yield Wait()
    while True:
        message = yield ReplyWait(message.sender, ("ok",))


def metrics(machine, events, measured_cycles):
    """The workload's own metric: handler replies per million cycles."""
    replies = (events["kind"] == "ipc").sum()
    return {"replies_per_mcycle": float(replies * 1e6 / measured_cycles)}


def build(params, costs, seeds, config):
    kernel = Kernel(config, costs)
    server = kernel.create_thread("handler", 0, 200, kernel.create_space("server"))
    thread = kernel.create_thread("worker", 0, 100, kernel.create_space("task"),
                                  handler=server)
    rng = np.random.default_rng(seeds)
    return Setup(kernel, {server: handler(), thread: worker(rng, params.gap)},
                 SYSCALL_EXCEPTION, params.warmup_events, params.events, metrics=metrics)
'''


def test_a_user_workloads_own_metric_is_summarised_like_a_built_in_one(tmp_path):
    from l4sim.sweep.execute import run_sweep
    from l4sim.sweep.scenario import load_scenario

    (tmp_path / "echo.py").write_text(WORKLOAD)
    (tmp_path / "echo.toml").write_text(
        'name = "echo"\nworkload = "./echo.py"\n'
        "events = 60\nwarmup_events = 5\nreplications = 3\n"
        "[sweep]\ngap = [300, 900]\n"
    )
    run = run_sweep(load_scenario(tmp_path / "echo.toml"), tmp_path / "out", jobs=1, progress=False)
    points = pd.read_parquet(tmp_path / "out" / "points.parquet")
    assert "replies_per_mcycle" in points.attrs["metrics"]  # named by the records
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    own = summary[summary["metric"] == "replies_per_mcycle"]
    # one row per point (of the measured kind), over its three replications
    assert sorted(own["gap"]) == [300, 900] and (own["n"] == 3).all()
    assert set(own["kind"]) == {"syscall_exception"}
    assert "replies_per_mcycle" not in summary.columns  # a metric, not a key
    values = run.points[(run.points["gap"] == 300) & (run.points["kind"] == "syscall_exception")]
    assert own[own["gap"] == 300]["mean"].iloc[0] == pytest.approx(
        values["replies_per_mcycle"].mean()
    )
    again = summarize(points)  # `l4sim summarize DIR` reads the same names from the file
    assert (again["metric"] == "replies_per_mcycle").sum() == 2
