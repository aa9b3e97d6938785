"""The lock model against queueing theory where theory is exact (domain notes, section 4).

Parameters and helpers live in :mod:`l4sim.analysis.validation`, which also prints the
README's table from the same runs.
"""

import numpy as np
import pytest

from l4sim.analysis.theory import boyd_wickizer, fifo_wait_moments, machine_repairman, mva
from l4sim.analysis.validation import (
    REPAIRMAN,
    REPAIRMAN_RUNS,
    SCALING_CPUS,
    chains,
    fifo_wait_m2,
    interval,
    microbench,
    repairman_exact,
    scaling_curves,
)


@pytest.mark.parametrize("n,z,s", [(1, 500, 300), (4, 3, 1), (4, 3000, 1000), (16, 7000, 400)])
def test_closed_form_and_mva_agree(n, z, s):
    closed, exact = machine_repairman(n, z, s), mva(n, z, s)
    assert closed.throughput == pytest.approx(exact.throughput, rel=1e-12)
    assert closed.wait_mean == pytest.approx(exact.wait_mean, rel=1e-9, abs=1e-9)
    assert boyd_wickizer(n, z, s, 0.0) == pytest.approx(closed.throughput, rel=1e-12)
    # the arrival theorem's mean wait is the same number
    assert fifo_wait_moments(n, z, s)[0] == pytest.approx(exact.wait_mean, rel=1e-9, abs=1e-9)


def test_domain_notes_example():
    assert machine_repairman(4, 3, 1).throughput == pytest.approx(0.794, abs=5e-4)


EXACT = repairman_exact()


@pytest.fixture(scope="module")
def fifo_and_tas():
    return {lock: microbench(REPAIRMAN_RUNS, lock=lock, **REPAIRMAN) for lock in ("ticket", "tas")}


@pytest.mark.parametrize("lock", ["ticket", "tas"])
def test_exponential_think_and_hold_match_machine_repairman(fifo_and_tas, lock):
    """Throughput, mean wait and utilisation do not depend on the order of service."""
    runs = fifo_and_tas[lock]
    low, high = interval(runs["acquisitions_per_mcycle"])
    assert low <= EXACT.throughput * 1e6 <= high
    low, high = interval(runs["wait_mean"])
    assert low <= EXACT.wait_mean <= high
    low, high = interval(runs["utilization"])
    assert low <= EXACT.utilization <= high


def test_ticket_wait_second_moment_matches_the_arrival_theorem(fifo_and_tas):
    low, high = interval(fifo_and_tas["ticket"]["wait_m2"])
    assert low <= fifo_wait_m2() <= high


def test_tas_has_a_larger_second_moment_than_ticket(fifo_and_tas):
    tas_low, _ = interval(fifo_and_tas["tas"]["wait_m2"])
    _, ticket_high = interval(fifo_and_tas["ticket"]["wait_m2"])
    assert tas_low > ticket_high


def test_deterministic_think_is_still_exact():
    runs = microbench(REPAIRMAN_RUNS, **{**REPAIRMAN, "think_dist": "deterministic"})
    low, high = interval(runs["acquisitions_per_mcycle"])
    assert low <= EXACT.throughput * 1e6 <= high


def test_deterministic_hold_breaks_the_formula():
    """The insensitivity trap: the oracle is not exact here, and the test can tell."""
    runs = microbench(REPAIRMAN_RUNS, **{**REPAIRMAN, "hold_dist": "deterministic"})
    low, _ = interval(runs["acquisitions_per_mcycle"])
    assert low > EXACT.throughput * 1e6


@pytest.fixture(scope="module")
def scaling():
    return scaling_curves()


def test_ticket_lock_follows_the_boyd_wickizer_chain(scaling):
    simulated, chain = scaling["ticket"], chains()["ticket"]
    # the chain charges c*k/2 continuously, the model once per handoff: close, not exact
    np.testing.assert_allclose(simulated, chain, rtol=0.06)
    peak = int(np.argmax(simulated))
    assert abs(peak - int(np.argmax(chain))) <= 1
    assert 0 < peak < len(SCALING_CPUS) - 1  # rises, then
    assert simulated[-1] < 0.35 * simulated[peak]  # collapses


def test_queue_lock_does_not_collapse(scaling):
    simulated = scaling["mcs"]
    np.testing.assert_allclose(simulated, chains()["mcs"], rtol=0.06)
    assert simulated[-1] >= 0.95 * simulated.max()
    assert simulated[-1] > 4 * scaling["ticket"][-1]
