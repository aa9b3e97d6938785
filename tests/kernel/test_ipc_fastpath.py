"""The IPC fastpath's checks, one by one, without a clock."""

import pytest

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.ipc_checks import IPC_CHECKS
from l4sim.kernel.ipc_fastpath import FAST_CALL, FAST_REPLY_WAIT, ipc_fastpath
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import Call, ReplyWait, Send
from tests.kernel.sync_run import run_sync


@pytest.fixture
def rig():
    """A server waiting for IPC and a running client, both on CPU 0."""
    kernel = Kernel(KernelConfig(cpus=2, fastpath_ipc=True), load_profile("vmxl4-pandaboard"))
    server = kernel.create_thread("server", 0, 200, kernel.create_space("s"))
    client = kernel.create_thread("client", 0, 100, kernel.create_space("c"))
    kernel.scheduler.pick_next(0)
    server.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.pick_next(0)
    assert kernel.scheduler.current[0] is client
    return kernel, client, server


def test_fast_call_switches_to_the_server(rig):
    kernel, client, server = rig
    run = run_sync(ipc_fastpath(kernel, 0, client, Call(server, (7,))))
    assert (run.outcome.path, run.outcome.exit_point) == ("fast", FAST_CALL)
    assert run.switched_to is server and server.received.observed() == ("call", "client", (7,))
    assert client.state is ThreadState.BLOCKED_ON_REPLY and client.reply_from is server
    assert run.acquired == [kernel.scheduler_lock, server.lock, client.lock]
    assert run.held_at_end == []


def test_fast_reply_wait_returns_to_the_caller(rig):
    kernel, client, server = rig
    run_sync(ipc_fastpath(kernel, 0, client, Call(server, (7,))))
    run = run_sync(ipc_fastpath(kernel, 0, server, ReplyWait(client, ("ok",))))
    assert (run.outcome.path, run.outcome.exit_point) == ("fast", FAST_REPLY_WAIT)
    assert run.switched_to is client and client.received.observed() == ("reply", "server", ("ok",))
    assert server.state is ThreadState.WAITING_TO_RECEIVE


def _break(name, kernel, client, server):
    """Return an operation for which exactly the check ``name`` fails."""
    op = Call(server, (1,))
    if name == "simple_message":
        op = Call(server, (1,), words=9)
    elif name == "valid_destination":
        op = Call(None, (1,))
    elif name == "call_or_reply_wait":
        op = Send(server, (1,))
    elif name == "destination_on_this_cpu":
        server.cpu = 1
    elif name == "no_sender_queued":
        client.send_queue.append(server)
    elif name == "destination_waiting":
        server.state = ThreadState.READY
    elif name == "priority_and_domain":
        server.domain = 3
    elif name == "destination_partner":
        server.partner = server
    elif name == "no_pending_notification":
        server.notify_bits = 1
    elif name == "valid_space":
        server.space.valid = False
    else:
        raise AssertionError(f"no failure case written for check {name}")
    return op


@pytest.mark.parametrize("check", IPC_CHECKS, ids=lambda c: c.name)
def test_each_check_fails_to_its_own_exit_point(rig, check):
    kernel, client, server = rig
    op = _break(check.name, kernel, client, server)
    states = (client.state, server.state)
    run = run_sync(ipc_fastpath(kernel, 0, client, op))
    assert (run.outcome.path, run.outcome.exit_point) == ("slow", check.name)
    assert run.switched_to == "no switch" and run.held_at_end == []
    assert (client.state, server.state) == states
    position = IPC_CHECKS.index(check)
    assert run.cycles == sum(
        [getattr(kernel.costs, c.cost) for c in kernel.ipc_checks][: position + 1]
    )
