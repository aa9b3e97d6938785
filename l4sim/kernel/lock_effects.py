"""The lock effects a kernel path yields, in the order the paper's rules take the locks.

Global locks first (the scheduler lock), then object locks in ascending
address order. Each distinct set of locks to take or release is one
:class:`~l4sim.kernel.effects.Acquire` or :class:`~l4sim.kernel.effects.Release`
value, built the first time a path needs it and shared after that: the
paths only name what they need, and ``held`` keeps track of what they hold.
"""

from __future__ import annotations

from l4sim.kernel.checks import Stage
from l4sim.kernel.effects import Acquire, Release
from l4sim.kernel.locks import Lock, in_lock_order
from l4sim.kernel.objects import Thread


class LockEffects:
    """The effects that take and release the kernel's locks, by what a path needs.

    ``lock_order`` is the kernel's option: "ascending" is the paper's rule;
    "descending" (thread locks) and "objects_first" (the global lock last)
    are deliberate bugs for the invariant checker to catch.
    """

    def __init__(self, scheduler_lock: Lock, lock_order: str) -> None:
        self.scheduler_lock = scheduler_lock
        self.lock_order = lock_order
        self._take_scheduler = Acquire((scheduler_lock,))
        # the lock effects of each fastpath stage, per (stage, thread pair, locks held)
        self._stage_effects: dict[tuple[Stage, Thread, Thread | None, int], Acquire] = {}
        # the same for take_thread_locks, per (threads, locks held)
        self._thread_lock_effects: dict[tuple[object, ...], Acquire] = {}
        # and the effect releasing each set of held locks
        self._release_effects: dict[tuple[Lock, ...], Release] = {}

    def take_scheduler(self, held: list[Lock]) -> Acquire:
        """The effect that takes the global scheduler lock (noted in ``held``)."""
        held.append(self.scheduler_lock)
        return self._take_scheduler

    def take_thread_locks(self, held: list[Lock], *threads: Thread | None) -> Acquire:
        """The effect that takes these threads' locks in address order (noted in ``held``)."""
        key = (threads, *held)
        effect = self._thread_lock_effects.get(key)
        if effect is None:
            locks = tuple(
                lock
                for lock in self.thread_lock_order(*(t.lock for t in threads if t is not None))
                if lock not in held
            )
            effect = self._thread_lock_effects[key] = Acquire(locks)
        held.extend(effect.locks)
        return effect

    def take_stage(
        self, stage: Stage, held: list[Lock], current: Thread, other: Thread | None
    ) -> Acquire:
        """The effect that takes what a check stage needs beyond ``held``."""
        key = (stage, current, other, len(held))
        effect = self._stage_effects.get(key)
        if effect is None:
            locks = []
            if stage >= Stage.SCHEDULER and self.scheduler_lock not in held:
                locks.append(self.scheduler_lock)
            if stage >= Stage.THREADS:  # (which always has a partner: ``other``)
                locks.extend(
                    lock
                    for lock in self.thread_lock_order(current.lock, other.lock)  # type: ignore[union-attr]
                    if lock not in held
                )
                if self.lock_order == "objects_first" and locks[0] is self.scheduler_lock:
                    locks.append(locks.pop(0))  # the bug: the global lock last
            effect = self._stage_effects[key] = Acquire(tuple(locks))
        held.extend(effect.locks)
        return effect

    def thread_lock_order(self, *locks: Lock) -> list[Lock]:
        """Thread locks in the order this kernel takes them (descending: a deliberate bug)."""
        ordered = in_lock_order(*locks)
        if self.lock_order == "descending":
            ordered.reverse()
        return ordered

    def release_all(self, held: list[Lock]) -> Release:
        """The effect that releases every held lock, last taken first."""
        key = tuple(held)
        effect = self._release_effects.get(key)
        if effect is None:
            effect = self._release_effects[key] = Release(key[::-1])
        held.clear()
        return effect
