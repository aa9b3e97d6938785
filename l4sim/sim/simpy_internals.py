"""Every use of SimPy's private fields: reusing events, queueing them, running a process now.

The engine creates a few events per kernel entry where a naive model would
create several: it makes one event pending again instead of building a new
``Timeout``, queues it with the same queue entry ``Environment.schedule``
would make, and runs a woken thread's generator directly instead of sending
an event through the queue. Each of these touches fields SimPy does not
publish (``Event._ok``, ``Event._value``, ``Environment._queue``, ``_eid``,
``_now``, ``_active_proc``, ``Process._generator``, ``_target``,
``_resume``, ``Event._defused``, ``Interruption.process``); they live here
and nowhere else. The event loop itself (``Environment.run`` until an
event, ``step``, a process's ``_resume``) is SimPy's own code, copied here
so that it is compiled with the engine (SimPy is pure Python: its loop is
interpreted for every event).

Why it is safe: ``pyproject.toml`` pins ``simpy>=4.1,<4.2``. In 4.1 an event
is triggered when ``_value`` is no longer ``PENDING`` and processed when
``callbacks`` is None; the queue is a heap of ``(time, priority, event id,
event)`` and ``Environment.step`` pops it and runs the callbacks. Every
function below produces exactly the state the public calls would have
produced (the same queue entries in the same order), which is why the records
are bit-identical to those of plain ``Timeout``/``schedule`` calls (the
golden-records test and the lookahead tests check it). A SimPy release that
changes these fields needs this module, and only this module, reviewed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappop, heappush
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, PENDING, URGENT, Event, EventPriority, Interruption
from simpy.exceptions import Interrupt

__all__ = [
    "AFTER_ALL",
    "NORMAL",
    "Clock",
    "Event",
    "Process",
    "call_after_all",
    "call_later",
    "interrupt",
    "new_event",
    "nothing_due_by",
    "park",
    "processed_event",
    "run_now",
    "run_until",
    "schedule_rearmed",
    "succeed",
    "succeed_if_pending",
    "succeed_next",
    "succeed_next_if_pending",
    "timeout",
    "trigger_parked",
]

AFTER_ALL = EventPriority(2)  # an event priority after SimPy's NORMAL (1): last of its cycle

_Result = TypeVar("_Result")
Waits = Generator[Event, Any, _Result]
"""A process's generator (or a part of one): waits on events, returns ``_Result``."""


class Clock(simpy.Environment):
    """SimPy's environment, its clock read without a Python-level property call.

    ``now`` is what ``simpy.Environment.now`` returns, read by a C-level getter
    (the engine reads the clock several times per kernel entry).
    """

    if TYPE_CHECKING:  # the engine's time is whole cycles

        @property
        def now(self) -> int: ...

    else:
        now = property(attrgetter("_now"))


def new_event(env: simpy.Environment) -> Event:
    """``simpy.Event(env)``: a pending event, made without running SimPy's (interpreted) init."""
    event = Event.__new__(Event)
    event.env = env
    event.callbacks = []
    event._value = PENDING
    return event


