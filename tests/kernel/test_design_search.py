"""The design search against brute force, and its greedy rule's measured gap."""

import numpy as np
import pytest

from l4sim.design.search import LockWaits, expected_cycles, propose, search
from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.costs import load_profile
from l4sim.kernel.fastpath_design import apply_design, hoistable, paper_design, parse_step

COSTS = load_profile("vmxl4-pandaboard")
WAITS = LockWaits(scheduler=120.0, threads=10.0, waiters_per_held_cycle=0.4)
# the same measured under a big kernel lock: one lock, its wait, its hold times
BIG_LOCK_WAITS = LockWaits(scheduler=300.0, waiters_per_held_cycle=2.5, big_lock=True)


def _checks():
    """A small fastpath of four checks.

    A root two others dereference (it decodes, as a destination's lookup
    does), two scheduler checks (one on an immutable field, one on the
    current thread's own queue), one thread-lock check.
    """
    return (
        Check("root", Stage.LOCK_FREE, "check_pointer_chase", lambda c: True, "root", decodes=True),
        Check(
            "fixed",
            Stage.SCHEDULER,
            "check_load_compare",
            lambda c: True,
            "immutable",
            needs=("root",),
            reads=("cpu",),
        ),
        Check(
            "busy",
            Stage.SCHEDULER,
            "check_pointer_chase",
            lambda c: True,
            "mutable",
            reads=("state",),
        ),
        Check(
            "ipc",
            Stage.THREADS,
            "check_bitmap",
            lambda c: True,
            "mutable",
            needs=("root",),
            reads=("partner",),
        ),
    )


PROVEN = frozenset({"cpu"})


def every_design(checks, proven):
    """Every valid design of ``checks``: each order of plain, hoisted, early and recheck steps."""
    names = [c.name for c in checks]
    by_name = {c.name: c for c in checks}
    depended = {n for c in checks for n in c.needs}

    def extend(prefix, placed, early, locked):
        if len(placed) == len(names) and not early:
            yield list(prefix)
            return
        for name in names:
            check = by_name[name]
            if name in placed or not set(check.needs) <= placed:
                if name in early:
                    yield from extend(
                        [*prefix, f"recheck:{name}"], placed | {name}, early - {name}, True
                    )
                continue
            if name in early:
                yield from extend(
                    [*prefix, f"recheck:{name}"], placed | {name}, early - {name}, True
                )
                continue
            yield from extend(
                [*prefix, name], placed | {name}, early, locked or check.stage > Stage.LOCK_FREE
            )
            if check.decodes:
                yield from extend([*prefix, f"handover:{name}"], placed | {name}, early, locked)
            if hoistable(check, proven):
                yield from extend([*prefix, f"hoisted:{name}"], placed | {name}, early, locked)
            elif check.stage > Stage.LOCK_FREE and not locked and name not in depended:
                yield from extend([*prefix, f"early:{name}"], placed, early | {name}, locked)

    seen = set()
    for design in extend([], frozenset(), frozenset(), False):
        if tuple(design) not in seen:
            seen.add(tuple(design))
            yield design


@pytest.mark.parametrize("waits", [WAITS, BIG_LOCK_WAITS], ids=["fine", "big_lock"])
@pytest.mark.parametrize("seed", range(6))
def test_the_search_finds_the_cheapest_of_every_design(seed, waits):
    rng = np.random.default_rng(seed)
    checks = _checks()
    masks = rng.integers(0, 16, 12) | 1  # the root always passes here
    counts = rng.integers(1, 50, 12)
    designs = list(every_design(checks, PROVEN))
    assert len(designs) > 100
    for design in designs:
        apply_design(checks, design, PROVEN)  # the enumeration makes only valid designs
    brute = min(expected_cycles(checks, d, masks, counts, COSTS, waits) for d in designs)
    found = search(checks, masks, counts, COSTS, waits, PROVEN)
    assert expected_cycles(checks, found, masks, counts, COSTS, waits) == pytest.approx(brute)
    assert found[0] == "handover:root"  # it never costs, and a fallback after it gains
    orders = [d for d in designs if all(parse_step(s)[0] == "plain" for s in d)]
    best_order = min(expected_cycles(checks, d, masks, counts, COSTS, waits) for d in orders)
    reordered = search(checks, masks, counts, COSTS, waits, moves=False)
    assert expected_cycles(checks, reordered, masks, counts, COSTS, waits) == pytest.approx(
        best_order
    )


