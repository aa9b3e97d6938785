"""No result lost or silently wrong.

An output folder holds one scenario's results, its figures are drawn from the
tables beside them, and a cached run is checked before use.
"""

import json
from pathlib import Path

import pytest

from l4sim.sweep.cache import ResultCache

from ..cli.in_process import l4sim
from .small import SCENARIO, small_sweep

SMALL = small_sweep(events=80, warmup_events=5)


def _run(folder: Path, scenario: Path, *options: str):
    return l4sim("run", scenario, *SMALL, "--quiet", "--jobs", "1", *options, cwd=folder)


def _other(folder: Path) -> Path:
    """Another scenario: the same runs under another name."""
    other = folder / "other.toml"
    other.write_text(SCENARIO.read_text().replace('name = "syscall_bench"', 'name = "other"'))
    return other


def _contents(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_another_scenarios_folder_is_refused_in_one_line_and_kept(tmp_path):
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    assert l4sim("plot", "out", cwd=tmp_path).returncode == 0
    before = _contents(tmp_path / "out")
    refused = _run(tmp_path, _other(tmp_path), "--out", "out")
    assert refused.returncode == 2
    assert refused.stderr == (
        "l4sim: error: out: holds the results of scenario 'syscall_bench', not of scenario "
        "'other' (give another --out, or --overwrite to replace them)\n"
    )
    assert _contents(tmp_path / "out") == before  # nothing lost, nothing written


def test_overwrite_replaces_them_and_keeps_the_cache(tmp_path):
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    assert l4sim("plot", "out", cwd=tmp_path).returncode == 0
    done = _run(tmp_path, _other(tmp_path), "--out", "out", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert "8 reused" in done.stdout  # the same runs under another name: from the cache
    recorded = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert recorded["scenario"] == "other"
    assert not list((tmp_path / "out").glob("*.png")), "the old scenario's figures stayed"


def test_a_study_folder_is_not_a_runs(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.json").write_text(json.dumps({"scenario": "syscall_bench"}))
    refused = _run(tmp_path, SCENARIO, "--out", "study")
    assert refused.returncode == 2
    assert "holds the results of sensitivity study of 'syscall_bench'" in refused.stderr


def test_the_same_scenario_with_other_values_reruns_and_stale_figures_go(tmp_path):
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    assert l4sim("plot", "out", cwd=tmp_path).returncode == 0
    (tmp_path / "out" / "mine.png").write_bytes(b"not l4sim's")  # a user's file stays
    again = _run(tmp_path, SCENARIO, "--out", "out")  # the same tables: figures kept
    assert again.returncode == 0 and "removed" not in again.stdout
    assert len(list((tmp_path / "out").glob("syscall_*.svg"))) == 3
    changed = _run(tmp_path, SCENARIO, "--out", "out", "--set", "events=90")
    assert changed.returncode == 0, changed.stderr
    assert "removed 6 figures drawn from the previous tables" in changed.stdout
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["mine.png"]


@pytest.mark.parametrize("damage", ["garbage", "another run", "truncated"])
def test_a_damaged_or_misplaced_cached_run_is_recomputed_with_a_warning(tmp_path, damage):
    """A cached file is read as the run it is for only if its own record says so."""
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    whole = _contents(tmp_path / "out")
    files = sorted((tmp_path / "out" / "cache").glob("*/*.parquet"))
    assert len(files) == 8
    if damage == "garbage":
        files[0].write_bytes(b"PAR1 not a table")
    elif damage == "another run":
        files[0].write_bytes(files[1].read_bytes())
    else:
        files[0].write_bytes(files[0].read_bytes()[: files[0].stat().st_size // 2])
    again = _run(tmp_path, SCENARIO, "--out", "out")
    assert again.returncode == 0, again.stderr
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("l4sim: warning: 1 cached run in ")
    assert "computing it again" in lines[0]
    assert "7 reused" in again.stdout and "1 computed" in again.stdout
    for name in ("points.parquet", "events.parquet", "summary.parquet"):
        assert (tmp_path / "out" / name).read_bytes() == whole[name], name


def test_a_cached_run_damaged_past_its_metadata_is_recomputed_while_assembling(tmp_path):
    """Its footer intact, its data not: found while the tables are read, computed again."""
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    whole = (tmp_path / "out" / "events.parquet").read_bytes()
    cache = ResultCache(tmp_path / "out")
    path = sorted(cache.folder.glob("*.parquet"))[0]
    data = bytearray(path.read_bytes())
    for index in range(8, 200):  # the first column's pages, not the footer
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    again = _run(tmp_path, SCENARIO, "--out", "out")
    assert again.returncode == 0, again.stderr
    assert "computing it again" in again.stderr and len(again.stderr.splitlines()) == 1
    assert "7 reused" in again.stdout and "1 computed" in again.stdout  # counted as computed
    assert (tmp_path / "out" / "events.parquet").read_bytes() == whole


def test_every_unusable_cached_run_is_named(tmp_path):
    """Several damaged files: the one warning names each (up to three, then how many more)."""
    assert _run(tmp_path, SCENARIO, "--out", "out").returncode == 0
    files = sorted((tmp_path / "out" / "cache").glob("*/*.parquet"))
    for path in files[:4]:
        path.write_bytes(b"PAR1 not a table")
    again = _run(tmp_path, SCENARIO, "--out", "out")
    assert again.returncode == 0, again.stderr
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("l4sim: warning: 4 cached runs in ")
    # three of the four named (in the order of the runs, which the cache keys' hashes
    # decide: not the files' sorted order), the fourth counted
    assert sum(path.name in lines[0] for path in files[:4]) == 3 and "and 1 more" in lines[0]
    assert not any(path.name in lines[0] for path in files[4:])
    assert "4 reused" in again.stdout and "4 computed" in again.stdout
