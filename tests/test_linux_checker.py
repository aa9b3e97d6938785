"""The invariant checker on the paravirtualized-Linux load (issue 5, once the load existed)."""

import pytest

from l4sim.check.invariants import InvariantViolation
from l4sim.runner import simulate
from l4sim.scenario import point_from_dict

LINUX = {"workload": "linux", "cpus": 2, "fastpath_ipc": True, "events": 400,
         "warmup_events": 0}


def test_uniprocessor_fastpath_race_is_caught_under_linux():
    point = point_from_dict({**LINUX, "fastpath_variant": "uniprocessor"})
    with pytest.raises(InvariantViolation) as error:
        simulate(point, 0, check=True)
    # the unlocked fastpath either commits on a read another CPU has since changed,
    # or writes the scheduler's state while another CPU holds its lock
    assert error.value.check in ("stale-read", "unlocked-write")
    assert "scheduler" in str(error.value)


@pytest.mark.parametrize("forward", ["send", "notify"])
def test_smp_fastpaths_run_clean_under_linux(forward):
    point = point_from_dict({**LINUX, "irq_forward": forward, "fastpath_notify": True,
                             "tick": 1_000_000, "device_latency": 20_000.0})
    result = simulate(point, 0, check=True)
    assert (result.events["path"] == "fast").any()


def test_uniprocessor_fastpath_is_clean_on_one_cpu_under_linux():
    point = point_from_dict({**LINUX, "cpus": 1, "fastpath_variant": "uniprocessor"})
    simulate(point, 0, check=True)
