"""How the kernel tells a user's actions apart: once per action class, subclasses included.

A trap's first job is to decode what was asked: an exception (a guest's
system call) or an IPC operation, and for IPC its phases (send, reply,
receive, notify), whether it is a Call (the sender then waits for the
reply) and whether the IPC fastpath has a fast case for it (Call and
ReplyWait, as in OKL4 and seL4). All of it follows from the action's class,
so it is worked out on the class's first use and looked up after that: an
``isinstance`` against a tuple on every entry would read a non-matching
action's ``__class__`` once for each class it is not. A subclass (a user's
own operation, say a Call carrying a trace tag) decodes as its base class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

from l4sim.kernel.syscalls import (
    IPC_OPERATIONS,
    Call,
    IpcOperation,
    Notify,
    RaiseException,
    Reply,
    ReplyWait,
    Send,
    Wait,
)

# kinds of kernel entry a user action makes (the records' ``kind``)
SYSCALL_EXCEPTION = "syscall_exception"
IPC = "ipc"

SENDING = (Call, Send, Notify)
REPLYING = (Reply, ReplyWait)
RECEIVING = (Wait, ReplyWait)
FASTPATH_IPC = (Call, ReplyWait)  # the operations the IPC fastpath handles


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the kernel makes of an action class."""

    entry: str  # SYSCALL_EXCEPTION or IPC
    sends: bool = False
    replies: bool = False
    receives: bool = False
    notifies: bool = False
    is_call: bool = False  # the sender waits for the destination's reply
    is_reply_wait: bool = False  # a reply, then a wait: the IPC fastpath's other case
    has_fastpath: bool = False  # the IPC fastpath has a fast case for it


def decode_class(action_class: type) -> Decoded | None:
    """Work out what ``action_class`` asks of the kernel; None: it is no kernel entry."""
    if issubclass(action_class, RaiseException):
        return Decoded(SYSCALL_EXCEPTION)
    if not issubclass(action_class, IPC_OPERATIONS):
        return None
    return Decoded(
        IPC,
        sends=issubclass(action_class, SENDING),
        replies=issubclass(action_class, REPLYING),
        receives=issubclass(action_class, RECEIVING),
        notifies=issubclass(action_class, Notify),
        is_call=issubclass(action_class, Call),
        is_reply_wait=issubclass(action_class, ReplyWait),
        has_fastpath=issubclass(action_class, FASTPATH_IPC),
    )


# What each action class seen so far decodes to. The kernel's entry looks its
# action up here itself (a dictionary lookup, not a function call, per entry),
# and calls decode() for a class it has not seen.
LEARNED: dict[type, Decoded] = {}


@overload
def decode(action: IpcOperation | RaiseException) -> Decoded: ...
@overload
def decode(action: object) -> Decoded | None: ...
def decode(action: object) -> Decoded | None:
    """What ``action`` asks of the kernel (learned per class on first use); None: no entry."""
    action_class = type(action)
    decoded = LEARNED.get(action_class)
    if decoded is None:
        decoded = decode_class(action_class)
        if decoded is not None:
            LEARNED[action_class] = decoded
    return decoded
