"""sel4bench_smp: the SMP benchmark as sel4bench runs it (a spin on the counter, its loop)."""

import numpy as np
import pytest

from l4sim.kernel.costs import load_profile
from l4sim.simulation.simulate import build_machine, run_machine, simulate
from l4sim.sweep.scenario import point_from_dict

TRAPPED = {
    "costs.trap_entry": 57,
    "costs.trap_exit": 56,
    "costs.kernel_entry": 0,
    "costs.kernel_exit": 0,
    "costs.smp_bench_loop": 500,
    "costs.fp_reply_recv": 50,
}


def point(**keys):
    return point_from_dict(
        {"workload": "sel4bench_smp", "events": 600, "warmup_events": 60, **keys}
    )


def test_one_core_round_is_two_delays_the_loop_and_the_two_ipcs():
    keys = {**TRAPPED, "cpus": 1, "delay_cycles": 800}
    row = simulate(point(**keys)).rows[0]
    assert row["fast_fraction"] == 1.0
    round_trip = 2 * 800 + 500 + row["call_cycles"] + row["reply_recv_cycles"]
    clock = load_profile("sel4-sabre").clock_hz
    assert row["calls_per_second"] == pytest.approx(clock / round_trip, rel=1e-3)
    # ReplyRecv costs fp_reply_recv more than Call; both include the trap outside the lock
    assert row["reply_recv_cycles"] - row["call_cycles"] == pytest.approx(50, abs=3)


def test_the_defaults_are_sel4_s_smp_build():
    p = point()
    assert (p.kernel_lock, p.lock, p.fastpath_ipc, p.fastpath_syscall, p.profile) == (
        "big",
        "clh",
        True,
        False,
        "sel4-sabre",
    )


def _ping_periods(**keys) -> np.ndarray:
    machine = build_machine(point(**keys))
    run_machine(machine)
    trace = machine.trace
    names = np.asarray(machine.thread_names)[trace.thread]
    return np.diff(np.sort(trace.entry[names == "ping0"]))


def test_the_delay_is_a_spin_on_the_counter_whatever_interrupts_it():
    """Timeslice ends cut the spins, and the round stays as long.

    3.3 cuts a round, a kernel entry of ~230 cycles each; only a cut that
    lands in a spin's last cycles lengthens it (the spin ends only once the
    kernel has returned: ~230^2 / (2 x 5000) = 5 cycles a cut on average).

    As user work (Compute) each cut would add its whole kernel time: ~770 cycles a round.
    """
    keys = {"cpus": 1, "delay_cycles": 5000, "costs.smp_bench_loop": 0}
    quiet = _ping_periods(**keys)
    cut = _ping_periods(**keys, **{"costs.timeslice": 3000})
    assert 0 < cut.mean() - quiet.mean() < 40
    # two fastpath IPCs of sel4-sabre: 368 + the lock 65 + the mean jitter 20 each
    assert quiet.mean() == pytest.approx(2 * 5000 + 2 * 453, abs=5)


def test_four_cores_wait_for_the_big_lock_and_one_way_costs_show_it():
    one = simulate(point(**TRAPPED, cpus=1, delay_cycles=500)).rows[0]
    four = simulate(point(**TRAPPED, cpus=4, delay_cycles=500)).rows[0]
    assert four["calls_per_second"] < 4 * one["calls_per_second"]
    assert four["lock_wait_mean"] > 0
    assert four["call_cycles"] > one["call_cycles"] + 100  # waiting for the lock
