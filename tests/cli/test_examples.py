"""The example extension runs from its own folder with the installed l4sim, as documented."""

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # the l4sim command in a subprocess

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "producer_consumer"
L4SIM = shutil.which("l4sim") or str(Path(__import__("sys").executable).parent / "l4sim")


def test_the_example_runs_from_its_own_folder(tmp_path):
    folder = tmp_path / "producer_consumer"
    shutil.copytree(EXAMPLE, folder)
    quick = ["--set", "events=300", "--set", "warmup_events=50", "--set", "replications=1"]
    result = subprocess.run(
        [L4SIM, "run", "scenario.toml", *quick, "--quiet", "--check-invariants"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    points = pd.read_parquet(folder / "results" / "producer_consumer" / "points.parquet")
    assert sorted(points["producers"].unique()) == [1, 2, 4]
    assert sorted(points["costs.lock_handoff"].unique()) == [30, 120]
    assert (points["profile"] == str(folder / "myboard.toml")).all()
    ipc = points[points["kind"] == "ipc"]
    assert (ipc["fast_fraction"] > 0).all()  # the variant's IPC fastpath is taken
    events = pd.read_parquet(folder / "results" / "producer_consumer" / "events.parquet")
    assert "short_message" not in set(events["exit_point"])  # its own check never fails here
    validate = subprocess.run(
        [L4SIM, "validate", "scenario.toml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validate.returncode == 0 and "6 points x 3 replications" in validate.stdout
