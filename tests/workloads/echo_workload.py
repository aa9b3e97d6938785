"""A tiny workload for the registry tests: one thread raising syscalls to a handler.

It stands for a workload of an installed package, reached through an entry
point of the group ``l4sim.workloads``.
"""

import numpy as np
from pydantic import Field

from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Compute, RaiseException, ReplyWait, Wait
from l4sim.workloads import Point, Setup


class Params(Point):
    gap: int = Field(500, ge=0)  # user work between system calls


def worker(gap: int):
    while True:
        yield Compute(gap)
        yield RaiseException("syscall", ())


def handler():
    message = yield Wait()
    while True:
        message = yield ReplyWait(message.sender, ("ok",))


def build(params: Params, costs, seeds: np.random.SeedSequence, config) -> Setup:
    kernel = Kernel(config, costs)
    server = kernel.create_thread("handler", 0, 200, kernel.create_space("server"))
    thread = kernel.create_thread("worker", 0, 100, kernel.create_space("task"), handler=server)
    return Setup(
        kernel,
        {server: handler(), thread: worker(params.gap)},
        SYSCALL_EXCEPTION,
        params.warmup_events,
        params.events,
    )
