"""The invariant checker's numbers, written to results/checker_numbers.json.

How fast it finds the uniprocessor fastpath's race, what stress jitter
changes, and what the checker costs.

    .venv/bin/python benchmarks/checker_numbers.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from helpers import machine, shared_handler

from l4sim import InvariantViolation, point_from_dict, simulate
from l4sim.sim.invariants import Monitor
from l4sim.simulation.simulate import build_machine, run_machine

BOUND = 20_000  # syscall exceptions: the bounded run


def first_violation(point, seed):
    """(cycle, kernel entries, wall seconds, check) of the first violation, or None."""
    m = build_machine(point.model_copy(update={"seed": seed}), 0, invariants=True)
    start = time.perf_counter()
    try:
        run_machine(m)
    except InvariantViolation as error:
        return error.cycle, len(m.trace), time.perf_counter() - start, error.check
    return None


def race(seeds, wait_factor, stress):
    point = point_from_dict(
        {
            "threads": 4,
            "wait_factor": float(wait_factor),
            "events": BOUND,
            "warmup_events": 0,
            "fastpath_variant": "uniprocessor",
            "stress_jitter": stress,
        }
    )
    found = [first_violation(point, seed) for seed in seeds]
    hits = [f for f in found if f is not None]
    summary = {
        "wait_factor": wait_factor,
        "stress_jitter": stress,
        "seeds": len(seeds),
        "found": len(hits),
        "checks": sorted({h[3] for h in hits}),
    }
    if hits:
        summary.update(
            median_cycles=statistics.median(h[0] for h in hits),
            median_entries=statistics.median(h[1] for h in hits),
            median_wall_s=round(statistics.median(h[2] for h in hits), 4),
        )
    return summary


class CountingMonitor(Monitor):
    """Counts race reports instead of stopping at the first (for a steady-state rate)."""

    def violate(self, check, what, cpu=None, thread=None, lock=None):
        self.counts[check] = self.counts.get(check, 0) + 1


def race_rate(wait_factor, events=3000, seed=1):
    """Share of uniprocessor fastpath commits that used a stale read, over a whole run."""
    point = point_from_dict(
        {
            "threads": 4,
            "wait_factor": float(wait_factor),
            "events": events,
            "warmup_events": 0,
            "fastpath_variant": "uniprocessor",
            "seed": seed,
        }
    )
    m = build_machine(point, 0)
    monitor = CountingMonitor(exact_time=True).attach(m)
    monitor.counts = {}
    run_machine(m)
    fast = sum(1 for o in m.trace.outcome if o is not None and o.path == "fast")
    return {
        "wait_factor": wait_factor,
        "fastpath_entries": fast,
        "reports": monitor.counts,
        "stale_read_share": round(monitor.counts.get("stale-read", 0) / max(fast, 1), 3),
    }


def _violation_cycles(machines, seeds, stress) -> dict:
    """Run ``machines(seed)`` for each seed; the median cycle of the first violation."""
    cycles = []
    for seed in seeds:
        try:
            run_machine(machines(seed))
        except InvariantViolation as error:
            cycles.append(error.cycle)
    return {
        "stress_jitter": stress,
        "seeds": len(seeds),
        "found": len(cycles),
        "median_cycles": statistics.median(cycles) if cycles else None,
    }


def deadlock(seeds, stress):
    def machines(seed):
        k, programs = shared_handler(seed=seed, workers=4, lock_order="objects_first")
        return machine(k, programs, 5000, seed=seed, order=False, stress=stress)

    return _violation_cycles(machines, seeds, stress)


def lost_exception(seeds, stress):
    """The race's consequence with a cross-CPU partner, race checks off: a lost exception."""
    from l4sim.sim.invariants import Monitor

    def machines(seed):
        k, programs = shared_handler(
            seed=seed, workers=4, wait=3000, fastpath_variant="uniprocessor"
        )
        m = machine(k, programs, BOUND, seed=seed, check=False)
        Monitor(exact_time=True, races=False, stress=stress, seed=seed).attach(m)
        return m

    return _violation_cycles(machines, seeds, stress)


def slowdown(repeats=3):
    point = point_from_dict(
        {"threads": 2, "wait_factor": 100.0, "events": 3000, "warmup_events": 300}
    )
    times = {"off": [], "on": [], "on_exact": []}
    for _ in range(repeats):
        for mode in times:
            start = time.perf_counter()
            if mode == "off":
                simulate(point, invariants=False)
            elif mode == "on":
                simulate(point, invariants=True)
            else:
                from l4sim.sim.invariants import Monitor

                m = build_machine(point, 0)
                Monitor(exact_time=True).attach(m)
                run_machine(m)
            times[mode].append(time.perf_counter() - start)
    best = {mode: min(values) for mode, values in times.items()}
    return {
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "slowdown_checker": round(best["on"] / best["off"], 2),
        "slowdown_checker_exact_time": round(best["on_exact"] / best["off"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    results = {
        "race": [race(seeds, wf, stress) for wf in (10, 1000, 100000) for stress in (0, 100)],
        "race_rate": [race_rate(wf) for wf in (10, 1000, 100000)],
        "deadlock": [deadlock(seeds, stress) for stress in (0, 100)],
        "lost_exception": [lost_exception(seeds, stress) for stress in (0, 100)],
        "slowdown": slowdown(),
    }
    out = Path("results") / "checker_numbers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
