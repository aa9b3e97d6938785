"""Interrupt sources: each CPU's process (IPIs, idle dispatch), devices and timers.

An inter-processor interrupt wakes an idle CPU, which dispatches its next
thread, or interrupts a thread in user mode, which then reschedules; a CPU
running kernel code only notes it (kernel mode is not interruptible) and
looks at the note when the path ends. Device and timer interrupts are
delivered by the kernel as IPC (:meth:`l4sim.kernel.kernel.Kernel.deliver_irq`).

For lookahead, the sources keep when each CPU's next IPI and interrupt are
due (``ipi_due``, ``irq_due``) and the earliest of each over all CPUs.

An IPI in flight is one timer event; when it lands and nothing else is due
at that cycle, the target CPU takes it at once, as SimPy would next, without
queueing its arrival as a second event.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

import simpy

from l4sim.kernel.kernel import IRQ
from l4sim.kernel.objects import Thread
from l4sim.sim.lookahead import NEVER
from l4sim.sim.simpy_internals import (
    Clock,
    Waits,
    call_later,
    interrupt,
    new_event,
    succeed_if_pending,
    succeed_next_if_pending,
    timeout,
)

if TYPE_CHECKING:
    from l4sim.kernel.kernel import Kernel
    from l4sim.sim.interpreter import PathInterpreter
    from l4sim.sim.machine import Probe
    from l4sim.sim.threads import ThreadRunner


class InterruptSources:
    """The IPIs, device and timer interrupts of one machine, and the CPU processes."""

    def __init__(self, env: Clock, kernel: Kernel, cpus: int, probe: Probe | None = None) -> None:
        self.env = env
        self.kernel = kernel
        self.ipi_latency = kernel.costs.ipi_latency
        self.probe = probe  # a workload's own measurements (see workloads.Setup)
        self.pending_irqs: list[deque[tuple[object, ...]]] = [deque() for _ in range(cpus)]
        self.resched = [False] * cpus  # the CPU must reschedule at its next chance
        self.busy = [False] * cpus  # a kernel path is executing on the CPU
        self.interrupting = [False] * cpus  # its user-mode thread is being interrupted
        self.ipi: list[simpy.Event] = [env.event() for _ in range(cpus)]
        # when device and timer interrupts are due on each CPU (heaps), for lookahead
        self.irq_due: list[list[int]] = [[] for _ in range(cpus)]
        self.ipi_due = [NEVER] * cpus  # the next IPI due on each CPU (head of ipis)
        self.ipis: list[list[int]] = [[] for _ in range(cpus)]  # IPIs in flight (heaps)
        self.irq_next = NEVER  # the earliest interrupt due on any CPU
        self.ipi_next = NEVER  # the earliest IPI due on any CPU
        self.runners: dict[Thread, ThreadRunner] = {}  # its ThreadRunner (set by the machine)
        # runs the kernel paths (set by the machine)
        self.interpreter: PathInterpreter = None  # type: ignore[assignment]

    def cpu_process(self, cpu: int) -> Waits[None]:
        """Take IPIs and interrupts: an idle CPU dispatches, a busy one is interrupted."""
        env = self.env
        kernel = self.kernel
        while True:
            yield self.ipi[cpu]
            self.ipi[cpu] = new_event(env)
            due = self.ipis[cpu]  # those arrived now; another may still be on its way
            while due and due[0] <= env.now:
                heapq.heappop(due)
            self.ipi_due[cpu] = due[0] if due else NEVER
            self.ipi_next = min(self.ipi_due)
            current = kernel.scheduler.current[cpu]
            if self.busy[cpu]:
                # a kernel path runs here (perhaps on its way to idle): it looks at
                # the flags when it leaves, and kicks us again if it goes idle
                self.resched[cpu] = True
                continue
            if current is None:
                if self.pending_irqs[cpu]:
                    payload = self.pending_irqs[cpu].popleft()
                    path = kernel.deliver_irq(cpu, None, payload)
                    kind = IRQ
                else:
                    self.resched[cpu] = False
                    path = kernel.dispatch(cpu)
                    kind = None
                _, carry = yield from self.interpreter.run_path(cpu, None, kind, path)
                if carry:
                    yield timeout(env, carry)
                if self.pending_irqs[cpu] and kernel.scheduler.current[cpu] is None:
                    self.ipi_arrive(cpu)  # more interrupts for a CPU still idle
                continue
            self.resched[cpu] = True
            self.interrupt(cpu, self.runners[current])

    def raise_irq(self, cpu: int, payload: tuple[object, ...]) -> None:
        """A device or timer interrupt on ``cpu`` (delivered as IPC by the kernel)."""
        now = self.env.now
        if self.probe is not None:
            self.probe.irq_raised(payload, now)
        due = self.irq_due[cpu]
        while due and due[0] <= now:
            heapq.heappop(due)
        self.irq_next = min((heap[0] for heap in self.irq_due if heap), default=NEVER)
        self.pending_irqs[cpu].append(payload)
        current = self.kernel.scheduler.current[cpu]
        if current is None:
            self.ipi_arrive(cpu)
        else:
            self.interrupt(cpu, self.runners[current])

    def interrupt(self, cpu: int, runner: ThreadRunner) -> None:
        """Interrupt a thread in user mode; one in the kernel checks on its way out."""
        if runner.in_user and not self.interrupting[cpu]:
            self.interrupting[cpu] = True
            interrupt(runner.process)

    def start_io(self, delay: int, payload: tuple[object, ...]) -> None:
        """A device transfer: its completion interrupt reaches CPU 0 ``delay`` cycles from now."""
        at = self.env.now + delay
        heapq.heappush(self.irq_due[0], at)  # CPU 0 acts then
        self.irq_next = min(self.irq_next, at)
        call_later(self.env, delay, lambda _event: self.raise_irq(0, payload))

    def timer_process(self, cpu: int, period: int, name: str) -> Waits[None]:
        """A periodic interrupt (the guest's tick) on ``cpu``."""
        count = 0
        env = self.env
        while True:
            at = env.now + period
            heapq.heappush(self.irq_due[cpu], at)  # the CPU acts then
            self.irq_next = min(self.irq_next, at)
            yield timeout(env, period)
            count += 1
            self.raise_irq(cpu, (name, count))

    def ipi_arrive(self, cpu: int) -> None:
        """An IPI reaches ``cpu`` now (or the CPU is kicked at boot, or while idle)."""
        succeed_if_pending(self.env, self.ipi[cpu])

    def kick(self, target: int, source: int, delay: int = 0) -> None:
        """``source`` sends an IPI to ``target`` ``delay`` cycles from now.

        It arrives ``ipi_latency`` cycles after it is sent. A delay: the
        sender's local time, ahead of the clock, when nothing else is due
        before it (the caller knows).
        """
        if target == source:
            return
        due = self.env.now + delay + self.ipi_latency
        heapq.heappush(self.ipis[target], due)
        self.ipi_due[target] = self.ipis[target][0]
        self.ipi_next = min(self.ipi_next, due)
        call_later(self.env, delay + self.ipi_latency, lambda _event: self.ipi_lands(target))

    def ipi_lands(self, cpu: int) -> None:
        """An IPI sent ``ipi_latency`` ago reaches ``cpu`` now: the last act of its timer.

        As :meth:`ipi_arrive`, but the CPU takes it at once if nothing else
        is due at this cycle (it would be the next event processed anyway).
        """
        succeed_next_if_pending(self.env, self.ipi[cpu])
