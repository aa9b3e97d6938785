"""Searched fastpath designs under the invariant checker and the equivalence property.

Every design the search reports on the benchmarks is checked (checker under
stress on 2 and 4 CPUs, fastpath on vs off) before it is used; here the same
designs also face hypothesis's random workloads, and a deliberately unsafe
design (a check on mutable state hoisted on a forged proof) is caught.
"""

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings

from l4sim.design.immutability import proven_immutable
from l4sim.simulation.resolution import Resolution
from l4sim.simulation.simulate import simulate
from l4sim.sweep.fastpath_designs import design_proposals, resolve_design, verify_design
from l4sim.sweep.scenario import point_from_dict
from l4sim.workloads.base import Point

from ..behaviour import assert_same_behaviour
from .test_equivalence import RUNS, workloads

POINTS = {
    "ipc_4_clients_heavy": {"workload": "ipc_bench", "clients": 4, "wait_factor": 10.0},
    "ipc_2_clients": {"workload": "ipc_bench", "clients": 2, "wait_factor": 1000.0},
    "syscall_2_threads": {"workload": "syscall_bench", "threads": 2, "wait_factor": 10.0},
}


def _point(name: str, **extra):
    return point_from_dict(
        {
            **POINTS[name],
            "fastpath_ipc": True,
            "events": 600,
            "warmup_events": 60,
            "fastpath_design": "optimized",
            **extra,
        }
    )


def _designed(ipc_design: list[str]) -> Resolution:
    """The IPC fastpath run with ``ipc_design``, on the static scan's proof."""
    fastpaths = _point("ipc_2_clients").fastpaths()
    return Resolution(design={"ipc": ipc_design}, proven_immutable=proven_immutable(fastpaths))


@cache
def _reported(name: str) -> dict:
    return design_proposals(_point(name))


@pytest.mark.parametrize("name", list(POINTS))
def test_every_reported_design_passed_its_checks(name):
    found = _reported(name)
    assert found, "the profiling run made fastpath attempts"
    for kind, entry in found.items():
        assert entry["verdict"] is None, f"{kind}: {entry['verdict']}"
        assert entry["optimized"]["expected_cycles"] <= entry["paper"]["expected_cycles"]
    assert resolve_design(_point(name)).design == {
        kind: entry["optimized"]["design"] for kind, entry in found.items()
    }


def test_the_heavy_ipc_designs_move_each_operations_failing_checks_before_the_lock():
    found = _reported("ipc_4_clients_heavy")
    call, reply_wait = (found[key]["optimized"]["design"] for key in ("ipc.call", "ipc.reply_wait"))
    # a Call from another CPU fails on the destination's CPU, a field never written
    assert "hoisted:destination_on_this_cpu" in call
    # a ReplyWait fails when a client is queued on the server: prechecked without the
    # lock; a Call never fails there, and its design does not pay for the precheck
    assert "early:no_sender_queued" in reply_wait
    assert "early:no_sender_queued" not in call
    # both hand what their lock-free checks decoded to the slowpath
    for design in (call, reply_wait):
        assert design[:2] == ["handover:simple_message", "handover:valid_destination"]


def test_each_operation_runs_its_own_design():
    """The kernel runs a Call's design for Calls and a ReplyWait's for ReplyWaits.

    Where they fall back tells (a precheck's exit point is its own).
    """
    point = _point("ipc_4_clients_heavy")
    resolution = resolve_design(point)
    assert set(resolution.design) == {"ipc.call", "ipc.reply_wait"}
    events = simulate(point, 0, resolution=resolution).events
    ipc = events[events["kind"] == "ipc"]
    clients = ipc["thread_name"].astype(str).str.startswith("client")
    exits = ipc["exit_point"].astype(str)
    assert (exits[~clients] == "no_sender_queued_early").any()
    assert not (exits[clients] == "no_sender_queued_early").any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_reported_designs_keep_the_behaviour_on_random_workloads(workload):
    RUNS["examples"] += 1
    designs = {}
    for name in POINTS:
        for kind, entry in _reported(name).items():
            designs.setdefault(kind, entry["optimized"]["design"])
    proof = proven_immutable(_point("ipc_4_clients_heavy").fastpaths())
    fast = workload.run(True, fastpath_ipc=True, design=designs, proven_immutable=proof)
    assert_same_behaviour(fast, workload.run(False))
    assert sum(map(len, fast.values())) > 0


UNSAFE = [
    "simple_message",
    "valid_destination",
    "call_or_reply_wait",
    "hoisted:destination_on_this_cpu",
    "early:no_sender_queued",
    "hoisted:destination_waiting",
    "priority_and_domain",
    "destination_partner",
    "no_pending_notification",
    "valid_space",
    "recheck:no_sender_queued",
]


def test_an_unsafe_hoist_is_refused_without_a_forged_proof():
    with pytest.raises(ValueError, match="destination_waiting cannot be hoisted"):
        simulate(_point("ipc_4_clients_heavy"), resolution=_designed(UNSAFE))


def test_an_unsafe_hoist_on_a_forged_proof_is_caught_and_rejected(monkeypatch):
    """Test-only: claim the destination's state is never written, hoist the check on it."""
    forged = proven_immutable(_point("ipc_2_clients").fastpaths()) | {"state", "reply_from"}
    monkeypatch.setattr(Point, "proven_immutable", lambda self: forged)
    verdict = verify_design(_point("ipc_2_clients"), {"ipc": UNSAFE})
    assert verdict is not None and verdict.startswith("2 CPUs, stress 100")
    assert "stale-read" in verdict and "destination_waiting" in verdict


def test_a_design_gives_the_paper_design_s_records_where_it_moves_nothing():
    point = _point("ipc_2_clients", fastpath_design="paper")
    plain = {"ipc": [c.name for c in point.fastpaths()["ipc"]]}
    first = simulate(point, 0)
    second = simulate(point, 0, resolution=_designed(plain["ipc"]))
    assert first.events.equals(second.events)
