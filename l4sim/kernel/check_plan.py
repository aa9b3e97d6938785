"""Running a fastpath's ordered checks: the one loop every fastpath shares.

Each stage's locks are taken just before the first check that needs them; a
check that fails records itself as the exit point (with the check profile's
pass mask when the run asks for it), releases whatever is held, and the
caller falls back to its slowpath. Before the first optimistic precheck (a
check reading shared state without its lock, see
:mod:`l4sim.kernel.fastpath_design`) simulated time catches up, so that the
unlocked read sees other CPUs' writes as they are at its true cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import TYPE_CHECKING, Generic

from l4sim.kernel.checks import LOCK_FREE, Check, Context, Stage, pass_mask
from l4sim.kernel.effects import Effect, KernelPath, Outcome, Spend, Sync
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Thread

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState

SYNC = Sync()


@cache
def fallback(check_name: str) -> Outcome:
    """The (shared) outcome of falling back at ``check_name``."""
    return Outcome("slow", check_name)


@dataclass(frozen=True)
class CheckRun(Generic[Context]):
    """Consecutive checks that run under the same locks (``stage``).

    ``tests`` are the checks' predicates and ``paid[i]`` the cycles of the run
    up to and including check ``i``: the loop below then only calls predicates.
    ``sync``: the run starts with an unlocked read of shared state.
    ``handed[i]``: the cycles of decoding the checks before check ``i`` (in
    this run and earlier ones) hand over to the slowpath if check ``i`` fails.
    """

    stage: Stage
    checks: tuple[Check[Context], ...]
    tests: tuple[Callable[[Context], bool], ...]
    paid: tuple[int, ...]
    sync: bool = False
    handed: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckPlan(Generic[Context]):
    """A fastpath's checks in running order, cut where new locks must be taken.

    Each run starts with the check that needs a stage beyond what is held;
    the stage's locks are taken just before it. Built once per kernel.
    ``hoisted`` are the checks moved before their locks on the proof that they
    read only fields never written after creation: the invariant checker
    evaluates them again under the commit's locks.
    """

    runs: tuple[CheckRun[Context], ...]
    hoisted: tuple[Check[Context], ...] = ()


def plan_checks(checks: tuple[Check[Context], ...], costs: tuple[int, ...]) -> CheckPlan[Context]:
    """Group ``checks`` (with their cycle ``costs``) into runs under the same locks."""
    groups: list[tuple[Stage, bool, list[tuple[Check[Context], int]]]] = []
    stage = Stage.LOCK_FREE
    for check, cost in zip(checks, costs, strict=True):
        sync = check.optimistic and not (groups and groups[-1][1])
        if not groups or check.stage > stage or sync:
            stage = max(stage, check.stage)
            groups.append((stage, sync, []))
        groups[-1][2].append((check, cost))
    runs = []
    handed = 0  # decoding cycles handed over by the checks before
    for stage, sync, group in groups:
        before = []
        for check, cost in group:
            before.append(handed)
            handed += cost if check.handed_over else 0
        runs.append(
            CheckRun(
                stage,
                tuple(c for c, _ in group),
                tuple(c.passes for c, _ in group),
                tuple(accumulate(cost for _, cost in group)),
                sync,
                tuple(before),
            )
        )
    hoisted = tuple(c for c in checks if c.moved_from is not None and not c.optimistic)
    return CheckPlan(tuple(runs), hoisted)


def run_checks(
    kernel: KernelState,
    plan: CheckPlan[Context],
    paper: tuple[Check[Context], ...],
    ctx: Context,
    current: Thread,
    other: Thread | None,
    held: list[Lock],
    spent: int,
    unlocked_read: Callable[[Stage], Generator[Effect, None, None]] | None = None,
    operation_bit: int = 0,
) -> KernelPath[tuple[bool, Stage, int]]:
    """Run the planned checks in order: (passed, stage reached, cycles).

    The cycles: if every check passed, those not yet yielded; else those of
    the decoding handed to the slowpath.

    ``paper`` is the canonical list the profile's mask bits refer to;
    ``operation_bit`` is or-ed into a profiled mask (above those bits: which
    operation of the fastpath this attempt was). ``unlocked_read(stage)``, if
    given, replaces taking a stage's locks (the uniprocessor fastpath reads
    shared state without them).
    """
    reached = LOCK_FREE
    for run in plan.runs:
        if run.stage > reached:  # take the next stage's locks before its first check
            yield Spend(spent)
            spent = 0
            if unlocked_read is not None:
                yield from unlocked_read(run.stage)
            else:
                yield kernel.lock_effects.take_stage(run.stage, held, current, other)
            reached = run.stage
        elif run.sync:  # optimistic prechecks: read shared state at its true cycle
            yield Spend(spent)
            spent = 0
            yield SYNC
        for passes in run.tests:
            if not passes(ctx):
                # the first check with this predicate: an earlier one would have failed first
                index = run.tests.index(passes)
                check = run.checks[index]
                yield Spend(spent + run.paid[index])
                outcome = fallback(check.name)
                if kernel.config.check_profile:
                    outcome = Outcome("slow", check.name, pass_mask(paper, ctx) | operation_bit)
                if held:
                    yield kernel.lock_effects.release_all(held)
                yield outcome
                return False, reached, run.handed[index]
        spent += run.paid[-1]
    return True, reached, spent
