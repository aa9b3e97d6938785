"""Fastpath designs without a clock: what a design may move, and how the fastpath runs it."""

import pytest

from l4sim.design.immutability import immutable
from l4sim.kernel.check_plan import plan_checks
from l4sim.kernel.checks import Stage
from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
from l4sim.kernel.fastpath_design import (
    EARLY,
    HOISTED,
    apply_design,
    hoistable,
    paper_design,
    parse_step,
)
from l4sim.kernel.ipc_checks import IPC_CHECKS
from l4sim.kernel.ipc_fastpath import ipc_fastpath
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import Call
from tests.kernel.sync_run import run_sync

PROVEN = immutable(
    f for checks in (IPC_CHECKS, SYSCALL_EXCEPTION_CHECKS) for c in checks for f in c.reads
)
DESIGN = [
    "simple_message",
    "valid_destination",
    "call_or_reply_wait",
    "hoisted:destination_on_this_cpu",
    "early:no_sender_queued",
    "early:destination_waiting",
    "priority_and_domain",
    "destination_partner",
    "no_pending_notification",
    "valid_space",
    "recheck:no_sender_queued",
    "recheck:destination_waiting",
]


def test_the_static_scan_proves_what_a_hoist_needs():
    # a thread's CPU is never changed after creation (the scheduler only reads it as an
    # index), nor its handler, priority or domain; its state and queues are
    assert {"cpu", "handler", "priority", "domain", "valid"} <= PROVEN
    assert not PROVEN & {"state", "send_queue", "partner", "pending_irqs", "_ready"}
    by_name = {c.name: c for c in IPC_CHECKS}
    assert hoistable(by_name["destination_on_this_cpu"], PROVEN)
    assert not hoistable(by_name["destination_waiting"], PROVEN)
    assert not hoistable(by_name["simple_message"], PROVEN)  # lock-free already


def test_the_paper_design_is_the_list_itself():
    assert apply_design(IPC_CHECKS, paper_design(IPC_CHECKS), PROVEN) == IPC_CHECKS


def test_a_design_moves_checks_and_marks_them():
    checks = apply_design(IPC_CHECKS, DESIGN, PROVEN)
    by_name = {c.name: c for c in checks}
    assert by_name["destination_on_this_cpu"].stage is Stage.LOCK_FREE
    assert by_name["destination_on_this_cpu"].moved_from is Stage.SCHEDULER
    early = by_name["no_sender_queued_early"]
    assert early.optimistic and early.stage is Stage.LOCK_FREE
    assert by_name["no_sender_queued"].stage is Stage.SCHEDULER  # the recheck, under the lock
    moves = {name: how for how, name in map(parse_step, DESIGN) if how in (HOISTED, EARLY)}
    assert moves == {
        "destination_on_this_cpu": "hoisted",
        "no_sender_queued": "early",
        "destination_waiting": "early",
    }


@pytest.mark.parametrize(
    "design, problem",
    [
        (
            [
                "hoisted:destination_waiting" if s == "early:destination_waiting" else s
                for s in DESIGN
                if s != "recheck:destination_waiting"
            ],
            "not proven immutable",
        ),
        ([s for s in DESIGN if s != "recheck:no_sender_queued"], "never checked again"),
        (
            ["recheck:no_sender_queued", *[s for s in DESIGN if s != "recheck:no_sender_queued"]],
            "needs an earlier early",
        ),
        ([s for s in DESIGN if s != "valid_space"], "missing"),
        (["early:simple_message", *DESIGN], "needs no lock"),
        (
            ["hoisted:destination_on_this_cpu", *[s for s in DESIGN if "destination_on" not in s]],
            "before valid_destination",
        ),
        (
            [*DESIGN[:6], "early:priority_and_domain", "recheck:priority_and_domain", *DESIGN[6:]],
            "prechecked twice|before the first check that takes a lock|already runs",
        ),
        (["sideways:valid_space", *DESIGN], "unknown step"),
    ],
)
def test_an_invalid_design_is_refused_in_one_line(design, problem):
    with pytest.raises(ValueError, match=problem) as error:
        apply_design(IPC_CHECKS, design, PROVEN)
    assert "\n" not in str(error.value)


def test_a_forged_proof_is_what_it_takes_to_hoist_mutable_state():
    unsafe = [
        ("hoisted:destination_waiting" if s == "early:destination_waiting" else s)
        for s in DESIGN
        if s != "recheck:destination_waiting"
    ]
    checks = apply_design(IPC_CHECKS, unsafe, PROVEN | {"state", "reply_from"})
    plan = plan_checks(checks, tuple(1 for _ in checks))
    assert [c.name for c in plan.hoisted] == ["destination_on_this_cpu", "destination_waiting"]


