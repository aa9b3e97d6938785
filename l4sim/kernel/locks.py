"""Kernel locks and the lock-order rule that prevents deadlock.

The rule, from the paper: global locks first (in a fixed rank), then object
locks in ascending order of the object's address. Any acquisition that breaks
it raises :class:`LockOrderError` naming both locks.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

# The spinlock designs a kernel can be built with (``lock``): how waiters are
# served and what a contended handoff costs (charged by l4sim.sim.spinlock).
# ticket: FIFO, every waiter re-reads the ticket word; tas: test-and-set, a
# random waiter wins; mcs, clh: FIFO queue locks, each waiter on its own line.
LockDesign = Literal["ticket", "tas", "mcs", "clh"]
LOCK_DESIGNS: tuple[str, ...] = get_args(LockDesign)
FIFO_DESIGNS = frozenset({"ticket", "mcs", "clh"})
# How the kernel is locked (``kernel_lock``): "fine", the paper's global
# scheduler lock plus per-object locks; "big", seL4's one lock around every
# kernel path (l4sim.kernel.big_lock).
KernelLocking = Literal["fine", "big"]
KERNEL_LOCKING: tuple[str, ...] = get_args(KernelLocking)
GLOBAL_RANKS = 1 << 16  # global lock ranks lie below this; they order before every object


class LockOrderError(RuntimeError):
    """An acquisition that would break the global-then-address lock order."""


class Lock:
    """A spinlock. ``rank`` marks a global lock, ``address`` an object lock.

    ``lines`` is how many cache lines of data the lock protects: they migrate
    with the lock when another CPU takes it next. ``holder`` is the CPU
    holding it (None: free); ``sim`` the simulator's private spinning state.
    A lock is its own identity: two locks are equal only if they are the same.
    """

    # (compiled build: a C struct, see locks.pxd; the simulator reads these
    # fields on every acquisition and release)
    __slots__ = ("address", "holder", "lines", "name", "order_key", "rank", "sim")

    def __init__(
        self, name: str, rank: int | None = None, address: int | None = None, lines: int = 1
    ) -> None:
        self.name = name
        self.rank = rank
        self.address = address
        self.lines = lines
        self.holder: int | None = None
        # (Any: the simulator's own, l4sim.sim.spinlock.SpinState, which the kernel
        # does not know)
        self.sim: Any = None
        # sort key of the lock order: globals by rank, then objects by address
        # (one int: compared on every acquisition)
        if rank is not None:
            self.order_key = rank - GLOBAL_RANKS
        else:
            self.order_key = address if address is not None else 0

    def __repr__(self) -> str:
        return f"<Lock {self.name}>"


def ensure_lock_order(held: list[Lock], new: Lock) -> None:
    """Raise :class:`LockOrderError` if taking ``new`` while holding ``held`` breaks the order."""
    for lock in held:
        if lock is new:
            raise LockOrderError(f"lock {new.name} acquired twice (already held)")
        if lock.order_key >= new.order_key:
            raise LockOrderError(
                f"lock order violated: {new.name} {_describe(new)} acquired while holding "
                f"{lock.name} {_describe(lock)}"
            )


def _describe(lock: Lock) -> str:
    if lock.rank is not None:
        return f"(global, rank {lock.rank})"
    return f"(object, address {lock.address:#x})"


def in_lock_order(*locks: Lock) -> list[Lock]:
    """The distinct locks sorted into the order they must be taken."""
    if len(locks) == 2:
        first, second = locks
        if first is second:
            return [first]
        return [first, second] if first.order_key < second.order_key else [second, first]
    unique = {id(lock): lock for lock in locks}
    return sorted(unique.values(), key=lambda lock: lock.order_key)
