"""sel4bench's SMP benchmark as it runs on the board (``apps/smp`` of seL4/sel4bench).

On each CPU a ping and a pong thread, pinned to it, in the benchmark's one
address space, each pair with an endpoint of its own. Ping loops { spin until
the cycle counter has advanced by ``delay_cycles``; Call its endpoint;
increment its core's cache-line-padded counter }; pong loops { ReplyRecv;
spin ``delay_cycles`` }. Nothing is shared between pairs but the kernel.

The model's kernel has no endpoint objects: each ping Calls its pong thread
directly, which is what a private endpoint with one waiting receiver amounts
to. Each delay is a :class:`~l4sim.kernel.syscalls.Spin` (it lasts its cycles
of the counter, interrupts included). How long, depends on sel4bench's
version (``delay_distribution``):

- ``"exponential"``, every version before sel4bench commit ``1fb8af24``: each
  spin lasts ``REXP(core) x delay - overhead`` cycles, an exponentially
  distributed draw of mean ``delay`` from a generator of the core's own (one
  stream per CPU, shared by its ping and pong, seeded from the scenario's
  seed as sel4bench's were from a fixed one), less the measured cost of
  reading and resetting the counter that the benchmark subtracts
  (``delay_overhead_cycles``), and none at all where that is negative: the
  spin ends at once. The counter reset before each spin (ARM, RISC-V) costs
  cycles of the benchmark's loop; the spin itself is timed from its start
  either way.
- ``"deterministic"``, from ``1fb8af24`` on: each spin lasts exactly
  ``delay_cycles``.

The benchmark's own user code per round (the counter reads that end each
spin, the random draws and counter resets of the exponential versions, the
counter's increment, the system-call stubs' register moves) is the profile's
``smp_bench_loop``, split between ping and pong; ``l4sim calibrate`` derives
it, version by version, from each run's 1-core rates.

The defaults are seL4's SMP build on the Sabre: the big kernel lock (CLH),
the IPC fastpath, no exception fastpath.

Metrics: ``calls_per_second`` (all CPUs, at the profile's clock), and the
model's own one-way IPC costs as sel4bench's IPC benchmark measures them,
from the caller's trap to the receiver's return to user mode:
``call_cycles`` (ping's Call until pong runs) and ``reply_recv_cycles``
(pong's ReplyRecv until ping runs), means over the measured IPCs of each CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import IPC
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.locks import KernelLocking, LockDesign
from l4sim.kernel.objects import Thread
from l4sim.kernel.syscalls import Call, Compute, Program, ReplyWait, Spin, Wait
from l4sim.workloads.base import MAX_WORK_CYCLES, Point, Setup

if TYPE_CHECKING:
    import pandas as pd

    from l4sim.sim.machine import Machine

# pong above ping: at the start every pong is waiting before its ping first calls
PONG_PRIORITY = 200
PING_PRIORITY = 100
# how sel4bench's version drew each spin (Params.delay_distribution)
DelayDistribution = Literal["deterministic", "exponential"]


DRAW_BLOCK = 256  # exponential draws taken from a core's stream at a time


class FixedDelay:
    """sel4bench from ``1fb8af24`` on: every spin lasts the delay."""

    def __init__(self, delay: int) -> None:
        self.delay = delay

    def next(self) -> int:
        return self.delay


class ExponentialDelay:
    """sel4bench before ``1fb8af24``: ``REXP(core) x delay - overhead`` per spin, at least 0.

    One per CPU: its ping and pong draw from it in turn, as both threads of a
    core called the core's generator.
    """

    def __init__(self, rng: np.random.Generator, delay: int, overhead: int) -> None:
        self.rng = rng
        self.delay = delay
        self.overhead = overhead
        self.draws: list[int] = []

    def next(self) -> int:
        if not self.draws:
            self.draws = self.block()[::-1].tolist()
        return self.draws.pop()

    def block(self) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        """The next ``DRAW_BLOCK`` spins, in the order they are used.

        Stratified: one draw from each of the block's equally likely slices of
        the exponential distribution, in random order. Each spin is still
        exponential with mean ``delay``, and a block's mean is the delay to
        within a fraction of a percent, as over the board's samples of a
        hundred thousand spins, which independent draws would reach only over
        as many simulated calls. The C cast of sel4bench truncates.
        """
        rng = self.rng
        uniform = (rng.permutation(DRAW_BLOCK) + rng.random(DRAW_BLOCK)) / DRAW_BLOCK
        spins = (-np.log1p(-uniform) * self.delay).astype(np.int64)
        return np.maximum(spins - self.overhead, 0)


# how a core's threads draw their spins, by sel4bench's version
Delay = FixedDelay | ExponentialDelay


def ping(pong: Thread, delay: Delay, loop: int) -> Program:
    number = 0
    while True:
        yield Spin(delay.next())
        number += 1
        yield Call(pong, (number,))
        yield Compute(loop)  # counter increment, the next spin's first counter read


def pong(delay: Delay, loop: int) -> Program:
    message = yield Wait()
    while True:
        yield Spin(delay.next())
        yield Compute(loop)
        message = yield ReplyWait(message.sender, message.payload)


class Params(Point):
    """The keys of sel4bench's SMP benchmark (on top of those every workload has)."""

    workload: Literal["sel4bench_smp"] = "sel4bench_smp"
    profile: str = "sel4-sabre"
    kernel_lock: KernelLocking = "big"
    lock: LockDesign = "clh"
    fastpath_ipc: bool = True
    fastpath_syscall: bool = False
    delay_cycles: int = Field(500, ge=0, le=MAX_WORK_CYCLES)
    """Cycles of the cycle counter each thread spins between IPCs (sel4bench: 500 and 32000).

    Exact whatever interrupts the spin (with ``delay_distribution = "exponential"``,
    the mean of the spins).
    """
    delay_distribution: DelayDistribution = "deterministic"
    """How sel4bench's version drew each spin between IPCs.

    ``"exponential"``, every version before sel4bench commit ``1fb8af24``
    (https://github.com/seL4/sel4bench/commits): an exponentially distributed
    draw of mean ``delay_cycles`` per spin, from a stream of the core's own,
    less ``delay_overhead_cycles``; the draws are stratified in blocks of 256
    (one from each equally likely slice, in random order). ``"deterministic"``,
    from ``1fb8af24`` on: every spin lasts exactly ``delay_cycles``.
    ``l4sim calibrate sel4bench`` chooses it from a run's ``sha_bench``.
    """
    delay_overhead_cycles: int = Field(0, ge=0, le=MAX_WORK_CYCLES)
    """The counter overhead the exponential versions subtract from each spin.

    sel4bench measures the cost of reading the cycle counter and takes it off
    each draw; a spin whose draw is smaller ends at once. Unused with
    ``"deterministic"``.
    """

    def measured_entries(self) -> int:
        # each Call is followed by its pong's ReplyRecv: two measured ipc entries per event
        return 2 * (self.events + self.warmup_events)


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    """A ping and a pong thread per CPU, in one address space."""
    kernel = Kernel(config, costs)
    space = kernel.create_space("sel4bench")
    ping_loop = (costs.smp_bench_loop + 1) // 2
    pong_loop = costs.smp_bench_loop - ping_loop
    programs = {}
    streams = seeds.spawn(params.cpus)
    for cpu in range(params.cpus):
        answer = kernel.create_thread(f"pong{cpu}", cpu, PONG_PRIORITY, space)
        caller = kernel.create_thread(f"ping{cpu}", cpu, PING_PRIORITY, space)
        delay: Delay
        if params.delay_distribution == "exponential":
            delay = ExponentialDelay(
                np.random.default_rng(streams[cpu]),
                params.delay_cycles,
                params.delay_overhead_cycles,
            )
        else:
            delay = FixedDelay(params.delay_cycles)
        programs[answer] = pong(delay, pong_loop)
        programs[caller] = ping(answer, delay, ping_loop)

    def metrics(machine: Machine, events: pd.DataFrame, measured_cycles: int) -> dict[str, float]:
        calls = int(events["thread_name"].str.startswith("ping").sum())
        one_way = one_way_cycles(machine)
        return {
            "calls_per_second": calls * costs.clock_hz / max(measured_cycles, 1),
            "call_cycles": one_way[True],
            "reply_recv_cycles": one_way[False],
        }

    return Setup(
        kernel, programs, IPC, 2 * params.warmup_events, 2 * params.events, metrics=metrics
    )


