"""Identical observable behaviour with the fastpaths on and off (the paper's LTP criterion)."""

import pytest

from l4sim.runner import simulate
from l4sim.scenario import point_from_dict

from .behaviour import same_behaviour


@pytest.mark.parametrize("workload", [
    {"workload": "syscall_bench", "threads": 5, "wait_factor": 30.0},
    {"workload": "ipc_bench", "clients": 1, "wait_factor": 100.0},
    {"workload": "ipc_bench", "clients": 4, "wait_factor": 10.0},
    {"workload": "ipc_bench", "clients": 5, "wait_factor": 1000.0, "cpus": 3},
])
def test_fastpaths_on_and_off_deliver_the_same_messages(workload):
    base = {**workload, "events": 500, "warmup_events": 50}
    on = simulate(point_from_dict({**base, "fastpath_syscall": True, "fastpath_ipc": True}),
                  0, observe=True)
    off = simulate(point_from_dict({**base, "fastpath_syscall": False,
                                    "fastpath_ipc": False}), 0, observe=True)
    assert (on.events["path"] == "fast").any() and not (off.events["path"] == "fast").any()
    same_behaviour(on.observations, off.observations)