def timeout(env: simpy.Environment, delay: int) -> Event:
    """``env.timeout(delay)``: the same queue entry, without SimPy's (interpreted) init."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    return schedule_rearmed(env, new_event(env), delay)


def call_later(env: simpy.Environment, delay: int, callback: Callable[[Event], None]) -> None:
    """Call ``callback(event)`` ``delay`` cycles from now.

    What ``env.timeout(delay)`` with ``callback`` among its callbacks does,
    the same queue entry, without building a Timeout.
    """
    timeout(env, delay).callbacks.append(callback)


def succeed(env: simpy.Environment, event: Event, value: object = None, delay: int = 0) -> None:
    """``event.succeed(value)``: the same queue entry (now, NORMAL), without SimPy's method.

    SimPy's method runs interpreted; this is a contended lock's grant, once
    per handover. ``delay``: queued that many cycles from now instead (what
    ``env.schedule(event, NORMAL, delay)`` of a triggered event queues).
    """
    if event._value is not PENDING:
        raise RuntimeError(f"{event} has already been triggered")
    event._ok = True
    event._value = value
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), event))


def succeed_if_pending(env: simpy.Environment, event: Event) -> None:
    """``event.succeed()`` unless ``event`` is triggered already: value None, queued now."""
    if event._value is PENDING:
        succeed(env, event)


def succeed_next(env: simpy.Environment, event: Event, value: object = None) -> None:
    """``event.succeed(value)`` as the last act of the callback of the event being processed.

    SimPy queues the event for this cycle; if nothing else is queued for this
    cycle or earlier, it is the very next event the loop pops, and the loop
    runs its callbacks next: here they run at once instead, in the same order
    and at the same time, and the queue never sees the event (one entry
    fewer). Otherwise it is queued (:func:`succeed`). The caller must do
    nothing after it, and its event must have no callback after the caller's:
    the loop would have run those before this event's.
    """
    queue = env._queue
    callbacks = event.callbacks
    if (queue and queue[0][0] <= env._now) or StopSimulation.callback in callbacks:
        succeed(env, event, value)
        return
    if event._value is not PENDING:
        raise RuntimeError(f"{event} has already been triggered")
    event._ok = True
    event._value = value
    event.callbacks = None  # type: ignore[assignment]  # processed (SimPy's mark)
    for callback in callbacks:
        callback(event)


def succeed_next_if_pending(env: simpy.Environment, event: Event) -> None:
    """:func:`succeed_next` (value None) unless ``event`` is triggered already."""
    if event._value is PENDING:
        succeed_next(env, event)


def processed_event(env: simpy.Environment) -> Event:
    """An event in the state of one already processed: free to be rearmed."""
    event = Event(env)
    event.callbacks = None  # type: ignore[assignment]  # processed (SimPy's mark)
    return event


def schedule_rearmed(env: simpy.Environment, event: Event, delay: int) -> Event:
    """``event`` rearmed and queued ``delay`` cycles from now: a Timeout without building one."""
    event.callbacks = []
    event._ok = True
    event._value = None
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), event))
    return event


def nothing_due_by(env: simpy.Environment, time: int) -> bool:
    """No event is queued for ``time`` or earlier: before ``time``, nothing but the caller runs."""
    queue = env._queue
    return not queue or queue[0][0] > time


def park(event: Event) -> None:
    """Make a processed ``event`` pending again: a process may wait on it once more."""
    event.callbacks = []
    event._value = PENDING


def trigger_parked(event: Event | None) -> bool:
    """Trigger a parked (pending) ``event``, successful with value None, keeping its waiters.

    False if it is not pending. What ``event.succeed()`` does but queueing it
    (the caller does that with ``env.schedule``, or runs its process now).
    """
    if event is None or event._value is not PENDING:
        return False
    event._ok = True
    event._value = None
    return True


def call_after_all(env: simpy.Environment, at: int, callback: Callable[[Event], None]) -> None:
    """Call ``callback(event)`` after every other event of cycle ``at`` (now, if past)."""
    event = Event(env)
    event._ok = True
    event._value = None
    event.callbacks.append(callback)
    env.schedule(event, AFTER_ALL, max(0, at - env._now))


def run_now(env: simpy.Environment, process: simpy.Process, event: Event) -> bool:
    """Resume ``process``, suspended on the triggered ``event``, right now.

    False: it is not suspended on it, and nothing is done.

    What ``Process._resume(event)`` does when SimPy processes ``event`` at this
    instant, without the event's round trip through the queue, for a process
    that never ends and always waits next on an event not yet processed (a
    thread process). The event is marked processed: the queue never sees it.
    """
    if process._target is not event:
        return False
    event.callbacks = None  # type: ignore[assignment]  # processed (SimPy's mark)
    active = env._active_proc
    try:
        env._active_proc = process
        target = process._generator.send(None)
        if target.callbacks is None:  # (processed already: SimPy's own loop)
            process._resume(target)  # type: ignore[unreachable]  # (SimPy types it a list)
        else:
            target.callbacks.append(process._resume)
            process._target = target
    finally:
        env._active_proc = active
    return True


def interrupt(process: simpy.Process) -> None:
    """``process.interrupt()`` (no cause), without SimPy's interpreted code.

    SimPy 4.1's ``Interruption``, the same URGENT queue entry, built without
    its (interpreted) init; delivered by :func:`_deliver`,
    a copy of ``Interruption._interrupt``. Interrupting user work is how an IPI or
    a device reaches a thread in user mode.
    """
    env = process.env
    if process._value is not PENDING:
        raise RuntimeError(f"{process} has terminated and cannot be interrupted.")
    if process is env._active_proc:
        raise RuntimeError("A process is not allowed to interrupt itself.")
    event = Interruption.__new__(Interruption)
    event.env = env
    event.callbacks = [_deliver]
    error = Interrupt.__new__(Interrupt, None)  # Interrupt(None): its args are (None,)
    event._value = error
    event._ok = False
    event._defused = True
    event.process = process
    heappush(env._queue, (env._now, URGENT, next(env._eid), event))


def _deliver(event: Event) -> None:
    """``Interruption._interrupt``: throw the interrupt into the process, unless it ended."""
    process = event.process  # type: ignore[attr-defined]  # an Interruption
    if process._value is not PENDING:
        return
    process._target.callbacks.remove(process._resume)
    process._resume(event)


class Process(simpy.Process):
    """A SimPy process whose resumption is compiled with the engine.

    ``_resume`` is ``simpy.Process._resume`` of SimPy 4.1 (the callback of every
    event a process waits on), unchanged but for the traceback it trims, which
    it leaves whole when there is no frame to trim.
    """

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:  # the process handles the failed event, or fails itself
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as stop:  # the process has ended
                event = None  # type: ignore[assignment]  # as SimPy: no target
                self._ok = True
                self._value = stop.args[0] if len(stop.args) else None
                env.schedule(self)
                break
            except BaseException as error:  # the process has failed
                event = None  # type: ignore[assignment]  # as SimPy: no target
                self._ok = False
                if error.__traceback__ is not None:
                    error.__traceback__ = error.__traceback__.tb_next
                self._value = error
                env.schedule(self)
                break
            try:
                if event.callbacks is not None:  # not triggered yet: resume us then
                    event.callbacks.append(self._resume)
                    break
            except AttributeError:
                if hasattr(event, "callbacks"):
                    raise
                raise RuntimeError(f'Invalid yield value "{event}"') from None
        self._target = event
        env._active_proc = None


def run_until(
    env: simpy.Environment,
    until: Event,
    watch: Callable[[int], None] | None = None,
    every: int = 0,
) -> None:
    """``env.run(until=until)`` for an event: SimPy 4.1's loop (``run`` and ``step``).

    Raises SimPy's RuntimeError if the queue empties before ``until`` happens.
    ``watch(now)``, if given, is called before every ``every``-th event runs: it
    may look at the run and raise to end it; it changes nothing (no event is
    queued for it), so a watched run gives the same records.
    """
    if until.callbacks is None:  # processed already
        return  # type: ignore[unreachable]  # (SimPy types callbacks a list, sets it None)
    until.callbacks.append(StopSimulation.callback)
    queue = env._queue
    countdown = every if watch is not None else -1
    try:
        while True:
            try:
                env._now, _, _, event = heappop(queue)
            except IndexError:
                raise EmptySchedule from None
            countdown -= 1
            if countdown == 0:
                countdown = every
                watch(env._now)  # type: ignore[misc, arg-type]  # (counts down only with a watch)
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                # the remaining callbacks run when the simulation resumes
                event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                env.schedule(event, URGENT - 1)  # type: ignore[arg-type]  # as SimPy's own loop
                raise
            if not event._ok and not hasattr(event, "_defused"):  # a failure nobody handled
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
    except StopSimulation:
        return
    except EmptySchedule:
        raise RuntimeError(
            f'No scheduled events left but "until" event was not triggered: {until}'
        ) from None
