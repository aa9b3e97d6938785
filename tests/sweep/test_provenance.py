"""Provenance: what made every table and figure is recorded.

The same inputs give the same bytes (the date lives apart, in provenance.json).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from l4sim.sweep import provenance
from l4sim.sweep.provenance import METADATA_KEY, Provenance, of_table, recorded_command

from ..cli.in_process import l4sim
from .small import SCENARIO, small_sweep

SMALL = small_sweep(events=120, warmup_events=10)
FIELDS = {
    "program",
    "commit",
    "tree",
    "model",
    "command",
    "kind",
    "scenario",
    "scenario_file",
    "scenario_sha256",
    "seeds",
}


def _run_and_plot(folder: Path, out: str, *options: str) -> Path:
    done = l4sim("run", SCENARIO, *SMALL, "--out", out, "--quiet", *options, cwd=folder)
    assert done.returncode == 0, done.stderr
    drawn = l4sim("plot", out, cwd=folder)
    assert drawn.returncode == 0, drawn.stderr
    return folder / out


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "l4sim.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"l4sim {re.escape(version('l4sim'))}( \(commit \w{{12}}, \w+\))?\n", done.stdout
    )
    assert provenance.version() == version("l4sim")


@pytest.mark.slow
def test_tables_and_figures_record_what_made_them_and_are_the_same_bytes_again(tmp_path):
    """Two runs of the same command give byte-identical tables and figures.

    On 1 and 2 workers, into two folders; provenance.json differs only by its
    date and the command as typed.
    """
    one = _run_and_plot(tmp_path, "one", "--jobs", "1")
    two = _run_and_plot(tmp_path, "two", "--jobs", "2")
    files = sorted(p.name for p in one.iterdir() if p.is_file() and p.suffix != ".json")
    assert {"points.parquet", "events.parquet", "summary.parquet"} <= set(files)
    assert {"syscall_duration.svg", "syscall_duration.png"} <= set(files)
    for name in files:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name

    for table in ("points.parquet", "events.parquet", "summary.parquet"):
        found = json.loads(pq.read_schema(one / table).metadata[METADATA_KEY])
        assert set(found) == FIELDS, table
        assert found["program"] == f"l4sim {provenance.version()}"
        assert found["scenario"] == "syscall_bench" and found["kind"] == "run"
        assert found["scenario_sha256"] == provenance.file_sha256(SCENARIO)
        assert found["seeds"] == "2015 (x 2 replications)"
        # the command that reproduces it: no --jobs, --quiet or --out
        assert found["command"].startswith(f"l4sim run {SCENARIO} --set events=120")
        assert "--jobs" not in found["command"] and "--out" not in found["command"]
        assert found["model"] == provenance.model_version()
    recorded = json.loads((one / "provenance.json").read_text())
    assert set(recorded) >= FIELDS | {"date", "command_line", "python"}
    assert "--jobs 1" in recorded["command_line"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", recorded["date"])

    svg = (one / "syscall_duration.svg").read_text()
    assert "<dc:date>" not in svg and re.search(r"20\d\d-\d\d-\d\dT", svg) is None
    assert "<dc:source>" in svg and "l4sim " in svg and "scenario syscall_bench" in svg
    with Image.open(one / "syscall_duration.png") as image:
        text = image.text  # type: ignore[attr-defined]
    assert text["Software"].startswith("l4sim ")
    assert json.loads(text["Source"])["scenario"] == "syscall_bench"
    assert text["Comment"] == of_table(one / "points.parquet").footer()  # type: ignore[union-attr]


def test_the_command_recorded_leaves_out_how_and_where_to_run():
    assert (
        recorded_command(
            ["l4sim", "run", "s.toml", "--jobs", "2", "--out=x", "--quiet", "--set", "events=5"]
        )
        == "l4sim run s.toml --set events=5"
    )
    assert recorded_command(["l4sim", "report", "--results", "r", "--force"]) == "l4sim report"


def test_source_is_unknown_outside_a_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "SOURCE_ROOT", tmp_path)
    provenance.source_state.cache_clear()
    try:
        assert provenance.source_state() == ("unknown", "unknown")
        assert Provenance.current().source() == "commit unknown"
    finally:
        provenance.source_state.cache_clear()


def test_a_modified_tree_is_said_to_be(tmp_path, monkeypatch):
    """A checkout whose tracked files changed is 'modified'; untracked files do not count."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    monkeypatch.setattr(provenance, "SOURCE_ROOT", tmp_path)
    try:
        provenance.source_state.cache_clear()
        commit, tree = provenance.source_state()
        assert len(commit) == 40 and tree == "clean"
        (tmp_path / "untracked.txt").write_text("x")
        provenance.source_state.cache_clear()
        assert provenance.source_state()[1] == "clean"
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        provenance.source_state.cache_clear()
        assert provenance.source_state() == (commit, "modified")
        assert "(modified)" in Provenance.current().footer()
    finally:
        provenance.source_state.cache_clear()


@pytest.mark.parametrize("offset", [300, 2000, -40])
def test_a_damaged_or_edited_table_is_refused_in_one_line(tmp_path, offset):
    """A flipped byte may still decode as numbers: the recorded SHA-256 finds it."""
    done = l4sim("run", SCENARIO, "--out", tmp_path / "out", *SMALL, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = tmp_path / "out" / "points.parquet"
    assert l4sim("summarize", tmp_path / "out", cwd=tmp_path).returncode == 0
    data = bytearray(table.read_bytes())
    data[offset] ^= 0xFF
    table.write_bytes(bytes(data))
    for command in (["summarize", tmp_path / "out"], ["plot", tmp_path / "out"]):
        refused = l4sim(*command, cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        said = refused.stderr.removeprefix(f"l4sim: error: {table}: ")
        # (a damaged footer is found first by what reads the table's metadata)
        assert said.startswith(("not the table l4sim wrote", "not a table written by")), said


def test_a_table_rewritten_by_l4sim_is_recorded_again(tmp_path):
    """summary.parquet written again from the points: its new digest is recorded."""
    from l4sim.sweep.stats import write_summary

    done = l4sim("run", SCENARIO, "--out", tmp_path / "out", *SMALL, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = json.loads((tmp_path / "out" / "provenance.json").read_text())["sha256"]
    assert set(recorded) == {"points.parquet", "events.parquet", "summary.parquet"}
    write_summary(tmp_path / "out", provenance=None)
    assert provenance.read_table(tmp_path / "out" / "summary.parquet").shape[0] > 0
