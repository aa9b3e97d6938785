"""sel4bench's SMP benchmark: a ping and a pong thread on every CPU, pinned to it.

On each CPU, ping spins ``delay_cycles`` and Calls its pong; pong answers
with ReplyWait (ReplyRecv) and, once the next Call has arrived, spins
``delay_cycles`` before answering it. The CPUs share nothing but the kernel
and its locks, so what does not scale is the kernel's locking (the global
scheduler lock, or the big kernel lock). This kernel has no endpoint objects:
each ping Calls its pong thread directly.

Metric: ``calls_per_second``, completed Calls per second, all CPUs together,
at the profile's clock. A point measures ``events`` Calls after
``warmup_events`` (each Call and its ReplyWait are two IPC entries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import Thread
from l4sim.kernel.syscalls import Call, Compute, Program, ReplyWait, Wait
from l4sim.workloads.base import MAX_WORK_CYCLES, Point, Setup

if TYPE_CHECKING:
    import pandas as pd

    from l4sim.sim.machine import Machine

PONG_PRIORITY = 200
PING_PRIORITY = 100


def ping(pong: Thread, delay: int) -> Program:
    number = 0
    while True:
        yield Compute(delay)
        number += 1
        yield Call(pong, (number,))


def pong(delay: int) -> Program:
    message = yield Wait()
    while True:
        yield Compute(delay)
        message = yield ReplyWait(message.sender, message.payload)


class Params(Point):
    """The keys of sel4bench's SMP benchmark (on top of those every workload has)."""

    workload: Literal["smp_pingpong"] = "smp_pingpong"
    delay_cycles: int = Field(0, ge=0, le=MAX_WORK_CYCLES)
    """Cycles each ping spins before its Call, and its pong once the next Call is in."""


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    """A ping and a pong thread per CPU."""
    kernel = Kernel(config, costs)
    programs = {}
    for cpu in range(params.cpus):
        space = kernel.create_space(f"pair{cpu}")
        answer = kernel.create_thread(f"pong{cpu}", cpu, PONG_PRIORITY, space)
        caller = kernel.create_thread(f"ping{cpu}", cpu, PING_PRIORITY, space)
        programs[answer] = pong(params.delay_cycles)
        programs[caller] = ping(answer, params.delay_cycles)

    def metrics(machine: Machine, events: pd.DataFrame, measured_cycles: int) -> dict[str, float]:
        calls = int(events["thread_name"].str.startswith("ping").sum())
        return {"calls_per_second": calls * costs.clock_hz / max(measured_cycles, 1)}

    return Setup(
        kernel, programs, IPC, 2 * params.warmup_events, 2 * params.events, metrics=metrics
    )


def measured_entries(params: Params) -> int:
    """Entries of the measured kind one replication closes (warm-up included)."""
    # each Call is followed by its pong's ReplyWait: two measured ipc entries per event
    return 2 * (params.events + params.warmup_events)
