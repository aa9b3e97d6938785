"""Every use of SimPy's private fields: reusing events, queueing them, running a process now.

The engine creates a few events per kernel entry where a naive model would
create several: it makes one event pending again instead of building a new
``Timeout``, queues it with the same queue entry ``Environment.schedule``
would make, and runs a woken thread's generator directly instead of sending
an event through the queue. Each of these touches fields SimPy does not
publish (``Event._ok``, ``Event._value``, ``Environment._queue``, ``_eid``,
``_now``, ``_active_proc``, ``Process._generator``, ``_target``,
``_resume``); they live here and nowhere else.

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

from heapq import heappush
from operator import attrgetter

import simpy
from simpy.events import NORMAL, PENDING, Event

__all__ = ["AFTER_ALL", "NORMAL", "Clock", "Event", "call_after_all", "park", "processed_event",
           "run_now", "schedule_rearmed", "trigger_parked"]

AFTER_ALL = 2  # an event priority after SimPy's NORMAL (1): last of its cycle


class Clock(simpy.Environment):
    """SimPy's environment, its clock read without a Python-level property call.

    ``now`` is what ``simpy.Environment.now`` returns, read by a C-level getter
    (the engine reads the clock several times per kernel entry).
    """

    now = property(attrgetter("_now"))


def processed_event(env: simpy.Environment) -> Event:
    """An event in the state of one already processed: free to be rearmed."""
    event = Event(env)
    event.callbacks = None
    return event


def schedule_rearmed(env: simpy.Environment, event: Event, delay: int) -> Event:
    """``event`` rearmed and queued ``delay`` cycles from now: a Timeout without building one."""
    event.callbacks = []
    event._ok = True
    event._value = None
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), event))
    return event


def park(event: Event) -> None:
    """Make a processed ``event`` pending again: a process may wait on it once more."""
    event.callbacks = []
    event._value = PENDING


def trigger_parked(event: Event | None) -> bool:
    """Trigger a parked (pending) ``event``, successful with value None, keeping its
    waiters; False if it is not pending. What ``event.succeed()`` does but queueing it
    (the caller does that with ``env.schedule``, or runs its process now)."""
    if event is None or event._value is not PENDING:
        return False
    event._ok = True
    event._value = None
    return True


def call_after_all(env: simpy.Environment, at: int, callback) -> None:
    """Call ``callback(event)`` after every other event of cycle ``at`` (now, if past)."""
    event = Event(env)
    event._ok = True
    event._value = None
    event.callbacks.append(callback)
    env.schedule(event, AFTER_ALL, max(0, at - env._now))


def run_now(env: simpy.Environment, process: simpy.Process, event: Event) -> bool:
    """Resume ``process``, suspended on the triggered ``event``, right now (False: it is not
    suspended on it, nothing done).

    What ``Process._resume(event)`` does when SimPy processes ``event`` at this
    instant, without the event's round trip through the queue, for a process
    that never ends and always waits next on an event not yet processed (a
    thread process). The event is marked processed: the queue never sees it.
    """
    if process._target is not event:
        return False
    event.callbacks = None
    active = env._active_proc
    try:
        env._active_proc = process
        target = process._generator.send(None)
        if target.callbacks is None:  # (processed already: SimPy's own loop)
            process._resume(target)
        else:
            target.callbacks.append(process._resume)
            process._target = target
    finally:
        env._active_proc = active
    return True
