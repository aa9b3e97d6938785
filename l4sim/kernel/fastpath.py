"""Running a fastpath's ordered checks: the one loop every fastpath shares.

Each stage's locks are taken just before the first check that needs them; a
check that fails records itself as the exit point (with the check profile's
pass mask when the run asks for it), releases whatever is held, and the
caller falls back to its slowpath.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from l4sim.kernel.checks import Check, Stage, pass_mask
from l4sim.kernel.effects import Outcome, Spend


@cache
def fallback(check_name: str) -> Outcome:
    """The (shared) outcome of falling back at ``check_name``."""
    return Outcome("slow", check_name)


@dataclass(frozen=True)
class CheckPlan:
    """A fastpath's checks in running order, cut where new locks must be taken.

    ``runs`` holds (stage, ((check, cost), ...)): each run starts with the
    check that needs a stage beyond what is held, and the stage's locks are
    taken just before it. Built once per kernel, so the loop below does no
    bookkeeping a list of checks does not need.
    """

    checks: tuple[Check, ...]
    costs: tuple[int, ...]
    runs: tuple[tuple[Stage, tuple[tuple[Check, int], ...]], ...]


def plan_checks(checks: tuple[Check, ...], costs: tuple[int, ...]) -> CheckPlan:
    """Group ``checks`` (with their cycle ``costs``) into runs under the same locks."""
    runs: list[tuple[Stage, list]] = []
    stage = Stage.LOCK_FREE
    for check, cost in zip(checks, costs, strict=True):
        if not runs or check.stage > stage:
            stage = max(stage, check.stage)
            runs.append((stage, []))
        runs[-1][1].append((check, cost))
    return CheckPlan(checks, costs, tuple((s, tuple(group)) for s, group in runs))


def run_checks(kernel, plan: CheckPlan, paper: tuple[Check, ...], ctx, current, other,
               held: list, spent: int, unlocked_read=None):
    """Run the planned checks in order; returns (passed, stage reached, cycles not yet yielded).

    ``paper`` is the canonical list the profile's mask bits refer to.
    ``unlocked_read(stage)``, if given, replaces taking a stage's locks (the
    uniprocessor fastpath reads shared state without them).
    """
    reached = Stage.LOCK_FREE
    for stage, run in plan.runs:
        if stage > reached:  # take the next stage's locks before its first check
            yield Spend(spent)
            spent = 0
            if unlocked_read is not None:
                yield from unlocked_read(stage)
            else:
                yield kernel.take_stage(stage, held, current, other)
            reached = stage
        for check, cost in run:
            spent += cost
            if not check.passes(ctx):
                yield Spend(spent)
                outcome = fallback(check.name)
                if kernel.config.profile_checks:
                    outcome = Outcome("slow", check.name, pass_mask(paper, ctx))
                if held:
                    yield kernel.release_all(held)
                yield outcome
                return False, reached, 0
    return True, reached, spent
