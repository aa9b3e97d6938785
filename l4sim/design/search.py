"""The search for a fastpath design: orders x hoists x prechecks, least cycles per attempt.

A design (:mod:`l4sim.kernel.fastpath_design`) runs a fastpath's checks in
some order, some of them hoisted before any lock (on a proof that they read
only immutable fields) and some prechecked early without their lock (and
checked again under it before the commit). This module finds the design with
the least expected cycles per fastpath attempt.

**Cost model.** For the measured joint distribution of check outcomes (the
check profile's masks, evaluated when the paper's fastpath decided), an
attempt runs the steps until one fails, and pays:

- each check's cost;
- at the first step that needs a stage, that stage's lock acquisitions plus
  the measured lock wait of taking it (:class:`LockWaits`: cycles spun and
  cache lines moved, from the profiling run);
- every cycle spent while holding the global scheduler lock counts
  ``1 + waiters_per_held_cycle`` times: each cycle it is held keeps, on
  average, that many other CPUs spinning one cycle longer (measured: cycles
  waited for locks / cycles the scheduler lock was held). This is how the
  model sees that taking the lock earlier lengthens its hold times;
- on a failure, the release of what is held; on success, the locks the
  commit needs (the same for every design);
- a precheck's recheck under the lock, on attempts that pass everything (in
  the model a precheck and its recheck give the same answer, so a recheck
  never fails: placing every recheck last, just before the commit, is
  optimal, by exchange: moving a step that never fails later never adds a
  cost);
- on a failure after checks that decode (``Check.decodes``) and were handed
  over, minus the slowpath's decoding they spare it (at most its
  ``ipc_decode``). Handing over costs nothing, so the search hands over
  every decoding check it may.

**Under a big kernel lock** (``LockWaits.big_lock``: seL4's SMP kernel) every
stage above the lock-free one is the one lock: the first step that needs a
lock takes it (its acquisition and the measured wait), later stages take
nothing more, and every cycle under it counts ``1 + waiters_per_held_cycle``
times. A failure under the lock releases nothing (the slowpath goes on under
it); a failure before the lock pays the slowpath's taking of it (so every
attempt takes the lock once, whatever the design). What a design changes
there is only how many cycles run under the lock.

**Search.** A dynamic program over (checks passed, locks held): in each state
it tries every check whose dependencies have passed, in every way it may run
(plain at its stage; hoisted, if the proof allows; early, before any lock is
taken). Under the model it is exact: every design is a path through these
states, and the expected cost of a path adds up along it. ``O(3 * 2^n * n)``:
milliseconds for the paper's 10 and 11 checks. Above ``EXACT_LIMIT`` checks
(a user's long list) a greedy rule runs instead: at each state the step with
the least cost per unit of failure probability (the ``c / q`` rule that is
optimal for independent checks, here with lock costs inside ``c``); its gap
to the exact search is measured on the paper's lists
(``tests/kernel/test_design_search.py``, docs/background/fastpath-design.md).

**How far from the real optimum.** The masks were recorded by the paper's
design; a design that takes locks at other moments may see slightly
different outcomes, and an early check may read a value that is stale by the
time of the lock. The lock waits themselves change with the design. The
simulation of the design measures the real effect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from l4sim.design.order import optimal_order
from l4sim.kernel.checks import Check, Stage, locks_held
from l4sim.kernel.costs import Costs
from l4sim.kernel.fastpath_design import (
    EARLY,
    HANDOVER,
    HOISTED,
    PLAIN,
    RECHECK,
    apply_design,
    hoistable,
    paper_design,
    parse_step,
    step,
)

EXACT_LIMIT = 14  # checks: above, the greedy rule (the exact search grows as 3 * 2^n * n)


@dataclass(frozen=True)
class LockWaits:
    """Measured lock contention of one fastpath, from a profiling run.

    ``scheduler``: mean cycles a fastpath attempt waits (spins, plus cache
    lines moved) to take the scheduler lock (its first lock); ``threads``: the same for the
    two thread locks once it holds the scheduler lock (zero in this kernel:
    every thread-lock acquisition happens under the scheduler lock, so thread
    locks are never waited for); ``waiters_per_held_cycle``: other CPUs kept
    spinning per cycle the scheduler lock is held.
    """

    scheduler: float = 0.0
    threads: float = 0.0
    waiters_per_held_cycle: float = 0.0
    # measured under a big kernel lock: ``scheduler`` is that lock's wait, and every
    # stage above the lock-free one is that one lock
    big_lock: bool = False

    def to_stage(self, stage: Stage) -> float:
        """Cycles waited to take every lock up to ``stage`` from none held."""
        return {
            Stage.LOCK_FREE: 0.0,
            Stage.SCHEDULER: self.scheduler,
            Stage.THREADS: self.scheduler + self.threads,
        }[stage]


NO_WAITS = LockWaits()


class _Model:
    """The costs of one fastpath's steps, shared by the search and the evaluation."""

    def __init__(
        self,
        checks: tuple[Check[Any], ...],
        costs: Costs,
        waits: LockWaits,
        proven_immutable: frozenset[str],
    ) -> None:
        self.checks = checks
        self.n = len(checks)
        self.position = {}
        for i, check in enumerate(checks):
            self.position[check.name] = i
        # a check others depend on must have passed under its locks before they run:
        # it is never only prechecked
        depended: set[str] = set()
        for check in checks:
            depended.update(check.needs)
        self.cost, self.stage, self.needs, self.hoistable, self.may_precheck = [], [], [], [], []
        # a lock-free check that does part of the slowpath's decoding: it may hand it over
        self.decodes: list[bool] = []
        for check in checks:
            self.decodes.append(check.decodes and check.stage == Stage.LOCK_FREE)
            self.cost.append(float(getattr(costs, check.cost)))
            self.stage.append(check.stage)
            self.needs.append(sum(1 << self.position[name] for name in check.needs))
            movable = hoistable(check, proven_immutable)
            self.hoistable.append(movable)
            self.may_precheck.append(
                check.stage > Stage.LOCK_FREE and not movable and check.name not in depended
            )
        self.acquire = float(costs.lock_acquire)
        self.release = float(costs.lock_release)
        self.waits = waits
        self.big_lock = waits.big_lock
        self.weight = 1.0 + waits.waiters_per_held_cycle
        # what the slowpath's decoding costs: no fallback can be spared more
        self.decoding = float(costs.ipc_decode)

    def held_factor(self, held: Stage) -> float:
        return self.weight if held >= Stage.SCHEDULER else 1.0

    def handed(self, decoded: float) -> float:
        """Cycles a fallback spares the slowpath, ``decoded`` cycles having been handed over.

        Under a big lock the slowpath, and so its decoding, runs under it.
        """
        spared = min(decoded, self.decoding)
        return spared * self.weight if self.big_lock else spared

    def take(self, held: Stage, new: Stage) -> float:
        """Cycles to go from holding ``held``'s locks to holding ``new``'s."""
        if new <= held:
            return 0.0
        if self.big_lock:  # the one lock, taken at the first stage that needs a lock
            return self.acquire + self.waits.scheduler if held == Stage.LOCK_FREE else 0.0
        acquire = (locks_held(new) - locks_held(held)) * self.acquire
        wait = self.waits.to_stage(new) - self.waits.to_stage(held)
        if held >= Stage.SCHEDULER:  # the thread locks, taken under the scheduler lock
            return (acquire + wait) * self.weight
        # the scheduler lock's own acquisition, then (if needed) the thread locks under it
        sched = self.acquire + self.waits.scheduler
        return sched + (acquire - self.acquire + wait - self.waits.scheduler) * self.weight

    def drop(self, held: Stage) -> float:
        """Releasing every held lock (the scheduler lock last).

        Under a big lock: nothing once it is held (the slowpath goes on under
        it), else the slowpath's taking it.
        """
        if self.big_lock:
            return self.acquire + self.waits.scheduler if held == Stage.LOCK_FREE else 0.0
        count = locks_held(held)
        return self.release * (1 + (count - 1) * self.weight) if count else 0.0


