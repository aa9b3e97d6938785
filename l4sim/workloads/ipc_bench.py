"""The paper's IPC benchmark (experiment E5): clients Call one server.

The same method as the syscall benchmark: each of ``clients`` client threads
busy-waits ``uniform[0, 1) x wait_factor`` loop iterations, then Calls the
server, which serves for ``handler_service`` cycles and answers with
ReplyWait (reply, then an open wait). The server runs on CPU 0; clients are
pinned round-robin on the CPUs starting with CPU 0, so one client shares the
server's CPU and further clients on other CPUs make cross-CPU IPC.

A point measures ``events`` Calls (all clients together) after
``warmup_events`` discarded ones.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import Thread
from l4sim.kernel.syscalls import Call, Compute, Program, ReplyWait, Wait
from l4sim.workloads.base import MAX_WAIT_FACTOR, Point, Setup

SERVER_PRIORITY = 200
CLIENT_PRIORITY = 100


def client(rng: np.random.Generator, server: Thread, wait_factor: float, iteration: int) -> Program:
    """Busy-wait a random number of iterations, Call the server, repeat."""
    number = 0
    while True:
        yield Compute(int(rng.random() * wait_factor) * iteration)
        number += 1
        yield Call(server, (number,))


def server(service: int) -> Program:
    """Serve each Call for ``service`` cycles and reply to its caller."""
    message = yield Wait()
    while True:
        yield Compute(service)
        message = yield ReplyWait(message.sender, ("ok", *message.payload))


class Params(Point):
    """The keys of the IPC benchmark (on top of those every workload has)."""

    workload: Literal["ipc_bench"] = "ipc_bench"
    clients: int = Field(1, ge=1, le=4096)
    """Client threads, pinned round robin from CPU 0 (the server's)."""
    wait_factor: float = Field(100.0, ge=0, le=MAX_WAIT_FACTOR)
    """The scale of the random busy loop between Calls, as in ``syscall_bench``."""


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    kernel = Kernel(config, costs)
    space = kernel.create_space("server")
    the_server = kernel.create_thread("server", 0, SERVER_PRIORITY, space)
    programs = {the_server: server(costs.handler_service)}
    for index, stream in enumerate(seeds.spawn(params.clients)):
        thread = kernel.create_thread(
            f"client{index}",
            index % params.cpus,
            CLIENT_PRIORITY,
            kernel.create_space(f"client{index}"),
        )
        programs[thread] = client(
            np.random.default_rng(stream), the_server, params.wait_factor, costs.wait_loop_iteration
        )
    return Setup(kernel, programs, IPC, params.warmup_events, params.events)
