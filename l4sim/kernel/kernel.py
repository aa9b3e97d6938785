"""The kernel's entry points: what the simulator calls when a CPU traps into the kernel.

Everything here is plain Python. Entry points return generators of effects
(:mod:`l4sim.kernel.effects`); the decisions are made here and in the paths
they run, the time they take and the waiting for locks are the simulator's
job. The state they work on is :class:`l4sim.kernel.state.KernelState`.
"""

from __future__ import annotations

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC, LEARNED, SYSCALL_EXCEPTION, Decoded, decode
from l4sim.kernel.effects import KernelPath, Outcome, Spend, Switch
from l4sim.kernel.exception_fastpath import syscall_exception_fastpath
from l4sim.kernel.exception_slowpath import syscall_exception_slowpath
from l4sim.kernel.ipc_fastpath import ipc_fastpath, notify_fastpath
from l4sim.kernel.ipc_slowpath import ipc_slowpath
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import ANY, WAITING_TO_RECEIVE, Message, Thread
from l4sim.kernel.state import KernelState
from l4sim.kernel.syscalls import (
    Call,
    IpcOperation,
    Notify,
    RaiseException,
    ReplyWait,
    UnknownAction,
)

IRQ_DELIVERED = Outcome("slow", "irq_deliver")
IRQ_PENDING = Outcome("slow", "irq_pending")

# kinds of traced kernel entries: a user's (SYSCALL_EXCEPTION, IPC: l4sim.kernel.decode),
# and kernel-originated IPC, an interrupt delivered to its handler thread
IRQ = "irq"

Path = KernelPath[Message | None]  # a kernel entry's path: returns what its thread receives


