"""Named fastpath checks, and the locking stage each one needs.

A fastpath is an ordered tuple of :class:`Check`. Each check declares the
lock stage it needs; the fastpath takes a stage's locks just before the first
check that needs them, so the list must be sorted by stage (lock-free checks
first, then those under the global scheduler lock, then those under the
thread locks). :func:`validate_order` enforces that at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


class Stage(IntEnum):
    """Which locks must be held before a check may read its data."""

    LOCK_FREE = 0  # reads only the current thread's own state or constants
    SCHEDULER = 1  # reads scheduling state: needs the global scheduler lock
    THREADS = 2  # reads another thread's IPC state: needs the thread locks


@dataclass(frozen=True)
class Check:
    """One fastpath check: passes -> go on, fails -> fall back to the slowpath."""

    name: str
    stage: Stage
    cost: str  # key of the cycle cost in the profile
    passes: Callable[[object], bool]
    why: str  # what the check guards, in the paper's terms


def validate_order(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """Refuse a check list whose stages go backwards (that would need release-and-reacquire)."""
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate check names in {names}")
    for before, after in zip(checks, checks[1:], strict=False):
        if after.stage < before.stage:
            raise ValueError(
                f"check {after.name} ({after.stage.name}) comes after {before.name} "
                f"({before.stage.name}): locks would have to be released and retaken"
            )
    return checks
