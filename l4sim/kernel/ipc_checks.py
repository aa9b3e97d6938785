"""The IPC fastpath's checks (Call and ReplyWait), and the notification fastpath's.

Modelled on the OKL4 3.0 IPC fastpath and seL4's ``fastpath_call`` /
``fastpath_reply_recv`` (domain notes, section 2), ordered by the paper's SMP
rules: lock-free checks first, then the global scheduler lock and the checks
on scheduling state, then the thread locks of caller and destination in
ascending address order and the checks on the destination's IPC state. The
paths that run them are in :mod:`l4sim.kernel.ipc_fastpath`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l4sim.kernel.checks import Check, Stage, validate_order
from l4sim.kernel.objects import ANY, BLOCKED_ON_REPLY, WAITING_TO_RECEIVE, Thread
from l4sim.kernel.syscalls import Call, Notify, ReplyWait

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState

MAX_REGISTER_WORDS = 4  # untyped words that fit in ARM registers (seL4: 4 on 32-bit ARM)


@dataclass(slots=True)
class IpcContext:
    """What the IPC fastpath's checks look at.

    One per CPU (``Kernel.ipc_contexts``), filled in at each entry: a CPU runs
    one kernel path at a time, and the fastpath is done with its context
    before it switches threads. A check reads it while it runs; it must not
    keep it. (The exception fastpath builds its context per entry: filling in
    its ``handler`` would count, for the static scan of
    :mod:`l4sim.design.immutability`, as a write of every thread's handler.)

    Attributes:
        kernel: The kernel's state.
        cpu: The CPU that trapped.
        current: The thread that made the IPC.
        op: Its IPC operation (:class:`~l4sim.kernel.syscalls.Call`,
            :class:`~l4sim.kernel.syscalls.ReplyWait`, ...).
        dest: The thread it sends or replies to, if any.
        is_call: The operation is a Call.
        is_reply_wait: The operation is a ReplyWait.
    """

    kernel: KernelState
    cpu: int
    current: Thread
    op: Call | ReplyWait | Notify  # the fastpaths' operations (a notification's, too)
    # the destination: the checks that read it need valid_destination, which
    # vouches that there is one (a check that cannot be evaluated fails)
    dest: Thread
    is_call: bool
    is_reply_wait: bool


def _destination_waiting(c: IpcContext) -> bool:
    if c.is_call:  # the callee waits to receive
        return c.dest.state is WAITING_TO_RECEIVE
    # the replied-to thread waits for our reply
    return c.dest.state is BLOCKED_ON_REPLY and c.dest.reply_from is c.current


def _partner_ok(c: IpcContext) -> bool:
    if c.is_call:
        return c.dest.partner is ANY or c.dest.partner is c.current
    return True  # a reply goes to whoever called us; its closed wait names us


# The checks, in the order the SMP fastpath runs them. Read this next to the paper.
IPC_CHECKS: tuple[Check[IpcContext], ...] = validate_order(
    (
        # -- lock-free: the operation and the caller's own registers --------------
        Check(
            "simple_message",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.op.words <= MAX_REGISTER_WORDS and not c.op.typed_items,
            "untyped words fit in registers; no map, grant or string items",
            decodes=True,
        ),
        Check(
            "valid_destination",
            Stage.LOCK_FREE,
            "check_pointer_chase",
            lambda c: c.dest is not None,
            "the destination thread id / capability names a thread",
            decodes=True,
        ),
        Check(
            "call_or_reply_wait",
            Stage.LOCK_FREE,
            "check_load_compare",
            # (is_reply_wait: the operation is a ReplyWait, which has a source)
            lambda c: c.is_call or (c.is_reply_wait and c.op.source is ANY),  # type: ignore[union-attr]
            "only a Call, or a ReplyWait with an open receive, has a fast case",
        ),
        # -- under the global scheduler lock: scheduling state ---------------------
        Check(
            "destination_on_this_cpu",
            Stage.SCHEDULER,
            "check_pointer_chase",
            lambda c: c.dest.cpu == c.cpu,
            "SMP: cross-CPU IPC needs the slowpath and an IPI (seL4 does the same)",
            needs=("valid_destination",),
            reads=("cpu",),
        ),
        Check(
            "no_sender_queued",
            Stage.SCHEDULER,
            "check_load_compare",
            lambda c: not c.current.send_queue and (c.is_call or not c.current.pending_irqs),
            "nobody is queued on us (nor an interrupt): our receive would have to take them",
            reads=("send_queue", "pending_irqs"),
        ),
        Check(
            "destination_waiting",
            Stage.SCHEDULER,
            "check_pointer_chase",
            _destination_waiting,
            "the callee waits to receive, or the replied-to thread waits for our reply",
            needs=("valid_destination",),
            reads=("state", "reply_from"),
        ),
        Check(
            "priority_and_domain",
            Stage.SCHEDULER,
            "check_bitmap",
            lambda c: (
                c.dest.priority >= (c.kernel.scheduler.highest_ready(c.cpu) or 0)
                and c.dest.domain == c.current.domain
            ),
            "the destination may run now: not below any ready thread; same domain",
            needs=("valid_destination",),
            reads=("priority", "domain", "_ready", "_ready_bitmap"),
        ),
        # -- under the thread locks (address order): the destination's IPC state ---
        Check(
            "destination_partner",
            Stage.THREADS,
            "check_pointer_chase",
            _partner_ok,
            "the callee receives from anyone or from us",
            needs=("valid_destination",),
            reads=("partner",),
        ),
        Check(
            "no_pending_notification",
            Stage.THREADS,
            "check_load_compare",
            lambda c: c.dest.notify_bits == 0 and not c.dest.pending_irqs,
            "no notification or interrupt is pending for the destination",
            needs=("valid_destination",),
            reads=("notify_bits", "pending_irqs"),
        ),
        Check(
            "valid_space",
            Stage.THREADS,
            "check_pointer_chase",
            lambda c: c.dest.space is not None and c.dest.space.valid,
            "the destination has a valid address space to switch to",
            needs=("valid_destination",),
            reads=("space", "valid"),
        ),
    )
)

# Notifications through the IPC fastpath (the paper's future work): a signal
# needs no message copy and no switch, so a waiting receiver on any CPU can be
# woken cheaply; a receiver that is not waiting gets the bits in the slowpath.
_BY_NAME = {check.name: check for check in IPC_CHECKS}
NOTIFY_CHECKS: tuple[Check[IpcContext], ...] = validate_order(
    (
        _BY_NAME["valid_destination"],
        Check(
            "destination_waiting_open",
            Stage.SCHEDULER,
            "check_pointer_chase",
            lambda c: c.dest.state is WAITING_TO_RECEIVE and c.dest.partner is ANY,
            "the receiver waits for anyone: the notification is delivered now",
            needs=("valid_destination",),
            reads=("state", "partner"),
        ),
        _BY_NAME["no_pending_notification"],
        _BY_NAME["valid_space"],
    )
)
