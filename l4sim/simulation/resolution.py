"""What a point's fastpaths run with, once resolved: an order or a design of their checks.

A scenario can ask for an optimized check order (``check_order``) or a
fastpath design (``fastpath_design``), from a file or found by profiling the
point first. That is resolved once per point, before its runs
(:mod:`l4sim.sweep.fastpath_designs`), and each run is given the result: a
run never profiles or searches itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from l4sim.workloads.base import Point


@dataclass(frozen=True)
class Resolution:
    """Each fastpath's check order or design; empty: as listed.

    A kind (or, for a design, "kind.operation") -> check names or steps.
    """

    order: Mapping[str, list[str]] | None = None
    design: Mapping[str, list[str]] | None = None
    # the fields a design's hoisted checks read, proven never written after creation
    proven_immutable: frozenset[str] = frozenset()


AS_LISTED = Resolution()  # every fastpath runs its checks as listed


def needs_resolution(point: Point) -> bool:
    """Whether ``point``'s fastpaths run an order or design that must be resolved first."""
    return point.check_order != "paper" or point.fastpath_design != "paper"


class UnresolvedDesign(ValueError):
    """A point that asks for an optimized order or design was simulated without one."""
