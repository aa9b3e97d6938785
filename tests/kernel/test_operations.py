"""How the kernel tells actions apart: by their class, subclasses included, without a clock."""

import pytest

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.decode import IPC, SYSCALL_EXCEPTION, decode, decode_class
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import (
    IPC_OPERATIONS,
    Call,
    Notify,
    RaiseException,
    Reply,
    ReplyWait,
    Send,
    UnknownAction,
    Wait,
)
from tests.kernel.sync_run import run_sync


class TracedCall(Call):
    """A user's own operation: a Call that carries a trace tag."""

    __slots__ = ("tag",)


class TracedReplyWait(ReplyWait):
    __slots__ = ()


class GuestFault(RaiseException):
    __slots__ = ()


def rig(fastpath_ipc: bool):
    """A server waiting for IPC and a running client, both on CPU 0."""
    kernel = Kernel(
        KernelConfig(cpus=2, fastpath_ipc=fastpath_ipc), load_profile("vmxl4-pandaboard")
    )
    server = kernel.create_thread("server", 0, 200, kernel.create_space("s"))
    client = kernel.create_thread("client", 0, 100, kernel.create_space("c"), handler=server)
    kernel.scheduler.pick_next(0)
    server.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.pick_next(0)
    return kernel, client, server


@pytest.mark.parametrize("operation", [*IPC_OPERATIONS, TracedCall, TracedReplyWait])
def test_an_operations_phases_are_those_of_its_class(operation):
    decoded = decode_class(operation)
    assert decoded.entry == IPC
    assert decoded.sends == issubclass(operation, (Call, Send, Notify))
    assert decoded.replies == issubclass(operation, (Reply, ReplyWait))
    assert decoded.receives == issubclass(operation, (Wait, ReplyWait))
    assert decoded.notifies == issubclass(operation, Notify)
    assert decoded.is_call == issubclass(operation, Call)
    assert decoded.is_reply_wait == issubclass(operation, ReplyWait)
    assert decoded.has_fastpath == issubclass(operation, (Call, ReplyWait))


def test_an_exception_decodes_as_one_and_anything_else_as_no_entry():
    assert decode_class(GuestFault).entry == SYSCALL_EXCEPTION
    assert decode_class(RaiseException) == decode_class(GuestFault)
    assert decode_class(int) is None and decode(3) is None
    assert decode(TracedCall(None)) == decode(Call(None))
    assert decode(TracedCall(None)) is decode(TracedCall(None, (1,)))  # learned once per class


@pytest.mark.parametrize("fastpath_ipc", [True, False])
def test_a_subclass_of_call_is_a_call(fastpath_ipc):
    outcomes = []
    for operation in (Call, TracedCall):
        kernel, client, server = rig(fastpath_ipc)
        kind, path = kernel.enter(0, client, operation(server, (7,)))
        run = run_sync(path)
        assert kind == IPC
        assert run.switched_to is server
        assert server.received.observed()[1:] == ("client", (7,))
        assert client.state is ThreadState.BLOCKED_ON_REPLY and client.reply_from is server
        outcomes.append((run.outcome.path, run.outcome.exit_point, run.cycles))
    assert outcomes[0] == outcomes[1]


def test_a_subclass_of_reply_wait_replies_then_waits():
    kernel, client, server = rig(fastpath_ipc=False)
    run_sync(kernel.enter(0, client, Call(server, (1,)))[1])
    run = run_sync(kernel.enter(0, server, TracedReplyWait(client, ("ok",)))[1])
    assert client.received.observed() == ("reply", "server", ("ok",))
    assert server.state is ThreadState.WAITING_TO_RECEIVE
    assert run.switched_to is client


def test_a_subclass_of_raise_exception_is_a_syscall_exception():
    kernel, client, server = rig(fastpath_ipc=True)
    kind, path = kernel.enter(0, client, GuestFault("syscall", (3,)))
    run = run_sync(path)
    assert kind == SYSCALL_EXCEPTION
    assert run.switched_to is server
    assert server.received.observed() == ("exception", "client", ("syscall", 3))


def test_an_unknown_action_is_refused_by_name():
    kernel, client, _ = rig(fastpath_ipc=True)
    with pytest.raises(UnknownAction, match="thread client: unknown action"):
        kernel.enter(0, client, "reboot")
