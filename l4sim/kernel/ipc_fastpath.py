"""The IPC fastpath for Call and ReplyWait, made SMP-safe like the exception fastpath.

Modelled on the OKL4 3.0 IPC fastpath and seL4's ``fastpath_call`` /
``fastpath_reply_recv`` (domain notes, section 2), ordered by the paper's SMP
rules: lock-free checks first, then the global scheduler lock and the checks
on scheduling state, then the thread locks of caller and destination in
ascending address order and the checks on the destination's IPC state.

The destination is the callee of a Call, or the thread a ReplyWait replies
to. A failure releases whatever is held and falls back to the slowpath, which
starts again from the beginning (the price of a late failure). Cross-CPU IPC
fails ``destination_on_this_cpu``: the slowpath delivers it and sends an IPI.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4sim.kernel.check_plan import run_checks
from l4sim.kernel.checks import THREADS, Check, Stage, pass_mask, validate_order
from l4sim.kernel.decode import Decoded, decode
from l4sim.kernel.effects import Kick, Outcome, Spend, Switch
from l4sim.kernel.objects import ANY, BLOCKED_ON_REPLY, WAITING_TO_RECEIVE, Message, Thread

MAX_REGISTER_WORDS = 4  # untyped words that fit in ARM registers (seL4: 4 on 32-bit ARM)


@dataclass(slots=True)
class IpcContext:
    """What the IPC fastpath's checks look at.

    One per CPU (``Kernel.ipc_contexts``), filled in at each entry: a CPU runs
    one kernel path at a time, and the fastpath is done with its context
    before it switches threads. A check reads it while it runs; it must not
    keep it. (The exception fastpath builds its context per entry: filling in
    its ``handler`` would count, for the static scan of
    :mod:`l4sim.kernel.immutable_fields`, as a write of every thread's handler.)
    """

    kernel: object
    cpu: int
    current: Thread
    op: object
    dest: Thread | None
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
IPC_CHECKS: tuple[Check, ...] = validate_order(
    (
        # -- lock-free: the operation and the caller's own registers --------------
        Check(
            "simple_message",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.op.words <= MAX_REGISTER_WORDS and not c.op.typed_items,
            "untyped words fit in registers; no map, grant or string items",
        ),
        Check(
            "valid_destination",
            Stage.LOCK_FREE,
            "check_pointer_chase",
            lambda c: c.dest is not None,
            "the destination thread id / capability names a thread",
        ),
        Check(
            "call_or_reply_wait",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.is_call or (c.is_reply_wait and c.op.source is ANY),
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

FAST_CALL = "fast_call"
FAST_REPLY_WAIT = "fast_reply_wait"
_FAST = {True: Outcome("fast", FAST_CALL), False: Outcome("fast", FAST_REPLY_WAIT)}


def ipc_fastpath(
    kernel, cpu: int, current: Thread, op, spent: int = 0, decoded: Decoded | None = None
):
    """Try the fastpath for ``op``: (True, received) on success, (False, None) to fall back.

    ``decoded``: what the kernel's entry made of ``op`` (:mod:`l4sim.kernel.decode`).
    """
    c = kernel.costs
    if decoded is None:
        decoded = decode(op)
    is_call = decoded.is_call
    is_reply_wait = decoded.is_reply_wait
    dest = op.dest if is_call else op.reply_to if is_reply_wait else getattr(op, "dest", None)
    ctx = kernel.ipc_contexts[cpu]
    ctx.current = current
    ctx.op = op
    ctx.dest = dest
    ctx.is_call = is_call
    ctx.is_reply_wait = is_reply_wait
    held: list = []
    plan = kernel.ipc_plan
    passed, stage, spent = yield from run_checks(
        kernel, plan, kernel.ipc_base_checks, ctx, current, dest, held, spent
    )
    if not passed:
        return False, None
    outcome = _FAST[is_call]
    if kernel.config.profile_checks:
        outcome = Outcome("fast", outcome.exit_point, pass_mask(kernel.ipc_base_checks, ctx))
    if stage < THREADS:  # a reordered list may end before the thread stage
        yield Spend(spent)
        spent = 0
        yield kernel.take_stage(THREADS, held, current, dest)
    if plan.hoisted and kernel.monitor is not None:  # were the hoisting proofs right?
        kernel.monitor.recheck_hoisted(cpu, ctx, plan.hoisted)
    # commit: the point of no return; the fastpath returns straight to the destination.
    # fp_call / fp_reply_recv: what only one of the two does (seL4's fastpath_call
    # takes the callee off the endpoint and gives it the reply capability;
    # fastpath_reply_recv deletes that capability and queues the replier on its
    # endpoint to receive)
    yield Spend(
        spent
        + c.fp_ipc_transfer
        + c.fp_switch
        + c.kernel_exit
        + (c.fp_call if is_call else c.fp_reply_recv)
    )
    if is_call:
        kernel.send_message(current, dest, Message("call", current, op.payload, op.words))
        current.state = BLOCKED_ON_REPLY
        current.reply_from = dest
    else:
        kernel.send_message(current, dest, Message("reply", current, op.payload))
        dest.reply_from = None
        current.state = WAITING_TO_RECEIVE
        current.partner = ANY
    dest.direct_return = True
    kernel.scheduler.run(cpu, dest)
    yield kernel.release_all(held)
    yield outcome
    yield Switch(dest)
    # continuation: our reply (Call) or a message (ReplyWait) has arrived
    if current.direct_return:
        current.direct_return = False
    else:
        yield Spend(c.receive_resume + c.kernel_exit)
    return True, current.received


# Notifications through the IPC fastpath (the paper's future work): a signal
# needs no message copy and no switch, so a waiting receiver on any CPU can be
# woken cheaply; a receiver that is not waiting gets the bits in the slowpath.
_BY_NAME = {check.name: check for check in IPC_CHECKS}
NOTIFY_CHECKS: tuple[Check, ...] = validate_order(
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
FAST_NOTIFY = Outcome("fast", "fast_notify")


def notify_fastpath(kernel, cpu: int, current: Thread, op, spent: int = 0):
    """Deliver a notification to a waiting receiver; False to fall back to the slowpath."""
    c = kernel.costs
    ctx = kernel.ipc_contexts[cpu]
    ctx.current = current
    ctx.op = op
    ctx.dest = op.dest
    ctx.is_call = False
    ctx.is_reply_wait = False
    held: list = []
    passed, stage, spent = yield from run_checks(
        kernel, kernel.notify_plan, NOTIFY_CHECKS, ctx, current, op.dest, held, spent
    )
    if not passed:
        return False
    if stage < THREADS:
        yield Spend(spent)
        spent = 0
        yield kernel.take_stage(THREADS, held, current, op.dest)
    dest = op.dest
    yield Spend(spent + c.fp_ipc_transfer)
    kernel.notify(current, dest, op.bits)
    sched = kernel.scheduler
    best = sched.highest_ready(cpu)
    if dest.cpu == cpu and best is not None and best > current.priority:
        sched.make_ready(current)  # the woken receiver outranks us: switch to it
        following = sched.pick_next(cpu)
        yield Spend(c.fp_switch + c.kernel_exit)
        yield kernel.release_all(held)
        yield FAST_NOTIFY
        yield Switch(following)
        yield Spend(c.kernel_exit)  # continuation: scheduled again
        return True
    yield kernel.release_all(held)
    if dest.cpu != cpu:
        yield Spend(c.ipi_send)
        yield Kick(dest.cpu)
    yield FAST_NOTIFY
    yield Spend(c.kernel_exit)
    return True
