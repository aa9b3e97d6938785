"""User threads: one SimPy process per thread, running its program in user mode.

A thread's program yields actions (:mod:`l4sim.kernel.syscalls`): user work
takes time and can be cut by the timeslice or an interrupt; a trap enters the
kernel, whose path runs inside the thread's process, as a real kernel runs on
the thread's kernel stack. A thread parked by a switch waits on its wake
event until a path switches back to it.

``carry`` is kernel time already spent on the thread's CPU but not yet
elapsed in simulated time (lookahead lets a path end ahead of the clock): the
next delay of the thread folds it in.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

import simpy

from l4sim.kernel.kernel import IRQ
from l4sim.kernel.objects import Message, Thread
from l4sim.kernel.syscalls import Compute, SharedAccess, Spin, StartIO
from l4sim.sim.simpy_internals import (
    Waits,
    new_event,
    run_now,
    schedule_rearmed,
    timeout,
    trigger_parked,
)

if TYPE_CHECKING:
    from l4sim.kernel.syscalls import Program
    from l4sim.sim.interpreter import PathInterpreter
    from l4sim.sim.invariants import Monitor
    from l4sim.sim.machine import Machine

try:
    import cython
except ImportError:  # no Cython: its declarations below mean nothing
    from l4sim.sim.no_cython import cython  # type: ignore[no-redef]


class ProgramError(ValueError):
    """A thread's program asked for what no machine can do.

    A negative or fractional number of cycles: a mistake in the program,
    told in one line with its thread.
    """


class ThreadRunner:
    """Simulator-side state of one thread: its process and where it stands."""

    __slots__ = ("carry", "in_user", "index", "process", "program", "slice_left", "thread", "wake")

    def __init__(self, thread: Thread, index: int, program: Program, slice_left: int) -> None:
        self.thread = thread
        self.index = index
        self.program = program
        # its process and the event it waits on while parked (set by the machine's run)
        self.process: simpy.Process = None  # type: ignore[assignment]
        self.wake: simpy.Event = None  # type: ignore[assignment]
        self.in_user = False
        self.slice_left = slice_left
        # cycles the CPU still owes the thread that switched to this one when it
        # is woken early (see UserThreads.resume): its first delay includes them
        self.carry = 0


class UserThreads:
    """The thread processes of one machine: user work, traps, timeslices, wake-ups."""

    def __init__(self, machine: Machine) -> None:
        self.env = machine.env
        self.kernel = machine.kernel
        self.timeslice = machine.costs.timeslice
        interrupts = self.interrupts = machine.interrupts
        self.resched = interrupts.resched
        self.pending_irqs = interrupts.pending_irqs
        self.interrupting = interrupts.interrupting
        self.next_act = machine.next_act
        self.lookahead = machine.lookahead  # "may another CPU act before t?"
        self.observations = machine.observations
        self.probe = machine.probe
        self.monitor: Monitor | None = None  # the invariant monitor, if one watches the run
        # runs the kernel paths (set by the machine)
        self.interpreter: PathInterpreter = None  # type: ignore[assignment]
        # run a switched-to thread at once, owing the switcher's cycles (lookahead)
        self.eager_resume = machine.lookahead_enabled
        self.resuming = False  # a switched-to thread runs inside resume() right now

    # cycles and the CPU as C integers, the thread's state as its struct (compiled
    # build only: the values are the same Python ints either way)
    @cython.locals(
        runner=ThreadRunner,
        cpu=cython.int,
        carry=cython.longlong,
        cycles=cython.longlong,
        user_start=cython.longlong,
        now=cython.longlong,
        ran=cython.longlong,
        next_act=cython.longlong[::1],
    )
    def process(self, runner: ThreadRunner) -> Waits[None]:
        """The thread's process: run its program; each trap runs a kernel path."""
        yield runner.wake  # dispatched for the first time
        thread = runner.thread
        cpu = thread.cpu
        program = runner.program
        result = None
        kernel = self.kernel
        interpreter = self.interpreter
        lookahead = self.lookahead
        observations = self.observations
        probe = self.probe
        monitor = self.monitor
        # somebody looks at what the thread receives
        watched = observations is not None or probe is not None or monitor is not None
        carry = runner.carry  # kernel cycles already spent but not yet elapsed
        runner.carry = 0
        env = self.env
        resched = self.resched
        pending_irqs = self.pending_irqs
        next_act = self.next_act
        # one event for every stretch of user work, made pending again each time (no
        # Timeout to build); an interrupted stretch leaves it in SimPy's queue, so
        # then it is replaced. The same queue entries as a Timeout: same results.
        worked = new_event(env)
        while True:
            # (Any: dispatched on its class, kept in kind_of, which the checker does not follow)
            action: Any = program.send(result)
            kind_of = type(action)
            if kind_of is Compute or kind_of is Spin:
                result = None
                given = action.cycles
                # a whole number, not negative (a Timeout refused it; the queue below would not)
                if (type(given) is not int and not isinstance(given, Integral)) or given < 0:
                    raise bad_cycles(thread, kind_of.__name__, given)
                cycles: int = given  # type: ignore[assignment]  # a whole number, as checked
                # a spin on the cycle counter ends at a fixed cycle, interrupted or not
                until = env.now + carry + cycles if kind_of is Spin else None
                if (
                    cycles >= runner.slice_left
                    or resched[cpu]
                    or pending_irqs[cpu]
                    or monitor is not None
                ):
                    carry = yield from self.compute(runner, cycles, carry, until)
                    continue
                # the common case of compute(), inline: no interrupt waiting, and the
                # work ends within the timeslice
                if cycles > 0 or carry:
                    user_start = env.now + carry
                    next_act[cpu] = user_start + cycles
                    runner.in_user = True
                    schedule_rearmed(env, worked, carry + cycles)
                    try:
                        yield worked
                    except simpy.Interrupt:  # the rest as compute() does it
                        worked = new_event(env)  # the old one is still queued
                        runner.in_user = False
                        self.interrupting[cpu] = False
                        now = env.now
                        carry = max(0, user_start - now)
                        ran = max(0, now - user_start)
                        runner.slice_left -= ran
                        if cycles > ran:
                            carry = yield from self.compute(runner, cycles - ran, carry, until)
                        continue
                    runner.in_user = False
                    runner.slice_left -= cycles
                    carry = 0
                continue
            if kind_of is SharedAccess:  # user memory another CPU uses: at our true cycle
                result = None
                if carry:
                    yield interpreter.elapse(cpu, carry)
                    carry = 0
                continue
            # a trap or a device access, at our local time: an interrupt arriving
            # before then is taken first, so let the cycles still pending elapse
            # if one could (user work above is interruptible: it needs no such stop)
            if carry:
                now = env.now
                if lookahead.interruptible_before(cpu, now + carry):
                    yield interpreter.elapse(cpu, carry)
                    carry = 0
            if resched[cpu] or pending_irqs[cpu]:
                carry = yield from self.service_interrupts(runner, carry)
            if kind_of is StartIO:
                self.interrupts.start_io(action.latency + carry + action.cycles, action.irq)
                carry = yield from self.compute(runner, action.cycles, carry)
                result = None
                continue
            kind, path = kernel.enter(cpu, thread, action)
            result, carry = yield from interpreter.run_path(cpu, runner, kind, path, carry)
            if watched and isinstance(result, Message):
                if observations is not None:
                    observations[thread.name].append(result.observed())
                if probe is not None:
                    probe.received(thread, result, env.now + carry)
                if monitor is not None:  # exactly-once, in-order delivery
                    monitor.on_receive(thread, result)

    def compute(
        self, runner: ThreadRunner, cycles: int, carry: int, until: int | None = None
    ) -> Waits[int]:
        """User-mode work after ``carry`` kernel cycles, cut by the timeslice or an interrupt.

        ``until``: the work ends at that cycle however long interrupts took (a
        spin on the cycle counter), instead of after ``cycles`` of user time.
        """
        env = self.env
        remaining = cycles
        cpu = runner.thread.cpu
        while True:
            if self.resched[cpu] or self.pending_irqs[cpu]:
                carry = yield from self.service_interrupts(runner, carry)
            if until is not None:
                remaining = until - (env.now + carry)
                if remaining <= 0:
                    return carry
            if self.monitor is not None:  # who runs user code where
                self.monitor.on_user(cpu, runner.thread, carry)
            run = min(remaining, runner.slice_left)
            user_start = env.now + carry
            end = user_start + run
            self.next_act[cpu] = end
            runner.in_user = True
            try:
                yield timeout(env, carry + run)
            except simpy.Interrupt:
                self.interrupting[cpu] = False
            runner.in_user = False
            now = env.now
            carry = max(0, user_start - now)  # an interrupt can land before the kernel part ends
            ran = max(0, now - user_start)
            remaining -= ran
            runner.slice_left -= ran
            if runner.slice_left <= 0:
                runner.slice_left = self.timeslice
                self.resched[cpu] = False
                _, carry = yield from self.interpreter.run_path(
                    cpu, runner, None, self.kernel.reschedule(cpu, runner.thread, True), carry
                )
            if remaining <= 0:
                return carry

    def service_interrupts(self, runner: ThreadRunner, carry: int) -> Waits[int]:
        """Deliver this CPU's pending interrupts, then reschedule if an IPI asked to."""
        cpu = runner.thread.cpu
        kernel = self.kernel
        interpreter = self.interpreter
        while True:
            if self.pending_irqs[cpu]:
                payload = self.pending_irqs[cpu].popleft()
                _, carry = yield from interpreter.run_path(
                    cpu, runner, IRQ, kernel.deliver_irq(cpu, runner.thread, payload), carry
                )
            elif self.resched[cpu]:
                self.resched[cpu] = False
                _, carry = yield from interpreter.run_path(
                    cpu, runner, None, kernel.reschedule(cpu, runner.thread, False), carry
                )
            else:
                return carry

    def resume(self, runner: ThreadRunner, delay: int) -> None:
        """Continue a parked thread ``delay`` cycles from now.

        Without lookahead: one event, ``delay`` cycles from now. With it, the
        thread runs now, ``delay`` cycles in debt (its ``carry``): its kernel
        continuation and user code fold them into their first delay, and its
        CPU's next action is known at once, so other CPUs need not stop to
        wait for the switch to elapse.
        """
        wake = runner.wake
        if not trigger_parked(wake):  # not parked, or already woken
            raise RuntimeError(f"thread {runner.thread.name} switched to but not parked")
        env = self.env
        if not self.eager_resume:
            env.schedule(wake, delay=delay)
            return
        runner.carry = delay
        if self.resuming:
            env.schedule(wake)  # from inside a resumption: as an event, at this instant
            return
        # Run the thread now, as SimPy would when it processes `wake` at this
        # instant: one event fewer per switch. Once at a time (no nesting: the
        # thread it switches to next goes through the queue).
        self.resuming = True
        try:
            ran = run_now(env, runner.process, wake)
        finally:
            self.resuming = False
        if not ran:  # it does not wait on its wake event yet: as an event, at this instant
            env.schedule(wake)


def bad_cycles(thread: Thread, action: str, given: object) -> ProgramError:
    """A program asked to spend cycles that are not a whole number of at least 0."""
    problem = "must not be negative" if isinstance(given, Integral) else "must be a whole number"
    shown = given if isinstance(given, Integral) else repr(given)
    return ProgramError(f"thread {thread.name}: {action}({shown}): cycles {problem}")
