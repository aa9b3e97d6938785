"""Many CPUs: every workload runs on 1..64 CPUs under both locking strategies; the figure."""

from pathlib import Path

import pandas as pd
import pytest

from l4sim.cli import main
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import load_scenario, point_from_dict

SCENARIO = Path(__file__).parents[2] / "scenarios" / "scaling.toml"


@pytest.mark.parametrize("cpus", [1, 64])
@pytest.mark.parametrize("kernel_lock", ["fine", "big"])
@pytest.mark.parametrize(
    "workload", ["syscall_bench", "lock_microbench", "smp_pingpong", "ipc_bench", "linux"]
)
def test_every_workload_runs_on_1_to_64_cpus(workload, kernel_lock, cpus):
    keys = {
        "workload": workload,
        "cpus": cpus,
        "kernel_lock": kernel_lock,
        "events": 200,
        "warmup_events": 20,
        "lock": "clh",
    }
    keys.update(
        {
            "syscall_bench": {"threads_per_cpu": 1},
            "lock_microbench": {"threads": cpus},
            "smp_pingpong": {"delay_cycles": 2000, "fastpath_ipc": True},
            "ipc_bench": {"clients": cpus},
            "linux": {},
        }[workload]
    )
    result = simulate(point_from_dict(keys))
    if workload == "linux":  # 200 syscalls of 384 slow-paced processes miss a few CPUs
        assert result.events["cpu"].nunique() >= 0.8 * cpus
    else:
        assert result.events["cpu"].nunique() == cpus
    assert all(row["entries"] > 0 for row in result.rows)


def test_mcs_and_clh_give_the_same_timeline():
    """Both are FIFO queue locks with a constant handoff: the model does not tell them apart."""
    keys = {
        "cpus": 8,
        "threads_per_cpu": 1,
        "wait_factor": 100.0,
        "events": 300,
        "warmup_events": 30,
    }
    mcs = simulate(point_from_dict({**keys, "lock": "mcs"}))
    clh = simulate(point_from_dict({**keys, "lock": "clh"}))
    pd.testing.assert_frame_equal(mcs.events, clh.events)


def test_scaling_scenario_runs_and_plots(tmp_path, capsys):
    reduced = [
        "events=150",
        "warmup_events=20",
        "replications=2",
        "sweep.cpus=[1,4]",
        'sweep.lock=["ticket"]',
        "sweep.wait_factor=[1000]",
    ]
    assert len(load_scenario(SCENARIO, reduced).points()) == 4
    args = ["run", str(SCENARIO), "--out", str(tmp_path), "--jobs", "1", "--quiet"]
    for override in reduced:
        args += ["--set", override]
    assert main(args) == 0
    assert main(["plot", str(tmp_path)]) == 0
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
