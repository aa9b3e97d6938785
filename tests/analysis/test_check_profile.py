"""The check profile of a run (which checks fail, where, what they cost) and `l4sim checks`."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # l4sim run and l4sim checks in subprocesses

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _l4sim(*args):
    return subprocess.run(
        [sys.executable, "-m", "l4sim.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("checks")
    result = _l4sim(
        "run",
        str(SCENARIOS / "check_order.toml"),
        "--out",
        str(out),
        "--quiet",
        "--set",
        "replications=1",
        "--set",
        "events=800",
        "--set",
        "warmup_events=100",
        "--set",
        "sweep.check_order=['paper']",
        "--set",
        "sweep.wait_factor=[10,100000]",
    )
    assert result.returncode == 0, result.stderr
    return out


def test_check_profile_counts_are_consistent(profiled_run):
    result = _l4sim("checks", str(profiled_run), "--optimize")
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(profiled_run / "checks.parquet")
    for _, rows in table.groupby("wait_factor"):
        rows = rows.sort_values("position")
        reached, failed = rows["reached"].to_numpy(), rows["failed"].to_numpy()
        assert (reached[1:] == reached[:-1] - failed[:-1]).all()
        # the lock-free checks hold no lock when they fail; the rest hold the scheduler lock
        stages = dict(zip(rows["check"], rows["locks_held_at_failure"], strict=True))
        assert stages["simple_message"] == "none"
        assert stages["destination_on_this_cpu"] == "scheduler"
    heavy = table[table["wait_factor"] == 10].set_index("check")
    assert heavy.loc["destination_on_this_cpu", "failed"] > 0  # cross-CPU clients
    order = json.loads((profiled_run / "check_order.json").read_text())["ipc"]
    assert order["expected_cycles_optimized"] <= order["expected_cycles_paper"] + 1e-9
    assert sorted(order["order"]) == sorted(table["check"].unique())
    assert (profiled_run / "checks.png").is_file()
    assert (profiled_run / "implied_checks.parquet").is_file()


def test_optimize_needs_a_profiled_run(tmp_path):
    out = tmp_path / "plain"
    assert (
        _l4sim(
            "run",
            str(SCENARIOS / "ipc_bench.toml"),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "replications=1",
            "--set",
            "events=200",
            "--set",
            "clients=2",
            "--set",
            "wait_factor=10",
            "--set",
            "fastpath_ipc=true",
        ).returncode
        == 0
    )
    result = _l4sim("checks", str(out), "--optimize")
    assert result.returncode == 2 and "check_profile" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_check_order_file_is_a_one_line_error(tmp_path):
    scenario = SCENARIOS / "check_order.toml"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ipc": {"order": ["bogus"]}}))
    for value, problem in (("nowhere.json", "no such file"), (str(bad), "each check once")):
        for command in ("validate", "run"):
            extra = ["--out", str(tmp_path / "out")] if command == "run" else []
            result = _l4sim(
                command,
                str(scenario),
                "--set",
                "check_order=optimized",
                "--set",
                f"check_order_file={value}",
                *extra,
            )
            assert result.returncode == 2, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "check_order_file" in lines[0] and problem in lines[0]
            assert not (tmp_path / "out").exists()
