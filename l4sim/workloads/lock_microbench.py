"""The lock microbenchmark: N threads, one per CPU, contending for one lock.

Each thread loops: think (user mode, ``think_dist`` with mean ``think_mean``),
acquire the lock, hold it (``hold_dist``, mean ``hold_mean``), release. With
exponential think and hold and no lock overheads it is the machine-repairman
queue (M/M/1//N), which the tests use as an oracle (domain notes, section 4).

Distributions: ``exponential``, ``deterministic`` (always the mean),
``uniform`` (on [0, 2 x mean]); draws are rounded to whole cycles. The kernel
adds its entry jitter (uniform 0..``entry_jitter``) before the acquisition:
it lengthens the think time by ``entry_jitter / 2`` on average.

A point measures ``events`` acquisitions (all threads) after ``warmup_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.effects import Acquire, KernelPath, Release
from l4sim.kernel.kernel import Kernel, Path
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Thread
from l4sim.kernel.syscalls import Compute, Program
from l4sim.workloads.base import MAX_WORK_CYCLES, Point, Setup

if TYPE_CHECKING:
    import pandas as pd

    from l4sim.sim.machine import Machine

# The benchmark's kernel: one extra lock and a system call that holds it. The
# call traps, takes the lock, spends its hold time and releases it, through the
# same Acquire/Release effects as every kernel path, so what the microbenchmark
# validates is the engine's lock code itself.
LOCK = "lock"  # kind of the traced kernel entries


@dataclass(slots=True)
class CriticalSection:
    """Hold the benchmark's lock for ``hold`` cycles."""

    hold: int


class LockBenchKernel(Kernel):
    """The kernel plus one benchmark lock (an object lock protecting no data: 0 lines)."""

    def __init__(self, config: KernelConfig, costs: Costs) -> None:
        super().__init__(config, costs)
        self.bench_lock = Lock("bench", address=0x1000, lines=0)
        self._take = Acquire((self.bench_lock,))
        self._drop = Release((self.bench_lock,))

    @property
    def locks(self) -> list[Lock]:
        return [*super().locks, self.bench_lock]

    def enter_kernel(self, cpu: int, thread: Thread, action: object) -> tuple[str, Path]:
        if type(action) is CriticalSection:
            return LOCK, self._critical_section(action.hold)
        return super().enter_kernel(cpu, thread, action)

    def _critical_section(self, hold: int) -> KernelPath[None]:
        yield self._take
        yield hold  # Spend
        yield self._drop


PRIORITY = 100
BATCH = 1024  # draws per numpy call


def draws(rng: np.random.Generator, dist: str, mean: float) -> Iterator[int]:
    """An endless stream of whole-cycle draws with this distribution and mean."""
    if dist == "deterministic":
        value = round(mean)
        while True:
            yield value
    while True:
        if dist == "exponential":
            batch = rng.exponential(mean, BATCH) if mean > 0 else np.zeros(BATCH)
        elif dist == "uniform":
            batch = rng.uniform(0.0, 2.0 * mean, BATCH)
        else:
            raise ValueError(f"unknown distribution {dist!r}")
        yield from np.rint(batch).astype(np.int64).tolist()


def contender(thinks: Iterable[int], holds: Iterable[int]) -> Program:
    """Think, then hold the lock; forever."""
    for think, hold in zip(thinks, holds, strict=False):
        yield Compute(think)
        yield CriticalSection(hold)


def metrics(machine: Machine, events: pd.DataFrame, measured_cycles: int) -> dict[str, float]:
    """The lock's metrics over the measured window."""
    wait = events.loc[events["kind"] == LOCK, "lock_wait"].to_numpy(dtype=np.float64)
    lock = machine.kernel.bench_lock  # type: ignore[attr-defined]  # (a LockBenchKernel's)
    return {
        "acquisitions_per_mcycle": float(len(wait) * 1e6 / max(measured_cycles, 1)),
        "wait_mean": float(wait.mean()) if len(wait) else 0.0,
        "wait_m2": float((wait**2).mean()) if len(wait) else 0.0,
        "utilization": float(
            lock.sim.held_between(
                machine.measure_from,
                machine.measure_from + measured_cycles,
                lock.holder is not None,
            )
            / max(measured_cycles, 1)
        ),
    }


Distribution = Literal["exponential", "deterministic", "uniform"]


class Params(Point):
    """The keys of the lock microbenchmark (on top of those every workload has)."""

    workload: Literal["lock_microbench"] = "lock_microbench"
    threads: int = Field(2, ge=1, le=64)
    """Contending threads, one per CPU (at most ``cpus``)."""
    think_dist: Distribution = "exponential"
    """The distribution of think times (``uniform``: on [0, 2 x mean]), rounded to whole cycles."""
    think_mean: float = Field(3000.0, ge=0, le=MAX_WORK_CYCLES)
    """The mean think time between a release and the next acquisition (cycles)."""
    hold_dist: Distribution = "exponential"
    """The distribution of hold times, as ``think_dist``."""
    hold_mean: float = Field(1000.0, ge=0, le=MAX_WORK_CYCLES)
    """The mean time the lock is held (cycles)."""

    @model_validator(mode="after")
    def _one_thread_per_cpu(self) -> Params:
        if self.threads > self.cpus:
            raise ValueError(
                f"threads ({self.threads}) must not exceed cpus ({self.cpus}): one thread per CPU"
            )
        return self


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    """Kernel, one thread per CPU (CPUs 0..threads-1) and their programs."""
    kernel = LockBenchKernel(config, costs)
    programs: dict[Thread, Program] = {}
    for index, (think_seed, hold_seed) in enumerate(
        s.spawn(2) for s in seeds.spawn(params.threads)
    ):
        space = kernel.create_space(f"task{index}")
        thread = kernel.create_thread(f"contender{index}", index, PRIORITY, space)
        thinks = draws(np.random.default_rng(think_seed), params.think_dist, params.think_mean)
        holds = draws(np.random.default_rng(hold_seed), params.hold_dist, params.hold_mean)
        programs[thread] = contender(thinks, holds)
    return Setup(
        kernel,
        programs,
        LOCK,
        params.warmup_events,
        params.events,
        metrics=metrics,
        timed_locks=(kernel.bench_lock,),
    )
