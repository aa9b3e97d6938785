"""The system-call-exception fastpath's checks, in the order the SMP fastpath runs them.

Modelled on the OKL4 3.0 ARM exception-IPC fastpath (domain notes, section
2), ordered by the paper's SMP rules: checks that need no lock first, then
those reading scheduling state under the global scheduler lock, then those
reading the handler's IPC state under the two thread locks. Each check is
data (:class:`l4sim.kernel.checks.Check`): a name, the lock stage it needs,
its cycle cost's name, its predicate, what it guards. The path that runs
them is :mod:`l4sim.kernel.exception_fastpath`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l4sim.kernel.checks import Check, Stage, validate_order
from l4sim.kernel.objects import ANY, WAITING_TO_RECEIVE, Thread
from l4sim.kernel.syscalls import RaiseException

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState


@dataclass(slots=True)
class ExceptionContext:
    """What the exception fastpath's checks look at.

    Attributes:
        kernel: The kernel's state.
        cpu: The CPU that trapped.
        current: The thread that raised the exception.
        exception: Its :class:`~l4sim.kernel.syscalls.RaiseException`.
        handler: Its exception handler, if it has one.
    """

    kernel: KernelState
    cpu: int
    current: Thread
    exception: RaiseException
    # the handler: the checks that read it need handler_present, which vouches
    # that there is one (a check that cannot be evaluated fails)
    handler: Thread


# The checks, in the order the SMP fastpath runs them. Read this next to the paper.
SYSCALL_EXCEPTION_CHECKS: tuple[Check[ExceptionContext], ...] = validate_order(
    (
        # -- lock-free: the current thread's own state, owned by this CPU -------
        Check(
            "is_guest_syscall",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.exception.kind == "syscall",
            "only non-L4 system calls of a guest take this fastpath",
        ),
        Check(
            "current_no_resource_bits",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.current.resource_bits == 0,
            "no extra saved state (FPU, debug, kernel IPC) on the faulting thread",
            reads=("resource_bits",),
        ),
        Check(
            "handler_present",
            Stage.LOCK_FREE,
            "check_load_compare",
            lambda c: c.handler is not None,
            "the faulting thread has an exception handler",
            reads=("handler",),
        ),
        # -- under the global scheduler lock: scheduling state ------------------
        Check(
            "handler_on_this_cpu",
            Stage.SCHEDULER,
            "check_pointer_chase",
            lambda c: c.handler.cpu == c.cpu,
            "SMP: a handler on another CPU needs an IPI, so the slowpath",
            needs=("handler_present",),
            reads=("cpu",),
        ),
        Check(
            "handler_waiting",
            Stage.SCHEDULER,
            "check_pointer_chase",
            lambda c: c.handler.state is WAITING_TO_RECEIVE,
            "the handler is idle, waiting for an IPC",
            needs=("handler_present",),
            reads=("state",),
        ),
        Check(
            "handler_priority",
            Stage.SCHEDULER,
            "check_bitmap",
            lambda c: (
                c.handler.priority >= c.current.priority
                and c.handler.priority >= (c.kernel.scheduler.highest_ready(c.cpu) or 0)
            ),
            "the handler may run now: not below the faulting thread nor any ready thread",
            needs=("handler_present",),
            reads=("priority", "_ready", "_ready_bitmap"),
        ),
        Check(
            "valid_domain",
            Stage.SCHEDULER,
            "check_load_compare",
            lambda c: c.handler.domain == c.current.domain,
            "same scheduling domain",
            needs=("handler_present",),
            reads=("domain",),
        ),
        # -- under the thread locks (address order): the handler's IPC state ----
        Check(
            "handler_partner",
            Stage.THREADS,
            "check_pointer_chase",
            lambda c: c.handler.partner is ANY or c.handler.partner is c.current,
            "the handler receives from anyone or from this thread",
            needs=("handler_present",),
            reads=("partner",),
        ),
        Check(
            "handler_send_queue_empty",
            Stage.THREADS,
            "check_load_compare",
            lambda c: not c.handler.send_queue,
            "no earlier exception is queued: delivering now would overtake it",
            needs=("handler_present",),
            reads=("send_queue",),
        ),
        Check(
            "handler_no_resource_bits",
            Stage.THREADS,
            "check_load_compare",
            lambda c: c.handler.resource_bits == 0,
            "no extra saved state to restore on the handler",
            needs=("handler_present",),
            reads=("resource_bits",),
        ),
        Check(
            "handler_space_valid",
            Stage.THREADS,
            "check_pointer_chase",
            lambda c: c.handler.space is not None and c.handler.space.valid,
            "the handler has a valid address space to switch to",
            needs=("handler_present",),
            reads=("space", "valid"),
        ),
    )
)
