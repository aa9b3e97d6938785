"""The paper's syscall-exception benchmark (its experiments E3 and E4).

``threads`` user threads are pinned round-robin on the CPUs (``threads_per_cpu``,
if set, makes it that many per CPU, for CPU-count sweeps); each CPU runs one
exception handler, as the paravirtualized Linux does, so ``threads = 1``
loads a single CPU. Each thread loops: a user-mode busy loop of
``uniform[0, 1) x wait_factor`` iterations (its own random stream), then a
guest system call, which the kernel turns into an exception IPC to the
handler of its CPU. The handler runs at a higher priority, serves it for a
fixed ``handler_service`` cycles and replies with ReplyWait.

A point measures ``events`` syscall exceptions (all CPUs together) after
``warmup_events`` that are simulated and discarded.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import Thread
from l4sim.kernel.syscalls import Compute, Program, RaiseException, ReplyWait, Wait
from l4sim.workloads.base import MAX_WAIT_FACTOR, Point, Setup

HANDLER_PRIORITY = 200
WORKER_PRIORITY = 100
DRAW_BLOCK = 256  # uniform draws taken from a worker's stream at a time


def worker(rng: np.random.Generator, wait_factor: float, iteration: int) -> Program:
    """Busy-wait a random number of loop iterations, raise a syscall, repeat."""
    number = 0
    while True:
        # drawn in blocks: the same numbers, in the same order, as one at a time
        for draw in rng.random(DRAW_BLOCK).tolist():
            yield Compute(int(draw * wait_factor) * iteration)
            number += 1
            yield RaiseException("syscall", (number,))


def handler(service: int) -> Program:
    """Serve each exception for ``service`` cycles and reply to its sender."""
    serve = Compute(service)  # the same work every time
    message = yield Wait()
    while True:
        yield serve
        message = yield ReplyWait(message.sender, ("ok", *message.payload[1:]))


class Params(Point):
    """The keys of the syscall benchmark (on top of those every workload has)."""

    workload: Literal["syscall_bench"] = "syscall_bench"
    threads: int = Field(1, ge=1, le=4096)
    """User threads in all, pinned round robin on the CPUs."""
    threads_per_cpu: int | None = Field(None, ge=1, le=64)
    """If set, ``threads_per_cpu x cpus`` user threads instead of ``threads``.

    For CPU-count sweeps.
    """
    wait_factor: float = Field(100.0, ge=0, le=MAX_WAIT_FACTOR)
    """The scale of the random busy loop between system calls.

    Each thread busy-loops ``uniform[0,1) x wait_factor`` iterations
    (``wait_loop_iteration`` cycles each) before each system call.
    """

    @property
    def worker_threads(self) -> int:
        return self.threads if self.threads_per_cpu is None else self.threads_per_cpu * self.cpus


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    """Kernel, threads and programs for one point of the benchmark."""
    kernel = Kernel(config, costs)
    server = kernel.create_space("exception-server")
    handlers = [
        kernel.create_thread(f"handler{c}", c, HANDLER_PRIORITY, server) for c in range(params.cpus)
    ]
    programs: dict[Thread, Program] = {h: handler(costs.handler_service) for h in handlers}
    threads = params.worker_threads
    streams = seeds.spawn(threads)
    for index in range(threads):
        cpu = index % params.cpus
        space = kernel.create_space(f"task{index}")
        thread = kernel.create_thread(
            f"worker{index}", cpu, WORKER_PRIORITY, space, handler=handlers[cpu]
        )
        programs[thread] = worker(
            np.random.default_rng(streams[index]), params.wait_factor, costs.wait_loop_iteration
        )
    return Setup(kernel, programs, SYSCALL_EXCEPTION, params.warmup_events, params.events)


def kernel_entries(params: Params) -> int:
    """Kernel entries one replication simulates (warm-up included), for sizing."""
    # each syscall exception is followed by its handler's reply (an ipc entry)
    return 2 * (params.events + params.warmup_events)