class Kernel(KernelState):
    """The kernel's state and its entry points: a trap, an interrupt, a reschedule.

    A workload's ``build`` makes one from the configuration and costs it is
    given, ``Kernel(config, costs)``, and creates its address spaces and
    threads (:meth:`create_space`, :meth:`create_thread`); the simulator calls
    the entry points.
    """

    def __init__(self, config: KernelConfig, costs: Costs) -> None:
        super().__init__(config, costs)
        # the trap's assembly entry and exit (trap_entry, trap_exit): without them
        # (every built-in profile) each entry point is its kernel part itself, one
        # call fewer per kernel entry
        self.traps = bool(costs.trap_entry or costs.trap_exit)
        if not self.traps:
            self.enter = self.enter_kernel  # type: ignore[method-assign]
            self.reschedule = self.reschedule_kernel  # type: ignore[method-assign]
            self.deliver_irq = self.deliver_irq_kernel  # type: ignore[method-assign]

    def enter(self, cpu: int, thread: Thread, action: object) -> tuple[str, Path]:
        """A user action that traps: (kind of kernel entry, path generator)."""
        kind, path = self.enter_kernel(cpu, thread, action)
        return kind, self.trapped(path)

    def trapped(self, path: Path, entry: bool = True) -> Path:
        """``path`` inside the trap's assembly entry and exit (``trap_entry``, ``trap_exit``).

        The entry comes first and the exit last, after every lock is released:
        a kernel whose lock is taken in C (seL4's, from the C entry to just
        before the return to user) runs them outside it. The exit belongs to
        the path that returns its thread to user mode. ``entry=False``: an
        interrupt taken in user mode, whose entry ``timer_irq`` covers.
        Without trap costs (every built-in profile) the path itself.
        """
        c = self.costs
        if not (c.trap_exit or (entry and c.trap_entry)):
            return path
        return _trap(path, c.trap_entry if entry else 0, c.trap_exit)

    def enter_kernel(self, cpu: int, thread: Thread, action: object) -> tuple[str, Path]:
        """The kernel's C part of a trap (what :meth:`enter` wraps in the trap itself)."""
        decoded = LEARNED.get(type(action)) or decode(action)
        if decoded is None:
            raise UnknownAction(f"thread {thread.name}: unknown action {action!r}")
        # (decoded says which: a RaiseException, or an IPC operation)
        if decoded.entry == SYSCALL_EXCEPTION:
            return SYSCALL_EXCEPTION, self._syscall_exception(cpu, thread, action)  # type: ignore[arg-type]
        return IPC, self._ipc(cpu, thread, action, decoded)  # type: ignore[arg-type]

    def _syscall_exception(self, cpu: int, thread: Thread, exception: RaiseException) -> Path:
        c = self.costs
        delivered = False
        if self.config.fastpath_syscall:
            delivered = yield from syscall_exception_fastpath(
                self, cpu, thread, exception, spent=c.kernel_entry
            )
        else:
            yield Spend(c.kernel_entry)
        if not delivered:
            yield from syscall_exception_slowpath(self, cpu, thread, exception)
        # continuation: the handler's reply has arrived and we run again
        if thread.direct_return:  # an IPC fastpath already returned us to user mode
            thread.direct_return = False
            yield Spend(c.resume_after_reply)
        else:
            yield Spend(c.resume_after_reply + c.kernel_exit)
        return thread.received

    def _ipc(
        self, cpu: int, thread: Thread, op: IpcOperation, decoded: Decoded | None = None
    ) -> Path:
        """An IPC system call's path: its fastpath if one is built in, else the slowpath.

        A fastpath that falls back starts the slowpath from the beginning, or
        after what the fastpath decoded for it (a design's handover).
        """
        if decoded is None:
            decoded = decode(op)
        config = self.config
        # (has_fastpath: a Call or a ReplyWait; notifies: a Notify)
        if config.fastpath_ipc and decoded.has_fastpath:
            return self._ipc_fast_or_slow(cpu, thread, op, decoded)  # type: ignore[arg-type]
        if config.fastpath_notify and decoded.notifies:
            return self._notify_fast_or_slow(cpu, thread, op, decoded)  # type: ignore[arg-type]
        return ipc_slowpath(self, cpu, thread, op, self.costs.kernel_entry, decoded)

    def _ipc_fast_or_slow(
        self, cpu: int, thread: Thread, op: Call | ReplyWait, decoded: Decoded
    ) -> Path:
        done, received, handed = yield from ipc_fastpath(
            self, cpu, thread, op, self.costs.kernel_entry, decoded
        )
        if done:
            return received
        return (yield from ipc_slowpath(self, cpu, thread, op, 0, decoded, handed))

    def _notify_fast_or_slow(self, cpu: int, thread: Thread, op: Notify, decoded: Decoded) -> Path:
        if (yield from notify_fastpath(self, cpu, thread, op, self.costs.kernel_entry)):
            return None
        return (yield from ipc_slowpath(self, cpu, thread, op, 0, decoded))

    def deliver_irq(self, cpu: int, current: Thread | None, payload: tuple[object, ...]) -> Path:
        """An interrupt on ``cpu``: kernel-originated IPC to the CPU's interrupt thread.

        Delivered at once if the thread waits, else left pending for its next
        receive. A woken thread that outranks the interrupted one preempts it.
        """
        path = self.deliver_irq_kernel(cpu, current, payload)
        return path if current is None else self.trapped(path, entry=False)

    def deliver_irq_kernel(
        self, cpu: int, current: Thread | None, payload: tuple[object, ...]
    ) -> KernelPath[None]:
        """The kernel part of :meth:`deliver_irq` (without the trap's exit)."""
        c = self.costs
        sched = self.scheduler
        yield Spend(c.timer_irq)
        target = self.irq_threads[cpu]
        held: list[Lock] = []
        yield self.lock_effects.take_scheduler(held)
        yield self.lock_effects.take_thread_locks(held, target)
        if target.state is WAITING_TO_RECEIVE and target.partner is ANY:
            yield Spend(c.ipc_transfer)
            target.received = Message("irq", None, payload)
            target.direct_return = False
            sched.make_ready(target)
            outcome = IRQ_DELIVERED
        else:
            yield Spend(c.sp_enqueue_sender)
            target.pending_irqs.append(payload)
            outcome = IRQ_PENDING
        best = sched.highest_ready(cpu)
        if current is None or (best is not None and best > current.priority):
            if current is not None:
                sched.make_ready(current)
            yield Spend(c.sched_pick)
            following = sched.pick_next(cpu)
            yield self.lock_effects.release_all(held)
            yield outcome
            if following is not None:
                yield Spend(c.context_switch)
            yield Switch(following)
            if current is not None:
                yield Spend(c.kernel_exit)  # continuation: scheduled again
            return
        yield self.lock_effects.release_all(held)
        yield outcome
        yield Spend(c.kernel_exit)

    def reschedule(self, cpu: int, thread: Thread, timeslice_expired: bool) -> Path:
        """Timer (timeslice end) or IPI: run a better ready thread if there is one.

        At the end of a timeslice an equal-priority thread takes over (round
        robin); on an IPI only a strictly higher priority preempts.
        """
        return self.trapped(self.reschedule_kernel(cpu, thread, timeslice_expired), entry=False)

    def reschedule_kernel(
        self, cpu: int, thread: Thread, timeslice_expired: bool
    ) -> KernelPath[None]:
        """The kernel part of :meth:`reschedule` (without the trap's exit)."""
        c = self.costs
        yield Spend(c.timer_irq)
        held: list[Lock] = []
        yield self.lock_effects.take_scheduler(held)
        best = self.scheduler.highest_ready(cpu)
        yield Spend(c.check_bitmap)
        if best is not None and (
            best > thread.priority or (timeslice_expired and best == thread.priority)
        ):
            self.scheduler.make_ready(thread)
            yield Spend(c.sched_pick)
            following = self.scheduler.pick_next(cpu)
            yield self.lock_effects.release_all(held)
            yield Spend(c.context_switch)
            yield Switch(following)
        else:
            yield self.lock_effects.release_all(held)
        yield Spend(c.kernel_exit)

    def dispatch(self, cpu: int) -> KernelPath[None]:
        """An idle CPU was kicked: run its best ready thread, if any."""
        c = self.costs
        yield Spend(c.timer_irq)
        held: list[Lock] = []
        yield self.lock_effects.take_scheduler(held)
        yield Spend(c.sched_pick)
        following = self.scheduler.pick_next(cpu)
        yield self.lock_effects.release_all(held)
        if following is not None:
            yield Spend(c.context_switch)
        yield Switch(following)


def _trap(path: Path, entry: int, exit: int) -> Path:
    """``path`` after ``entry`` cycles and before ``exit`` cycles (see Kernel.trapped)."""
    if entry:
        yield Spend(entry)
    result = yield from path
    if exit:
        yield Spend(exit)
    return result


__all__ = ["IPC", "IRQ", "SYSCALL_EXCEPTION", "Kernel", "KernelConfig"]
