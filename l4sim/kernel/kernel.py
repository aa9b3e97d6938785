"""The kernel: its objects, its locks, and the entry points the simulator calls.

Everything here is plain Python. Entry points return generators of effects
(:mod:`l4sim.kernel.effects`); the decisions are made here, the time they
take and the waiting for locks are the simulator's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4sim.kernel.check_plan import plan_checks
from l4sim.kernel.checks import Stage, reorder
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC, LEARNED, SYSCALL_EXCEPTION, Decoded, decode
from l4sim.kernel.effects import Acquire, Outcome, Release, Spend, Switch
from l4sim.kernel.exception_fastpath import SYSCALL_EXCEPTION_CHECKS, syscall_exception_fastpath
from l4sim.kernel.exception_slowpath import syscall_exception_slowpath
from l4sim.kernel.fastpath_design import apply_design
from l4sim.kernel.ipc_fastpath import (
    IPC_CHECKS,
    NOTIFY_CHECKS,
    IpcContext,
    ipc_fastpath,
    notify_fastpath,
)
from l4sim.kernel.ipc_slowpath import ipc_slowpath
from l4sim.kernel.locks import KERNEL_LOCKING, LOCK_DESIGNS, Lock, in_lock_order
from l4sim.kernel.objects import (
    ANY,
    BLOCKED_ON_REPLY,
    WAITING_TO_RECEIVE,
    WAITING_TO_SEND,
    Message,
    Space,
    Thread,
)
from l4sim.kernel.scheduler import Scheduler
from l4sim.kernel.syscalls import RaiseException

IRQ_DELIVERED = Outcome("slow", "irq_deliver")
IRQ_PENDING = Outcome("slow", "irq_pending")

TCB_SIZE = 0x200  # bytes per thread control block: consecutive TCBs, ascending addresses
SPACE_BASE = 0x8000_0000
TCB_BASE = 0xF000_0000

# kinds of traced kernel entries: a user's (SYSCALL_EXCEPTION, IPC: l4sim.kernel.decode),
# and kernel-originated IPC, an interrupt delivered to its handler thread
IRQ = "irq"

# The fastpaths whose checks a scenario can reorder (``check_order``) or replace
# (a fastpath variant, ``fastpath_checks``), by kernel-entry kind.
PAPER_FASTPATHS = {SYSCALL_EXCEPTION: SYSCALL_EXCEPTION_CHECKS, IPC: IPC_CHECKS}

# How the fastpaths read shared state: "smp", under the locks as the paper
# makes them; "uniprocessor", the same checks before the paper's work, reading
# the scheduler's and the partner's state without locks (correct on one CPU).
FASTPATH_VARIANTS = ("smp", "uniprocessor")
# The order locks are taken in: "ascending" is the rule (globals by rank, then
# objects by address); "descending" thread locks, or "objects_first" (the
# slowpaths take the thread locks before the global scheduler lock) are
# deliberate bugs, to show what the invariant checker catches.
LOCK_ORDERS = ("ascending", "descending", "objects_first")


@dataclass(frozen=True)
class KernelConfig:
    """The kernel's build/boot options that a scenario can set."""

    cpus: int = 2
    lock: str = "ticket"
    fastpath_syscall: bool = True
    fastpath_ipc: bool = True
    # the order each fastpath runs its checks in (check names); None: as listed
    check_order: dict | None = None
    # kind -> a fastpath design (l4sim.kernel.fastpath_design: checks reordered,
    # hoisted before their locks, prechecked early); None: as listed
    fastpath_design: dict | None = None
    # the fields proven never written after creation (l4sim.kernel.immutable_fields),
    # the proof a design's hoisted checks rest on
    proven_immutable: frozenset = frozenset()
    # kind -> the checks replacing the paper's list for that fastpath (a fastpath
    # variant); None: the paper's lists (PAPER_FASTPATHS)
    fastpath_checks: dict | None = None
    # record which checks pass at every fastpath decision (the check profile)
    profile_checks: bool = False
    # the IPC fastpath also delivers notifications (the paper's future work)
    fastpath_notify: bool = False
    fastpath_variant: str = "smp"  # one of FASTPATH_VARIANTS
    lock_order: str = "ascending"  # one of LOCK_ORDERS
    kernel_lock: str = "fine"  # "fine" (the paper's) or "big" (seL4's, l4sim.kernel.big_lock)

    def __post_init__(self) -> None:
        if self.fastpath_variant not in FASTPATH_VARIANTS:
            raise ValueError(f"unknown fastpath variant {self.fastpath_variant!r}")
        if self.lock_order not in LOCK_ORDERS:
            raise ValueError(f"unknown lock order {self.lock_order!r}")
        if self.lock not in LOCK_DESIGNS:
            raise ValueError(
                f"unknown lock design {self.lock!r} (known: {', '.join(LOCK_DESIGNS)})"
            )
        if self.kernel_lock not in KERNEL_LOCKING:
            raise ValueError(
                f"unknown kernel_lock {self.kernel_lock!r} (known: {', '.join(KERNEL_LOCKING)})"
            )
        if self.cpus < 1:
            raise ValueError("cpus must be >= 1")
        if self.check_order and self.fastpath_design:
            raise ValueError("a check order and a fastpath design exclude each other")


