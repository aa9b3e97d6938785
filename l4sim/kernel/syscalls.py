"""The user-kernel interface: what a user program can ask of the kernel.

User programs are generators that yield these actions; the simulator charges
``Compute`` as user time and turns every other action into a kernel entry.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from l4sim.kernel.objects import Thread


class UnknownAction(TypeError):
    """A thread's program yielded something that is no action of the kernel or the CPU.

    A mistake in the program, told in one line with its thread.
    """


@dataclass(slots=True)
class Compute:
    """Run in user mode for ``cycles`` cycles."""

    cycles: int


@dataclass(slots=True)
class Spin:
    """Spin on the cycle counter until it has advanced by ``cycles``, in user mode.

    Unlike :class:`Compute` it ends ``cycles`` after it starts whatever
    interrupts it: cycles spent in the kernel meanwhile count towards it.
    """

    cycles: int


@dataclass(slots=True)
class RaiseException:
    """A guest system call (a non-L4 ``swi``): the kernel turns it into an IPC to the handler."""

    kind: str = "syscall"
    payload: tuple[object, ...] = ()


@dataclass(slots=True)
class Call:
    """Send to ``dest`` and wait for its reply (a closed receive from ``dest``)."""

    dest: Thread
    payload: tuple[object, ...] = ()
    words: int = 2
    typed_items: bool = False


@dataclass(slots=True)
class Send:
    """Send to ``dest``; block only until it receives (no reply)."""

    dest: Thread
    payload: tuple[object, ...] = ()
    words: int = 2
    typed_items: bool = False


@dataclass(slots=True)
class Notify:
    """Signal ``dest``: OR ``bits`` into its notification word; never blocks, no reply.

    A waiting receiver gets them at once as a ``notify`` message, else at its
    next receive.
    """

    dest: Thread
    bits: int = 1
    words: int = 1
    typed_items: bool = False


@dataclass(slots=True)
class Reply:
    """Reply to ``reply_to`` (blocked on our reply) without waiting afterwards."""

    reply_to: Thread
    payload: tuple[object, ...] = ()


@dataclass(slots=True)
class StartIO:
    """Program a device (an MMIO write): it raises ``irq`` on CPU 0 after ``latency`` cycles.

    Not a kernel entry: the store costs ``cycles`` of user time.
    """

    latency: int
    irq: tuple[object, ...]
    cycles: int = 20


@dataclass(slots=True)
class SharedAccess:
    """About to read or write memory that user code on another CPU also uses.

    Not a kernel entry and no cost of its own: the simulator lets the clock
    catch up with the thread first, so the access happens at its true cycle
    relative to the other CPUs (it may otherwise run user code ahead of the
    clock, which only code touching its own memory can afford).
    """


@dataclass(slots=True)
class Wait:
    """Receive: from anyone (``source=None``, an open wait) or from one thread (closed)."""

    source: Thread | None = None


@dataclass(slots=True)
class ReplyWait:
    """Reply to ``reply_to`` (who is blocked on our reply), then wait as :class:`Wait`."""

    reply_to: Thread
    payload: tuple[object, ...] = ()
    source: Thread | None = None
    words: int = 2
    typed_items: bool = False


IPC_OPERATIONS = (Call, Send, Notify, Reply, Wait, ReplyWait)
IpcOperation = Call | Send | Notify | Reply | Wait | ReplyWait
# what a user program may yield
Action = Compute | Spin | RaiseException | StartIO | SharedAccess | IpcOperation
# A user program: yields actions (these, or a workload's own), and is sent what the
# kernel returns (a receive's Message, else None: Any, as it depends on the action).
Program = Generator[object, Any, None]