def one_way_cycles(machine: Machine) -> dict[bool, float]:
    """Mean cycles from a trap to the partner's return to user mode, by caller (ping: True).

    On each CPU the pair alternates: ping's Call returns pong to user mode
    (the close of pong's ReplyRecv record), and the other way round. Each
    measured entry is paired with the partner's first close after it (among
    all records: the partner's may have entered before the measurement).
    """
    trace = machine.trace
    entry, closed, cpus = trace.entry, trace.closed, trace.cpu
    keep = entry >= machine.measure_from
    if machine.measure_to is not None:
        keep &= closed <= machine.measure_to
    names = np.asarray([*machine.thread_names, "idle"])  # IDLE (-1): the last
    role = {name: np.char.startswith(names, name)[trace.thread] for name in ("ping", "pong")}
    means = {}
    for caller, partner, is_ping in (("ping", "pong", True), ("pong", "ping", False)):
        total = count = 0
        for cpu in np.unique(cpus[keep]):
            here = cpus == cpu
            theirs = np.sort(closed[here & role[partner]])
            starts = entry[keep & here & role[caller]]
            index = np.searchsorted(theirs, starts, side="right")
            found = index < len(theirs)
            total += int((theirs[index[found]] - starts[found]).sum())
            count += int(found.sum())
        means[is_ping] = total / count if count else float("nan")
    return means
