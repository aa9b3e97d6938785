"""A producer/consumer workload using notifications: an l4sim extension outside the package.

``producers`` threads, spread round robin over the CPUs from CPU 1, each
loop: produce an item (user work, exponential with mean ``produce_mean``),
put it in a mailbox in shared memory, and signal the consumer with a
notification (``Notify``: never blocks). The consumer, on CPU 0, waits for
notifications, drains the mailbox (``consume_cycles`` per item) and hands
the batch to a sink thread on its own CPU with a ``Call``, which the IPC
fastpath can serve (same CPU, the sink waiting in ``ReplyWait``).

A workload module declares its parameter model ``Params`` (a subclass of
``l4sim.Point``, which brings the keys every workload has) and
``build``, which returns the kernel, one program per thread and what to
measure. A scenario names it by path: ``workload = "./producer_consumer.py"``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from l4sim import IPC, Call, Compute, Kernel, Notify, Point, ReplyWait, Setup, SharedAccess, Wait

CONSUMER_PRIORITY = 150
SINK_PRIORITY = 150
PRODUCER_PRIORITY = 100


class Params(Point):
    """The keys of this workload, on top of those every workload has."""

    producers: int = Field(2, ge=1, le=256)  # producer threads, from CPU 1 round robin
    produce_mean: float = Field(5_000.0, gt=0)  # cycles of user work per item (mean)
    consume_cycles: int = Field(200, ge=0)  # consumer work per item
    sink_cycles: int = Field(300, ge=0)  # sink work per batch


def kernel_entries(params: Params) -> int:
    """Kernel entries per replication, for ``l4sim validate``'s estimate.

    About two ipc entries per measured one: a Notify, and a share of the
    Wait, Call and ReplyWait.
    """
    return 2 * (params.events + params.warmup_events)


def producer(rng: np.random.Generator, mean: float, mailbox: list, consumer):
    """Produce, deposit, notify; forever."""
    while True:
        for work in rng.exponential(mean, 256).astype(np.int64).tolist():
            yield Compute(work)
            yield SharedAccess()  # the mailbox is memory the consumer's CPU reads too
            mailbox[0] += 1
            yield Notify(consumer, 1)


def consumer(mailbox: list, consume: int, sink):
    """Wait for a notification, drain the mailbox, hand the batch to the sink."""
    while True:
        yield Wait()
        yield SharedAccess()
        items, mailbox[0] = mailbox[0], 0
        if items:
            yield Compute(consume * items)
            yield Call(sink, (items,))


def sink(service: int):
    """Take each batch for ``service`` cycles and reply."""
    message = yield Wait()
    while True:
        yield Compute(service)
        message = yield ReplyWait(message.sender, ("ok",))


def build(params: Params, costs, seeds: np.random.SeedSequence, config) -> Setup:
    kernel = Kernel(config, costs)
    shared = kernel.create_space("shared")
    the_sink = kernel.create_thread("sink", 0, SINK_PRIORITY, shared)
    the_consumer = kernel.create_thread("consumer", 0, CONSUMER_PRIORITY, shared)
    mailbox = [0]  # items deposited and not yet taken
    programs = {
        the_sink: sink(params.sink_cycles),
        the_consumer: consumer(mailbox, params.consume_cycles, the_sink),
    }
    for index, stream in enumerate(seeds.spawn(params.producers)):
        cpu = (1 + index) % params.cpus
        thread = kernel.create_thread(
            f"producer{index}", cpu, PRODUCER_PRIORITY, kernel.create_space(f"producer{index}")
        )
        programs[thread] = producer(
            np.random.default_rng(stream), params.produce_mean, mailbox, the_consumer
        )
    return Setup(kernel, programs, IPC, params.warmup_events, params.events)
