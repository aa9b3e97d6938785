"""The generic IPC slowpath for Wait and ReplyWait (reply, then open or closed receive).

One locking phase, in order: the global scheduler lock, then (knowing under
it who the partners are) the thread locks of the caller, the thread it
replies to and the sender it receives from, in ascending address order.
"""

from __future__ import annotations

from l4sim.kernel.effects import Kick, Outcome, Spend, Switch
from l4sim.kernel.objects import Message, Thread, ThreadState
from l4sim.kernel.syscalls import ReplyWait, Wait

RECEIVED_QUEUED = "slow_receive_queued"
BLOCKED = "slow_wait"


def ipc_slowpath(kernel, cpu: int, me: Thread, op: Wait | ReplyWait, spent: int = 0):
    """Reply (if asked) and receive; returns the received message once ``me`` has it."""
    c = kernel.costs
    yield Spend(spent + c.ipc_decode)
    held: list = []
    yield kernel.take_scheduler(held)
    reply_to = op.reply_to if isinstance(op, ReplyWait) else None
    if reply_to is not None and not kernel.awaits_reply_from(reply_to, me):
        reply_to = None  # L4 semantics: a reply to a thread not waiting for it is dropped
    sender = kernel.first_sender(me, op.source)
    yield kernel.take_thread_locks(held, me, reply_to, sender)
    kicks = []
    if reply_to is not None:
        spent = c.ipc_transfer
        kernel.send_message(me, reply_to, Message("reply", me, op.payload))
        reply_to.reply_from = None
        reply_to.direct_return = False
        kernel.scheduler.make_ready(reply_to)
        if reply_to.cpu != cpu:
            kicks.append(reply_to.cpu)
    else:
        spent = 0
    if sender is not None:
        yield Spend(spent + c.ipc_transfer)
        me.send_queue.remove(sender)
        kernel.wrote_ipc_state(me)
        kernel.send_message(sender, me, sender.outgoing)
        sender.outgoing = None
        sender.state = ThreadState.BLOCKED_ON_REPLY
        sender.reply_from = me
        yield kernel.release_all(held)
        yield from _kick_all(c, kicks)
        yield Outcome("slow", RECEIVED_QUEUED)
        yield Spend(c.kernel_exit)
        return me.received
    me.state = ThreadState.WAITING_TO_RECEIVE
    me.partner = op.source
    kernel.wrote_ipc_state(me)
    yield Spend(spent + c.sched_pick)
    following = kernel.scheduler.pick_next(cpu)
    yield kernel.release_all(held)
    yield from _kick_all(c, kicks)
    yield Spend(c.context_switch)
    yield Outcome("slow", BLOCKED)
    yield Switch(following)
    # continuation: a sender delivered to us and we were switched to
    if me.direct_return:
        me.direct_return = False  # the fastpath already returned us to user mode
    else:
        yield Spend(c.receive_resume + c.kernel_exit)
    return me.received


def _kick_all(c, cpus):
    for target in cpus:
        yield Spend(c.ipi_send)
        yield Kick(target)
