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


def test_exponential_spins_are_sel4bench_s_draws_stratified_per_block():
    """Each block of draws takes one from each equally likely slice of the exponential.

    The spins are exponential (a share 1 - 1/e below the mean), their mean is the mean
    of floor(delay x E), and the overhead fix-up takes that much off, down to 0.
    """
    from l4sim.workloads.sel4bench_smp import DRAW_BLOCK, ExponentialDelay

    delay = 5000
    draws = ExponentialDelay(np.random.default_rng(7), delay, 0).block()
    assert len(draws) == DRAW_BLOCK
    slices = np.floor((1 - np.exp(-(draws + 0.5) / delay)) * DRAW_BLOCK).astype(int)
    assert len(set(slices.tolist())) > 0.95 * DRAW_BLOCK  # (+-1 at a slice's edge: the floor)
    assert (draws < delay).mean() == pytest.approx(1 - np.exp(-1), abs=2 / DRAW_BLOCK)
    many = np.concatenate(
        [ExponentialDelay(np.random.default_rng(s), delay, 0).block() for s in range(40)]
    )
    assert many.mean() == pytest.approx(1 / np.expm1(1 / delay), rel=0.005)
    fixed = ExponentialDelay(np.random.default_rng(7), delay, 700).block()
    assert (fixed == np.maximum(draws - 700, 0)).all()
    assert ExponentialDelay(np.random.default_rng(7), delay, 10**9).block().max() == 0


def test_each_cpu_draws_from_its_own_stream_the_same_for_the_same_seed():
    keys = {**TRAPPED, "cpus": 2, "delay_cycles": 3000, "delay_distribution": "exponential"}
    first, again = (_ping_periods(**keys) for _ in range(2))
    assert (first == again).all()
    machine = build_machine(point(**keys))
    run_machine(machine)
    trace = machine.trace
    names = np.asarray(machine.thread_names)[trace.thread]
    periods = [np.diff(np.sort(trace.entry[names == f"ping{cpu}"]))[:20] for cpu in (0, 1)]
    assert not np.array_equal(periods[0], periods[1])  # not the same sequence on both
    assert first.std() > 1000  # exponential: the rounds vary


def test_an_exponential_round_is_two_mean_spins_the_loop_and_the_two_ipcs():
    from l4sim.analysis.calibration import spin_mean

    keys = {
        **TRAPPED,
        "cpus": 1,
        "delay_cycles": 2000,
        "delay_distribution": "exponential",
        "events": 3000,
    }
    row = simulate(point(**keys)).rows[0]
    round_trip = (
        2 * spin_mean(2000, "exponential") + 500 + row["call_cycles"] + row["reply_recv_cycles"]
    )
    clock = load_profile("sel4-sabre").clock_hz
    assert row["calls_per_second"] == pytest.approx(clock / round_trip, rel=2e-3)
    # an overhead fix-up above every draw: the spin ends at once, as at delay 0 (the same
    # but for the entry jitter: another point, other streams)
    broken = simulate(point(**keys, delay_overhead_cycles=10**9)).rows[0]
    zero = simulate(point(**{**keys, "delay_cycles": 0})).rows[0]
    assert broken["calls_per_second"] == pytest.approx(zero["calls_per_second"], rel=1e-3)
    assert broken["calls_per_second"] > 2 * row["calls_per_second"]


def test_spinning_cores_slow_the_lock_s_new_holder_by_the_drag():
    """lock_spinner_drag: each core still spinning after a contended grant adds its cycles.

    At delay 0 on 4 cores at most two others spin behind each new holder, so a drag of 20
    costs between 0 and 40 cycles per grant; on 1 core nobody spins and it costs nothing.
    """
    keys = {**TRAPPED, "cpus": 4, "delay_cycles": 0, "events": 2000}
    plain = simulate(point(**keys)).rows[0]["calls_per_second"]
    dragged = simulate(point(**keys, **{"costs.lock_spinner_drag": 20})).rows[0]
    shifted = simulate(point(**keys, **{"costs.lock_handoff": 60 + 40})).rows[0]
    assert shifted["calls_per_second"] < dragged["calls_per_second"] < plain
    one = {**TRAPPED, "cpus": 1, "delay_cycles": 0, "events": 600}
    assert (
        simulate(point(**one, **{"costs.lock_spinner_drag": 500})).rows[0]
        == (simulate(point(**one)).rows[0])
    )
