"""The kernel's state: its threads, spaces, scheduler and locks, and each fastpath's plan.

What the paths read and change, built once per run from the kernel's
configuration and cost profile. The decisions, the entry points the
simulator calls, are :class:`l4sim.kernel.kernel.Kernel`'s; the paths take
this state as their first argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from l4sim.kernel.check_plan import CheckPlan, plan_checks
from l4sim.kernel.checks import Check, Context, reorder
from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC, SYSCALL_EXCEPTION
from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS, ExceptionContext
from l4sim.kernel.fastpath_design import CALL, REPLY_WAIT, apply_design, design_for
from l4sim.kernel.ipc_checks import IPC_CHECKS, NOTIFY_CHECKS, IpcContext
from l4sim.kernel.lock_effects import LockEffects
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Message, Space, Thread
from l4sim.kernel.scheduler import Scheduler

if TYPE_CHECKING:
    from collections.abc import Mapping

TCB_SIZE = 0x200  # bytes per thread control block: consecutive TCBs, ascending addresses
SPACE_BASE = 0x8000_0000
TCB_BASE = 0xF000_0000

# The fastpaths whose checks a scenario can reorder (``check_order``) or replace
# (a fastpath variant, ``fastpath_checks``), by kernel-entry kind. (Each kind's
# checks read its own context, which a mapping by name cannot say: Check[Any].)
PAPER_FASTPATHS: Mapping[str, tuple[Check[Any], ...]] = {
    SYSCALL_EXCEPTION: SYSCALL_EXCEPTION_CHECKS,
    IPC: IPC_CHECKS,
}


class StateMonitor(Protocol):
    """What the kernel tells an observer of its shared state (l4sim.sim.invariants)."""

    def write_scheduler(self) -> None: ...
    def write_cell(self, name: str, lock: Lock) -> None: ...
    def read_unlocked(self, cpu: int, cell: tuple[str, Lock]) -> None: ...
    def use_reads(self, cpu: int, what: str) -> None: ...
    def on_send(self, sender: Thread, receiver: Thread, message: Message) -> None: ...
    def recheck_hoisted(
        self, cpu: int, context: IpcContext | ExceptionContext, checks: tuple[Check[Any], ...]
    ) -> None: ...


class KernelState:
    """Threads, spaces, scheduler, locks, and the checks each fastpath runs."""

    def __init__(self, config: KernelConfig, costs: Costs) -> None:
        self.config = config
        self.costs = costs
        self.scheduler: Scheduler = Scheduler(config.cpus)
        self.scheduler_lock = Lock("scheduler", rank=0, lines=costs.sched_lock_lines)
        self.thread_list_lock = Lock("thread_list", rank=1)
        self.lock_effects = LockEffects(self.scheduler_lock, config.lock_order)
        self.threads: list[Thread] = []
        # each fastpath's checks as listed (what a check profile's mask bits refer
        # to), then in the order run, with the cycle cost of each
        self.fastpaths = {**PAPER_FASTPATHS, **(config.fastpaths or {})}
        self.exception_base_checks: tuple[Check[ExceptionContext], ...] = self.fastpaths[
            SYSCALL_EXCEPTION
        ]
        self.ipc_base_checks: tuple[Check[IpcContext], ...] = self.fastpaths[IPC]
        self.exception_checks: tuple[Check[ExceptionContext], ...] = self._checks_run(
            SYSCALL_EXCEPTION
        )
        # the IPC fastpath's checks for a ReplyWait and for a Call (by ``is_call``): the same
        # unless a design gives each operation its own
        reply_wait, call = (self._checks_run(IPC, op) for op in (REPLY_WAIT, CALL))
        self.ipc_checks: tuple[Check[IpcContext], ...] = call
        self.exception_plan = self._plan(self.exception_checks)
        self.ipc_plan = self._plan(call)
        self.ipc_plans = (
            self.ipc_plan if reply_wait == call else self._plan(reply_wait),
            self.ipc_plan,
        )
        self.notify_plan = self._plan(NOTIFY_CHECKS)
        # what the IPC fastpath's checks look at, one per CPU, filled in at each
        # entry (a CPU runs one kernel path at a time; until then, no thread or operation)
        self.ipc_contexts = [
            IpcContext(self, cpu, None, None, None, False, False)  # type: ignore[arg-type]
            for cpu in range(config.cpus)
        ]
        # the thread each CPU's interrupts are delivered to (as IPC), if any
        self.irq_threads: dict[int, Thread] = {}
        self.spaces: list[Space] = []
        # the invariant monitor (l4sim.sim.invariants), told of shared-state reads
        # and writes; None in ordinary runs
        self.monitor: StateMonitor | None = None
        self.unlocked_fastpath = config.fastpath_variant == "uniprocessor"

    def _checks_run(self, kind: str, operation: str | None = None) -> tuple[Check[Any], ...]:
        """The checks fastpath ``kind`` runs for ``operation``, in order.

        Its list, reordered or redesigned (an operation's own design first).
        """
        base = self.fastpaths[kind]
        order = self.config.order or {}
        design = design_for(self.config.design or {}, kind, operation)
        if design is not None:
            return apply_design(base, design, self.config.proven_immutable)
        if kind in order:
            return reorder(base, order[kind])
        return base

    def _plan(self, checks: tuple[Check[Context], ...]) -> CheckPlan[Context]:
        """``checks`` grouped by the locks they run under, each with its cycle cost."""
        return plan_checks(checks, tuple(getattr(self.costs, check.cost) for check in checks))

    # -- construction -----------------------------------------------------
    def create_space(self, name: str) -> Space:
        """A new address space (spaces get ascending addresses)."""
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