def test_a_handed_over_decoding_spares_each_later_fallback_its_cycles():
    checks = _checks()
    busy = 1 | 2 | 8  # "busy" fails after the root passed
    masks, counts = np.array([busy]), np.array([1])
    plain = ["root", "fixed", "busy", "ipc"]
    handed = ["handover:root", "fixed", "busy", "ipc"]
    saved = expected_cycles(checks, plain, masks, counts, COSTS, WAITS) - expected_cycles(
        checks, handed, masks, counts, COSTS, WAITS
    )
    assert saved == pytest.approx(COSTS.check_pointer_chase)  # the root's own cycles
    # under a big lock the slowpath decodes under the lock: each cycle spared counts more
    saved_big = expected_cycles(checks, plain, masks, counts, COSTS, BIG_LOCK_WAITS) - (
        expected_cycles(checks, handed, masks, counts, COSTS, BIG_LOCK_WAITS)
    )
    assert saved_big == pytest.approx(COSTS.check_pointer_chase * 3.5)


def test_under_a_big_lock_only_the_cycles_under_it_differ():
    """Under a big lock a design changes only how many cycles run under it.

    Every attempt takes the big lock once (a fallback before it, in the
    slowpath); each cycle under it is weighed by the waiters it keeps spinning.
    """
    checks = _checks()
    everything = np.array([15])
    one = np.array([1])
    under = expected_cycles(
        checks, ["root", "fixed", "busy", "ipc"], everything, one, COSTS, BIG_LOCK_WAITS
    )
    hoisted = expected_cycles(
        checks, ["root", "hoisted:fixed", "busy", "ipc"], everything, one, COSTS, BIG_LOCK_WAITS
    )
    assert under - hoisted == pytest.approx(COSTS.check_load_compare * 2.5)
    # falling back before the lock pays the slowpath's taking it, as one under it does
    fails_first = np.array([1 | 4 | 8])  # "fixed" fails
    before = expected_cycles(
        checks, ["root", "hoisted:fixed", "busy", "ipc"], fails_first, one, COSTS, BIG_LOCK_WAITS
    )
    after = expected_cycles(
        checks, ["root", "busy", "fixed", "ipc"], fails_first, one, COSTS, BIG_LOCK_WAITS
    )
    lock = COSTS.lock_acquire + BIG_LOCK_WAITS.scheduler
    assert before == pytest.approx(COSTS.check_pointer_chase + COSTS.check_load_compare + lock)
    assert after == pytest.approx(
        COSTS.check_pointer_chase
        + lock
        + (COSTS.check_pointer_chase + COSTS.check_load_compare) * 3.5
    )
    # with nothing failing, a precheck only adds cycles: the search hoists, never prechecks
    design = search(checks, everything, one, COSTS, BIG_LOCK_WAITS, PROVEN)
    assert "hoisted:fixed" in design and not any(s.startswith("early:") for s in design)


def test_prechecks_pay_off_when_the_locked_check_fails_often():
    checks = _checks()
    busy = 1 | 2 | 8  # "busy" fails, everything else passes
    design = search(checks, np.array([busy, 15]), np.array([9, 1]), COSTS, WAITS, PROVEN)
    assert "early:busy" in design[:2] and design[-1] == "recheck:busy"
    # and never when it does not fail: the precheck would only add its cost
    assert not any(
        s.startswith("early:")
        for s in search(checks, np.array([15]), np.array([1]), COSTS, WAITS, PROVEN)
    )


def test_the_greedy_rule_is_never_better_than_the_exact_search():
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    rng = np.random.default_rng(3)
    masks = rng.random((400, len(IPC_CHECKS))) > rng.random(len(IPC_CHECKS)) * 0.4
    masks = (masks * (1 << np.arange(len(IPC_CHECKS)))).sum(axis=1) | 0b10  # destination
    proven = frozenset({"cpu", "space", "valid"})
    values, counts = np.unique(masks, return_counts=True)
    exact = search(IPC_CHECKS, values, counts, COSTS, WAITS, proven)
    greedy = search(IPC_CHECKS, values, counts, COSTS, WAITS, proven, exact=False)
    cost = {
        name: expected_cycles(IPC_CHECKS, d, values, counts, COSTS, WAITS)
        for name, d in (("exact", exact), ("greedy", greedy), ("paper", paper_design(IPC_CHECKS)))
    }
    assert cost["exact"] <= cost["greedy"] + 1e-9 and cost["exact"] < cost["paper"]


def test_propose_reports_three_designs_that_apply():
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    masks = np.array([(1 << 10) - 1 - 8, (1 << 10) - 1])  # destination on another CPU, or not
    found = propose(IPC_CHECKS, masks, np.array([3, 1]), COSTS, WAITS, frozenset({"cpu"}))
    assert set(found) == {"paper", "reordered", "optimized"}
    assert "hoisted:destination_on_this_cpu" in found["optimized"]["design"]
    assert (
        found["optimized"]["expected_cycles"]
        < found["reordered"]["expected_cycles"]
        <= found["paper"]["expected_cycles"] + 1e-9
    )
