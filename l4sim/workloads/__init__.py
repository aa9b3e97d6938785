"""Workloads: the user programs that drive the kernel, one module each.

A workload module exposes ``build(params, seed_sequence) -> Setup``: a kernel
with its threads, one user program per thread, and what to measure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import Thread


@dataclass
class Setup:
    """A workload ready to simulate."""

    kernel: Kernel
    programs: dict[Thread, Generator]
    measure_kind: str  # the kernel-entry kind whose count ends the run
    warmup: int  # entries of that kind before measuring starts
    events: int  # entries of that kind measured
    # extra metrics of the measured kind: (machine, events, measured cycles) -> {name: value}
    metrics: Callable | None = None
    timers: tuple = ()  # periodic interrupts: (cpu, period in cycles, name)
    probe: object = None  # optional: irq_raised(payload, now), received(thread, msg, now), rows()
    timed_locks: tuple = ()  # locks whose hold times the metrics need (SpinState.held_between)
