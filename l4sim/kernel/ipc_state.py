"""The threads' IPC state as the paths read and change it: messages, send queues, waiting.

Every change of a thread's IPC state that other CPUs may read goes through
here, so the invariant monitor (``kernel.monitor``, None in ordinary runs)
hears of it: who wrote which thread's IPC state under which lock, and every
message delivered (exactly once, in order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from l4sim.kernel.objects import (
    ANY,
    BLOCKED_ON_REPLY,
    WAITING_TO_RECEIVE,
    WAITING_TO_SEND,
    Message,
    Thread,
)
from l4sim.kernel.syscalls import RaiseException

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState


def exception_message(thread: Thread, exception: RaiseException) -> Message:
    """The IPC an exception becomes: its kind and payload, from the faulting thread."""
    return Message("exception", thread, (exception.kind, *exception.payload), words=8)


def wrote_ipc_state(kernel: KernelState, thread: Thread) -> None:
    """``thread``'s IPC state (queue, partner, registers) changed: tell the monitor."""
    if kernel.monitor is not None:
        kernel.monitor.write_cell(f"ipc:{thread.name}", thread.lock)


def send_message(kernel: KernelState, sender: Thread, receiver: Thread, message: Message) -> None:
    """Deliver ``message`` into the receiver's registers."""
    receiver.received = message
    if kernel.monitor is not None:  # the monitor checks delivery: exactly once, in order
        kernel.monitor.write_cell(f"ipc:{receiver.name}", receiver.lock)
        kernel.monitor.on_send(sender, receiver, message)


def notify(kernel: KernelState, sender: Thread, receiver: Thread, bits: int) -> bool:
    """OR ``bits`` into the receiver's word; deliver now if it waits. True if delivered."""
    receiver.notify_bits |= bits
    wrote_ipc_state(kernel, receiver)
    if receiver.state is WAITING_TO_RECEIVE and receiver.partner is ANY:
        receiver.received = Message("notify", None, (receiver.notify_bits,))
        receiver.notify_bits = 0
        receiver.direct_return = False
        kernel.scheduler.make_ready(receiver)
        return True
    return False


def enqueue_sender(
    kernel: KernelState, sender: Thread, receiver: Thread, message: Message, expects_reply: bool
) -> None:
    """``sender`` waits on ``receiver``'s send queue with ``message`` (the slowpaths' queue)."""
    sender.outgoing = message
    sender.expects_reply = expects_reply
    sender.state = WAITING_TO_SEND
    receiver.send_queue.append(sender)
    wrote_ipc_state(kernel, receiver)


def can_receive_now(receiver: Thread, sender: Thread) -> bool:
    """The receiver waits for this sender (or anyone) and nobody is queued before it."""
    return (
        receiver.state is WAITING_TO_RECEIVE
        and (receiver.partner is ANY or receiver.partner is sender)
        and not receiver.send_queue
    )


def awaits_reply_from(thread: Thread, replier: Thread) -> bool:
    """``thread`` is blocked in the closed wait of a Call to ``replier``."""
    return thread.state is BLOCKED_ON_REPLY and thread.reply_from is replier


def first_sender(receiver: Thread, source: Thread | None) -> Thread | None:
    """The queued sender a receive takes: the oldest, or the oldest from ``source``."""
    for sender in receiver.send_queue:
        if source is ANY or sender is source:
            return sender
    return None
