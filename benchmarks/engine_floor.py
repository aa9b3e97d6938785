"""What the required structure costs: the kernel's paths in SimPy with no model around them.

`make bench` compares l4sim with a bare SimPy lock loop. This script measures
the floor under any engine built the way the issue asks (a SimPy process per
thread, the kernel's paths as plain-Python generators): the syscall
benchmark's kernel paths on 2 CPUs, one worker and one handler per CPU, each
thread a SimPy process, user time a timeout, a thread switch a direct resume
of the next thread's process, and every effect handled in the cheapest way
that keeps the kernel running: costs summed, locks marked taken and free,
outcomes kept, one trace tuple per entry. Nothing else is modelled: no
contention (a lock is never waited for), no lookahead, no timing noise, no
interrupts, no measurement window. It is a reference, not a simulator. Its
driver here is interpreted; the kernel it drives runs compiled when l4sim's
hot modules are built (l4sim.compiled), as it does under the real engine.

Run: ``.venv/bin/python benchmarks/engine_floor.py`` (prints entries per
second, the bare SimPy lock loop's rate from bench_speed.py, and their ratio).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import simpy
from simpy.events import PENDING, Event, Timeout

sys.path.insert(0, str(Path(__file__).parent))
from bench_speed import bare_simpy_rate

from l4sim import Compute, Kernel, KernelConfig, load_profile
from l4sim.kernel.effects import Acquire, Outcome, Release, Switch
from l4sim.workloads.syscall_bench import handler, worker


def floor_rate(entries: int = 80_000, wait_factor: float = 100) -> float:
    """Kernel entries per second of the stripped-down driver (see the module docstring)."""
    costs = load_profile("vmxl4-pandaboard")
    kernel = Kernel(KernelConfig(cpus=2, fastpath_ipc=False), costs)
    handlers = [
        kernel.create_thread(f"handler{c}", c, 200, kernel.create_space("server")) for c in range(2)
    ]
    workers = [
        kernel.create_thread(
            f"worker{c}", c, 100, kernel.create_space(f"task{c}"), handler=handlers[c]
        )
        for c in range(2)
    ]
    programs = {h: handler(costs.handler_service) for h in handlers}
    for c, w in enumerate(workers):
        programs[w] = worker(np.random.default_rng(c), wait_factor, costs.wait_loop_iteration)
    env = simpy.Environment()
    rows: list[tuple] = []
    wakes: dict = {}
    processes: dict = {}

    def thread(me):
        yield wakes[me]
        program = programs[me]
        result = None
        while True:
            action = program.send(result)
            if type(action) is Compute:
                result = None
                yield Timeout(env, action.cycles)
                continue
            kind, path = kernel.enter(me.cpu, me, action)
            cycles = 0
            outcome = None
            try:
                effect = next(path)
                while True:
                    kind_of = type(effect)
                    if kind_of is int:
                        cycles += effect
                    elif kind_of is Acquire:
                        for lock in effect.locks:
                            lock.holder = me.cpu
                            cycles += costs.lock_acquire
                    elif kind_of is Release:
                        for lock in effect.locks:
                            lock.holder = None
                            cycles += costs.lock_release
                    elif kind_of is Outcome:
                        outcome = effect
                    elif kind_of is Switch:
                        wake = wakes[me]
                        wake.callbacks = []
                        wake._value = PENDING
                        other = wakes[effect.to]
                        other._ok = True
                        other._value = None
                        other.callbacks = None
                        processes[effect.to]._resume(other)
                        yield wake
                    effect = next(path)
            except StopIteration as stop:
                result = stop.value
            rows.append((kind, outcome, me.cpu, env.now, cycles))
            if len(rows) >= entries and not finished.triggered:
                finished.succeed()

    finished = env.event()
    for t in kernel.threads:
        wakes[t] = Event(env)
        processes[t] = env.process(thread(t))
    for c in range(2):  # the handlers run first and wait for the first exception
        kernel.scheduler.pick_next(c)
        wakes[handlers[c]].succeed()
    start = time.perf_counter()
    env.run(until=finished)
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    bare = max(bare_simpy_rate() for _ in range(3))
    floor = max(floor_rate() for _ in range(3))
    print(f"bare SimPy lock loop: {bare:,.0f} lock cycles/s")
    print(
        f"kernel paths in SimPy, nothing modelled around them: {floor:,.0f} entries/s "
        f"(ratio {floor / bare:.3f})"
    )


if __name__ == "__main__":
    main()
