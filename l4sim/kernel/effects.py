"""Effects: what a kernel path asks of whoever runs it.

Kernel paths are generators. They change kernel state directly (plain Python)
and yield these small values for the timing and concurrency that only a
simulator can provide. Consecutive ``Spend`` effects fold into one delay.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Thread

Spend = int
"""Execute kernel code for this many cycles: a path yields a plain number.

``yield Spend(c.kernel_entry)`` reads as what it does and costs nothing: the
hottest effect of all is an ``int``, not an object to build and dispatch on.
"""


@dataclass(slots=True)
class Acquire:
    """Take these spinlocks, one after the other, in the order given (spin for each)."""

    locks: tuple[Lock, ...]


@dataclass(slots=True)
class Release:
    """Release these held spinlocks, in the order given."""

    locks: tuple[Lock, ...]


@dataclass(slots=True)
class Switch:
    """The CPU continues with ``to`` (None: the CPU goes idle).

    The current thread stops here; its kernel operation continues after this
    effect when the thread is switched to again (a continuation).
    """

    to: Thread | None


@dataclass(slots=True)
class Outcome:
    """Record which path the kernel entry took and where it left the fastpath."""

    path: str  # "fast" or "slow"
    exit_point: str
    mask: int | None = None  # check profile: which checks passed (bit per paper-list check)


@dataclass(slots=True)
class Kick:
    """Tell CPU ``cpu`` that it has a new ready thread (an IPI if it is another CPU)."""

    cpu: int


@dataclass(slots=True)
class Sync:
    """Let simulated time catch up with the cycles spent so far.

    A path yields it before reading or committing shared state without a lock:
    other CPUs must see that access at its true cycle, not at the start of a
    folded delay. Under locks it is never needed (the lock orders accesses).
    """


Effect = int | Acquire | Release | Switch | Outcome | Kick | Sync
"""What a kernel path yields (``Spend`` is a plain ``int``)."""

_Result = TypeVar("_Result")
KernelPath = Generator[Effect, None, _Result]
"""A kernel path: yields effects, is resumed with nothing, returns ``_Result``."""