def test_the_plan_catches_up_time_before_the_first_precheck():
    checks = apply_design(IPC_CHECKS, DESIGN, PROVEN)
    plan = plan_checks(checks, tuple(1 for _ in checks))
    assert [(run.stage, run.sync) for run in plan.runs] == [
        (Stage.LOCK_FREE, False),
        (Stage.LOCK_FREE, True),
        (Stage.SCHEDULER, False),
        (Stage.THREADS, False),
    ]
    assert plan.runs[1].checks[0].name == "no_sender_queued_early"
    assert plan_checks(IPC_CHECKS, tuple(1 for _ in IPC_CHECKS)).hoisted == ()


@pytest.fixture
def rig():
    """A server on CPU 0 and a running client on CPU 0, with the design above."""
    return _rig({"ipc": DESIGN})


def test_a_cross_cpu_call_falls_back_before_any_lock(rig):
    kernel, client, _, remote = rig
    run = run_sync(ipc_fastpath(kernel, 0, client, Call(remote, (1,))))
    assert run.outcome.exit_point == "destination_on_this_cpu" and run.acquired == []


def test_a_busy_server_fails_the_precheck_without_the_scheduler_lock(rig):
    kernel, client, server, _ = rig
    server.state = ThreadState.RUNNING
    run = run_sync(ipc_fastpath(kernel, 0, client, Call(server, (1,))))
    assert run.outcome.exit_point == "destination_waiting_early" and run.acquired == []


def test_a_call_that_passes_commits_under_every_lock(rig):
    kernel, client, server, _ = rig
    run = run_sync(ipc_fastpath(kernel, 0, client, Call(server, (7,))))
    assert run.outcome.path == "fast" and run.switched_to is server
    assert run.acquired == [kernel.scheduler_lock, server.lock, client.lock]
    assert run.held_at_end == []


def test_a_check_order_and_a_design_exclude_each_other():
    with pytest.raises(ValueError, match="exclude each other"):
        KernelConfig(order={"ipc": paper_design(IPC_CHECKS)}, design={"ipc": DESIGN})


# the same design, what its lock-free checks decoded handed to the slowpath on a fallback
HANDED = ["handover:simple_message", "handover:valid_destination", *DESIGN[2:]]


def _rig(design):
    """A server waiting on CPU 0, a running client on CPU 0, a thread on CPU 1."""
    kernel = Kernel(
        KernelConfig(cpus=2, fastpath_ipc=True, design=design, proven_immutable=PROVEN),
        load_profile("vmxl4-pandaboard"),
    )
    server = kernel.create_thread("server", 0, 200, kernel.create_space("s"))
    client = kernel.create_thread("client", 0, 100, kernel.create_space("c"))
    remote = kernel.create_thread("remote", 1, 200, kernel.create_space("r"))
    kernel.scheduler.pick_next(0)
    server.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.pick_next(0)
    return kernel, client, server, remote


def test_a_handover_step_marks_a_lock_free_check_that_decodes():
    checks = {c.name: c for c in apply_design(IPC_CHECKS, HANDED, PROVEN)}
    assert checks["simple_message"].handed_over and checks["valid_destination"].handed_over
    assert not checks["call_or_reply_wait"].handed_over
    with pytest.raises(ValueError, match="nothing to hand over"):
        apply_design(
            IPC_CHECKS,
            ["handover:call_or_reply_wait" if s == "call_or_reply_wait" else s for s in DESIGN],
            PROVEN,
        )


def test_a_fallback_hands_what_the_lock_free_checks_decoded_to_the_slowpath():
    """A cross-CPU Call falls back after the destination's lookup.

    With the lookup and the message tag handed over, the slowpath spends their
    cycles less on decoding.
    """
    cycles = {}
    for name, design in (("as run", DESIGN), ("handed", HANDED)):
        kernel, client, _, remote = _rig({"ipc": design})
        run = run_sync(kernel.enter(0, client, Call(remote, (1,)))[1])
        assert run.outcome.exit_point == "destination_on_this_cpu"
        cycles[name] = run.cycles
    costs = load_profile("vmxl4-pandaboard")
    assert cycles["as run"] - cycles["handed"] == (
        costs.check_load_compare + costs.check_pointer_chase
    )


def test_each_operation_runs_its_own_design():
    """A Call runs the Call's design, a ReplyWait the ReplyWait's.

    A design for the Call only: a Call to a busy server fails its precheck;
    with a design for the ReplyWait only, the same Call runs the list as given.
    """
    for design, exit_point in (
        ({"ipc.call": DESIGN}, "destination_waiting_early"),
        ({"ipc.reply_wait": DESIGN}, "destination_waiting"),
        ({"ipc": DESIGN, "ipc.reply_wait": paper_design(IPC_CHECKS)}, "destination_waiting_early"),
    ):
        kernel, client, server, _ = _rig(design)
        server.state = ThreadState.RUNNING
        run = run_sync(ipc_fastpath(kernel, 0, client, Call(server, (1,))))
        assert run.outcome.exit_point == exit_point, design
