"""smp_pingpong: calls per second, and the sel4-sabre SMP-build fastpath Call cost."""

import pytest

from l4sim.kernel.costs import load_profile
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict


def run(**keys):
    point = point_from_dict(
        {
            "workload": "smp_pingpong",
            "fastpath_ipc": True,
            "events": 1000,
            "warmup_events": 100,
            **keys,
        }
    )
    return simulate(point)


def test_one_cpu_calls_per_second_is_the_clock_over_the_round_trip():
    result = run(cpus=1)
    row = result.rows[0]
    assert row["fast_fraction"] == 1.0
    per_thread = result.events.groupby(result.events["thread_name"].str[:4])["duration"].mean()
    round_trip = per_thread["ping"] + per_thread["pong"]  # one CPU: all its time is kernel time
    clock = load_profile("vmxl4-pandaboard").clock_hz
    assert row["calls_per_second"] == pytest.approx(clock / round_trip, rel=0.01)


def test_sel4_sabre_big_lock_fastpath_call_costs_the_smp_build_number():
    """sel4bench, SMP build, fastpath Call: ~433 cycles (plus this model's entry jitter)."""
    costs = load_profile("sel4-sabre")
    result = run(cpus=1, profile="sel4-sabre", kernel_lock="big", lock="clh")
    calls = result.events[result.events["thread_name"].str.startswith("ping")]
    assert (calls["path"] == "fast").all()
    assert calls["duration"].mean() == pytest.approx(433 + costs.entry_jitter / 2, abs=3)


@pytest.mark.parametrize("kernel_lock", ["fine", "big"])
def test_spinning_pairs_scale_until_the_kernel_lock_saturates(kernel_lock):
    """With user work between calls, more CPUs give more calls, up to the lock's limit."""
    rates = [
        run(cpus=cpus, delay_cycles=5000, kernel_lock=kernel_lock).rows[0]["calls_per_second"]
        for cpus in (1, 2, 8)
    ]
    assert rates[1] > 1.8 * rates[0]
    assert rates[2] > rates[1]
