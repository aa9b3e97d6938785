"""Kernel regression suite (the analogue of the paper's ktest): system-call semantics.

Kernel paths run without a clock (``run_sync``) for the exact states; small
machines with custom programs run the same semantics under the checker.
"""

import numpy as np
import pytest

from l4sim.kernel.effects import Outcome
from l4sim.kernel.exception_fastpath import FAST_EXIT
from l4sim.kernel.exception_slowpath import DELIVERED, QUEUED
from l4sim.kernel.ipc_slowpath import BLOCKED, RECEIVED_QUEUED
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import RaiseException, ReplyWait, Wait
from tests.kernel.sync_run import run_sync

from ..helpers import kernel, machine, run_machine, server, shared_handler, worker


def _setup(cpus=1, workers=1, handler_cpu=0, handler_priority=200, fastpath=True):
    """A handler waiting (open receive) and ready workers; worker i on cpu i % cpus."""
    k = kernel(cpus, fastpath_syscall=fastpath)
    handler = k.create_thread("h", handler_cpu, handler_priority, k.create_space("server"))
    assert k.scheduler.pick_next(handler_cpu) is handler
    run_sync(k.enter(handler_cpu, handler, Wait())[1], handler_cpu)  # the handler waits
    assert handler.state is ThreadState.WAITING_TO_RECEIVE
    ws = [
        k.create_thread(f"w{i}", i % cpus, 100, k.create_space(f"t{i}"), handler=handler)
        for i in range(workers)
    ]
    return k, handler, ws


def _tap(path, exits):
    """Pass ``path``'s effects through, noting every exit point (fastpath and slowpath)."""
    while True:
        try:
            effect = next(path)
        except StopIteration as stop:
            return stop.value
        if isinstance(effect, Outcome):
            exits.append(effect.exit_point)
        yield effect


def _raise(k, w, number=1):
    """Raise a syscall; the run's ``exits`` lists the fastpath's then the slowpath's exit."""
    exits = []
    run = run_sync(_tap(k.enter(w.cpu, w, RaiseException("syscall", (number,)))[1], exits), w.cpu)
    run.exits = exits
    return run


def _make_current(k, thread):
    """Put ``thread`` on its CPU, out of the ready queue (as a switch to it would)."""
    queue = k.scheduler._ready[thread.cpu].get(thread.priority)
    if queue is not None and thread in queue:
        queue.remove(thread)
        if not queue:
            k.scheduler._ready_bitmap[thread.cpu] &= ~(1 << thread.priority)
    k.scheduler.run(thread.cpu, thread)


def test_exception_to_a_waiting_handler_takes_the_fastpath():
    k, h, (w,) = _setup()
    _make_current(k, w)
    run = _raise(k, w)
    assert run.outcome.exit_point == FAST_EXIT and run.switched_to is h
    assert h.received.observed() == ("exception", "w0", ("syscall", 1))
    assert w.state is ThreadState.BLOCKED_ON_REPLY and w.reply_from is h


def test_exception_to_a_waiting_handler_without_fastpath_is_delivered_by_the_slowpath():
    k, h, (w,) = _setup(fastpath=False)
    _make_current(k, w)
    run = _raise(k, w)
    assert run.exits == [DELIVERED]
    assert h.state in (ThreadState.READY, ThreadState.RUNNING)
    assert h.received.observed() == ("exception", "w0", ("syscall", 1))
    assert run.switched_to is h  # the higher-priority handler runs next


def test_exception_to_a_busy_handler_is_queued_then_received_and_replied():
    k, h, (w0, w1) = _setup(cpus=1, workers=2)
    _make_current(k, w0)
    assert _raise(k, w0).outcome.exit_point == FAST_EXIT  # h now busy serving w0
    _make_current(k, w1)
    run = _raise(k, w1, 7)
    assert run.exits == ["handler_waiting", QUEUED]
    assert w1.state is ThreadState.WAITING_TO_SEND and list(h.send_queue) == [w1]
    # the handler replies to w0 and receives w1's queued exception without blocking
    _make_current(k, h)
    run = run_sync(k.enter(0, h, ReplyWait(w0, ("ok", 1)))[1])
    assert run.outcome.exit_point == RECEIVED_QUEUED
    assert run.value.observed() == ("exception", "w1", ("syscall", 7))
    assert w0.state is ThreadState.READY and w0.received.observed() == ("reply", "h", ("ok", 1))
    assert w1.state is ThreadState.BLOCKED_ON_REPLY and not h.send_queue


def test_send_queue_is_served_in_arrival_order_by_an_open_receive():
    k, h, ws = _setup(cpus=1, workers=4)
    _make_current(k, ws[0])
    _raise(k, ws[0])  # fastpath: h busy
    for w in (ws[2], ws[1], ws[3]):
        _make_current(k, w)
        assert _raise(k, w).exits[-1] == QUEUED
    order = []
    replying = ws[0]
    for _ in range(3):
        _make_current(k, h)
        message = run_sync(k.enter(0, h, ReplyWait(replying))[1]).value
        order.append(message.sender.name)
        replying = message.sender
    assert order == ["w2", "w1", "w3"]


