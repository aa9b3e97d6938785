"""Accounting that adds up, for every workload.

Validate's count, the progress target and what the runs closed are one number
(sel4bench_smp and smp_pingpong measure two entries per event).
"""

import re
from pathlib import Path

import pytest

from l4sim.simulation.simulate import build_machine, run_machine
from l4sim.sweep.scenario import load_scenario
from l4sim.workloads.registry import BUILTIN, find_workload
from l4sim.workloads.user_files import UserCodeError

from ..cli.in_process import l4sim

EVENTS, WARMUP, REPLICATIONS = 40, 4, 2


def _scenario(folder: Path, workload: str) -> Path:
    path = folder / "s.toml"
    path.write_text(
        f'workload = "{workload}"\nevents = {EVENTS}\nwarmup_events = {WARMUP}\n'
        f"replications = {REPLICATIONS}\n"
    )
    return path


@pytest.mark.parametrize("workload", sorted(BUILTIN))
def test_validate_the_progress_and_the_runs_count_the_same_entries(tmp_path, workload):
    scenario = _scenario(tmp_path, workload)
    checked = l4sim("validate", scenario.name, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    announced = int(
        re.search(r"= 2 runs, ([\d,]+) measured kernel entries", checked.stdout)[1].replace(",", "")
    )
    point = load_scenario(scenario).points()[0]
    per_run = find_workload(workload).measured_entries(point)
    assert announced == REPLICATIONS * per_run
    # the run's closes of the measured kind: exactly what was announced for it
    machine = build_machine(point, 0)
    run_machine(machine)
    assert len(machine.window.closed_at) >= per_run  # (entries still closing at the end)
    assert machine.window.warmup + machine.window.events == per_run

    done = l4sim("run", scenario.name, "--jobs", "1", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if " entries (" in line]
    assert lines, done.stderr
    last = lines[-1]  # a log ends with the final count
    assert f": {announced:,}/{announced:,} entries (100%, 2/2 runs)" in last, done.stderr
    for line in lines:  # never beyond the target
        count, total = re.search(r": ([\d,]+)/([\d,]+) entries", line).groups()
        assert int(count.replace(",", "")) <= int(total.replace(",", "")) == announced


def test_a_setup_that_measures_other_than_it_declares_is_one_line(tmp_path):
    """A user's workload measuring two entries per event without declaring it."""
    (tmp_path / "w.py").write_text(
        '"""Doubles its events without saying so."""\n'
        "from l4sim.workloads.smp_pingpong import Params as Base, build as base\n"
        "class Params(Base):\n    workload: str = 'x'\n"
        "def build(params, costs, seeds, config):\n"
        "    return base(params, costs, seeds, config)\n"
    )
    point = load_scenario(_scenario(tmp_path, "./w.py")).points()[0]
    with pytest.raises(UserCodeError, match=r"its Setup measures 88 ipc entries .* says 44 "):
        build_machine(point, 0)
