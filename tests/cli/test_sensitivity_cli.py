"""``l4sim sensitivity``: mistakes, the same indices everywhere, resuming.

Bad input is one line, exit 2, nothing written; the same indices on one
process, two and a Dask cluster; a killed study resumes.
"""

import sys
from pathlib import Path

import pytest

from ..interrupted import kill_after_cached_runs
from .in_process import l4sim

SCENARIOS = Path(__file__).parents[2] / "scenarios"
SMALL = [
    "--set",
    "cpus=4",
    "--set",
    "threads=4",
    "--set",
    "lock=ticket",
    "--set",
    "events=60",
    "--set",
    "warmup_events=10",
    "--set",
    "replications=1",
]


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--param", "costs.nope=1:2"], "unknown parameter"),
        (["--param", "wait_factor=1:2"], "unknown parameter"),  # not a key of lock_microbench
        (["--param", "hold_mean=700:300"], "LOW (700) must be below HIGH (300)"),
        (["--param", "hold_mean=-5:300"], "leaves the parameter's valid domain"),
        (["--param", "costs.lock_handoff=-30%:-200%"], "must be below HIGH"),
        (["--param", "costs.lock_handoff=-200%:+30%"], "valid domain"),
        (["--param", "hold_mean=300:700", "--samples", "4"], "too few for sobol"),
        (["--param", "hold_mean=300:700", "--samples", "12"], "power of 2"),
        (
            ["--param", "hold_mean=300:700", "--method", "morris", "--samples", "2"],
            "too few for morris",
        ),
        (["--param", "hold_mean=300:700", "--method", "fast"], "unknown method"),
        (["--param", "hold_mean=300:700", "--metric", "speed"], "unknown metric"),
        (["--param", "hold_mean=300:700", "--jobs", "0"], "--jobs 0"),
        (["--fix", "costs.nope"], "unknown parameter"),
        ([], "no parameter to vary"),
    ],
)
def test_bad_study_is_one_line_exit_2_nothing_written(tmp_path, args, fragment):
    out = tmp_path / "out"
    result = l4sim(
        "sensitivity",
        SCENARIOS / "lock_microbench.toml",
        *SMALL,
        *args,
        "--out",
        out,
        "--quiet",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert lines[0].startswith("l4sim: error: ")
    assert list(tmp_path.iterdir()) == []


def test_bad_scenario_is_one_line_too(tmp_path):
    result = l4sim(
        "sensitivity", tmp_path / "nowhere.toml", "--param", "hold_mean=1:2", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"l4sim: error: {tmp_path / 'nowhere.toml'}: file not found"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_jobs_1_jobs_2_and_dask_give_bit_identical_indices(tmp_path):
    distributed = pytest.importorskip("distributed")
    study = [
        "sensitivity",
        SCENARIOS / "lock_microbench.toml",
        *SMALL,
        "--param",
        "hold_mean=300:700",
        "--param",
        "costs.lock_handoff=100:200",
        "--samples",
        "8",
        "--quiet",
    ]
    one = l4sim(*study, "--jobs", "1", "--out", tmp_path / "one", cwd=tmp_path)
    two = l4sim(*study, "--jobs", "2", "--out", tmp_path / "two", cwd=tmp_path)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = l4sim(
            *study,
            "--scheduler",
            cluster.scheduler_address,
            "--out",
            tmp_path / "dask",
            cwd=tmp_path,
        )
    for result in (one, two, dask):
        assert result.returncode == 0, result.stderr
        assert "hold_mean" in result.stdout and "noise floor" in result.stdout
    assert "0 reused" in one.stdout and "0 reused" in dask.stdout
    for name in ("sensitivity.parquet", "samples.parquet", "robustness.parquet"):
        reference = (tmp_path / "one" / name).read_bytes()
        for other in ("two", "dask"):
            assert (tmp_path / other / name).read_bytes() == reference, (other, name)
    again = l4sim(*study, "--jobs", "2", "--out", tmp_path / "one", cwd=tmp_path)
    assert " 0 computed" in again.stdout, again.stdout


@pytest.mark.slow
def test_a_killed_study_resumes_from_its_finished_runs(tmp_path):
    """A real 'l4sim sensitivity' killed (-9) mid-study: the rerun reuses every run it filed.

    It writes the tables a study run in one go writes.
    """
    study = [
        "sensitivity",
        SCENARIOS / "lock_microbench.toml",
        *SMALL,
        "--set",
        "events=300",
        "--param",
        "hold_mean=300:700",
        "--param",
        "costs.lock_handoff=100:200",
        "--samples",
        "8",
        "--jobs",
        "1",
        "--quiet",
    ]
    whole = l4sim(*study, "--out", tmp_path / "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    command = [sys.executable, "-m", "l4sim.cli", *map(str, study)]
    killed = tmp_path / "killed"
    done = kill_after_cached_runs(
        [*command, "--out", str(killed)], killed, tmp_path, runs=3, timeout=120
    )
    distinct = len(list((tmp_path / "whole").glob("cache/*/*.parquet")))
    assert 3 <= done < distinct
    assert not (killed / "sensitivity.parquet").exists()
    resumed = l4sim(*study, "--out", killed, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{distinct} distinct ({done} reused" in resumed.stdout, resumed.stdout
    assert f"{distinct - done} computed" in resumed.stdout
    for name in ("sensitivity.parquet", "samples.parquet", "robustness.parquet"):
        assert (killed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
