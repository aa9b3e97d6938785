"""The generic IPC slowpath: Call, Send, Reply, Wait and ReplyWait.

One locking phase, in order: the global scheduler lock, then (knowing under
it who the partners are) the thread locks of the caller, its destination or
reply target, and the queued sender it receives from, in ascending address
order. A partner on another CPU is made ready there and woken with an IPI.

Phases, as in L4: send (Call/Send) or reply (Reply/ReplyWait), then receive
(Wait/ReplyWait, or the closed wait for the reply of a Call).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from l4sim.kernel.decode import Decoded, decode
from l4sim.kernel.effects import KernelPath, Kick, Outcome, Spend, Switch
from l4sim.kernel.ipc_state import (
    awaits_reply_from,
    can_receive_now,
    enqueue_sender,
    first_sender,
    notify,
    send_message,
    wrote_ipc_state,
)
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import (
    BLOCKED_ON_REPLY,
    INACTIVE,
    RUNNING,
    WAITING_TO_RECEIVE,
    Message,
    Thread,
)

if TYPE_CHECKING:
    from l4sim.kernel.costs import Costs
    from l4sim.kernel.state import KernelState

DELIVERED = "slow_deliver"  # a send that found its receiver waiting
QUEUED = "slow_queue"  # a send that queued on the receiver
REPLIED = "slow_reply"  # a reply without a wait
RECEIVED_QUEUED = "slow_receive_queued"  # a receive that took a queued sender or IRQ
NOTIFIED = "slow_notify"  # a notification delivered to a waiting thread
NOTIFY_PENDING = "slow_notify_pending"  # a notification left pending
BLOCKED = "slow_wait"  # a receive that blocked
BAD_DESTINATION = "slow_bad_destination"

_OUTCOMES = {
    name: Outcome("slow", name)
    for name in (
        DELIVERED,
        QUEUED,
        REPLIED,
        RECEIVED_QUEUED,
        BLOCKED,
        BAD_DESTINATION,
        NOTIFIED,
        NOTIFY_PENDING,
    )
}


def ipc_slowpath(
    kernel: KernelState,
    cpu: int,
    me: Thread,
    # an IPC operation (l4sim.kernel.syscalls): which of its fields the path reads
    # follows from its decoded class (``decoded``), which the type checker cannot see
    op: Any,
    spent: int = 0,
    decoded: Decoded | None = None,
    handed: int = 0,
) -> KernelPath[Message | None]:
    """Run ``op`` for ``me``; returns what ``me`` receives (None if nothing).

    ``decoded``: what the kernel's entry made of ``op`` (its phases,
    :mod:`l4sim.kernel.decode`). ``handed``: cycles of the system call's
    decoding a fastpath did and handed over when it fell back (the slowpath
    does not repeat them).
    """
    c = kernel.costs
    yield Spend(spent + c.ipc_decode - min(handed, c.ipc_decode))
    held: list[Lock] = []
    yield kernel.lock_effects.take_scheduler(held)
    if decoded is None:
        decoded = decode(op)
    dest, reply_to, sender = _partners(me, op, decoded)  # read under the scheduler lock
    yield kernel.lock_effects.take_thread_locks(held, me, dest, reply_to, sender)
    kicks: list[int] = []
    if decoded.sends and dest is None:
        yield kernel.lock_effects.release_all(held)
        yield _OUTCOMES[BAD_DESTINATION]
        yield Spend(c.kernel_exit)
        return Message("error", None, ("bad destination",))
    # -- notification: set the bits, wake a waiting receiver, never block -----------
    # (a notification sends: it has its destination, or it ended just above)
    if decoded.notifies:
        if notify(kernel, me, dest, op.bits):  # type: ignore[arg-type]
            if dest.cpu != cpu:  # type: ignore[union-attr]
                kicks.append(dest.cpu)  # type: ignore[union-attr]
            exit_point = NOTIFIED
        else:
            exit_point = NOTIFY_PENDING
        yield from _finish(kernel, cpu, me, held, kicks, c.ipc_transfer, exit_point)
        return None
    # -- send phase ----------------------------------------------------------------
    if dest is not None:
        spent, exit_point = _send(kernel, cpu, me, dest, op, decoded.is_call, kicks)
        if me.state is RUNNING:  # a Send that was delivered: go on running
            yield from _finish(kernel, cpu, me, held, kicks, spent, exit_point)
            return None
        yield from _block(kernel, cpu, held, kicks, spent, exit_point)
        received = yield from _resume(kernel, me)
        return received if decoded.is_call else None
    # -- reply phase -----------------------------------------------------------------
    spent = 0
    if reply_to is not None:
        spent += c.ipc_transfer
        send_message(kernel, me, reply_to, Message("reply", me, op.payload))
        reply_to.reply_from = None
        reply_to.direct_return = False
        kernel.scheduler.make_ready(reply_to)
        if reply_to.cpu != cpu:
            kicks.append(reply_to.cpu)
    if not decoded.receives:
        yield from _finish(kernel, cpu, me, held, kicks, spent, REPLIED)
        return None
    # -- receive phase -----------------------------------------------------------------
    if _receive_waiting(kernel, cpu, me, op, sender, kicks):
        spent += c.ipc_transfer
        yield from _finish(kernel, cpu, me, held, kicks, spent, RECEIVED_QUEUED)
        return me.received
    me.state = WAITING_TO_RECEIVE
    me.partner = op.source
    wrote_ipc_state(kernel, me)
    yield from _block(kernel, cpu, held, kicks, spent, BLOCKED)
    return (yield from _resume(kernel, me))


def _partners(
    me: Thread, op: Any, decoded: Decoded
) -> tuple[Thread | None, Thread | None, Thread | None]:
    """Who ``op`` sends to, replies to and receives from now (each None if nobody)."""
    dest = op.dest if decoded.sends else None
    if dest is not None and dest.state is INACTIVE:
        dest = None
    reply_to = op.reply_to if decoded.replies else None
    if reply_to is not None and not awaits_reply_from(reply_to, me):
        reply_to = None  # L4 semantics: a reply to a thread not waiting for it is dropped
    sender = (
        first_sender(me, op.source)
        if decoded.receives and not me.pending_irqs and not me.notify_bits
        else None
    )
    return dest, reply_to, sender


def _send(
    kernel: KernelState,
    cpu: int,
    me: Thread,
    dest: Thread,
    op: Any,
    is_call: bool,
    kicks: list[int],
) -> tuple[int, str]:
    """Deliver to a waiting receiver or queue on it: (cycles spent, exit point)."""
    c = kernel.costs
    message = Message(op.__class__.__name__.lower(), me, op.payload, op.words, op.typed_items)
    if not can_receive_now(dest, me):
        enqueue_sender(kernel, me, dest, message, expects_reply=is_call)
        return c.sp_enqueue_sender, QUEUED
    send_message(kernel, me, dest, message)
    dest.direct_return = False
    kernel.scheduler.make_ready(dest)
    if dest.cpu != cpu:
        kicks.append(dest.cpu)
    if is_call:
        me.state = BLOCKED_ON_REPLY
        me.reply_from = dest
    return c.ipc_transfer, DELIVERED


def _receive_waiting(
    kernel: KernelState, cpu: int, me: Thread, op: Any, sender: Thread | None, kicks: list[int]
) -> bool:
    """Take what waits for ``me``: notification bits, an interrupt, a queued sender.

    True if something was received (into ``me.received``); False: ``me`` must block.
    """
    if me.notify_bits and op.source is None:
        me.received = Message("notify", None, (me.notify_bits,))
        me.notify_bits = 0
        return True
    if me.pending_irqs:
        me.received = Message("irq", None, me.pending_irqs.popleft())
        return True
    if sender is None:
        return False
    me.send_queue.remove(sender)
    wrote_ipc_state(kernel, me)
    # (a queued sender's message waits in its outgoing register)
    send_message(kernel, sender, me, sender.outgoing)  # type: ignore[arg-type]
    sender.outgoing = None
    if sender.expects_reply:
        sender.state = BLOCKED_ON_REPLY
        sender.reply_from = me
    else:
        sender.direct_return = False
        kernel.scheduler.make_ready(sender)
        if sender.cpu != cpu:
            kicks.append(sender.cpu)
    return True


def _finish(
    kernel: KernelState,
    cpu: int,
    me: Thread,
    held: list[Lock],
    kicks: list[int],
    spent: int,
    exit_point: str,
) -> KernelPath[None]:
    """Return to user: ``me`` keeps the CPU unless a woken thread outranks it."""
    c = kernel.costs
    sched = kernel.scheduler
    best = sched.highest_ready(cpu)
    if best is not None and best > me.priority:
        sched.make_ready(me)
        yield Spend(spent + c.sched_pick)
        following = sched.pick_next(cpu)
        yield kernel.lock_effects.release_all(held)
        if kicks:
            yield from _kick_all(c, kicks)
        yield Spend(c.context_switch)
        yield _OUTCOMES[exit_point]
        yield Switch(following)
        yield Spend(c.kernel_exit)  # continuation: scheduled again
        return
    yield Spend(spent)
    yield kernel.lock_effects.release_all(held)
    if kicks:
        yield from _kick_all(c, kicks)
    yield _OUTCOMES[exit_point]
    yield Spend(c.kernel_exit)


def _block(
    kernel: KernelState, cpu: int, held: list[Lock], kicks: list[int], spent: int, exit_point: str
) -> KernelPath[None]:
    """The caller blocks: go through the scheduler and switch to the next thread."""
    c = kernel.costs
    yield Spend(spent + c.sched_pick)
    following = kernel.scheduler.pick_next(cpu)
    yield kernel.lock_effects.release_all(held)
    if kicks:
        yield from _kick_all(c, kicks)
    yield Spend(c.context_switch)
    yield _OUTCOMES[exit_point]
    yield Switch(following)


def _resume(kernel: KernelState, me: Thread) -> KernelPath[Message | None]:
    """Continuation of a blocked IPC: the partner delivered and we were switched to."""
    if me.direct_return:
        me.direct_return = False  # a fastpath already returned us to user mode
    else:
        yield Spend(kernel.costs.receive_resume + kernel.costs.kernel_exit)
    return me.received


def _kick_all(c: Costs, cpus: list[int]) -> Generator[int | Kick, None, None]:
    for target in cpus:
        yield Spend(c.ipi_send)
        yield Kick(target)
