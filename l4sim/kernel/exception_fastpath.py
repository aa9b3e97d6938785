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

from collections.abc import Generator
from typing import TYPE_CHECKING

from l4sim.kernel.check_plan import run_checks
from l4sim.kernel.checks import THREADS, Stage, pass_mask
from l4sim.kernel.effects import KernelPath, Outcome, Spend, Switch, Sync
from l4sim.kernel.exception_checks import ExceptionContext
from l4sim.kernel.ipc_state import exception_message, send_message
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import BLOCKED_ON_REPLY, Thread
from l4sim.kernel.syscalls import RaiseException

if TYPE_CHECKING:
    from l4sim.kernel.state import KernelState

FAST_EXIT = "fast_switch"
SYNC = Sync()
FAST_OUTCOME = Outcome("fast", FAST_EXIT)


def syscall_exception_fastpath(
    kernel: KernelState, cpu: int, current: Thread, exception: RaiseException, spent: int = 0
) -> KernelPath[bool]:
    """Try the fastpath. Returns True if the exception was delivered, False to fall back.

    On success the handler runs in place of ``current`` and ``current`` blocks
    waiting for the reply; the generator returns once ``current`` is resumed.
    ``spent`` is kernel time already spent (the entry) to charge with the checks.
    """
    c = kernel.costs
    # (a missing handler fails handler_present before any check reads it)
    ctx = ExceptionContext(kernel, cpu, current, exception, current.handler)  # type: ignore[arg-type]
    held: list[Lock] = []
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
    if kernel.config.check_profile:
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
        yield kernel.lock_effects.take_stage(THREADS, held, current, handler)
    if plan.hoisted and kernel.monitor is not None:  # were the hoisting proofs right?
        kernel.monitor.recheck_hoisted(cpu, ctx, plan.hoisted)
    # commit: the point of no return; the fastpath returns straight to the handler
    yield Spend(spent + c.fp_copy_exception_state + c.fp_switch + c.kernel_exit)
    send_message(kernel, current, handler, exception_message(current, exception))
    current.state = BLOCKED_ON_REPLY
    current.reply_from = handler
    handler.direct_return = True
    kernel.scheduler.run(cpu, handler)
    yield kernel.lock_effects.release_all(held)
    yield outcome
    yield Switch(handler)
    return True


def _read_unlocked(
    kernel: KernelState, cpu: int, ctx: ExceptionContext, stage: Stage
) -> Generator[Sync, None, None]:
    """Uniprocessor variant: read the stage's shared state as it is now, without its lock."""
    yield SYNC
    if kernel.monitor is not None:  # the monitor notes an unlocked read
        kernel.monitor.read_unlocked(cpu, _stage_cell(kernel, stage, ctx))


def _stage_cell(kernel: KernelState, stage: Stage, ctx: ExceptionContext) -> tuple[str, Lock]:
    """The shared state a check stage reads, and the lock that protects it."""
    if stage is Stage.SCHEDULER:
        return ("scheduler", kernel.scheduler_lock)
    return (f"ipc:{ctx.handler.name}", ctx.handler.lock)
