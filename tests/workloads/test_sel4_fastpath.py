"""seL4's fastpath checks as a built-in variant: its order, its costs, its safety."""

from pathlib import Path

import pytest

from l4sim.kernel.costs import load_profile
from l4sim.kernel.ipc_checks import IPC_CHECKS
from l4sim.sim.invariants import InvariantViolation
from l4sim.simulation.simulate import simulate
from l4sim.sweep import fastpath_designs
from l4sim.sweep.fastpath_designs import design_proposals, resolve_design, verify_design
from l4sim.sweep.scenario import ScenarioError, load_scenario, point_from_dict
from l4sim.workloads.base import Point
from l4sim.workloads.fastpath_variants import BUILTIN_VARIANTS, load_fastpath_variant
from l4sim.workloads.sel4_fastpath import CALL_ONLY, REPLY_RECV_ONLY, SEL4_IPC_CHECKS

from ..behaviour import assert_same_behaviour

ROOT = Path(__file__).parents[2]
CALIBRATED = ROOT / "scenarios" / "profiles" / "sabre-2026-04-28.toml"
# What that profile was calibrated on: sel4bench run 25037369522 (2026-04-28), SMP build,
# ipc_call_intra and ipc_reply_intra (seL4/sel4bench-results, 2026/sabre/SABRE_SMP_32.jsonl)
MEASURED_CALL, MEASURED_REPLY_RECV = 433.0, 491.0

# seL4/seL4 src/fastpath/fastpath.c (32-bit ARM, SMP, no MCS): each function's checks in
# source order, as this variant names them
FASTPATH_CALL = [
    "message_info",
    "endpoint_cap",
    "endpoint_state",
    "valid_vspace",
    "priority",
    "grant_reply",
    "valid_asid",
    "same_domain",
    "same_core",
]
FASTPATH_REPLY_RECV = [
    "message_info",
    "endpoint_cap",
    "no_bound_notification",
    "endpoint_state",
    "reply_cap",
    "caller_no_fault",
    "valid_vspace",
    "priority",
    "valid_asid",
    "same_domain",
    "same_core",
]


def sel4bench(cpus: int, **keys):
    """sel4bench's SMP benchmark at delay 500, seL4's settings (its defaults)."""
    return point_from_dict(
        {
            "workload": "sel4bench_smp",
            "profile": str(CALIBRATED),
            "cpus": cpus,
            "delay_cycles": 500,
            "events": 2000,
            "warmup_events": 200,
            "fastpath_checks": "sel4",
            **keys,
        }
    )


def clients(cpus: int, **keys):
    """The IPC benchmark, five clients of one server, under seL4's settings."""
    return point_from_dict(
        {
            "workload": "ipc_bench",
            "profile": str(CALIBRATED),
            "cpus": cpus,
            "clients": 5,
            "wait_factor": 1000.0,
            "kernel_lock": "big",
            "lock": "clh",
            "fastpath_syscall": False,
            "fastpath_ipc": True,
            "events": 2000,
            "warmup_events": 200,
            "fastpath_checks": "sel4",
            **keys,
        }
    )


def test_the_variant_is_built_in_and_keeps_each_functions_order():
    checks = load_fastpath_variant("sel4")["ipc"]
    assert checks == SEL4_IPC_CHECKS
    names = [check.name for check in checks]
    assert [n for n in names if n not in REPLY_RECV_ONLY] == FASTPATH_CALL
    assert [n for n in names if n not in CALL_ONLY] == FASTPATH_REPLY_RECV
    assert BUILTIN_VARIANTS["sel4"] == "l4sim.workloads.sel4_fastpath"