def _superset_counts(masks: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """``reach[S]``: attempts in which every check of the subset ``S`` passed."""
    table = np.zeros(1 << n, dtype=np.float64)
    np.add.at(
        table,
        np.asarray(masks, dtype=np.int64) & ((1 << n) - 1),
        np.asarray(counts, dtype=np.float64),
    )
    for bit in range(n):
        view = table.reshape(-1, 2, 1 << bit)
        view[:, 0, :] += view[:, 1, :]  # a set without the bit gains its supersets with it
    return table


def search(
    checks: tuple[Check[Any], ...],
    masks: np.ndarray,
    counts: np.ndarray,
    costs: Costs,
    waits: LockWaits = NO_WAITS,
    proven_immutable: frozenset[str] = frozenset(),
    moves: bool = True,
    exact: bool | None = None,
) -> list[str]:
    """The design with the least expected cycles per attempt on these masks (see above).

    ``moves=False`` searches orders only (no hoist, no precheck): the order
    optimizer's space, under this cost model. ``exact`` forces the exact
    search or the greedy rule (default: exact up to ``EXACT_LIMIT`` checks).
    """
    model = _Model(checks, costs, waits, proven_immutable if moves else frozenset())
    n = model.n
    reach = _superset_counts(masks, counts, n)
    full = (1 << n) - 1
    total_pass = reach[full]
    decoded = _decoded(model, moves)
    exact = n <= EXACT_LIMIT if exact is None else exact

    Step = tuple[str, int, Stage]  # (how, check, locks held after)

    def options(subset: int, held: Stage) -> Iterator[Step]:
        """(how, check, locks held after) for every step that may run now."""
        for i in range(n):
            if subset >> i & 1 or (model.needs[i] & subset) != model.needs[i]:
                continue
            stage = model.stage[i]
            if model.decodes[i] and moves:
                yield HANDOVER, i, held
            elif stage == Stage.LOCK_FREE or (model.hoistable[i] and moves):
                yield (HOISTED if stage > Stage.LOCK_FREE else PLAIN), i, held
            if stage > Stage.LOCK_FREE:
                yield PLAIN, i, max(held, stage)
                if moves and held == Stage.LOCK_FREE and model.may_precheck[i]:
                    yield EARLY, i, held

    def step_value(
        subset: int, held: Stage, how: str, i: int, after: Stage, future: float
    ) -> tuple[float, float]:
        """(expected cycles from here taking this step, its failure probability)."""
        reached = reach[subset]
        ok = reach[subset | 1 << i] / reached if reached > 0 else 1.0
        value = model.take(held, after) + model.cost[i] * model.held_factor(after)
        value += (1 - ok) * (model.drop(after) - model.handed(decoded[subset]))
        value += ok * future
        if how == EARLY and reached > 0:  # its recheck, on attempts that pass everything
            value += total_pass / reached * model.cost[i] * model.weight
        return value, 1 - ok

    def as_listed(subset: int, held: Stage) -> Step:
        # where the data never reach (every cost weighted by zero): the next check of
        # the list, where it belongs, so that the design moves nothing it need not
        return next(
            (how, i, after) for how, i, after in options(subset, held) if how in (PLAIN, HANDOVER)
        )

    def finish(held: Stage) -> float:
        return model.take(held, Stage.THREADS)

    if exact:
        best: dict[tuple[int, Stage], tuple[float, Step | None]] = {}
        for held in Stage:
            best[(full, held)] = (finish(held), None)
        for subset in range(full - 1, -1, -1):  # S + i > S: successors come first
            for held in Stage:
                choice = None
                if reach[subset] == 0:
                    how, i, after = as_listed(subset, held)
                    best[(subset, held)] = (best[(subset | 1 << i, after)][0], (how, i, after))
                    continue
                for how, i, after in options(subset, held):
                    future = best[(subset | 1 << i, after)][0]
                    value, _ = step_value(subset, held, how, i, after, future)
                    if choice is None or value < choice[0] - 1e-9:
                        choice = (value, (how, i, after))
                if choice is not None:
                    best[(subset, held)] = choice

        def chooser(subset: int, held: Stage) -> Step | None:
            return best[(subset, held)][1]
    else:

        def chooser(subset: int, held: Stage) -> Step | None:
            if reach[subset] == 0:
                return as_listed(subset, held)
            ranked = []
            for how, i, after in options(subset, held):
                cost, fail = step_value(subset, held, how, i, after, 0.0)
                ranked.append((cost / max(fail, 1e-9), how, i, after))
            return min(ranked)[1:]

    return _walk(checks, chooser, full)


def _decoded(model: _Model, moves: bool) -> np.ndarray:
    """Per subset of checks passed, the decoding cycles a fallback then hands over.

    The search hands over every check that decodes (when it may move checks).
    """
    decoded = np.zeros(1 << model.n)
    for i in range(model.n):
        if model.decodes[i] and moves:
            decoded.reshape(-1, 2, 1 << i)[:, 1, :] += model.cost[i]
    return decoded


def _walk(
    checks: tuple[Check[Any], ...],
    chooser: Callable[[int, Stage], tuple[str, int, Stage] | None],
    full: int,
) -> list[str]:
    """The design the chooser picks, step by step from no check passed; rechecks last."""
    design, rechecks = [], []
    subset, held = 0, Stage.LOCK_FREE
    while subset != full:
        how, i, held = chooser(subset, held)  # type: ignore[misc]  # (a step until full)
        name = checks[i].name
        design.append(step(how, name))
        if how == EARLY:
            rechecks.append(step(RECHECK, name))
        subset |= 1 << i
    return design + rechecks


def expected_cycles(
    checks: tuple[Check[Any], ...],
    design: list[str],
    masks: np.ndarray,
    counts: np.ndarray,
    costs: Costs,
    waits: LockWaits = NO_WAITS,
) -> float:
    """Mean cycles per attempt of running ``design`` on the recorded masks (the model above).

    Evaluated step by step, independently of the search (the tests hold one
    against the other).
    """
    model = _Model(checks, costs, waits, frozenset())
    steps = [parse_step(text) for text in design]
    total = 0.0
    for mask, count in zip(np.asarray(masks).tolist(), np.asarray(counts).tolist(), strict=True):
        spent, held, decoded = 0.0, Stage.LOCK_FREE, 0.0
        failed = False
        for how, name in steps:
            i = model.position[name]
            stage = Stage.LOCK_FREE if how in (HOISTED, EARLY) else model.stage[i]
            after = max(held, stage)
            spent += model.take(held, after) + model.cost[i] * model.held_factor(after)
            held = after
            if not mask >> i & 1:
                spent += model.drop(held) - model.handed(decoded)
                failed = True
                break
            if how == HANDOVER:
                decoded += model.cost[i]
        if not failed:
            spent += model.take(held, Stage.THREADS)
        total += spent * count
    return total / float(np.sum(counts))


def propose(
    checks: tuple[Check[Any], ...],
    masks: np.ndarray,
    counts: np.ndarray,
    costs: Costs,
    waits: LockWaits,
    proven_immutable: frozenset[str],
) -> dict[str, Any]:
    """The paper's list, the order optimizer's order and the best design, with their cycles.

    ``reordered`` is the order optimizer's, which minimises the same cost
    without lock waits; each design comes with its expected cycles.
    """
    designs = {
        "paper": paper_design(checks),
        "reordered": [c.name for c in optimal_order(checks, masks, counts, costs)],
        "optimized": search(checks, masks, counts, costs, waits, proven_immutable),
    }
    for design in designs.values():
        apply_design(checks, design, proven_immutable)  # the search only makes valid ones
    return {
        name: {
            "design": design,
            "expected_cycles": expected_cycles(checks, design, masks, counts, costs, waits),
        }
        for name, design in designs.items()
    }
