"""The big-kernel-lock strategy (seL4's SMP kernel) as a wrapper around kernel paths.

With ``kernel_lock = "big"`` every kernel path takes one kernel lock at entry,
before any fastpath check, and releases it at exit; the fine-grained lock
effects of the paths underneath become no-ops (the one lock already
serialises the kernel). Cross-CPU wake-ups stay what the paths make them: the
slowpath and an IPI.

With a design for the IPC fastpath (``fastpath_design``, :mod:`l4sim.kernel.fastpath_design`)
the lock is taken later: at the first step that needs a lock (its first
``Acquire``), or when the fastpath falls back (its slowpath runs under the
lock) or commits, whichever comes first. The checks that need no lock, and
those a design hoisted before their locks or prechecked early, then run
before the lock, as they would in a seL4 changed to take ``NODE_LOCK_SYS``
after them. seL4 as it is (no design) takes the lock at the C entry.

A path that blocks (``Switch``) releases the lock before switching and takes
it again when its continuation next runs kernel code. seL4 instead exits to
the next thread still holding it; the difference is one uncontended, local
acquire and release per continuation, and a short window where another CPU
may take the lock in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from l4sim.kernel.decode import IPC, LEARNED, decode
from l4sim.kernel.effects import Acquire, KernelPath, Release, Switch, Sync
from l4sim.kernel.fastpath_design import split_design_key
from l4sim.kernel.locks import KERNEL_LOCKING, Lock
from l4sim.kernel.objects import Thread

if TYPE_CHECKING:
    from l4sim.kernel.kernel import Kernel, Path

    # to the type checker a kernel: what it does not define is the wrapped kernel's
    _AKernel = Kernel
    _Result = TypeVar("_Result")
else:
    _AKernel = object


def with_kernel_lock(kernel: Kernel) -> Kernel:
    """``kernel`` itself (fine-grained locking) or wrapped in a big kernel lock."""
    strategy = getattr(kernel.config, "kernel_lock", "fine")
    if strategy == "fine":
        return kernel
    if strategy == "big":
        return BigLockKernel(kernel)
    raise ValueError(f"unknown kernel_lock {strategy!r} (known: {', '.join(KERNEL_LOCKING)})")


class BigLockKernel(_AKernel):
    """A kernel whose every entry point runs under one big lock.

    Everything but the entry points (``enter``, ``reschedule``, ``dispatch``,
    ``deliver_irq``) is the wrapped kernel's. The lock guards
    the scheduler's shared state: its ``sched_lock_lines`` follow it between CPUs.
    """

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self.big_lock = Lock("big_kernel", rank=-1, lines=kernel.costs.sched_lock_lines)
        self._take = Acquire((self.big_lock,))
        self._drop = Release((self.big_lock,))
        # the IPC fastpath runs a design: its entries take the lock at their first locked step
        config = kernel.config
        self.deferred_ipc = config.fastpath_ipc and any(
            split_design_key(key)[0] == IPC for key in config.design or {}
        )

    _OWN = frozenset({"_kernel", "big_lock", "_take", "_drop", "deferred_ipc"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel, name)

    def __setattr__(self, name: str, value: object) -> None:
        # the wrapped kernel's state (e.g. an invariant monitor) is set on it, so
        # the paths underneath see it too
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._kernel, name, value)

    @property
    def locks(self) -> list[Lock]:
        return [self.big_lock, *self._kernel.locks]

    # The trap's assembly entry and exit (trap_entry, trap_exit) stay outside the
    # lock, as in seL4, whose lock covers the C code from the entry to just
    # before the return to user.
    def enter(self, cpu: int, thread: Thread, action: object) -> tuple[str, Path]:
        kernel = self._kernel
        kind, path = kernel.enter_kernel(cpu, thread, action)
        deferred = False
        if self.deferred_ipc and kind == IPC:
            decoded = LEARNED.get(type(action)) or decode(action)
            deferred = decoded is not None and decoded.has_fastpath
        path = self.locked(path, deferred)
        return kind, (kernel.trapped(path) if kernel.traps else path)

    def reschedule(self, cpu: int, thread: Thread, timeslice_expired: bool) -> Path:
        kernel = self._kernel
        path = self.locked(kernel.reschedule_kernel(cpu, thread, timeslice_expired))
        return kernel.trapped(path, entry=False) if kernel.traps else path

    def dispatch(self, cpu: int) -> KernelPath[None]:
        return self.locked(self._kernel.dispatch(cpu))

    def deliver_irq(self, cpu: int, current: Thread | None, payload: tuple[object, ...]) -> Path:
        kernel = self._kernel
        path = self.locked(kernel.deliver_irq_kernel(cpu, current, payload))
        return path if current is None or not kernel.traps else kernel.trapped(path, entry=False)

    def locked(self, path: KernelPath[_Result], deferred: bool = False) -> KernelPath[_Result]:
        """Run ``path`` under the big lock: taken first, dropped at switches and at the end.

        ``deferred``: taken only before the path's first effect that is neither
        cycles of code nor a catching-up of time (``Sync``): its first lock, its
        fallback or its commit.
        """
        held = False
        try:
            if deferred:
                effect = next(path)
                while type(effect) is int or type(effect) is Sync:
                    yield effect
                    effect = next(path)
                yield self._take
                held = True
            else:
                yield self._take
                held = True
                effect = next(path)
            while True:
                kind = type(effect)
                if kind is Acquire or kind is Release:
                    pass  # the big lock already covers it
                elif kind is Switch:
                    if held:
                        yield self._drop
                        held = False
                    yield effect
                else:
                    if not held and kind is int:  # the continuation runs kernel code again
                        yield self._take
                        held = True
                    yield effect
                effect = next(path)
        except StopIteration as stop:
            if held:
                yield self._drop
            return stop.value  # type: ignore[no-any-return]  # what path returned
