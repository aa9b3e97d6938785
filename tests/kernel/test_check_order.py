"""The optimal check order: exact against brute force, and the classic c/q rule."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from l4sim.analysis.check_profile import never_written_fields
from l4sim.design.order import expected_cost, optimal_order
from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.costs import load_profile

COSTS = load_profile("vmxl4-pandaboard")
COST_KEYS = ("check_load_compare", "check_pointer_chase", "check_bitmap")


def _checks(stages, cost_keys, needs):
    checks = []
    for i, (stage, key) in enumerate(zip(stages, cost_keys, strict=True)):
        deps = tuple(f"c{j}" for j in needs.get(i, ()) if j < i)
        checks.append(Check(f"c{i}", Stage(stage), key, lambda c: True, "", needs=deps))
    return tuple(checks)


def _valid(order):
    seen = set()
    for check in order:
        if not set(check.needs) <= seen:
            return False
        seen.add(check.name)
    return True


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 5), data=st.data())
def test_dynamic_program_matches_brute_force(n, data):
    stages = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    keys = data.draw(st.lists(st.sampled_from(COST_KEYS), min_size=n, max_size=n))
    needs = {i: data.draw(st.lists(st.integers(0, n - 1), max_size=1)) for i in range(n)}
    checks = _checks(stages, keys, needs)
    masks = np.array(data.draw(st.lists(st.integers(0, 2**n - 1), min_size=1, max_size=12)))
    masks, counts = np.unique(masks, return_counts=True)
    best = optimal_order(checks, masks, counts, COSTS)
    assert _valid(best)
    brute = min(
        expected_cost(order, checks, masks, counts, COSTS)
        for order in itertools.permutations(checks)
        if _valid(order)
    )
    assert abs(expected_cost(best, checks, masks, counts, COSTS) - brute) < 1e-9


def test_independent_lock_free_checks_sort_by_cost_over_failure_probability():
    rng = np.random.default_rng(1)
    keys = ("check_load_compare", "check_bitmap", "check_pointer_chase", "check_bitmap")
    fail = np.array([0.05, 0.5, 0.2, 0.01])
    checks = _checks([0, 0, 0, 0], keys, {})
    draws = rng.random((200_000, 4)) >= fail  # independent passes
    masks, counts = np.unique((draws * (1 << np.arange(4))).sum(axis=1), return_counts=True)
    order = optimal_order(checks, masks, counts, COSTS)
    ratio = {c.name: getattr(COSTS, c.cost) / fail[int(c.name[1:])] for c in checks}
    assert [c.name for c in order] == sorted(ratio, key=ratio.get)


def test_static_analysis_sees_mutations_through_containers():
    fields = never_written_fields()
    # written by the kernel: state, queues, the scheduler's ready queues
    assert not fields & {"state", "send_queue", "_ready", "partner", "pending_irqs"}
    # never changed after creation in this model: the checks reading them cannot fail
    assert {"resource_bits", "domain", "valid"} <= fields
