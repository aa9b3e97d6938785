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

from typing import TYPE_CHECKING

from l4sim.kernel.check_plan import run_checks
from l4sim.kernel.checks import THREADS, pass_mask
from l4sim.kernel.decode import Decoded, decode
from l4sim.kernel.effects import KernelPath, Kick, Outcome, Spend, Switch
from l4sim.kernel.ipc_checks import NOTIFY_CHECKS
from l4sim.kernel.ipc_state import notify, send_message
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import ANY, BLOCKED_ON_REPLY, WAITING_TO_RECEIVE, Message, Thread
from l4sim.kernel.syscalls import Call, Notify, ReplyWait

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState

FAST_CALL = "fast_call"
FAST_REPLY_WAIT = "fast_reply_wait"
_FAST = {True: Outcome("fast", FAST_CALL), False: Outcome("fast", FAST_REPLY_WAIT)}


def ipc_fastpath(
    kernel: KernelState,
    cpu: int,
    current: Thread,
    op: Call | ReplyWait,
    spent: int = 0,
    decoded: Decoded | None = None,
) -> KernelPath[tuple[bool, Message | None, int]]:
    """Try the fastpath for ``op``: (True, received, 0), or (False, None, handed) to fall back.

    ``handed``: the cycles of decoding the fastpath hands to the slowpath.

    ``decoded``: what the kernel's entry made of ``op`` (:mod:`l4sim.kernel.decode`).
    """
    c = kernel.costs
    if decoded is None:
        decoded = decode(op)
    is_call = decoded.is_call
    is_reply_wait = decoded.is_reply_wait
    # (is_call: a Call, which has a dest; is_reply_wait: a ReplyWait, which has a
    # reply_to; the checks vouch for the destination before anything uses it)
    dest: Thread = (
        op.dest if is_call else op.reply_to if is_reply_wait else getattr(op, "dest", None)  # type: ignore[union-attr, assignment]
    )
    ctx = kernel.ipc_contexts[cpu]
    ctx.current = current
    ctx.op = op
    ctx.dest = dest
    ctx.is_call = is_call
    ctx.is_reply_wait = is_reply_wait
    held: list[Lock] = []
    plan = kernel.ipc_plans[is_call]
    base = kernel.ipc_base_checks
    # a profiled attempt's mask says which operation it was: the bit above the checks'
    operation = is_call << len(base) if kernel.config.check_profile else 0
    passed, stage, spent = yield from run_checks(
        kernel, plan, base, ctx, current, dest, held, spent, operation_bit=operation
    )
    if not passed:
        return False, None, spent
    outcome = _FAST[is_call]
    if kernel.config.check_profile:
        outcome = Outcome("fast", outcome.exit_point, pass_mask(base, ctx) | operation)
    if stage < THREADS:  # a reordered list may end before the thread stage
        yield Spend(spent)
        spent = 0
        yield kernel.lock_effects.take_stage(THREADS, held, current, dest)
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
        send_message(kernel, current, dest, Message("call", current, op.payload, op.words))
        current.state = BLOCKED_ON_REPLY
        current.reply_from = dest
    else:
        send_message(kernel, current, dest, Message("reply", current, op.payload))
        dest.reply_from = None
        current.state = WAITING_TO_RECEIVE
        current.partner = ANY
    dest.direct_return = True
    kernel.scheduler.run(cpu, dest)
    yield kernel.lock_effects.release_all(held)
    yield outcome
    yield Switch(dest)
    # continuation: our reply (Call) or a message (ReplyWait) has arrived
    if current.direct_return:
        current.direct_return = False
    else:
        yield Spend(c.receive_resume + c.kernel_exit)
    return True, current.received, 0


FAST_NOTIFY = Outcome("fast", "fast_notify")


def notify_fastpath(
    kernel: KernelState, cpu: int, current: Thread, op: Notify, spent: int = 0
) -> KernelPath[bool]:
    """Deliver a notification to a waiting receiver; False to fall back to the slowpath."""
    c = kernel.costs
    ctx = kernel.ipc_contexts[cpu]
    ctx.current = current
    ctx.op = op
    ctx.dest = op.dest
    ctx.is_call = False
    ctx.is_reply_wait = False
    held: list[Lock] = []
    passed, stage, spent = yield from run_checks(
        kernel, kernel.notify_plan, NOTIFY_CHECKS, ctx, current, op.dest, held, spent
    )
    if not passed:
        return False
    if stage < THREADS:
        yield Spend(spent)
        spent = 0
        yield kernel.lock_effects.take_stage(THREADS, held, current, op.dest)
    dest = op.dest
    yield Spend(spent + c.fp_ipc_transfer)
    notify(kernel, current, dest, op.bits)
    sched = kernel.scheduler
    best = sched.highest_ready(cpu)
    if dest.cpu == cpu and best is not None and best > current.priority:
        sched.make_ready(current)  # the woken receiver outranks us: switch to it
        following = sched.pick_next(cpu)
        yield Spend(c.fp_switch + c.kernel_exit)
        yield kernel.lock_effects.release_all(held)
        yield FAST_NOTIFY
        yield Switch(following)
        yield Spend(c.kernel_exit)  # continuation: scheduled again
        return True
    yield kernel.lock_effects.release_all(held)
    if dest.cpu != cpu:
        yield Spend(c.ipi_send)
        yield Kick(dest.cpu)
    yield FAST_NOTIFY
    yield Spend(c.kernel_exit)
    return True