class Kernel:
    """Kernel state (threads, spaces, scheduler, locks) and its entry points."""

    def __init__(self, config: KernelConfig, costs: Costs) -> None:
        self.config = config
        self.costs = costs
        self.scheduler = Scheduler(config.cpus)
        self.scheduler_lock = Lock("scheduler", rank=0, lines=costs.sched_lock_lines)
        self.thread_list_lock = Lock("thread_list", rank=1)
        self.threads: list[Thread] = []
        self._take_scheduler = Acquire((self.scheduler_lock,))
        # the lock effects of each fastpath stage, per (stage, thread pair, locks held)
        self._stage_effects: dict[tuple, Acquire] = {}
        # the same for take_thread_locks, per (threads, locks held)
        self._thread_lock_effects: dict[tuple, Acquire] = {}
        # and the effect releasing each set of held locks
        self._release_effects: dict[tuple, Release] = {}
        # each fastpath's checks as listed (what a check profile's mask bits refer
        # to), then in the order run, with the cycle cost of each
        self.fastpaths = {**PAPER_FASTPATHS, **(config.fastpath_checks or {})}
        self.exception_base_checks = self.fastpaths[SYSCALL_EXCEPTION]
        self.ipc_base_checks = self.fastpaths[IPC]
        self.exception_checks = self._checks_run(SYSCALL_EXCEPTION)
        self.ipc_checks = self._checks_run(IPC)
        self.exception_check_costs = tuple(
            getattr(costs, check.cost) for check in self.exception_checks
        )
        self.ipc_check_costs = tuple(getattr(costs, check.cost) for check in self.ipc_checks)
        self.exception_plan = plan_checks(self.exception_checks, self.exception_check_costs)
        self.ipc_plan = plan_checks(self.ipc_checks, self.ipc_check_costs)
        self.notify_plan = plan_checks(
            NOTIFY_CHECKS, tuple(getattr(costs, check.cost) for check in NOTIFY_CHECKS)
        )
        # what the IPC fastpath's checks look at, one per CPU, filled in at each
        # entry (building one per entry cost more than the checks read from it)
        self.ipc_contexts = [
            IpcContext(self, cpu, None, None, None, False, False) for cpu in range(config.cpus)
        ]
        # the thread each CPU's interrupts are delivered to (as IPC), if any
        self.irq_threads: dict[int, Thread] = {}
        self.spaces: list[Space] = []
        # the invariant monitor (l4sim.sim.invariants), told of shared-state reads
        # and writes; None in ordinary runs
        self.monitor = None
        self.unlocked_fastpath = config.fastpath_variant == "uniprocessor"
        # the trap's assembly entry and exit (trap_entry, trap_exit): without them
        # (every built-in profile) each entry point is its kernel part itself, one
        # call fewer per kernel entry
        self.traps = bool(costs.trap_entry or costs.trap_exit)
        if not self.traps:
            self.enter = self.enter_kernel
            self.reschedule = self.reschedule_kernel
            self.deliver_irq = self.deliver_irq_kernel

    def _checks_run(self, kind: str) -> tuple:
        """The checks fastpath ``kind`` runs, in order: its list, reordered or redesigned."""
        base = self.fastpaths[kind]
        order = self.config.check_order or {}
        design = self.config.fastpath_design or {}
        if kind in design:
            return apply_design(base, design[kind], self.config.proven_immutable)
        if kind in order:
            return reorder(base, order[kind])
        return base

    # -- construction -----------------------------------------------------
    def create_space(self, name: str) -> Space:
        space = Space(name, address=SPACE_BASE + 0x1000 * len(self.spaces))
        self.spaces.append(space)
        return space

    def create_thread(
        self, name: str, cpu: int, priority: int, space: Space, handler: Thread | None = None
    ) -> Thread:
        """Create a thread, ready to run on ``cpu`` (TCBs get ascending addresses)."""
        if not 0 <= cpu < self.config.cpus:
            raise ValueError(f"thread {name}: cpu {cpu} out of range")
        thread = Thread(
            name,
            address=TCB_BASE + TCB_SIZE * len(self.threads),
            cpu=cpu,
            priority=priority,
            space=space,
            handler=handler,
        )
        thread.lock.lines = self.costs.thread_lock_lines
        self.threads.append(thread)
        self.scheduler.make_ready(thread)
        return thread

    @property
    def locks(self) -> list[Lock]:
        """Every lock of the kernel (for the simulator to attach its state to)."""
        objects = [t.lock for t in self.threads] + [s.lock for s in self.spaces]
        return [self.scheduler_lock, self.thread_list_lock, *objects]

    # -- entry points -------------------------------------------------------
    def enter(self, cpu: int, thread: Thread, action) -> tuple[str, object]:
        """A user action that traps: (kind of kernel entry, path generator)."""
        kind, path = self.enter_kernel(cpu, thread, action)
        return kind, self.trapped(path)

    def trapped(self, path, entry: bool = True):
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

    def enter_kernel(self, cpu: int, thread: Thread, action) -> tuple[str, object]:
        """The kernel's C part of a trap (what :meth:`enter` wraps in the trap itself)."""
        decoded = LEARNED.get(type(action)) or decode(action)
        if decoded is None:
            raise TypeError(f"thread {thread.name}: unknown action {action!r}")
        if decoded.entry == SYSCALL_EXCEPTION:
            return SYSCALL_EXCEPTION, self._syscall_exception(cpu, thread, action)
        return IPC, self._ipc(cpu, thread, action, decoded)

    def _syscall_exception(self, cpu: int, thread: Thread, exception: RaiseException):
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

    def _ipc(self, cpu: int, thread: Thread, op, decoded: Decoded | None = None):
        """An IPC system call's path: its fastpath if one is built in (a fallback starts
        the slowpath from the beginning), else the slowpath itself."""
        if decoded is None:
            decoded = decode(op)
        config = self.config
        if config.fastpath_ipc and decoded.has_fastpath:
            return self._ipc_fast_or_slow(cpu, thread, op, decoded)
        if config.fastpath_notify and decoded.notifies:
            return self._notify_fast_or_slow(cpu, thread, op, decoded)
        return ipc_slowpath(self, cpu, thread, op, self.costs.kernel_entry, decoded)

    def _ipc_fast_or_slow(self, cpu: int, thread: Thread, op, decoded: Decoded):
        done, received = yield from ipc_fastpath(
            self, cpu, thread, op, self.costs.kernel_entry, decoded
        )
        if done:
            return received
        return (yield from ipc_slowpath(self, cpu, thread, op, 0, decoded))

    def _notify_fast_or_slow(self, cpu: int, thread: Thread, op, decoded: Decoded):
        if (yield from notify_fastpath(self, cpu, thread, op, self.costs.kernel_entry)):
            return None
        return (yield from ipc_slowpath(self, cpu, thread, op, 0, decoded))

    def deliver_irq(self, cpu: int, current: Thread | None, payload: tuple):
        """An interrupt on ``cpu``: kernel-originated IPC to the CPU's interrupt thread.

        Delivered at once if the thread waits, else left pending for its next
        receive. A woken thread that outranks the interrupted one preempts it.
        """
        path = self.deliver_irq_kernel(cpu, current, payload)
        return path if current is None else self.trapped(path, entry=False)

    def deliver_irq_kernel(self, cpu: int, current: Thread | None, payload: tuple):
        """The kernel part of :meth:`deliver_irq` (without the trap's exit)."""
        c = self.costs
        sched = self.scheduler
        yield Spend(c.timer_irq)
        target = self.irq_threads[cpu]
        held: list = []
        yield self.take_scheduler(held)
        yield self.take_thread_locks(held, target)
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
            yield self.release_all(held)
            yield outcome
            if following is not None:
                yield Spend(c.context_switch)
            yield Switch(following)
            if current is not None:
                yield Spend(c.kernel_exit)  # continuation: scheduled again
            return
        yield self.release_all(held)
        yield outcome
        yield Spend(c.kernel_exit)

    def reschedule(self, cpu: int, thread: Thread, timeslice_expired: bool):
        """Timer (timeslice end) or IPI: run a better ready thread if there is one.

        At the end of a timeslice an equal-priority thread takes over (round
        robin); on an IPI only a strictly higher priority preempts.
        """
        return self.trapped(self.reschedule_kernel(cpu, thread, timeslice_expired), entry=False)

    def reschedule_kernel(self, cpu: int, thread: Thread, timeslice_expired: bool):
        """The kernel part of :meth:`reschedule` (without the trap's exit)."""
        c = self.costs
        yield Spend(c.timer_irq)
        held: list = []
        yield self.take_scheduler(held)
        best = self.scheduler.highest_ready(cpu)
        yield Spend(c.check_bitmap)
        if best is not None and (
            best > thread.priority or (timeslice_expired and best == thread.priority)
        ):
            self.scheduler.make_ready(thread)
            yield Spend(c.sched_pick)
            following = self.scheduler.pick_next(cpu)
            yield self.release_all(held)
            yield Spend(c.context_switch)
            yield Switch(following)
        else:
            yield self.release_all(held)
        yield Spend(c.kernel_exit)

    def dispatch(self, cpu: int):
        """An idle CPU was kicked: run its best ready thread, if any."""
        c = self.costs
        yield Spend(c.timer_irq)
        held: list = []
        yield self.take_scheduler(held)
        yield Spend(c.sched_pick)
        following = self.scheduler.pick_next(cpu)
        yield self.release_all(held)
        if following is not None:
            yield Spend(c.context_switch)
        yield Switch(following)

    # -- helpers shared by the paths -----------------------------------------
    def take_scheduler(self, held: list[Lock]) -> Acquire:
        """The effect that takes the global scheduler lock (noted in ``held``)."""
        held.append(self.scheduler_lock)
        return self._take_scheduler

    def take_thread_locks(self, held: list[Lock], *threads: Thread | None) -> Acquire:
        """The effect that takes these threads' locks in address order (noted in ``held``)."""
        key = (threads, *held)
        effect = self._thread_lock_effects.get(key)
        if effect is None:
            locks = tuple(
                lock
                for lock in self.thread_lock_order(*(t.lock for t in threads if t is not None))
                if lock not in held
            )
            effect = self._thread_lock_effects[key] = Acquire(locks)
        held.extend(effect.locks)
        return effect

    def take_stage(
        self, stage: Stage, held: list[Lock], current: Thread, other: Thread | None
    ) -> Acquire:
        """The effect that takes what a check stage needs beyond ``held``."""
        key = (stage, current, other, len(held))
        effect = self._stage_effects.get(key)
        if effect is None:
            locks = []
            if stage >= Stage.SCHEDULER and self.scheduler_lock not in held:
                locks.append(self.scheduler_lock)
            if stage >= Stage.THREADS:
                locks.extend(
                    lock
                    for lock in self.thread_lock_order(current.lock, other.lock)
                    if lock not in held
                )
                if self.config.lock_order == "objects_first" and locks[0] is self.scheduler_lock:
                    locks.append(locks.pop(0))  # the bug: the global lock last
            effect = self._stage_effects[key] = Acquire(tuple(locks))
        held.extend(effect.locks)
        return effect

    def thread_lock_order(self, *locks: Lock) -> list[Lock]:
        """Thread locks in the order this kernel takes them (descending: a deliberate bug)."""
        ordered = in_lock_order(*locks)
        if self.config.lock_order == "descending":
            ordered.reverse()
        return ordered

    def release_all(self, held: list[Lock]) -> Release:
        """The effect that releases every held lock, last taken first."""
        key = tuple(held)
        effect = self._release_effects.get(key)
        if effect is None:
            effect = self._release_effects[key] = Release(key[::-1])
        held.clear()
        return effect

    def exception_message(self, thread: Thread, exception: RaiseException) -> Message:
        return Message("exception", thread, (exception.kind, *exception.payload), words=8)

    def wrote_ipc_state(self, thread: Thread) -> None:
        """``thread``'s IPC state (queue, partner, registers) changed: tell the monitor."""
        if self.monitor is not None:
            self.monitor.write_cell(f"ipc:{thread.name}", thread.lock)

    def send_message(self, sender: Thread, receiver: Thread, message: Message) -> None:
        receiver.received = message
        if self.monitor is not None:  # the monitor checks delivery: exactly once, in order
            self.monitor.write_cell(f"ipc:{receiver.name}", receiver.lock)
            self.monitor.on_send(sender, receiver, message)

    def notify(self, sender: Thread, receiver: Thread, bits: int) -> bool:
        """OR ``bits`` into the receiver's word; deliver now if it waits. True if delivered."""
        receiver.notify_bits |= bits
        self.wrote_ipc_state(receiver)
        if receiver.state is WAITING_TO_RECEIVE and receiver.partner is ANY:
            receiver.received = Message("notify", None, (receiver.notify_bits,))
            receiver.notify_bits = 0
            receiver.direct_return = False
            self.scheduler.make_ready(receiver)
            return True
        return False

    def enqueue_sender(
        self, sender: Thread, receiver: Thread, message: Message, expects_reply: bool
    ) -> None:
        """``sender`` waits on ``receiver``'s send queue with ``message`` (the slowpaths' queue)."""
        sender.outgoing = message
        sender.expects_reply = expects_reply
        sender.state = WAITING_TO_SEND
        receiver.send_queue.append(sender)
        self.wrote_ipc_state(receiver)

    def can_receive_now(self, receiver: Thread, sender: Thread) -> bool:
        """The receiver waits for this sender (or anyone) and nobody is queued before it."""
        return (
            receiver.state is WAITING_TO_RECEIVE
            and (receiver.partner is ANY or receiver.partner is sender)
            and not receiver.send_queue
        )

    def awaits_reply_from(self, thread: Thread, replier: Thread) -> bool:
        return thread.state is BLOCKED_ON_REPLY and thread.reply_from is replier

    def first_sender(self, receiver: Thread, source: Thread | None) -> Thread | None:
        """The queued sender a receive takes: the oldest, or the oldest from ``source``."""
        for sender in receiver.send_queue:
            if source is ANY or sender is source:
                return sender
        return None


def _trap(path, entry: int, exit: int):
    """``path`` after ``entry`` cycles and before ``exit`` cycles (see Kernel.trapped)."""
    if entry:
        yield Spend(entry)
    result = yield from path
    if exit:
        yield Spend(exit)
    return result


__all__ = ["IPC", "IRQ", "SYSCALL_EXCEPTION", "Kernel", "KernelConfig"]