def test_a_scenario_names_it_without_a_path(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('workload = "sel4bench_smp"\nfastpath_checks = "sel4"\n')
    points = load_scenario(scenario).points()
    assert {point.fastpath_checks for point in points} == {"sel4"}
    with pytest.raises(ScenarioError, match=r"unknown fastpath variant 'sel5'.*known: sel4"):
        point_from_dict({"workload": "ipc_bench", "fastpath_checks": "sel5"})


def test_its_source_is_part_of_the_model_version():
    """Editing the built-in variant recomputes the runs that use it.

    As editing a built-in workload does: it is imported by name, not through a
    file a point names.
    """
    from l4sim.sweep.cache import file_contents
    from l4sim.sweep.model_version import model_sources

    assert "fastpath_checks" not in file_contents(
        {"workload": "ipc_bench", "fastpath_checks": "sel4"}
    )
    assert any(path.name == "sel4_fastpath.py" for path in model_sources())


@pytest.mark.parametrize("profile", ["sel4-sabre", str(CALIBRATED)])
def test_its_checks_cost_what_the_calibration_subtracts(profile):
    """The twelve checks of seL4 cost what the calibration subtracts for the paper's ten.

    The calibration takes the paper's IPC checks out of the measured totals:
    the same sum here, so the calibrated commit terms stand.
    """
    costs = load_profile(profile)
    assert sum(getattr(costs, c.cost) for c in SEL4_IPC_CHECKS) == sum(
        getattr(costs, c.cost) for c in IPC_CHECKS
    )


def test_it_reproduces_the_calibrated_call_and_reply_recv_on_one_core():
    result = simulate(sel4bench(1, events=4000, warmup_events=400, check_profile=True), 0)
    row = result.rows[0]
    assert row["call_cycles"] == pytest.approx(MEASURED_CALL, rel=0.01)
    assert row["reply_recv_cycles"] == pytest.approx(MEASURED_REPLY_RECV, rel=0.01)
    # every IPC went the fast way, through all twelve checks
    assert set(result.events["exit_point"].astype(str)) == {"fast_call", "fast_reply_wait"}
    every_check = (1 << len(SEL4_IPC_CHECKS)) - 1  # (the bit above: a Call)
    assert (result.events["check_mask"] & every_check == every_check).all()
    # and at the same cycles as the paper's list, which the profile was calibrated with
    paper = simulate(sel4bench(1, events=4000, warmup_events=400, fastpath_checks=""), 0)
    assert (row["call_cycles"], row["reply_recv_cycles"]) == (
        paper.rows[0]["call_cycles"],
        paper.rows[0]["reply_recv_cycles"],
    )


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_the_invariant_checker_is_clean_under_the_big_lock(cpus):
    """Pinned ping-pong pairs and five clients of one server, with stress jitter.

    The pairs always go fast; the clients make cross-core Calls to a busy
    server, and the fallbacks are seL4's own checks.
    """
    simulate(sel4bench(cpus, stress_jitter=100), 0, invariants=True)
    events = simulate(clients(cpus, stress_jitter=100), 0, invariants=True).events
    exits = set(events["exit_point"].astype(str))
    names = {check.name for check in SEL4_IPC_CHECKS}
    if cpus > 1:
        assert "same_core" in exits  # a Call to the server on another core
    assert exits <= names | {"fast_call", "fast_reply_wait"}


@pytest.mark.parametrize("kernel_lock", ["big", "fine"])
def test_fastpath_on_and_off_deliver_the_same_messages(kernel_lock):
    point = clients(3, kernel_lock=kernel_lock)
    on = simulate(point, 0, observe=True, invariants=True)
    off = simulate(point.model_copy(update={"fastpath_ipc": False}), 0, observe=True)
    assert (on.events["path"] == "fast").any()
    assert assert_same_behaviour(on.observations, off.observations) > 0


def test_a_reply_to_a_fault_takes_the_slowpath():
    """seL4 replies to a faulted caller in the slowpath: here, to a syscall exception."""
    point = point_from_dict(
        {"workload": "linux", "fastpath_ipc": True, "events": 600, "fastpath_checks": "sel4"}
    )
    events = simulate(point, 0, invariants=True).events
    exits = events[events["kind"] == "ipc"]["exit_point"].astype(str)
    assert (exits == "caller_no_fault").any() and (exits == "fast_reply_wait").any()


def test_without_its_smp_check_the_checker_catches_it(tmp_path):
    """The uniprocessor list of seL4 is not SMP-safe.

    Without the affinity check a Call to a server on another core switches to
    it here.
    """
    unsafe = tmp_path / "no_affinity.py"
    unsafe.write_text(
        "from l4sim.workloads.sel4_fastpath import SEL4_IPC_CHECKS\n"
        "FASTPATH_CHECKS = {'ipc': tuple(c for c in SEL4_IPC_CHECKS\n"
        "                            if c.name != 'same_core')}\n"
    )
    with pytest.raises(InvariantViolation) as caught:
        simulate(clients(2, fastpath_checks=str(unsafe)), 0, invariants=True)
    assert caught.value.check == "one-cpu"


# -- checks out of the big lock: the search on seL4's checks, and its two proofs ------------


def _designed(proof: str, cpus: int = 2, **keys):
    sizes = {"events": 1000, "warmup_events": 100, **keys}
    return sel4bench(cpus, fastpath_design="optimized", hoist_proof=proof, **sizes)


def test_seL4_as_it_is_lets_only_the_callers_own_check_leave_the_lock():
    """Under seL4's own guarantees (hoist_proof = "kernel") nothing is hoisted.

    What runs before the lock is the check on the caller's registers and fault
    word alone.
    """
    found = design_proposals(_designed("kernel"))
    assert set(found) == {"ipc.call", "ipc.reply_wait"}
    for entry in found.values():
        assert entry["verdict"] is None
        design = entry["optimized"]["design"]
        assert design[0] == "message_info"
        assert not any(step.startswith(("hoisted:", "early:")) for step in design)


def test_in_a_static_system_six_more_checks_leave_the_lock():
    found = design_proposals(_designed("static_system"))
    for entry in found.values():
        assert entry["verdict"] is None
        hoisted = {
            s.split(":")[1] for s in entry["optimized"]["design"] if s.startswith("hoisted:")
        }
        assert hoisted == {
            "endpoint_cap",
            "grant_reply",
            "valid_vspace",
            "valid_asid",
            "same_domain",
            "same_core",
        }


def test_moving_checks_out_of_the_lock_leaves_one_core_as_calibrated(monkeypatch):
    """The same work, only moved: one core is seL4's as it is, to the cycle.

    On one core the lock is never contended: a design's Call and ReplyRecv
    are seL4's own.
    """
    monkeypatch.setattr(fastpath_designs, "VERIFY_EVENTS", 500)  # (the checks, smaller)
    as_is = simulate(sel4bench(1, events=1000, warmup_events=100), 0).rows[0]
    for proof in ("kernel", "static_system"):
        point = _designed(proof, cpus=1)
        row = simulate(point, 0, resolution=resolve_design(point)).rows[0]
        assert row["call_cycles"] == pytest.approx(as_is["call_cycles"], abs=0.5)
        assert row["reply_recv_cycles"] == pytest.approx(as_is["reply_recv_cycles"], abs=0.5)


def test_a_hoist_of_state_another_core_writes_is_caught_under_the_big_lock(monkeypatch):
    """Test-only: a hoist of the endpoint's state before the big lock, on a forged proof.

    Another core's Call changes it before this core takes the lock, and the
    checker sees the commit act on a stale read.
    """
    point = clients(4, wait_factor=10.0)
    forged = point.proven_immutable() | {"state", "partner", "send_queue"}
    monkeypatch.setattr(Point, "proven_immutable", lambda self: forged)
    design = ["message_info", "hoisted:endpoint_cap", "hoisted:endpoint_state"] + [
        c.name
        for c in SEL4_IPC_CHECKS
        if c.name not in ("message_info", "endpoint_cap", "endpoint_state")
    ]
    verdict = verify_design(point, {"ipc": design})
    assert verdict is not None and "stale-read" in verdict and "endpoint_state" in verdict
