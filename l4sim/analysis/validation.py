"""The lock model against queueing theory: shared by the tests and the README's table.

Every simulated interval is a 99% t-interval over independent replications
with fixed seeds. The kernel's entry jitter (uniform 0..entry_jitter) runs
before each acquisition, so it lengthens the think time by its mean; the
lock's own overheads (acquire, release, handoff) are set to 0 where the
oracle has none. ``python -m l4sim.analysis.validation`` prints the table.
"""

from __future__ import annotations

import numpy as np

from l4sim.analysis.theory import (
    boyd_wickizer,
    fifo_wait_moments,
    machine_repairman,
    mva,
    queue_lock,
)
from l4sim.kernel.costs import load_profile
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict
from l4sim.sweep.stats import mean_ci

JITTER = load_profile("vmxl4-pandaboard").entry_jitter / 2  # mean extra think time

# machine repairman: N threads, think Z, hold S (cycles); 10 runs of 4000 acquisitions
N, THINK, HOLD = 4, 3000.0, 1000.0
REPAIRMAN = {
    "threads": N,
    "think_mean": THINK,
    "hold_mean": HOLD,
    "events": 4000,
    "warmup_events": 400,
}
REPAIRMAN_RUNS = 10
# Boyd-Wickizer: think a, critical section s, one cache-line request c; 3 runs per CPU count
A, S, C = 10_000.0, 500.0, 150
SCALING = {
    "think_mean": A,
    "hold_mean": S,
    "costs.lock_handoff": C,
    "events": 3000,
    "warmup_events": 300,
}
SCALING_CPUS = [4, 8, 12, 16, 24, 32, 48]
SCALING_RUNS = 3


def microbench(replications: int, **keys) -> dict[str, np.ndarray]:
    """Metrics of ``replications`` runs of one lock_microbench point, per metric."""
    values = {
        "workload": "lock_microbench",
        "costs.lock_acquire": 0,
        "costs.lock_release": 0,
        "costs.lock_handoff": 0,
        "seed": 6,
        **keys,
    }
    values.setdefault("cpus", values.get("threads", 2))
    point = point_from_dict(values)
    rows = [simulate(point, replication).rows[0] for replication in range(replications)]
    return {key: np.array([row[key] for row in rows]) for key in rows[0] if key != "kind"}


def interval(samples: np.ndarray, confidence: float = 0.99) -> tuple[float, float]:
    """Two-sided t-interval of the mean."""
    return mean_ci(samples, confidence)[1]


def repairman_exact():
    """M/M/1//N with the jitter folded into the think time (closed form = MVA)."""
    return mva(N, THINK + JITTER, HOLD)


def fifo_wait_m2() -> float:
    """Second moment of the FIFO wait for the repairman parameters."""
    return fifo_wait_moments(N, THINK + JITTER, HOLD)[1]


def scaling_curves() -> dict[str, np.ndarray]:
    """Mean throughput (acquisitions per Mcycle) per CPU count, ticket and mcs."""
    return {
        lock: np.array(
            [
                microbench(SCALING_RUNS, lock=lock, threads=n, **SCALING)[
                    "acquisitions_per_mcycle"
                ].mean()
                for n in SCALING_CPUS
            ]
        )
        for lock in ("ticket", "mcs")
    }


def chains() -> dict[str, np.ndarray]:
    """The birth-death chains' throughput per CPU count (per Mcycle)."""
    return {
        "ticket": np.array([boyd_wickizer(n, A + JITTER, S, C) * 1e6 for n in SCALING_CPUS]),
        "mcs": np.array([queue_lock(n, A + JITTER, S, C) * 1e6 for n in SCALING_CPUS]),
    }


def _fmt(low: float, high: float) -> str:
    if high < 10:
        return f"[{low:.4f}, {high:.4f}]"
    return f"[{low:,.1f}, {high:,.1f}]"


def main() -> None:
    exact = repairman_exact()
    assert abs(exact.throughput - machine_repairman(N, THINK + JITTER, HOLD).throughput) < 1e-15
    print(
        f"M/M/1//{N}, think {THINK:g} (+{JITTER:g} jitter), hold {HOLD:g}, "
        f"{REPAIRMAN_RUNS} runs x {REPAIRMAN['events']} acquisitions, 99% intervals\n"
    )
    print("| case | metric | analytic | simulated 99% interval | inside |")
    print("|---|---|---|---|---|")
    cases = [
        ("ticket, exp/exp", {"lock": "ticket"}),
        ("tas, exp/exp", {"lock": "tas"}),
        ("ticket, deterministic think", {"think_dist": "deterministic"}),
        ("ticket, deterministic hold (trap)", {"hold_dist": "deterministic"}),
    ]
    runs = {}
    for label, keys in cases:
        runs[label] = run = microbench(REPAIRMAN_RUNS, **{**REPAIRMAN, **keys})
        for metric, value in (
            ("acquisitions_per_mcycle", exact.throughput * 1e6),
            ("wait_mean", exact.wait_mean),
            ("utilization", exact.utilization),
        ):
            low, high = interval(run[metric])
            print(
                f"| {label} | {metric} | {value:,.4f} | {_fmt(low, high)} | "
                f"{'yes' if low <= value <= high else 'no'} |"
            )
    m2 = fifo_wait_m2()
    low, high = interval(runs["ticket, exp/exp"]["wait_m2"])
    print(
        f"| ticket, exp/exp | wait_m2 | {m2:,.0f} | {_fmt(low, high)} | "
        f"{'yes' if low <= m2 <= high else 'no'} |"
    )
    low, high = interval(runs["tas, exp/exp"]["wait_m2"])
    print(
        f"| tas, exp/exp | wait_m2 | > ticket's | {_fmt(low, high)} | "
        f"{'yes' if low > interval(runs['ticket, exp/exp']['wait_m2'])[1] else 'no'} |"
    )
    print(
        f"\nticket (handoff {C} x k/2) and mcs (handoff {C}), think {A:g}, hold {S:g}, "
        f"{SCALING_RUNS} runs x {SCALING['events']} acquisitions; acquisitions per Mcycle\n"
    )
    simulated, chain = scaling_curves(), chains()
    print("| CPUs | ticket chain | ticket simulated | mcs chain | mcs simulated |")
    print("|---|---|---|---|---|")
    for i, n in enumerate(SCALING_CPUS):
        print(
            f"| {n} | {chain['ticket'][i]:,.0f} | {simulated['ticket'][i]:,.0f} | "
            f"{chain['mcs'][i]:,.0f} | {simulated['mcs'][i]:,.0f} |"
        )


if __name__ == "__main__":
    main()
