"""Where output cannot go, and options out of range: one line, exit status 2, nothing written.

Covers every command that writes (run, report, plot, summarize, checks,
trace, timeline): an output path below a file, a folder without write
permission, a full disk (what was partly written is removed), and the
trace and timeline options out of range.
"""

import errno
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .in_process import l4sim

SMALL = ["--set", "events=20", "--set", "warmup_events=2"]


def _one_line(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def scenario(tmp_path):
    (tmp_path / "ok.toml").write_text('name = "ok"\n')
    return tmp_path


def test_run_out_below_a_file(scenario):
    (scenario / "file").write_text("")
    result = l4sim("run", "ok.toml", "--out", "file/below", *SMALL, cwd=scenario)
    _one_line(result, "--out file/below", "is a file, not a folder")
    assert sorted(p.name for p in scenario.iterdir()) == ["file", "ok.toml"]


def test_run_out_without_permission(scenario, monkeypatch):
    # (the tests may run as root, for whom permission bits do not stop a write)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    result = l4sim("run", "ok.toml", "--out", "o", *SMALL, cwd=scenario)
    _one_line(result, "--out o", "cannot write", "permission denied")
    assert sorted(p.name for p in scenario.iterdir()) == ["ok.toml"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc here")
def test_run_out_on_a_virtual_filesystem(scenario):
    result = l4sim("run", "ok.toml", "--out", "/proc/nope", *SMALL, cwd=scenario)
    _one_line(result, "--out /proc/nope", "/proc holds no files (a virtual filesystem)")


def test_run_on_a_full_disk_removes_what_it_wrote(scenario, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full)  # the first result to be filed fails
    result = l4sim("run", "ok.toml", "--out", "o", "--jobs", "1", "--quiet", *SMALL, cwd=scenario)
    _one_line(result, "o: cannot write (No space left on device)", "nothing was kept")
    assert sorted(p.name for p in scenario.iterdir()) == ["ok.toml"]


def test_a_full_disk_in_an_existing_folder_keeps_the_previous_tables(scenario, monkeypatch):
    assert (
        l4sim(
            "run", "ok.toml", "--out", "o", "--jobs", "1", "--quiet", *SMALL, cwd=scenario
        ).returncode
        == 0
    )
    before = (scenario / "o" / "points.parquet").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full)
    result = l4sim(
        "run",
        "ok.toml",
        "--out",
        "o",
        "--jobs",
        "1",
        "--quiet",
        *SMALL,
        "--set",
        "replications=2",
        cwd=scenario,
    )
    _one_line(result, "o: cannot write (No space left on device)")
    assert (scenario / "o" / "points.parquet").read_bytes() == before
    assert not [p for p in (scenario / "o").rglob("*") if ".tmp" in p.name]


def test_report_out_below_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    result = l4sim("report", "--out", "file/r", cwd=tmp_path)
    _one_line(result, "--out file/r", "is a file, not a folder")


def test_report_without_its_scenarios(tmp_path):
    result = l4sim("report", "--scenarios", "nowhere", "--out", "r", cwd=tmp_path)
    _one_line(result, "nowhere/syscall_bench.toml: file not found")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["plot", "summarize", "checks"])
def test_a_folder_with_a_broken_table(tmp_path, command):
    (tmp_path / "d").mkdir()
    for name in ("points.parquet", "events.parquet"):
        (tmp_path / "d" / name).write_text("not parquet")
    result = l4sim(command, "d", cwd=tmp_path)
    _one_line(result, "d/points.parquet: not a table written by 'l4sim run'")


@pytest.mark.parametrize("command", ["plot", "summarize", "checks"])
def test_a_folder_that_does_not_exist(tmp_path, command):
    result = l4sim(command, "nowhere", cwd=tmp_path)
    _one_line(result, "nowhere: no such folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["trace", "timeline"])
@pytest.mark.parametrize(
    "option,value,fragment",
    [
        ("--replication", "-1", "--replication -1: must be between 0 and 10,000"),
        ("--events", "0", "--events 0: must be between 1 and 10,000,000"),
        ("--events", "1000000000000", "--events 1000000000000: must be between 1"),
        ("--out", "file/t.out", "--out file: exists and is not a folder"),
        ("--out", "none/t.out", "--out none/t.out: folder none does not exist"),
        ("--out", "sub", "--out sub: is a folder"),
    ],
)
def test_trace_options_out_of_range(scenario, command, option, value, fragment):
    (scenario / "file").write_text("")
    (scenario / "sub").mkdir()
    result = l4sim(command, "ok.toml", option, value, cwd=scenario)
    _one_line(result, fragment)
    assert sorted(p.name for p in scenario.iterdir()) == ["file", "ok.toml", "sub"]


def test_timeline_is_an_image_file(scenario):
    result = l4sim("timeline", "ok.toml", "--events", "5", "--out", "t.txt", cwd=scenario)
    _one_line(result, "--out t.txt: a timeline is a .png or .svg file")
    assert sorted(p.name for p in scenario.iterdir()) == ["ok.toml"]


@pytest.mark.parametrize(
    "option,value,fragment",
    [
        ("--start", "-5", "--start -5: must be between 0"),
        ("--cycles", "0", "--cycles 0: must be between 1"),
        ("--start", "1000000000", "--start 1000000000: the run ends at cycle"),
    ],
)
def test_timeline_window_out_of_range(scenario, option, value, fragment):
    result = l4sim(
        "timeline", "ok.toml", "--events", "5", option, value, "--out", "t.png", cwd=scenario
    )
    _one_line(result, fragment)
    assert sorted(p.name for p in scenario.iterdir()) == ["ok.toml"]


def test_validate_refuses_a_sweep_that_cannot_fit_in_memory(scenario, monkeypatch):
    from l4sim.sweep import estimate

    monkeypatch.setattr(estimate, "available_memory", lambda: 100 * 2**20)
    result = l4sim("validate", "ok.toml", cwd=scenario)
    _one_line(result, "ok.toml: too large: its largest run needs about", "100 MB are free")


def test_run_refuses_a_sweep_that_cannot_fit_on_disk(scenario, monkeypatch):
    import shutil

    from l4sim.sweep import estimate

    real = shutil.disk_usage
    monkeypatch.setattr(estimate.shutil, "disk_usage", lambda path: real(path)._replace(free=1000))
    result = l4sim("run", "ok.toml", "--out", "o", cwd=scenario)
    _one_line(result, "ok.toml: too large: its tables need about", "1000 bytes free")
    assert sorted(p.name for p in scenario.iterdir()) == ["ok.toml"]
