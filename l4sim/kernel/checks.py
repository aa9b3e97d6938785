"""Named fastpath checks, and the locking stage each one needs.

A fastpath is an ordered tuple of :class:`Check`. Each check declares the
lock stage it needs; the fastpath takes a stage's locks just before the first
check that needs them (the thread stage takes the scheduler lock too if it is
not held, so locks are always taken in the global-then-address order). The
paper's lists are sorted by stage (lock-free checks first, then those under
the global scheduler lock, then those under the thread locks), which
:func:`validate_order` enforces at import time; a reordered list (see
:mod:`l4sim.design.order`) only has to respect the checks' data dependencies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar


class Stage(IntEnum):
    """Which locks must be held before a check may read its data."""

    LOCK_FREE = 0  # reads only the current thread's own state or constants
    SCHEDULER = 1  # reads scheduling state: needs the global scheduler lock
    THREADS = 2  # reads another thread's IPC state: needs the thread locks


# the stages as plain names, for the hot paths: a module global is found in one
# dictionary lookup, an Enum member through its class's attribute protocol
LOCK_FREE, SCHEDULER, THREADS = Stage

THREAD_LOCKS = 2  # a fastpath takes the current thread's and its partner's lock


def locks_held(stage: Stage) -> int:
    """How many locks a fastpath holds once it has taken a stage's locks."""
    return {Stage.LOCK_FREE: 0, Stage.SCHEDULER: 1, Stage.THREADS: 1 + THREAD_LOCKS}[stage]


# what a fastpath's checks look at: IpcContext, ExceptionContext (or a user's own)
Context = TypeVar("Context")


@dataclass(frozen=True)
class Check(Generic[Context]):
    """One fastpath check: passes -> go on, fails -> fall back to the slowpath.

    ``Check[IpcContext]``: a check whose predicate reads an IPC fastpath's context.

    Attributes:
        name: The check's name, and the exit point of an entry where it fails.
        stage: The locks it needs (:class:`Stage`).
        cost: The name of its cycle cost in the profile (e.g. ``"check_load_compare"``).
        passes: Its predicate on the fastpath's context (an
            :class:`~l4sim.kernel.exception_checks.ExceptionContext` or an
            :class:`~l4sim.kernel.ipc_checks.IpcContext`).
        why: What it guards, in the paper's terms.
        needs: The checks that must pass before it (its data dependencies).
        reads: The thread and space fields it reads (for the static scan).
        moved_from: On a check a fastpath design moved before the locks it would
            need, the stage it came from; None where it belongs.
        optimistic: An early precheck read without its lock (its answer may be
            stale); the check runs again under its lock before the commit.
    """

    name: str
    stage: Stage
    cost: str  # key of the cycle cost in the profile
    passes: Callable[[Context], bool]
    why: str  # what the check guards, in the paper's terms
    needs: tuple[str, ...] = ()  # checks that must pass first (data dependencies)
    reads: tuple[str, ...] = ()  # thread/space fields it reads (for static analysis)
    # set on a check a fastpath design moved before the locks it would need
    # (l4sim.kernel.fastpath_design): the stage it came from; None where it belongs
    moved_from: Stage | None = None
    # an optimistic precheck: read without its lock, so its answer may be stale; the
    # check runs again under its lock before the commit
    optimistic: bool = False
    # the check does part of the slowpath's decoding of the system call (its
    # ``ipc_decode``: the message tag, the destination's lookup), without a lock as
    # the slowpath does it: a fastpath design may hand its result to the slowpath
    decodes: bool = False
    # set by a fastpath design on a check that decodes: after it has passed, a
    # fallback hands its result to the slowpath, which does not decode that part again
    handed_over: bool = False


def validate_dependencies(checks: tuple[Check[Context], ...]) -> tuple[Check[Context], ...]:
    """Refuse an order that runs a check before one it depends on (e.g. a null deref)."""
    seen: set[str] = set()
    for check in checks:
        missing = [name for name in check.needs if name not in seen]
        if missing:
            raise ValueError(
                f"check {check.name} runs before {', '.join(missing)}, which it depends on"
            )
        seen.add(check.name)
    return checks


def reorder(checks: tuple[Check[Context], ...], names: list[str]) -> tuple[Check[Context], ...]:
    """The same checks in the order ``names`` gives (every check exactly once)."""
    by_name = {check.name: check for check in checks}
    if sorted(names) != sorted(by_name):
        raise ValueError(
            f"an order must name each check once: got {names}, "
            f"expected the checks {sorted(by_name)}"
        )
    return validate_dependencies(tuple(by_name[name] for name in names))


def pass_mask(checks: tuple[Check[Context], ...], context: Context) -> int:
    """Bit i set if ``checks[i]`` passes now (checks that cannot be evaluated fail).

    For the check profile only: evaluates every check, including those after
    the first failure, at the moment the fastpath decided.
    """
    mask = 0
    for index, check in enumerate(checks):
        try:
            if check.passes(context):
                mask |= 1 << index
        except (AttributeError, TypeError):
            pass  # e.g. no handler: the check cannot pass
    return mask


def validate_order(checks: tuple[Check[Context], ...]) -> tuple[Check[Context], ...]:
    """Refuse a check list whose stages go backwards (that would need release-and-reacquire)."""
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate check names in {names}")
    for before, after in itertools.pairwise(checks):
        if after.stage < before.stage:
            raise ValueError(
                f"check {after.name} ({after.stage.name}) comes after {before.name} "
                f"({before.stage.name}): locks would have to be released and retaken"
            )
    return validate_dependencies(checks)
