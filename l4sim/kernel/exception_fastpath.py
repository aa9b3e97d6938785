"""The system-call-exception fastpath, made SMP-safe as in the paper.

Modelled on the OKL4 3.0 ARM exception-IPC fastpath (domain notes, section 2),
reordered for SMP following the paper's rules:

1. checks that need no lock first (failing early is cheap);
2. then the global scheduler lock, since the scheduler decides what runs next
   and on which CPU, and the checks that read scheduling state;
3. then the thread locks of the faulting thread and its handler, in ascending
   address order, and the checks that read the handler's IPC state;
4. commit: copy the exception state and switch directly to the handler.

Locks are never released and retaken inside the fastpath. A failure records
the failing check as the exit point, releases what is held, and falls back to
the slowpath, having paid for every check already run.

The ``uniprocessor`` variant (``KernelConfig.fastpath_variant``) is
the fastpath before the paper's work: the same checks in the same order, but
the scheduler and thread stages read shared state without taking any lock,
and the commit writes it unlocked. Correct on one CPU; on several, another
CPU can change what was read before the commit uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4sim.kernel.check_plan import run_checks
from l4sim.kernel.checks import THREADS, Check, Stage, pass_mask, validate_order
from l4sim.kernel.effects import Outcome, Spend, Switch, Sync
from l4sim.kernel.objects import ANY, BLOCKED_ON_REPLY, WAITING_TO_RECEIVE, Thread
from l4sim.kernel.syscalls import RaiseException


@dataclass(slots=True)
class ExceptionContext:
    """What the exception fastpath's checks look at."""

    kernel: object
    cpu: int
    current: Thread
    exception: RaiseException
    handler: Thread | None


# The checks, in the order the SMP fastpath runs them. Read this next to the paper.
SYSCALL_EXCEPTION_CHECKS: tuple[Check, ...] = validate_order(
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

FAST_EXIT = "fast_switch"
SYNC = Sync()
FAST_OUTCOME = Outcome("fast", FAST_EXIT)


def syscall_exception_fastpath(
    kernel, cpu: int, current: Thread, exception: RaiseException, spent: int = 0
):
    """Try the fastpath. Returns True if the exception was delivered, False to fall back.

    On success the handler runs in place of ``current`` and ``current`` blocks
    waiting for the reply; the generator returns once ``current`` is resumed.
    ``spent`` is kernel time already spent (the entry) to charge with the checks.
    """
    c = kernel.costs
    ctx = ExceptionContext(kernel, cpu, current, exception, current.handler)
    held: list = []
    unlocked = kernel.unlocked_fastpath
    read = (lambda stage: _read_unlocked(kernel, cpu, ctx, stage)) if unlocked else None
    plan = kernel.exception_plan
    passed, stage, spent = yield from run_checks(
        kernel, plan, kernel.exception_base_checks, ctx, current, ctx.handler, held, spent, read
    )
    if not passed:
        return False
    handler = ctx.handler
    outcome = FAST_OUTCOME
    if kernel.config.profile_checks:
        outcome = Outcome("fast", FAST_EXIT, pass_mask(kernel.exception_base_checks, ctx))
    if unlocked:  # commit now, on what the unlocked reads saw
        yield Spend(spent)
        spent = 0
        yield SYNC
        if kernel.monitor is not None:  # the unlocked reads are used here
            kernel.monitor.use_reads(cpu, "exception fastpath commit")
    elif stage < THREADS:
        yield Spend(spent)
        spent = 0
        yield kernel.take_stage(THREADS, held, current, handler)
    if plan.hoisted and kernel.monitor is not None:  # were the hoisting proofs right?
        kernel.monitor.recheck_hoisted(cpu, ctx, plan.hoisted)
    # commit: the point of no return; the fastpath returns straight to the handler
    yield Spend(spent + c.fp_copy_exception_state + c.fp_switch + c.kernel_exit)
    kernel.send_message(current, handler, kernel.exception_message(current, exception))
    current.state = BLOCKED_ON_REPLY
    current.reply_from = handler
    handler.direct_return = True
    kernel.scheduler.run(cpu, handler)
    yield kernel.release_all(held)
    yield outcome
    yield Switch(handler)
    return True


def _read_unlocked(kernel, cpu: int, ctx: ExceptionContext, stage: Stage):
    """Uniprocessor variant: read the stage's shared state as it is now, without its lock."""
    yield SYNC
    if kernel.monitor is not None:  # the monitor notes an unlocked read
        kernel.monitor.read_unlocked(cpu, _stage_cell(kernel, stage, ctx))


def _stage_cell(kernel, stage: Stage, ctx: ExceptionContext) -> tuple:
    """The shared state a check stage reads, and the lock that protects it."""
    if stage is Stage.SCHEDULER:
        return ("scheduler", kernel.scheduler_lock)
    return (f"ipc:{ctx.handler.name}", ctx.handler.lock)
