"""The result cache: resumable, atomic, invalidated by any change of point or model."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from l4sim.sweep import cache as cache_module
from l4sim.sweep.cache import ResultCache
from l4sim.sweep.execute import run_sweep
from l4sim.sweep.scenario import load_scenario

from ..interrupted import kill_after_cached_runs

SCENARIO = Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml"
SMALL = [
    "events=150",
    "warmup_events=20",
    "replications=2",
    "sweep.threads=[1,2]",
    "sweep.wait_factor=[10,1000]",
]
TABLES = ("points.parquet", "events.parquet", "summary.parquet")


def _same_tables(one: Path, two: Path) -> None:
    for name in TABLES:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_rerun_reuses_everything_and_force_recomputes(tmp_path):
    scenario = load_scenario(SCENARIO, SMALL)
    first = run_sweep(scenario, tmp_path / "out", jobs=1, progress=False)
    assert (first.runs, first.reused, first.computed) == (16, 0, 16)
    files = sorted((tmp_path / "out" / "cache").rglob("*.parquet"))
    assert len(files) == 16
    before = {name: (tmp_path / "out" / name).read_bytes() for name in TABLES}
    again = run_sweep(scenario, tmp_path / "out", jobs=1, progress=False)
    assert (again.reused, again.computed) == (16, 0)
    assert {name: (tmp_path / "out" / name).read_bytes() for name in TABLES} == before
    forced = run_sweep(scenario, tmp_path / "out", jobs=1, progress=False, force=True)
    assert (forced.reused, forced.computed) == (0, 16)
    assert {name: (tmp_path / "out" / name).read_bytes() for name in TABLES} == before


def test_more_replications_and_a_new_point_compute_only_what_is_new(tmp_path):
    run_sweep(load_scenario(SCENARIO, SMALL), tmp_path / "out", jobs=1, progress=False)
    wider = load_scenario(SCENARIO, [*SMALL, "replications=3", "sweep.threads=[1,2,3]"])
    run = run_sweep(wider, tmp_path / "out", jobs=1, progress=False)
    # 3 threads x 2 wait factors x 2 fastpath settings x 3 replications; 16 were there
    assert (run.runs, run.reused, run.computed) == (36, 16, 20)
    fresh = run_sweep(wider, tmp_path / "fresh", jobs=1, progress=False)
    pd.testing.assert_frame_equal(run.points, fresh.points)
    _same_tables(tmp_path / "out", tmp_path / "fresh")


def test_cached_file_is_written_atomically(tmp_path, monkeypatch):
    """A write that dies half-way leaves no file under the final name."""
    store = ResultCache(tmp_path, model="m")

    write = Path.write_bytes

    def crash(path, data):
        write(path, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.Path, "write_bytes", crash)
    record = {"rows": [], "measured_cycles": 1, "events": {"duration": [1, 2]}}
    with pytest.raises(KeyboardInterrupt):
        store.put("k", record)
    assert not store.has("k")
    store.remove_stale_temporaries()
    assert list(store.folder.iterdir()) == []


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_tables(tmp_path):
    """A real 'l4sim run' killed (-9) mid-sweep; the rerun finishes it, tables identical."""
    args = [
        "run",
        str(SCENARIO),
        "--set",
        "events=300",
        "--set",
        "warmup_events=30",
        "--set",
        "replications=2",
        "--set",
        "sweep.threads=[1,2]",
        "--set",
        "sweep.wait_factor=[10,1000]",
        "--jobs",
        "1",
        "--quiet",
    ]
    command = [sys.executable, "-m", "l4sim.cli", *args]
    interrupted = tmp_path / "interrupted"
    done = kill_after_cached_runs(
        [*command, "--out", str(interrupted)], interrupted, tmp_path, runs=3, timeout=60
    )
    assert 3 <= done < 16
    assert not (interrupted / "points.parquet").exists()

    rerun = subprocess.run(
        [*command, "--out", str(interrupted)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"16 runs ({done} reused" in rerun.stdout, rerun.stdout
    assert f"{16 - done} computed" in rerun.stdout
    assert list(interrupted.glob("cache/*/.*.tmp")) == []

    whole = tmp_path / "whole"
    straight = subprocess.run(
        [*command, "--out", str(whole)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert straight.returncode == 0, straight.stderr
    _same_tables(interrupted, whole)


@pytest.mark.slow
def test_second_run_on_a_busy_folder_is_refused(tmp_path):
    from l4sim.sweep.cache import FolderLock

    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "l4sim.cli",
                "run",
                str(SCENARIO),
                *[f"--set={s}" for s in SMALL],
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"l4sim: error: {out}: another l4sim run is writing this folder"
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_a_derived_result_is_computed_once_per_point_and_model(tmp_path):
    from l4sim.sweep.scenario import point_from_dict

    calls = []

    def compute(value):
        calls.append(value)
        return {"design": ["a", "b"], "expected_cycles": 1.0 / 3, "verdict": None}

    point = point_from_dict({"workload": "syscall_bench", "threads": 2}).model_dump()
    other = point_from_dict({"workload": "syscall_bench", "threads": 3}).model_dump()
    cache = ResultCache(tmp_path)
    first = cache.derived("proposals", point, lambda: compute(1))
    again = ResultCache(tmp_path).derived("proposals", point, lambda: compute(2))
    assert again == first and calls == [1]  # read back, exactly (a float to the last bit)
    ResultCache(tmp_path).derived("proposals", other, lambda: compute(3))
    ResultCache(tmp_path, model="another").derived("proposals", point, lambda: compute(4))
    assert calls == [1, 3, 4]  # another point, another model version: computed anew
    (stored,) = [
        p
        for p in cache.folder.glob("*.proposals.pickle")
        if cache_module.derived_key("proposals", point, cache.model) in p.name
    ]
    stored.write_bytes(b"not a pickle")
    assert cache.derived("proposals", point, lambda: compute(5)) == first
    assert calls == [1, 3, 4, 5]  # an unreadable file: computed and filed again
    assert cache.derived("proposals", point, lambda: compute(6)) == first and calls[-1] == 5
    assert not list(cache.folder.glob(".*.tmp"))
