"""A synchronous interpreter of kernel paths: no clock, no SimPy, for tests.

Locks are taken and released with the order rule enforced; a lock held by
another CPU is an error (nothing else runs). The run stops at the first
``Switch``, where the simulator would park the thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from l4sim.kernel.effects import Acquire, Kick, Outcome, Release, Spend, Switch, Sync
from l4sim.kernel.locks import Lock, ensure_lock_order


@dataclass
class SyncRun:
    """What a kernel path did, in order."""

    cycles: int = 0
    outcome: Outcome | None = None
    switched_to: object = "no switch"
    acquired: list[Lock] = field(default_factory=list)
    released: list[Lock] = field(default_factory=list)
    kicks: list[int] = field(default_factory=list)
    held_at_end: list[Lock] = field(default_factory=list)
    value: object = None
    cycles_before_first_lock: int | None = None  # None: it took no lock


def run_sync(path, cpu: int = 0) -> SyncRun:
    """Interpret ``path`` until it returns or switches threads."""
    run = SyncRun()
    held: list[Lock] = []
    try:
        effect = next(path)
        while True:
            if type(effect) is Spend:
                run.cycles += effect
            elif isinstance(effect, Acquire):
                if run.cycles_before_first_lock is None and effect.locks:
                    run.cycles_before_first_lock = run.cycles
                for lock in effect.locks:
                    ensure_lock_order(held, lock)
                    if lock.holder is not None and lock.holder != cpu:
                        raise RuntimeError(f"{lock.name} is held by cpu{lock.holder}")
                    lock.holder = cpu
                    held.append(lock)
                    run.acquired.append(lock)
            elif isinstance(effect, Release):
                for lock in effect.locks:
                    held.remove(lock)
                    lock.holder = None
                    run.released.append(lock)
            elif isinstance(effect, Outcome):
                if run.outcome is None:
                    run.outcome = effect
            elif isinstance(effect, Sync):
                pass  # no clock here: nothing to catch up
            elif isinstance(effect, Kick):
                run.kicks.append(effect.cpu)
            elif isinstance(effect, Switch):
                run.switched_to = effect.to
                break
            effect = next(path)
    except StopIteration as stop:
        run.value = stop.value
    run.held_at_end = list(held)
    return run
