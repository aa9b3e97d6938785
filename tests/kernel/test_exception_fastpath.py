"""The syscall-exception fastpath's checks, one by one, without a clock."""

import pytest

from l4sim.kernel.checks import Check, Stage, validate_order
from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
from l4sim.kernel.exception_fastpath import FAST_EXIT, syscall_exception_fastpath
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import RaiseException
from tests.kernel.sync_run import run_sync


def _fastpath(kernel, worker, kind="syscall"):
    return run_sync(syscall_exception_fastpath(kernel, 0, worker, RaiseException(kind)))


def test_all_checks_pass_switches_to_handler(pair):
    kernel, worker, handler = pair
    run = _fastpath(kernel, worker)
    assert run.outcome.path == "fast" and run.outcome.exit_point == FAST_EXIT
    assert run.switched_to is handler
    assert worker.state is ThreadState.BLOCKED_ON_REPLY and worker.reply_from is handler
    assert handler.state is ThreadState.RUNNING and kernel.scheduler.current[0] is handler
    assert handler.received.observed() == ("exception", "worker0", ("syscall",))
    # the scheduler lock first, then the thread locks by ascending address
    assert run.acquired == [kernel.scheduler_lock, handler.lock, worker.lock]
    assert run.held_at_end == []


def _break(name, kernel, worker, handler):
    """Make exactly the check ``name`` fail."""
    if name == "is_guest_syscall":
        return "page_fault"
    if name == "current_no_resource_bits":
        worker.resource_bits = 1
    elif name == "handler_present":
        worker.handler = None
    elif name == "handler_on_this_cpu":
        handler.cpu = 1
    elif name == "handler_waiting":
        handler.state = ThreadState.READY
    elif name == "handler_priority":
        handler.priority = 50
    elif name == "valid_domain":
        handler.domain = 7
    elif name == "handler_partner":
        handler.partner = kernel.threads[0] if kernel.threads[0] is not worker else handler
    elif name == "handler_send_queue_empty":
        handler.send_queue.append(handler)
    elif name == "handler_no_resource_bits":
        handler.resource_bits = 4
    elif name == "handler_space_valid":
        handler.space.valid = False
    else:
        raise AssertionError(f"no failure case written for check {name}")
    return "syscall"


@pytest.mark.parametrize("check", SYSCALL_EXCEPTION_CHECKS, ids=lambda c: c.name)
def test_each_check_fails_to_its_own_exit_point(pair, check):
    kernel, worker, handler = pair
    kind = _break(check.name, kernel, worker, handler)
    state_before = (worker.state, handler.state)
    run = _fastpath(kernel, worker, kind)
    assert run.outcome.path == "slow"
    assert run.outcome.exit_point == check.name
    assert run.switched_to == "no switch"  # fell back: the slowpath takes over
    assert run.held_at_end == []  # every lock taken was released
    assert (worker.state, handler.state) == state_before  # nothing committed
    # it paid for the checks up to and including the failing one
    position = SYSCALL_EXCEPTION_CHECKS.index(check)
    paid = sum([getattr(kernel.costs, c.cost) for c in kernel.exception_checks][: position + 1])
    assert run.cycles == paid


def test_failure_under_locks_costs_more_than_lock_free_failure(pair, costs):
    kernel, worker, handler = pair
    early = _fastpath(kernel, worker, "page_fault")
    handler.resource_bits = 1  # fails under the thread locks
    late = _fastpath(kernel, worker)
    assert early.released == [] and len(late.released) == 3
    assert late.cycles > early.cycles


def test_check_list_is_sorted_by_lock_stage():
    stages = [c.stage for c in SYSCALL_EXCEPTION_CHECKS]
    assert stages == sorted(stages)
    assert stages[0] == Stage.LOCK_FREE


def test_validate_order_refuses_release_and_reacquire():
    under_lock = Check("a", Stage.THREADS, "check_load_compare", lambda c: True, "")
    lock_free = Check("b", Stage.LOCK_FREE, "check_load_compare", lambda c: True, "")
    with pytest.raises(ValueError, match="released and retaken"):
        validate_order((under_lock, lock_free))
    with pytest.raises(ValueError, match="duplicate"):
        validate_order((lock_free, lock_free))
