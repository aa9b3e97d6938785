"""A kernel with one extra lock and a system call that holds it: the lock microbenchmark's.

``CriticalSection(hold)`` traps, takes the lock, spends ``hold`` cycles and
releases it, through the same ``Acquire``/``Release`` effects as every kernel
path, so what the microbenchmark validates is the engine's lock code itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4sim.kernel.effects import Acquire, Release
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.locks import Lock

LOCK = "lock"  # kind of the traced kernel entries


@dataclass(slots=True)
class CriticalSection:
    """Hold the benchmark's lock for ``hold`` cycles."""

    hold: int


class LockBenchKernel(Kernel):
    """The kernel plus one benchmark lock (an object lock protecting no data: 0 lines)."""

    def __init__(self, config, costs) -> None:
        super().__init__(config, costs)
        self.bench_lock = Lock("bench", address=0x1000, lines=0)
        self._take = Acquire((self.bench_lock,))
        self._drop = Release((self.bench_lock,))

    @property
    def locks(self) -> list[Lock]:
        return [*super().locks, self.bench_lock]

    def enter_kernel(self, cpu, thread, action):
        if type(action) is CriticalSection:
            return LOCK, self._critical_section(action.hold)
        return super().enter_kernel(cpu, thread, action)

    def _critical_section(self, hold: int):
        yield self._take
        yield hold  # Spend
        yield self._drop
