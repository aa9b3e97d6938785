"""Speed benchmark: simulated kernel entries per second vs a bare SimPy lock loop.

The bare loop is the cheapest honest SimPy model of the same activity: per
thread, think (timeout), request a lock (Resource), hold (timeout), release.
The ratio (kernel entries per bare lock cycle) must be >= 0.5 on 2 CPUs with
2 threads. It also times the kernel's paths alone, with no simulator, which
bounds what any engine around this kernel can reach. A second table gives the
wall-clock cost of one simulated kernel entry on 64 CPUs against 2 CPUs
(syscall_bench, one worker per CPU), which must stay within 2x. Run with
``make bench``; prints both tables and writes ``results/bench_speed.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

from l4sim.compiled import PURE_ENV, summary
from l4sim.kernel.costs import load_profile
from l4sim.kernel.interpret import run_sync
from l4sim.kernel.kernel import Kernel, KernelConfig
from l4sim.kernel.syscalls import RaiseException, ReplyWait, Wait
from l4sim.sweep.runner import simulate
from l4sim.sweep.scenario import point_from_dict


def bare_simpy_rate(threads: int = 2, cycles_per_thread: int = 20_000) -> float:
    """Lock cycles per second of the bare loop (think, request, hold, release)."""
    env = simpy.Environment()
    lock = simpy.Resource(env, capacity=1)
    rng = np.random.default_rng(0)
    thinks = rng.integers(0, 300, size=(threads, cycles_per_thread)).tolist()

    def loop(index: int):
        for think in thinks[index]:
            yield env.timeout(think)
            with lock.request() as request:
                yield request
                yield env.timeout(400)

    for index in range(threads):
        env.process(loop(index))
    start = time.perf_counter()
    env.run()
    return threads * cycles_per_thread / (time.perf_counter() - start)


def kernel_entry_rate(cpus: int, threads: int, wait_factor: float, events: int = 20_000) -> float:
    """Simulated kernel entries (syscall exceptions and IPCs) per wall-clock second."""
    point = point_from_dict({"workload": "syscall_bench", "cpus": cpus, "threads": threads,
                             "wait_factor": wait_factor, "events": events,
                             "fastpath_syscall": True})
    start = time.perf_counter()
    result = simulate(point, seed=1)
    elapsed = time.perf_counter() - start
    return result.total_entries / elapsed


def kernel_logic_rate(pairs: int = 20_000) -> float:
    """Kernel entries per second of the benchmark's kernel paths with no simulator at all.

    A worker's syscall exception (its fastpath, then its continuation) and
    its handler's ReplyWait (the IPC slowpath) on one CPU, driven by the
    synchronous interpreter the kernel tests use: what the kernel's own
    Python costs, the part of an entry no engine can remove.
    """
    costs = load_profile("vmxl4-pandaboard")
    kernel = Kernel(KernelConfig(cpus=1, fastpath_ipc=False), costs)
    handler = kernel.create_thread("handler", 0, 200, kernel.create_space("server"))
    worker = kernel.create_thread("worker", 0, 100, kernel.create_space("task"),
                                  handler=handler)
    kernel.scheduler.pick_next(0)  # the handler runs first and waits
    serving = kernel.enter(0, handler, Wait())[1]
    run_sync(serving)
    start = time.perf_counter()
    for number in range(pairs):
        raising = kernel.enter(0, worker, RaiseException("syscall", (number,)))[1]
        run_sync(raising)  # fastpath: switches to the handler
        run_sync(serving)  # the handler's receive completes
        serving = kernel.enter(0, handler, ReplyWait(worker, ("ok",)))[1]
        run_sync(serving)  # reply, and wait again: switches to the worker
        run_sync(raising)  # the worker's continuation
    return 2 * pairs / (time.perf_counter() - start)


CASES = [(2, 2, 100), (2, 2, 10_000), (2, 8, 100), (1, 1, 100)]

# (kernel_lock, wait_factor) of the CPU-count comparison; 2 and 64 CPUs each
SCALING = [("fine", 100), ("fine", 10_000), ("big", 10_000), ("fine", 100_000)]


def entry_cost_us(cpus: int, kernel_lock: str, wait_factor: float,
                  events: int = 10_000) -> float:
    """CPU-time microseconds per simulated kernel entry, one worker per CPU.

    Process CPU time, not wall-clock time: on a machine shared with other jobs
    it is what the comparison between two CPU counts needs.
    """
    point = point_from_dict({"workload": "syscall_bench", "cpus": cpus, "threads_per_cpu": 1,
                             "kernel_lock": kernel_lock, "wait_factor": wait_factor,
                             "events": events, "warmup_events": 500})
    start = time.process_time()
    result = simulate(point, seed=1)
    return (time.process_time() - start) * 1e6 / result.total_entries


def scaling_rows(repeats: int) -> list[dict]:
    """Cost per entry on 2 and 64 CPUs, best of ``repeats`` interleaved runs."""
    best: dict = {}
    for _ in range(repeats):
        for kernel_lock, wait_factor in SCALING:
            for cpus in (2, 64):
                key = (kernel_lock, wait_factor, cpus)
                cost = entry_cost_us(cpus, kernel_lock, wait_factor)
                best[key] = min(best.get(key, cost), cost)
    return [{"kernel_lock": kernel_lock, "wait_factor": wait_factor,
             "us_per_entry_2": round(best[(kernel_lock, wait_factor, 2)], 2),
             "us_per_entry_64": round(best[(kernel_lock, wait_factor, 64)], 2),
             "ratio_64_to_2": round(best[(kernel_lock, wait_factor, 64)]
                                    / best[(kernel_lock, wait_factor, 2)], 2)}
            for kernel_lock, wait_factor in SCALING]


def main_case_only(repeats: int = 3) -> dict:
    """The bare loop and the 2-CPU, 2-thread case alone, interleaved, best of ``repeats``."""
    bare = rate = 0.0
    for _ in range(repeats):
        bare = max(bare, bare_simpy_rate())
        rate = max(rate, kernel_entry_rate(*CASES[0]))
    return {"bare": bare, "rate": rate}


def pure_python_case() -> dict:
    """main_case_only() with the compiled modules turned off, in a fresh interpreter."""
    output = subprocess.run([sys.executable, __file__, "--main-case-only"], check=True,
                            capture_output=True, text=True,
                            env={**os.environ, PURE_ENV: "1"}).stdout
    return json.loads(output)


def main() -> int:
    if "--main-case-only" in sys.argv:
        print(json.dumps(main_case_only()))
        return 0
    repeats = 5  # machine noise moves a single run by ~5%: keep the best of five
    print(f"l4sim: {summary()}")
    # interleave the bare loop with the model so that machine noise hits both alike;
    # keep the best of each (the least disturbed run)
    bare = 0.0
    logic = 0.0
    best = dict.fromkeys(CASES, 0.0)
    for _ in range(repeats):
        for case in CASES:
            bare = max(bare, bare_simpy_rate())
            best[case] = max(best[case], kernel_entry_rate(*case))
        logic = max(logic, kernel_logic_rate())
    rows = [{"cpus": cpus, "threads": threads, "wait_factor": wait_factor,
             "entries_per_s": round(rate), "ratio_to_bare": round(rate / bare, 3)}
            for (cpus, threads, wait_factor), rate in best.items()]
    print(f"bare SimPy lock loop: {bare:,.0f} lock cycles/s (best of {repeats})")
    print(f"{'cpus':>4} {'threads':>7} {'wait':>8} {'entries/s':>12} {'ratio':>7}")
    for row in rows:
        print(f"{row['cpus']:>4} {row['threads']:>7} {row['wait_factor']:>8} "
              f"{row['entries_per_s']:>12,} {row['ratio_to_bare']:>7.3f}")
    print(f"kernel paths alone, no simulator: {logic:,.0f} entries/s "
          f"(ratio {logic / bare:.3f}: the ceiling of any engine around this kernel)")
    target = rows[0]["ratio_to_bare"]
    verdict = "meets" if target >= 0.5 else "MISSES"
    print(f"2 CPUs, 2 threads: ratio {target:.3f} {verdict} the >= 0.5 target")
    pure = pure_python_case()
    pure_ratio = pure["rate"] / pure["bare"]
    print(f"the same with {PURE_ENV}=1 (no compiled modules): {pure['rate']:,.0f} entries/s, "
          f"ratio {pure_ratio:.3f}")
    scaling = scaling_rows(3)
    print("\nCPU time per simulated kernel entry, one worker per CPU (best of 3)")
    print(f"{'kernel_lock':>11} {'wait':>8} {'2 CPUs':>9} {'64 CPUs':>9} {'ratio':>6}")
    for row in scaling:
        print(f"{row['kernel_lock']:>11} {row['wait_factor']:>8} {row['us_per_entry_2']:>7} us "
              f"{row['us_per_entry_64']:>6} us {row['ratio_64_to_2']:>6.2f}")
    worst = max(row["ratio_64_to_2"] for row in scaling)
    print(f"64 vs 2 CPUs: at most {worst:.2f}x, {'meets' if worst <= 2 else 'MISSES'} "
          "the <= 2x target")
    out = Path("results") / "bench_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"modules": summary(), "bare_lock_cycles_per_s": round(bare),
                               "pure_python_ratio": round(pure_ratio, 3),
                               "kernel_logic_entries_per_s": round(logic), "rows": rows,
                               "cpu_scaling": scaling}, indent=2))
    return 0 if target >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
