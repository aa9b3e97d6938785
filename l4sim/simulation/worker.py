"""One run as plain data: what a worker process receives and sends back.

A worker gets only the point's configuration (a dict), the replication
number and the point's resolved fastpath order or design, and sends back
plain records: the summary rows, the measured cycles and the events as
plain arrays. No SimPy object and no kernel object crosses a process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from l4sim.sim.invariants import InvariantViolation
from l4sim.simulation.records import events_columns
from l4sim.simulation.resolution import Resolution
from l4sim.simulation.simulate import simulate
from l4sim.workloads.registry import find_workload


def run_record(
    config: dict[str, Any],
    replication: int,
    resolution: Resolution | None = None,
    invariants: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Simulate the point ``config`` describes, replication ``replication``, as plain data."""
    point = find_workload(config["workload"]).Params.model_validate(config)
    try:
        result = simulate(
            point, replication, invariants=invariants, progress=progress, resolution=resolution
        )
    except InvariantViolation as error:  # say which run broke the invariant
        first, _, rest = error.report.partition("\n")
        where = ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("name", "profile"))
        raise InvariantViolation(
            f"{first}\n  in the run {where}, replication {replication}\n{rest}",
            error.check,
            error.cycle,
        ) from None
    return {
        "config": config,
        "replication": replication,
        "rows": result.rows,
        "measured_cycles": int(result.measured_cycles),
        "events": events_columns(result.events),
    }
