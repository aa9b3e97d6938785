"""The generic exception slowpath: deliver if the handler waits, else queue.

Save the full state, build the exception message, take the global scheduler
lock and the two thread locks in address order, deliver to a waiting handler
(waking it, with an IPI if it lives on another CPU) or queue the faulting
thread on the handler's send queue, then go through the scheduler and switch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from l4sim.kernel.checks import Stage
from l4sim.kernel.effects import KernelPath, Kick, Outcome, Spend, Switch
from l4sim.kernel.ipc_state import can_receive_now, enqueue_sender, exception_message, send_message
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import BLOCKED_ON_REPLY, INACTIVE, Thread
from l4sim.kernel.syscalls import RaiseException

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState

DELIVERED = "slow_deliver"
QUEUED = "slow_queue"
NO_HANDLER = "slow_no_handler"


def syscall_exception_slowpath(
    kernel: KernelState, cpu: int, current: Thread, exception: RaiseException
) -> KernelPath[None]:
    """Deliver or queue the exception; returns once ``current`` is resumed with the reply."""
    c = kernel.costs
    yield Spend(c.sp_save_state + c.sp_build_message)
    handler = current.handler
    held: list[Lock] = []
    if handler is None:
        # nobody to tell: the kernel halts the faulting thread
        yield kernel.lock_effects.take_stage(Stage.SCHEDULER, held, current, None)
        current.state = INACTIVE
        yield Spend(c.sched_pick)
        following = kernel.scheduler.pick_next(cpu)
        yield kernel.lock_effects.release_all(held)
        yield Outcome("slow", NO_HANDLER)
        yield Spend(c.context_switch)
        yield Switch(following)
        return
    yield kernel.lock_effects.take_stage(Stage.THREADS, held, current, handler)
    message = exception_message(current, exception)
    kick = None
    if can_receive_now(handler, current):
        yield Spend(c.sp_transfer)
        send_message(kernel, current, handler, message)
        current.state = BLOCKED_ON_REPLY
        current.reply_from = handler
        handler.direct_return = False
        kernel.scheduler.make_ready(handler)
        kick = handler.cpu if handler.cpu != cpu else None
        exit_point = DELIVERED
    else:
        yield Spend(c.sp_enqueue_sender)
        enqueue_sender(kernel, current, handler, message, expects_reply=True)
        exit_point = QUEUED
    yield Spend(c.sched_pick)
    following = kernel.scheduler.pick_next(cpu)
    yield kernel.lock_effects.release_all(held)
    if kick is not None:
        yield Spend(c.ipi_send)
        yield Kick(kick)
    yield Outcome("slow", exit_point)
    yield Spend(c.context_switch)
    yield Switch(following)
