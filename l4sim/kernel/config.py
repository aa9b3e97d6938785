"""The kernel's build and boot options: what a scenario sets, and what is resolved before a run.

Each option a scenario sets has one name, the same as its scenario key
(:class:`l4sim.workloads.base.Point`), and one type on both sides:
:data:`SCENARIO_OPTIONS` lists them, and a point's kernel configuration is
built from them by name. What a scenario names only indirectly (a fastpath
variant's file, an optimized check order or fastpath design) is resolved
before the run and carried under names of its own: ``fastpaths``,
``order``, ``design`` and ``proven_immutable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

from l4sim.kernel.locks import KERNEL_LOCKING, LOCK_DESIGNS, KernelLocking, LockDesign

if TYPE_CHECKING:
    from l4sim.kernel.checks import Check

# How the fastpaths read shared state: "smp", under the locks as the paper
# makes them; "uniprocessor", the same checks before the paper's work, reading
# the scheduler's and the partner's state without locks (correct on one CPU).
FastpathVariant = Literal["smp", "uniprocessor"]
FASTPATH_VARIANTS: tuple[str, ...] = get_args(FastpathVariant)
# The order locks are taken in: "ascending" is the rule (globals by rank, then
# objects by address); "descending" thread locks, or "objects_first" (the
# slowpaths take the thread locks before the global scheduler lock) are
# deliberate bugs, to show what the invariant checker catches.
LockOrder = Literal["ascending", "descending", "objects_first"]
LOCK_ORDERS: tuple[str, ...] = get_args(LockOrder)

_OPTION = {"scenario_key": True}  # a field set by the scenario key of the same name


@dataclass(frozen=True)
class KernelConfig:
    """The kernel's options, as a scenario sets them, plus what was resolved for the run.

    The options (``cpus`` to ``check_profile``) have the names, types and
    meanings of the scenario keys of the same names
    (:data:`SCENARIO_OPTIONS`); a run builds its configuration from its
    point by name (:meth:`from_options`). A workload's ``build`` is given one
    and passes it to :class:`~l4sim.kernel.kernel.Kernel`.

    Attributes:
        fastpaths: Kind of fastpath -> the checks replacing the paper's list for
            it (a fastpath variant's lists); None: the paper's lists.
        order: Kind -> the order its fastpath runs its checks in (check names);
            None: as listed.
        design: Kind -> a fastpath design (:mod:`l4sim.kernel.fastpath_design`);
            None: as listed.
        proven_immutable: The fields proven never written after creation, the
            proof a design's hoisted checks rest on.
    """

    cpus: int = field(default=2, metadata=_OPTION)
    lock: LockDesign = field(default="ticket", metadata=_OPTION)
    # "fine" (the paper's) or "big" (seL4's, l4sim.kernel.big_lock)
    kernel_lock: KernelLocking = field(default="fine", metadata=_OPTION)
    fastpath_syscall: bool = field(default=True, metadata=_OPTION)
    fastpath_ipc: bool = field(default=True, metadata=_OPTION)
    # the IPC fastpath also delivers notifications (the paper's future work)
    fastpath_notify: bool = field(default=False, metadata=_OPTION)
    fastpath_variant: FastpathVariant = field(default="smp", metadata=_OPTION)
    lock_order: LockOrder = field(default="ascending", metadata=_OPTION)
    # record which checks pass at every fastpath decision (the check profile)
    check_profile: bool = field(default=False, metadata=_OPTION)

    # -- resolved before the run ------------------------------------------------
    # kind -> the checks replacing the paper's list for that fastpath (a fastpath
    # variant's lists); None: the paper's lists (l4sim.kernel.state.PAPER_FASTPATHS)
    fastpaths: Mapping[str, tuple[Check[Any], ...]] | None = None
    # kind -> the order its fastpath runs its checks in (check names); None: as listed
    order: Mapping[str, list[str]] | None = None
    # kind (or "kind.operation", an operation's own) -> a fastpath design
    # (l4sim.kernel.fastpath_design: checks reordered, hoisted before their locks,
    # prechecked early, decoding handed over); None: as listed
    design: Mapping[str, list[str]] | None = None
    # the fields proven never written after creation, the proof a design's hoisted
    # checks rest on (the static scan of l4sim.design.immutability)
    proven_immutable: frozenset[str] = frozenset()

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
        if self.order and self.design:
            raise ValueError("a check order and a fastpath design exclude each other")

    @classmethod
    def from_options(cls, options: Any, **resolved: Any) -> KernelConfig:
        """The configuration whose options are ``options``' attributes of the same names.

        ``options`` is anything with those attributes (a scenario's point);
        ``resolved`` gives ``fastpaths``, ``order``, ``design``, ``proven_immutable``.
        """
        return cls(**{name: getattr(options, name) for name in SCENARIO_OPTIONS}, **resolved)


# the options a scenario sets by a key of the same name, in declaration order
SCENARIO_OPTIONS: tuple[str, ...] = tuple(
    f.name for f in fields(KernelConfig) if f.metadata.get("scenario_key")
)
