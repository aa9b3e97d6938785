"""Running a fastpath's ordered checks: the one loop every fastpath shares.

Each stage's locks are taken just before the first check that needs them; a
check that fails records itself as the exit point (with the check profile's
pass mask when the run asks for it), releases whatever is held, and the
caller falls back to its slowpath.
"""

from __future__ import annotations

from functools import cache

from l4sim.kernel.checks import Check, Stage, pass_mask
from l4sim.kernel.effects import Outcome, Spend


@cache
def fallback(check_name: str) -> Outcome:
    """The (shared) outcome of falling back at ``check_name``."""
    return Outcome("slow", check_name)


def run_checks(kernel, checks: tuple[Check, ...], costs: tuple[int, ...],
               paper: tuple[Check, ...], ctx, current, other, held: list, spent: int,
               unlocked_read=None):
    """Run ``checks`` in order; returns (passed, stage reached, cycles not yet yielded).

    ``paper`` is the canonical list the profile's mask bits refer to.
    ``unlocked_read(stage)``, if given, replaces taking a stage's locks (the
    uniprocessor fastpath reads shared state without them).
    """
    stage = Stage.LOCK_FREE
    for check, cost in zip(checks, costs, strict=True):
        if check.stage > stage:  # take the next stage's locks before its first check
            yield Spend(spent)
            spent = 0
            if unlocked_read is not None:
                yield from unlocked_read(check.stage)
            else:
                yield kernel.take_stage(check.stage, held, current, other)
            stage = check.stage
        spent += cost
        if not check.passes(ctx):
            yield Spend(spent)
            outcome = fallback(check.name)
            if kernel.config.profile_checks:
                outcome = Outcome("slow", check.name, pass_mask(paper, ctx))
            if held:
                yield kernel.release_all(held)
            yield outcome
            return False, stage, 0
    return True, stage, spent
