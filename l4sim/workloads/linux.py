"""A paravirtualized Linux under load (the paper's experiments E1 and E2).

Per CPU ``c``:

- a Linux server thread ``linux<c>``: the exception handler of that CPU's guest
  processes, and their scheduler. A guest process runs only while the server
  has replied to its last system call; the server replies to one process at a
  time, so only one guest process per CPU is active and the server is
  normally waiting when an exception arrives (why E1's fastpath is taken);
- ``io_procs`` I/O-heavy guest processes: short user bursts, frequent system
  calls, a share of which start a device transfer and block until its
  interrupt; ``cpu_procs`` CPU-intensive ones: long bursts, few system calls;
- an interrupt thread ``irq<c>``. Device and timer interrupts all arrive on
  CPU 0; the kernel delivers them as IPC to ``irq0``, which forwards them
  (``Send``) to the interrupt thread of the CPU they concern (the periodic
  timer to every CPU): these IPCs cross CPUs. Each interrupt thread then
  Calls its Linux server, which replies.

The Linux server rotates its runnable processes at the first system call
after a timer tick (guest round robin). ``irq_forward = "notify"`` forwards
interrupts to other CPUs through a shared mailbox and a notification instead
of a Send IPC. A probe measures each interrupt's latency until its Linux
server receives it (``kind = "irq_latency"`` rows in points.parquet). A point
measures ``events`` syscall exceptions after ``warmup_events``; every IPC in
the same window is measured.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import Costs
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import Message, Thread
from l4sim.kernel.syscalls import (
    Call,
    Compute,
    Notify,
    Program,
    RaiseException,
    Reply,
    ReplyWait,
    Send,
    SharedAccess,
    StartIO,
    Wait,
)
from l4sim.workloads.base import MAX_WORK_CYCLES, Point, Setup

IRQ_PRIORITY = 250
SERVER_PRIORITY = 150
GUEST_PRIORITY = 100


def guest(rng: np.random.Generator, gap_mean: float) -> Program:
    """A guest process: exponential user bursts, each ended by a system call."""
    number = 0
    yield RaiseException("syscall", (0,))  # exec: register with the Linux server
    while True:
        yield Compute(int(rng.exponential(gap_mean)))
        number += 1
        yield RaiseException("syscall", (number,))


def linux_server(
    cpu: int,
    rng: np.random.Generator,
    io_names: set[str],
    processes: dict[str, Thread],
    params: Params,
) -> Program:
    """The Linux server of one CPU: serve system calls and schedule the guest processes."""
    runnable: deque[Thread] = deque()
    active: Thread | None = None
    need_resched = False
    transfers = 0
    message = yield Wait()
    while True:
        if message.label == "exception":
            process = message.sender
            if active is not None and process is not active:
                runnable.append(process)  # a process registering: it waits its turn
                message = yield Wait()
                continue
            yield Compute(int(rng.exponential(params.syscall_service)))
            active = process
            if process.name in io_names and rng.random() < params.io_block_fraction:
                transfers += 1
                latency = int(rng.exponential(params.device_latency))
                yield StartIO(latency, ("io", cpu, process.name, transfers))
                active = None  # blocked on the device until its interrupt
            elif need_resched and runnable:
                runnable.append(process)
                active = None
            need_resched = False
            if active is None and runnable:
                active = runnable.popleft()
            if active is None:
                message = yield Wait()  # nothing to run on this CPU
            else:
                message = yield ReplyWait(active, ("ret", *message.payload[1:]))
            continue
        # an interrupt, Called to us by this CPU's interrupt thread
        caller = message.sender
        yield Compute(params.irq_service)
        kind = message.payload[0]
        if kind == "timer":
            need_resched = True
        else:  # ("io", cpu, process name, transfer number): the process may run again
            runnable.append(processes[message.payload[2]])
        resume = None
        if active is None and runnable:
            active = runnable.popleft()
            resume = active
        if resume is not None:
            yield Reply(resume, ("ret",))
        message = yield ReplyWait(caller, ("irq-done",))


def irq_root(
    servers: list[Thread],
    irq_threads: list[Thread],
    decode: int,
    forward: str,
    mailboxes: list[deque[tuple[object, ...]]],
) -> Program:
    """CPU 0's interrupt thread: receive kernel IRQ IPCs and forward them.

    ``forward = "send"``: a Send IPC carrying the interrupt (blocks until the
    other CPU's interrupt thread receives it). ``"notify"``: write the
    interrupt into that CPU's mailbox (shared memory of the Linux space) and
    signal its interrupt thread with a notification (never blocks).
    """
    message = yield Wait()
    while True:
        yield Compute(decode)
        payload = message.payload
        targets = range(len(servers)) if payload[0] == "timer" else [payload[1]]
        for cpu in targets:
            if cpu == 0:
                yield Call(servers[0], payload)
            elif forward == "notify":
                yield SharedAccess()  # the mailbox is shared with that CPU's thread
                mailboxes[cpu].append(payload)
                yield Notify(irq_threads[cpu], 1)
            else:
                yield Send(irq_threads[cpu], payload)
        message = yield Wait()


def irq_leaf(server: Thread, decode: int, mailbox: deque[tuple[object, ...]]) -> Program:
    """Another CPU's interrupt thread: take forwarded interrupts to its Linux server."""
    message = yield Wait()
    while True:
        if message.label == "notify":  # drain the mailbox the notification points at
            while True:
                yield SharedAccess()  # the mailbox is shared with CPU 0's thread
                if not mailbox:
                    break
                yield Compute(decode)
                yield Call(server, mailbox.popleft())  # only this thread takes from it
        else:
            yield Compute(decode)
            yield Call(server, message.payload)
        message = yield Wait()


class IrqLatency:
    """Probe: cycles from an interrupt to its Linux server receiving it (per CPU)."""

    def __init__(self, servers: list[Thread]) -> None:
        self.servers = {server: cpu for cpu, server in enumerate(servers)}
        self.raised: dict[tuple[object, ...], int] = {}
        self.samples: list[tuple[int, int]] = []  # (raised at, latency)

    def irq_raised(self, payload: tuple[object, ...], now: int) -> None:
        self.raised[payload] = now

    def received(self, thread: Thread, message: Message, now: int) -> None:
        if thread in self.servers and message.label == "call" and message.payload in self.raised:
            raised = self.raised[message.payload]
            self.samples.append((raised, now - raised))

    def rows(self, since: int, measured_cycles: int) -> list[dict[str, Any]]:
        until = since + measured_cycles  # received inside the window (lookahead may run past it)
        latencies = np.array(
            [lat for at, lat in self.samples if at >= since and at + lat <= until], dtype=float
        )
        if latencies.size == 0:
            return []
        return [
            {
                "kind": "irq_latency",
                "entries": int(latencies.size),
                "duration_mean": float(latencies.mean()),
                "duration_p50": float(np.percentile(latencies, 50)),
                "duration_p99": float(np.percentile(latencies, 99)),
                "fast_fraction": float("nan"),
                "lock_wait_mean": float("nan"),
                "contended_fraction": float("nan"),
                "entries_per_mcycle": float(latencies.size * 1e6 / max(measured_cycles, 1)),
            }
        ]


class Params(Point):
    """The keys of the Linux load. Times are in cycles, means of exponentials."""

    workload: Literal["linux"] = "linux"
    io_procs: int = Field(3, ge=0, le=64)
    """I/O-heavy guest processes per CPU."""
    cpu_procs: int = Field(3, ge=0, le=64)
    """CPU-intensive guest processes per CPU."""
    io_gap: float = Field(20_000.0, gt=0, le=MAX_WORK_CYCLES)
    """User work of an I/O-heavy process between system calls (cycles, mean)."""
    cpu_gap: float = Field(2_000_000.0, gt=0, le=MAX_WORK_CYCLES)
    """User work of a CPU-intensive process between system calls (cycles, mean)."""
    io_block_fraction: float = Field(0.3, ge=0, le=1)
    """The share of an I/O process's system calls that wait for the device."""
    device_latency: float = Field(100_000.0, gt=0, le=MAX_WORK_CYCLES)
    """A device transfer's time (cycles, mean)."""
    syscall_service: float = Field(2_000.0, gt=0, le=MAX_WORK_CYCLES)
    """The Linux server's work per system call (cycles, mean)."""
    irq_service: int = Field(1_000, ge=0, le=MAX_WORK_CYCLES)
    """The Linux server's work per interrupt (cycles)."""
    irq_decode: int = Field(200, ge=0, le=MAX_WORK_CYCLES)
    """The interrupt thread's work per interrupt (cycles)."""
    tick: int = Field(10_000_000, ge=1000, le=MAX_WORK_CYCLES)
    """The guest timer's period (cycles; HZ = 100 at 1 GHz).

    The server rotates its runnable processes at the first system call after a tick.
    """
    irq_forward: Literal["send", "notify"] = "send"
    """How ``irq0`` forwards interrupts to the other CPUs.

    ``send``: a ``Send`` IPC; ``notify``: a mailbox in the shared Linux space
    plus a notification, which never blocks.
    """

    @model_validator(mode="after")
    def _some_process(self) -> Params:
        if self.io_procs + self.cpu_procs < 1:
            raise ValueError("io_procs + cpu_procs must be >= 1")
        return self


def build(
    params: Params, costs: Costs, seeds: np.random.SeedSequence, config: KernelConfig
) -> Setup:
    kernel = Kernel(config, costs)
    linux_space = kernel.create_space("linux")
    irq_threads = [
        kernel.create_thread(f"irq{c}", c, IRQ_PRIORITY, linux_space) for c in range(params.cpus)
    ]
    servers = [
        kernel.create_thread(f"linux{c}", c, SERVER_PRIORITY, linux_space)
        for c in range(params.cpus)
    ]
    kernel.irq_threads[0] = irq_threads[0]
    server_seeds, guest_seeds = seeds.spawn(2)
    mailboxes: list[deque[tuple[object, ...]]] = [deque() for _ in range(params.cpus)]
    programs: dict[Thread, Program] = {
        irq_threads[0]: irq_root(
            servers, irq_threads, params.irq_decode, params.irq_forward, mailboxes
        )
    }
    for c in range(1, params.cpus):
        programs[irq_threads[c]] = irq_leaf(servers[c], params.irq_decode, mailboxes[c])
    known: dict[str, Thread] = {}
    per_cpu = params.io_procs + params.cpu_procs
    streams = guest_seeds.spawn(params.cpus * per_cpu)
    io_names: set[str] = set()
    for c in range(params.cpus):
        for index in range(per_cpu):
            io = index < params.io_procs
            name = f"{'io' if io else 'cpu'}{c}.{index}"
            thread = kernel.create_thread(
                name, c, GUEST_PRIORITY, kernel.create_space(f"proc-{name}"), handler=servers[c]
            )
            known[name] = thread
            if io:
                io_names.add(name)
            gap = params.io_gap if io else params.cpu_gap
            programs[thread] = guest(np.random.default_rng(streams[c * per_cpu + index]), gap)
    for c, stream in enumerate(server_seeds.spawn(params.cpus)):
        programs[servers[c]] = linux_server(
            c, np.random.default_rng(stream), io_names, known, params
        )
    timers = ((0, params.tick, "timer"),)
    return Setup(
        kernel,
        programs,
        SYSCALL_EXCEPTION,
        params.warmup_events,
        params.events,
        timers=timers,
        probe=IrqLatency(servers),
    )
