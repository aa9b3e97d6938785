"""The order of fastpath checks that minimises the expected cycles per attempt.

The paper's future work: order the checks so that falling back costs least.
Works on any fastpath's check list (the paper's or a user's variant).

**Cost model.** An attempt runs checks in order until one fails (or all pass).
It pays each check it runs, the lock acquisitions of a stage just before the
first check that needs it (the scheduler lock; then the two thread locks), and
on failure the release of every lock held. An attempt that passes everything
pays every check and every lock whatever the order, so only failing attempts
are affected by reordering.

**Independent checks, no constraints.** The expected cost is
``sum_k c_k * prod_{j<k} (1 - q_j)`` for costs ``c`` and failure probabilities
``q``; an exchange argument (swap two neighbours) shows that sorting by
``c / q`` ascending is optimal (cheap checks that often fail first).

**What we do instead.** Checks are not independent (a handler that is not
waiting is also busy in other ways), they have data dependencies (nothing
may dereference the handler before ``handler_present``), and lock costs depend
on the set already run. So we minimise the expected cost exactly, for the
*measured joint distribution* of check outcomes: the check profile records,
at each fastpath decision, which checks pass (a bit mask). A dynamic program
over subsets ``S`` of checks already passed,

    F(S) = min over runnable i not in S of
           locks(i, S) + c_i + P(i fails | S passed) * release(S + i)
                       + P(i passes | S passed) * F(S + i),

with the conditional probabilities counted from the masks, is optimal for that
distribution under the dependency constraints (O(2^n * n), n <= 11 here).

**How far from the real optimum.** Exact for the recorded masks; the masks
are evaluated at the moment the paper-order fastpath decided, so a different
order (which takes locks at other moments) may see slightly different check
outcomes under contention. The simulation of the optimized order measures the
real effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from l4sim.kernel.checks import Check, Stage, locks_held
from l4sim.kernel.costs import Costs


def unique_masks(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct check masks of some fastpath attempts, and how often each occurred."""
    return np.unique(np.asarray(masks, dtype=np.int64), return_counts=True)


def expected_cost(
    order: tuple[Check[Any], ...],
    paper: tuple[Check[Any], ...],
    masks: np.ndarray,
    counts: np.ndarray,
    costs: Costs,
) -> float:
    """Mean cycles per attempt of running ``order`` on the recorded masks.

    ``paper`` is the list the masks' bits refer to (bit i: ``paper[i]`` passed).
    """
    index = {check.name: i for i, check in enumerate(paper)}
    total = 0.0
    for mask, count in zip(masks.tolist(), counts.tolist(), strict=True):
        spent, stage = 0, Stage.LOCK_FREE
        for check in order:
            if check.stage > stage:
                spent += (locks_held(check.stage) - locks_held(stage)) * costs.lock_acquire
                stage = check.stage
            spent += getattr(costs, check.cost)
            if not mask >> index[check.name] & 1:
                spent += locks_held(stage) * costs.lock_release
                break
        total += spent * count
    return total / counts.sum()  # type: ignore[no-any-return]  # (a numpy float)


def optimal_order(
    paper: tuple[Check[Any], ...], masks: np.ndarray, counts: np.ndarray, costs: Costs
) -> tuple[Check[Any], ...]:
    """The order minimising the expected cycles per attempt on these masks (see above)."""
    n = len(paper)
    full = (1 << n) - 1
    position = {check.name: i for i, check in enumerate(paper)}
    needs = [sum(1 << position[name] for name in check.needs) for check in paper]
    cost = [getattr(costs, check.cost) for check in paper]
    stages = [check.stage for check in paper]
    masks = masks.astype(np.int64)
    counts = counts.astype(np.float64)

    def stage_of(subset: int) -> Stage:
        return max((stages[i] for i in range(n) if subset >> i & 1), default=Stage.LOCK_FREE)

    best: dict[int, tuple[float, int]] = {full: (0.0, -1)}
    # visit subsets from the largest down, so F(S + i) is known when F(S) is computed
    for subset in sorted(range(full), key=lambda s: -bin(s).count("1")):
        passing = counts[(masks & subset) == subset]
        reached = passing.sum()
        held = stage_of(subset)
        choice = None
        for i in range(n):
            if subset >> i & 1 or (needs[i] & subset) != needs[i]:
                continue
            after = subset | 1 << i
            new_stage = max(held, stages[i])
            step = cost[i] + (locks_held(new_stage) - locks_held(held)) * costs.lock_acquire
            # never reached in the data: any order is as good
            ok = counts[(masks & after) == after].sum() / reached if reached > 0 else 1.0
            value = (
                step + (1 - ok) * locks_held(new_stage) * costs.lock_release + ok * best[after][0]
            )
            if choice is None or value < choice[0] - 1e-12:
                choice = (value, i)
        best[subset] = choice  # type: ignore[assignment]  # (every subset but the full has a next check)
    order, subset = [], 0
    while subset != full:
        i = best[subset][1]
        order.append(paper[i])
        subset |= 1 << i
    return tuple(order)


def optimize(
    attempts: dict[str, np.ndarray], fastpaths: dict[str, tuple[Check[Any], ...]], costs: Costs
) -> dict[str, Any]:
    """For each fastpath with profiled attempts: the optimal order and both expected costs.

    ``attempts[kind]`` are the check masks of that fastpath's attempts (bits
    in the order of ``fastpaths[kind]``, the list the kernel was built with).
    """
    result = {}
    for kind, paper in fastpaths.items():
        masks = attempts.get(kind)
        if masks is None or len(masks) == 0:
            continue
        masks, counts = unique_masks(masks)
        order = optimal_order(paper, masks, counts, costs)
        result[kind] = {
            "order": [check.name for check in order],
            "attempts": int(counts.sum()),
            "expected_cycles_paper": expected_cost(paper, paper, masks, counts, costs),
            "expected_cycles_optimized": expected_cost(order, paper, masks, counts, costs),
        }
    return result
