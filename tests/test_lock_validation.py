"""The lock model against queueing theory where theory is exact (domain notes, section 4).

Every simulated interval is a 99% t-interval over independent replications
with fixed seeds. The kernel's entry jitter (uniform 0..entry_jitter) runs
before each acquisition, so it lengthens the think time by its mean.
"""

import numpy as np
import pytest
from scipy import stats

from l4sim.kernel.costs import load_profile
from l4sim.runner import simulate
from l4sim.scenario import point_from_dict
from l4sim.theory import boyd_wickizer, machine_repairman, mva, queue_lock

JITTER = load_profile("vmxl4-pandaboard").entry_jitter / 2  # mean extra think time


def microbench(replications: int, **keys) -> dict[str, np.ndarray]:
    """Metrics of ``replications`` runs of one lock_microbench point, per metric."""
    values = {"workload": "lock_microbench", "acquire_cycles": 0, "release_cycles": 0,
              "handoff_cycles": 0, "seed": 6, **keys}
    values.setdefault("cpus", values.get("threads", 2))
    point = point_from_dict(values)
    rows = [simulate(point, replication).rows[0] for replication in range(replications)]
    return {key: np.array([row[key] for row in rows]) for key in rows[0] if key != "kind"}


def interval(samples: np.ndarray, confidence: float = 0.99) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + confidence / 2, len(samples) - 1) * samples.std(ddof=1)
    half /= np.sqrt(len(samples))
    return samples.mean() - half, samples.mean() + half


@pytest.mark.parametrize("n,z,s", [(1, 500, 300), (4, 3, 1), (4, 3000, 1000), (16, 7000, 400)])
def test_closed_form_and_mva_agree(n, z, s):
    closed, exact = machine_repairman(n, z, s), mva(n, z, s)
    assert closed.throughput == pytest.approx(exact.throughput, rel=1e-12)
    assert closed.wait_mean == pytest.approx(exact.wait_mean, rel=1e-9, abs=1e-9)
    assert boyd_wickizer(n, z, s, 0.0) == pytest.approx(closed.throughput, rel=1e-12)


def test_domain_notes_example():
    assert machine_repairman(4, 3, 1).throughput == pytest.approx(0.794, abs=5e-4)


N, THINK, HOLD = 4, 3000.0, 1000.0
EXACT = mva(N, THINK + JITTER, HOLD)


@pytest.fixture(scope="module")
def fifo_and_tas():
    keys = {"threads": N, "think_mean": THINK, "hold_mean": HOLD, "events": 4000,
            "warmup_events": 400}
    return {lock: microbench(10, lock=lock, **keys) for lock in ("ticket", "tas")}


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


def test_tas_has_a_larger_second_moment_than_ticket(fifo_and_tas):
    tas_low, _ = interval(fifo_and_tas["tas"]["wait_m2"])
    _, ticket_high = interval(fifo_and_tas["ticket"]["wait_m2"])
    assert tas_low > ticket_high


def test_deterministic_think_is_still_exact():
    runs = microbench(10, threads=N, think_dist="deterministic", think_mean=THINK,
                      hold_mean=HOLD, events=4000, warmup_events=400)
    low, high = interval(runs["acquisitions_per_mcycle"])
    assert low <= EXACT.throughput * 1e6 <= high


def test_deterministic_hold_breaks_the_formula():
    """The insensitivity trap: the oracle is not exact here, and the test can tell."""
    runs = microbench(10, threads=N, think_mean=THINK, hold_dist="deterministic",
                      hold_mean=HOLD, events=4000, warmup_events=400)
    low, _ = interval(runs["acquisitions_per_mcycle"])
    assert low > EXACT.throughput * 1e6


# Boyd-Wickizer: think a, critical section s, one cache-line request c
A, S, C = 10_000.0, 500.0, 150
CPUS = [4, 8, 12, 16, 24, 32, 48]


@pytest.fixture(scope="module")
def scaling():
    keys = {"think_mean": A, "hold_mean": S, "handoff_cycles": C, "events": 3000,
            "warmup_events": 300}
    return {lock: np.array([microbench(3, lock=lock, threads=n, **keys)[
        "acquisitions_per_mcycle"].mean() for n in CPUS]) for lock in ("ticket", "mcs")}


def test_ticket_lock_follows_the_boyd_wickizer_chain(scaling):
    simulated = scaling["ticket"]
    chain = np.array([boyd_wickizer(n, A + JITTER, S, C) * 1e6 for n in CPUS])
    # the chain charges c*k/2 continuously, the model per handoff: close, not exact
    np.testing.assert_allclose(simulated, chain, rtol=0.06)
    peak = int(np.argmax(simulated))
    assert abs(peak - int(np.argmax(chain))) <= 1
    assert 0 < peak < len(CPUS) - 1  # rises, then
    assert simulated[-1] < 0.35 * simulated[peak]  # collapses


def test_queue_lock_does_not_collapse(scaling):
    simulated = scaling["mcs"]
    chain = np.array([queue_lock(n, A + JITTER, S, C) * 1e6 for n in CPUS])
    np.testing.assert_allclose(simulated, chain, rtol=0.06)
    assert simulated[-1] >= 0.95 * simulated.max()
    assert simulated[-1] > 4 * scaling["ticket"][-1]
