"""Kernel objects: threads (TCBs), address spaces, and their states."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from l4sim.kernel.locks import Lock


class ThreadState(Enum):
    """Scheduling state of a thread, as the kernel's scheduler sees it."""

    RUNNING = "running"
    READY = "ready"
    WAITING_TO_RECEIVE = "waiting-to-receive"
    WAITING_TO_SEND = "waiting-to-send"
    BLOCKED_ON_REPLY = "blocked-on-reply"
    INACTIVE = "inactive"


# the states as plain module names, for the kernel's hot paths: a module global
# is found in one dictionary lookup, an Enum member through its class's attribute
# protocol
RUNNING, READY, WAITING_TO_RECEIVE, WAITING_TO_SEND, BLOCKED_ON_REPLY, INACTIVE = ThreadState

ANY = None  # an open receive: the expected partner is "any thread"


@dataclass(eq=False, slots=True)
class Space:
    """An address space. Its lock orders by its address like any object lock."""

    name: str
    address: int
    valid: bool = True
    lock: Lock = field(init=False)

    def __post_init__(self) -> None:
        self.lock = Lock(f"space:{self.name}", address=self.address)


@dataclass(eq=False, slots=True)
class Message:
    """An IPC message: a tag, untyped words and an optional typed-item flag.

    ``label`` says what the message is ("exception", "reply", ...), ``payload``
    is what observers compare between runs (fastpath on and off).
    """

    label: str
    sender: Thread | None  # None: the kernel (an interrupt)
    payload: tuple[object, ...] = ()
    words: int = 2
    typed_items: bool = False

    def observed(self) -> tuple[str, str, tuple[object, ...]]:
        """What a user program sees of the message: compared across fastpath settings."""
        return (self.label, self.sender.name if self.sender else "kernel", self.payload)


@dataclass(eq=False, slots=True)
class Thread:
    """A thread control block.

    ``address`` is the TCB's kernel address: it orders thread locks.
    Scheduling state (``state``, queue membership) is protected by the global
    scheduler lock; IPC fields (``partner``, ``resource_bits``, ``handler``,
    message registers) by the thread's own lock.
    """

    name: str
    address: int
    cpu: int
    priority: int
    space: Space
    handler: Thread | None = None
    state: ThreadState = ThreadState.INACTIVE
    partner: Thread | None = ANY
    send_queue: deque[Thread] = field(default_factory=deque)
    resource_bits: int = 0
    domain: int = 0
    # message registers: the message being sent (while waiting to send) or
    # the last message received (until the user program reads it)
    outgoing: Message | None = None
    received: Message | None = None
    # who this thread waits for a reply from (when BLOCKED_ON_REPLY)
    reply_from: Thread | None = None
    # while WAITING_TO_SEND: whether the queued message is a Call (or exception)
    expects_reply: bool = False
    # interrupts delivered while the thread was not waiting (kernel-originated IPC)
    pending_irqs: deque[tuple[object, ...]] = field(default_factory=deque)
    # pending asynchronous notification bits
    notify_bits: int = 0
    # set when a fastpath switched to this blocked receiver and already returned
    # it to user mode: its own continuation then has nothing left to do
    direct_return: bool = False
    lock: Lock = field(init=False)

    def __post_init__(self) -> None:
        self.lock = Lock(f"thread:{self.name}", address=self.address)

    def __repr__(self) -> str:
        return f"<Thread {self.name} cpu{self.cpu} {self.state.value}>"
