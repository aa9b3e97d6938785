"""Workloads: the user programs that drive the kernel, one module each.

A workload module declares its parameter model (``Params``, a subclass of
:class:`Point`) and ``build(params, costs, seeds, config) -> Setup`` together
(see :mod:`l4sim.workloads.base`); :mod:`l4sim.workloads.registry` finds one
by name: built in, installed (entry-point group ``l4sim.workloads``), or a
Python file named by a scenario.
"""

from l4sim.workloads.base import Point, Setup

__all__ = ["Point", "Setup"]