def test_closed_receive_takes_only_its_partner():
    k, h, ws = _setup(cpus=1, workers=3)
    _make_current(k, ws[0])
    _raise(k, ws[0])
    for w in (ws[1], ws[2]):
        _make_current(k, w)
        _raise(k, w)
    _make_current(k, h)
    message = run_sync(k.enter(0, h, ReplyWait(ws[0], source=ws[2]))[1]).value
    assert message.sender is ws[2] and list(h.send_queue) == [ws[1]]
    # a closed receive from a thread that sent nothing blocks, even with others queued
    _make_current(k, h)
    run = run_sync(k.enter(0, h, ReplyWait(ws[2], source=ws[0]))[1])
    assert run.outcome.exit_point == BLOCKED and h.state is ThreadState.WAITING_TO_RECEIVE
    assert h.partner is ws[0] and list(h.send_queue) == [ws[1]]


def test_closed_receive_fails_the_fastpath_for_another_sender():
    k, h, (w0, w1) = _setup(cpus=1, workers=2)
    h.partner = w1  # waiting for w1 only
    _make_current(k, w0)
    run = _raise(k, w0)
    assert run.exits == ["handler_partner", QUEUED]
    assert w0.state is ThreadState.WAITING_TO_SEND


def test_a_reply_to_a_thread_not_waiting_for_it_is_dropped():
    k, h, (w,) = _setup()
    _make_current(k, h)
    run = run_sync(k.enter(0, h, ReplyWait(w, ("ok",)))[1])
    assert run.outcome.exit_point == BLOCKED and w.received is None
    assert w.state is not ThreadState.BLOCKED_ON_REPLY


def test_a_lower_priority_handler_is_reached_by_the_slowpath_only():
    k, h, (w,) = _setup(handler_priority=50)
    _make_current(k, w)
    run = _raise(k, w)
    assert run.exits == ["handler_priority", DELIVERED]
    assert h.received.observed() == ("exception", "w0", ("syscall", 1))
    # delivered, made ready; the faulting thread blocks, so h (the only ready one) runs
    assert run.switched_to is h and h.state is ThreadState.RUNNING


def test_cross_cpu_handler_is_woken_with_an_ipi():
    k, h, (_w0, w1) = _setup(cpus=2, workers=2)
    _make_current(k, w1)
    run = _raise(k, w1)
    assert run.exits == ["handler_on_this_cpu", DELIVERED]
    assert run.kicks == [0]  # the handler's CPU gets an IPI
    assert h.state is ThreadState.READY and w1.state is ThreadState.BLOCKED_ON_REPLY


@pytest.mark.parametrize("cpus", [1, 2])
@pytest.mark.parametrize("fastpath", [True, False])
def test_machine_every_worker_gets_every_reply_in_order(cpus, fastpath):
    """Same-CPU (1 cpu) and cross-CPU (2 cpus, one handler) partners under the checker."""
    k, programs = shared_handler(cpus=cpus, workers=3, wait=500, fastpath_syscall=fastpath)
    m = machine(k, programs, 300)
    run_machine(m)
    obs = m.observations
    for name in ("w0", "w1", "w2"):
        replies = obs[name]
        assert replies, name
        assert replies == [("reply", "handler", ("ok", n)) for n in range(1, len(replies) + 1)]
    handled = obs["handler"]
    for name in ("w0", "w1", "w2"):
        numbers = [m[2][1] for m in handled if m[1] == name]
        assert numbers == list(range(1, len(numbers) + 1))


def test_machine_priorities_a_higher_priority_worker_preempts_on_its_cpu():
    """Timeslices give equal priorities turns; a higher one is never preempted by a lower."""
    k = kernel(cpus=1)
    h = k.create_thread("h", 0, 200, k.create_space("s"))
    hi = k.create_thread("hi", 0, 150, k.create_space("a"), handler=h)
    lo = k.create_thread("lo", 0, 100, k.create_space("b"), handler=h)
    rng = np.random.default_rng(1)
    programs = {h: server(), hi: worker(rng, 200, count=20), lo: worker(rng, 200)}
    m = machine(k, programs, 25)
    run_machine(m)
    names = [m_[1] for m_ in m.observations["h"]]
    # lo only gets the CPU once hi has finished its 20 syscalls and computes for long
    assert names[:20] == ["hi"] * 20 and "lo" in names[20:]


def test_a_program_that_yields_no_action_is_a_users_mistake_on_a_machine_built_by_hand():
    """run_machine turns it into one line naming the thread, with or without a workload."""
    from l4sim.workloads.user_files import UserCodeError

    k = kernel()
    thread = k.create_thread("t", 0, 100, k.create_space("s"))

    def program():
        yield "nonsense"

    with pytest.raises(UserCodeError, match=r"^thread t: unknown action 'nonsense'$"):
        run_machine(machine(k, {thread: program()}, 10, check=False))
