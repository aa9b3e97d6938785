"""The SMP invariant checker: watches a simulated run and stops it at the first violation.

It sees the kernel through three narrow hooks (``Machine.monitor``,
``Kernel.monitor``, ``Scheduler.monitor``) and by wrapping every kernel path
the engine runs, so it keeps its own books instead of trusting the engine's:
its own map of lock owners, its own record of messages in flight. Checked:

- ``mutual-exclusion``: a lock granted while the monitor knows another CPU owns it;
- ``lock-order``: global locks first (by rank), then object locks by ascending address;
- ``one-cpu``: a thread runs user code on at most one CPU, only while the scheduler
  says it is that CPU's running thread (never while waiting);
- ``message``: every message delivered exactly once, in order per (sender, receiver),
  never overwritten before its receiver took it;
- ``lost-wakeup``: a receiver waiting while a matching sender sits in its send
  queue for longer than ``wakeup_bound`` cycles;
- ``stale-read``: state read without the lock that protects it, then used after
  another CPU changed it; ``unlocked-write``: state written while another CPU
  holds its lock;
- ``deadlock``: the run stalled with CPUs spinning in a wait-for cycle.

A violation raises :class:`InvariantViolation` whose message says what, when,
where, and the last events that led to it. No SimPy here: the monitor only
reads the clock and yields the engine's own effects.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

from l4sim.kernel.effects import Acquire, Outcome, Release, Switch, Sync
from l4sim.kernel.locks import Lock
from l4sim.kernel.objects import Message, Thread, ThreadState

if TYPE_CHECKING:
    from l4sim.kernel.checks import Check
    from l4sim.kernel.effects import Effect
    from l4sim.kernel.exception_checks import ExceptionContext
    from l4sim.kernel.ipc_checks import IpcContext
    from l4sim.kernel.state import KernelState
    from l4sim.sim.machine import Machine
    from l4sim.sim.threads import ThreadRunner

SYNC = Sync()


class Recorder(Protocol):
    """What the checker reports a run's segments to (a timeline, for one)."""

    def kernel(
        self, cpu: int, start: int, end: int, name: str, thread: Thread | None, to: Any = ...
    ) -> None:
        """A kernel path ran on ``cpu`` from ``start`` to ``end`` (``to``: whom it switched to)."""

    def spin(self, cpu: int, start: int, end: int, locks: tuple[Lock, ...]) -> None:
        """``cpu`` spun for ``locks`` from ``start`` to ``end``."""

    def send(self, cpu: int, now: int, message: Message) -> None:
        """``message`` left on ``cpu`` at ``now``."""

    def receive(self, cpu: int, now: int, message: Message) -> None:
        """``message`` was taken on ``cpu`` at ``now``."""

    def violation(self, now: int, cpu: int | None, text: str) -> None:
        """An invariant broke at ``now``."""


class InvariantViolation(RuntimeError):
    """A broken invariant; ``str()`` is the full report. Picklable (crosses processes)."""

    def __init__(self, report: str, check: str = "", cycle: int = 0) -> None:
        # everything in args: SimPy re-raises a failed process's exception as
        # type(error)(*error.args), and pickling between processes does the same
        super().__init__(report, check, cycle)
        self.report = report
        self.check = check
        self.cycle = cycle

    def __str__(self) -> str:
        return self.report


def order_problem(held: list[Lock], new: Lock) -> str | None:
    """Why taking ``new`` while holding ``held`` breaks the lock order (None: it does not)."""
    for lock in held:
        if lock is new:
            return f"{new.name} taken twice"
        if lock.order_key >= new.order_key:
            return f"{new.name} {_where(new)} taken while holding {lock.name} {_where(lock)}"
    return None


def _where(lock: Lock) -> str:
    return f"(global rank {lock.rank})" if lock.rank is not None else f"(@{lock.address:#x})"


class _Books:
    """What every part of the checker keeps: the books it checks against, and how it reports.

    (The attributes are set by :meth:`Monitor.__init__` and :meth:`Monitor.attach`.)
    """

    history: deque[tuple[int, int | None, str, str]]
    wakeup_bound: int
    exact_time: bool
    order: bool
    races: bool
    stress: int
    recorder: Recorder | None
    machine: Machine
    env: Any
    kernel: KernelState
    kernel_cpu: int | None
    violations: int
    owner: dict[Lock, int]
    held: list[list[Lock]]
    in_user: list[Thread | None]
    reads: list[dict[str, list[Any]]]
    readers: dict[str, set[int]]
    inbox: dict[Thread, deque[tuple[Thread, Message, int]]]
    sent: dict[tuple[Thread, Thread], int]
    got: dict[tuple[Thread, Thread], int]
    stuck_since: dict[Thread, int]
    open_paths: list[list[Any] | None]

    def note(self, cpu: int | None, thread: Thread | None, text: str) -> None:
        name = thread.name if thread is not None else "-"
        self.history.append((self.env.now, cpu, name, text))

    def violate(
        self,
        check: str,
        what: str,
        cpu: int | None = None,
        thread: Thread | None = None,
        lock: str | None = None,
    ) -> None:
        now = self.env.now
        self.violations += 1
        if cpu is not None:
            self.note(cpu, thread, f"VIOLATION {check}")
        where = [
            f"cycle {now}",
            f"cpu {cpu if cpu is not None else '-'}",
            f"thread {thread.name if thread is not None else '-'}",
            f"lock {lock if lock is not None else '-'}",
            f"check {check}",
        ]
        lines = [
            f"invariant violated: {check}: {what}",
            "  at " + ", ".join(where),
            f"  last {len(self.history)} events:",
        ]
        lines += [f"    {t:>10} cpu{c} {n:<10} {text}" for t, c, n, text in self.history]
        if self.recorder is not None:
            for other, path in enumerate(self.open_paths):  # close what runs right now
                if path is not None:
                    self.recorder.kernel(other, path[0], now, path[1], path[2])
            self.recorder.violation(now, cpu, f"{check}: {what}")
        raise InvariantViolation("\n".join(lines), check, now)

    def _current(self, cpu: int) -> Thread | None:
        return self.kernel.scheduler.current[cpu]

    def _current_name(self, cpu: int) -> str:
        current = self._current(cpu)
        return current.name if current is not None else "idle"


class _LockChecks(_Books):
    """Mutual exclusion, lock order and deadlock, from the checker's own map of lock owners."""

    def _before_acquire(self, cpu: int, thread: Thread | None, locks: tuple[Lock, ...]) -> None:
        held = list(self.held[cpu])
        for lock in locks:
            if self.order:
                problem = order_problem(held, lock)
                if problem is not None:
                    self.violate("lock-order", problem, cpu, thread, lock.name)
            held.append(lock)
        self.note(cpu, thread, "acquire " + " ".join(lock.name for lock in locks))

    def _check_deadlock(self, cpu: int, thread: Thread | None, lock: Lock) -> None:
        """Spinning for ``lock`` now would close a cycle of spinning CPUs: a deadlock.

        A CPU spinning for a lock we hold cannot release what we are about to
        wait for; caught at once, even while other CPUs keep running.
        """
        spinning = self.machine.spinning_on
        other = lock.holder
        if other is None or other == cpu:
            return
        chain = [(cpu, lock)]
        seen = {cpu}
        while other is not None and other not in seen:
            seen.add(other)
            wanted = spinning[other]
            if wanted is None:
                return
            chain.append((other, wanted))
            if wanted.holder == cpu:
                text = " -> ".join(
                    f"cpu{c} (waits for {held.name}, held by cpu{held.holder})" for c, held in chain
                )
                self.violate(
                    "deadlock", f"wait-for cycle {text} -> cpu{cpu}", cpu, thread, lock.name
                )
            other = wanted.holder

    def _after_acquire(self, cpu: int, thread: Thread | None, locks: tuple[Lock, ...]) -> None:
        for lock in locks:
            other = self.owner.get(lock)
            if other is not None and other != cpu:
                self.violate(
                    "mutual-exclusion",
                    f"{lock.name} granted to cpu{cpu} while cpu{other} holds it",
                    cpu,
                    thread,
                    lock.name,
                )
            if lock.holder != cpu:
                self.violate(
                    "mutual-exclusion",
                    f"{lock.name} granted to cpu{cpu} but the lock says holder cpu{lock.holder}",
                    cpu,
                    thread,
                    lock.name,
                )
            self.owner[lock] = cpu
            self.held[cpu].append(lock)
        self.note(cpu, thread, "got " + " ".join(lock.name for lock in locks))

    def _after_release(self, cpu: int, thread: Thread | None, locks: tuple[Lock, ...]) -> None:
        for lock in locks:
            if self.owner.get(lock) != cpu:
                self.violate(
                    "mutual-exclusion",
                    f"cpu{cpu} released {lock.name} held by {self.owner.get(lock)}",
                    cpu,
                    thread,
                    lock.name,
                )
            del self.owner[lock]
            self.held[cpu].remove(lock)
        self.note(cpu, thread, "release " + " ".join(lock.name for lock in locks))


class _SharedStateChecks(_Books):
    """Stale reads and unlocked writes of the kernel's shared state."""

    def read_unlocked(self, cpu: int, cell: tuple[str, Lock]) -> None:
        """``cpu`` reads ``cell`` = (name, protecting lock) without holding its lock."""
        name, _lock = cell
        self.reads[cpu][name] = [self.env.now, None]
        self.readers.setdefault(name, set()).add(cpu)
        self.note(cpu, self._current(cpu), f"read {name} without its lock")

    def use_reads(self, cpu: int, what: str) -> None:
        """``cpu`` now acts on its unlocked reads: none may have gone stale."""
        for name, (when, stale) in self.reads[cpu].items():
            if stale is not None and self.races:
                by_cpu, by_thread, at = stale
                self.violate(
                    "stale-read",
                    f"cpu{cpu} read {name} without its lock at cycle "
                    f"{when}; cpu{by_cpu} ({by_thread}) changed it at cycle {at}; "
                    f"cpu{cpu} used the stale read in the {what}",
                    cpu,
                    self._current(cpu),
                    name,
                )
        self.reads[cpu].clear()

    def recheck_hoisted(
        self, cpu: int, context: IpcContext | ExceptionContext, checks: tuple[Check[Any], ...]
    ) -> None:
        """Check that ``checks``, run before their locks, still pass under the commit's locks.

        A fastpath about to commit ran them on the proof that they read only
        fields never written after creation: each must still pass, or the
        commit acts on a stale read.
        """
        for check in checks:
            if not check.passes(context) and self.races:
                self.violate(
                    "stale-read",
                    f"cpu{cpu} ran {check.name} without the "
                    f"{check.moved_from.name.lower()} stage's locks (hoisted: "  # type: ignore[union-attr]  # (hoisted: moved)
                    f"its reads {', '.join(check.reads)} taken as never written); "
                    "under the commit's locks it fails: the commit would use a "
                    "stale read",
                    cpu,
                    self._current(cpu),
                    check.name,
                )

    def write_scheduler(self) -> None:
        self.write_cell("scheduler", self.kernel.scheduler_lock)

    def write_cell(self, name: str, lock: Lock) -> None:
        cpu = self.kernel_cpu
        if cpu is None:
            return  # set-up, before the run
        holder = lock.holder
        if holder is not None and holder != cpu and self.races:
            self.violate(
                "unlocked-write",
                f"cpu{cpu} changed {name} while cpu{holder} holds its lock {lock.name}",
                cpu,
                self._current(cpu),
                lock.name,
            )
        readers = self.readers.get(name)
        if readers:
            for reader in readers:
                if reader != cpu:
                    entry = self.reads[reader].get(name)
                    if entry is not None and entry[1] is None:
                        entry[1] = (cpu, self._current_name(cpu), self.env.now)
                        self.note(cpu, self._current(cpu), f"write {name} (read by cpu{reader})")
            readers.intersection_update(r for r in readers if name in self.reads[r])


class _DeliveryChecks(_Books):
    """Threads on CPUs, and every message delivered exactly once, in order, and taken."""

    def on_user(self, cpu: int, thread: Thread, carry: int) -> None:
        """``thread`` (re)starts user code on ``cpu``."""
        if thread.state is not ThreadState.RUNNING:
            self.violate(
                "one-cpu",
                f"{thread.name} runs user code in state {thread.state.value}",
                cpu,
                thread,
            )
        if self._current(cpu) is not thread:
            self.violate(
                "one-cpu",
                f"{thread.name} runs user code on cpu{cpu}, whose running "
                f"thread is {self._current_name(cpu)}",
                cpu,
                thread,
            )
        for other, there in enumerate(self.in_user):
            if other != cpu and there is thread:
                self.violate(
                    "one-cpu", f"{thread.name} runs on cpu{cpu} and cpu{other}", cpu, thread
                )
        self.in_user[cpu] = thread
        self._check_wakeups()

    def on_stall(self, bounded: bool = False) -> None:
        """The run can no longer advance (or hit its cycle limit, ``bounded``).

        A receiver left waiting with a sender queued is a lost wake-up (past the bound, if
        bounded).
        """
        self._check_wakeups(bound=None if bounded else 0)

    def on_send(self, sender: Thread, receiver: Thread, message: Message) -> None:
        pending = self.inbox.setdefault(receiver, deque())
        if pending:
            earlier = pending[0][1]
            self.violate(
                "message",
                f"{message.label} from {sender.name} overwrote the "
                f"{earlier.label} from {earlier.sender.name} before {receiver.name} "  # type: ignore[union-attr]
                f"took it",
                self.kernel_cpu,
                receiver,
            )
        pair = (sender, receiver)
        number = self.sent[pair] = self.sent.get(pair, 0) + 1
        pending.append((sender, message, number))
        self.note(self.kernel_cpu, sender, f"send {message.label} #{number} to {receiver.name}")
        if self.recorder is not None:
            self.recorder.send(self.kernel_cpu, self.env.now, message)  # type: ignore[arg-type]  # (in a path)

    def on_receive(self, thread: Thread, message: Message) -> None:
        if message.sender is None:
            return  # kernel-originated (interrupt, notification): no sender/receiver pair
        pending = self.inbox.get(thread)
        if not pending or pending[0][1] is not message:
            self.violate(
                "message",
                f"{thread.name} got a {message.label} from "
                f"{message.sender.name} that was not delivered to it (or twice)",
                thread.cpu,
                thread,
            )
        sender, _, number = pending.popleft()  # type: ignore[union-attr]  # (violated above)
        pair = (sender, thread)
        expected = self.got.get(pair, 0) + 1
        if number != expected:
            self.violate(
                "message",
                f"{thread.name} got message #{number} from {sender.name}, expected #{expected}",
                thread.cpu,
                thread,
            )
        self.got[pair] = number
        self.note(thread.cpu, thread, f"receive {message.label} #{number} from {sender.name}")
        if self.recorder is not None:
            self.recorder.receive(thread.cpu, self.env.now, message)

    def _check_wakeups(self, bound: int | None = None) -> None:
        bound = self.wakeup_bound if bound is None else bound
        now = self.env.now
        for thread in self.kernel.threads:
            sender = None
            if thread.state is ThreadState.WAITING_TO_RECEIVE and thread.send_queue:
                # the monitor's own reading of the rule, not the kernel's first_sender
                sender = next(
                    (s for s in thread.send_queue if thread.partner is None or s is thread.partner),
                    None,
                )
            if sender is not None:
                since = self.stuck_since.setdefault(thread, now)
                if now - since >= bound:
                    self.violate(
                        "lost-wakeup",
                        f"{thread.name} has waited to receive since "
                        f"cycle {since} while {sender.name} is queued to send to it",
                        thread.cpu,
                        thread,
                    )
            elif thread in self.stuck_since:
                del self.stuck_since[thread]


class Monitor(_LockChecks, _SharedStateChecks, _DeliveryChecks):
    """Checks a :class:`~l4sim.sim.machine.Machine` run as it goes.

    ``exact_time`` makes kernel code run at its true cycle (time catches up
    after every cost): needed when paths read shared state without locks,
    since the engine otherwise applies a path's changes at the start of a
    folded delay. ``stress`` adds seeded uniform 0..stress cycles to every
    check cost and before every lock acquisition, to widen interleavings.
    ``recorder`` (a :class:`Recorder`, e.g. a timeline) gets the segments.
    """

    def __init__(
        self,
        history: int = 30,
        wakeup_bound: int = 200_000,
        exact_time: bool = False,
        order: bool = True,
        stress: int = 0,
        seed: int = 0,
        recorder: Recorder | None = None,
        races: bool = True,
    ) -> None:
        self.history: deque[tuple[int, int | None, str, str]] = deque(maxlen=history)
        self.wakeup_bound = wakeup_bound
        self.exact_time = exact_time or stress > 0
        self.order = order
        self.races = races  # stale-read and unlocked-write checks (off: see what breaks)
        self.stress = stress
        self._jitter = random.Random(seed).random
        self.recorder = recorder
        self.machine: Machine = None  # type: ignore[assignment]  # (set by attach)
        self.kernel_cpu: int | None = None  # the CPU whose kernel code runs right now
        self.violations = 0

    def attach(self, machine: Machine) -> Monitor:
        """Hook into a machine (before ``run``); returns self."""
        self.machine = machine
        self.env = machine.env
        kernel = self.kernel = machine.kernel
        machine.monitor = self
        machine.enforce_lock_order = self.order
        kernel.monitor = self
        kernel.scheduler.monitor = self
        cpus = machine.cpus
        self.owner: dict[Lock, int] = {}
        self.held: list[list[Lock]] = [[] for _ in range(cpus)]
        self.in_user: list[Thread | None] = [None] * cpus
        # per CPU, each cell read without its lock: [when, None or who changed it since]
        self.reads: list[dict[str, list[Any]]] = [{} for _ in range(cpus)]
        self.readers: dict[str, set[int]] = {}
        # receiver -> deque of (sender, message, sequence number)
        self.inbox: dict[Thread, deque[tuple[Thread, Message, int]]] = {}
        self.sent: dict[tuple[Thread, Thread], int] = {}  # (sender, receiver) -> messages sent
        self.got: dict[tuple[Thread, Thread], int] = {}  # (sender, receiver) -> received
        self.stuck_since: dict[Thread, int] = {}
        self._singles: dict[Lock, Acquire] = {}
        # per CPU: [start, name, thread] of its path
        self.open_paths: list[list[Any] | None] = [None] * cpus
        return self

    def wrap(
        self,
        cpu: int,
        runner: ThreadRunner | None,
        kind: str | None,
        path: Generator[Effect, None, Any],
    ) -> Generator[Effect, None, Any]:
        """Run ``path`` for the engine, checking every effect it yields."""
        thread = runner.thread if runner is not None else None
        self.in_user[cpu] = None
        exact = self.exact_time
        stress = self.stress
        recorder = self.recorder
        start = self.env.now  # the entry: what is pending now is this path's own time
        if exact:
            yield SYNC
        self.note(cpu, thread, f"enter {kind or 'scheduler'}")
        name = kind or "scheduler"
        self.open_paths[cpu] = open_path = [start, name, thread]
        while True:
            self.kernel_cpu = cpu
            try:
                # (Any: dispatched on its class, kept in kind_of, which the checker does not follow)
                effect: Any = next(path)
            except StopIteration as stop:
                self.open_paths[cpu] = None
                self._end_path(cpu, thread)
                if recorder is not None:
                    recorder.kernel(cpu, start, self.env.now, name, thread)
                return stop.value
            kind_of = type(effect)
            if kind_of is int:
                if stress:
                    effect += int(self._jitter() * (stress + 1))
                yield effect
                if exact:
                    yield SYNC
            elif kind_of is Acquire:
                self._before_acquire(cpu, thread, effect.locks)
                # one lock at a time, time caught up: the deadlock check and the
                # engine's spinning for that lock then happen at the same instant
                for lock in effect.locks:
                    if stress:
                        yield int(self._jitter() * (stress + 1))
                    yield SYNC
                    self._check_deadlock(cpu, thread, lock)
                    asked = self.env.now
                    yield self._single(lock)
                    self._after_acquire(cpu, thread, (lock,))
                    if recorder is not None and self.env.now > asked:
                        recorder.spin(cpu, asked, self.env.now, (lock,))
                if exact:
                    yield SYNC
            elif kind_of is Release:
                yield effect
                self._after_release(cpu, thread, effect.locks)
                if exact:
                    yield SYNC
            elif kind_of is Switch:
                to = effect.to
                self.note(cpu, thread, f"switch to {to.name if to is not None else 'idle'}")
                if recorder is not None:
                    recorder.kernel(cpu, start, self.env.now, name, thread, to)
                self.open_paths[cpu] = None
                yield effect
                if runner is not None:
                    cpu = runner.thread.cpu
                self.in_user[cpu] = None
                start = open_path[0] = self.env.now
                self.open_paths[cpu] = open_path
            elif kind_of is Outcome:
                self.note(cpu, thread, f"{effect.path}path exit {effect.exit_point}")
                if kind is not None and open_path[1] == kind:  # the first outcome names it
                    name = open_path[1] = f"{kind} {effect.path}:{effect.exit_point}"
                yield effect
            else:
                yield effect

    def _single(self, lock: Lock) -> Acquire:
        effect = self._singles.get(lock)
        if effect is None:
            effect = self._singles[lock] = Acquire((lock,))
        return effect

    def _end_path(self, cpu: int, thread: Thread | None) -> None:
        self.reads[cpu].clear()
        self._check_wakeups()


def deadlock_report(machine: Machine) -> InvariantViolation | None:
    """The wait-for cycle of a stalled machine, as a violation (None if no CPU spins)."""
    spinning = machine.spinning_on
    lines = []
    for cpu, lock in enumerate(spinning):
        if lock is not None:
            held = ", ".join(held_lock.name for held_lock in machine.held[cpu]) or "nothing"
            lines.append(f"  cpu{cpu} holds {held}; spins on {lock.name} held by cpu{lock.holder}")
    if not lines:
        return None
    cycle = []
    cpu = next(c for c, lock in enumerate(spinning) if lock is not None)
    seen: list[int] = []
    while cpu is not None and cpu not in seen and spinning[cpu] is not None:
        seen.append(cpu)
        cpu = spinning[cpu].holder  # type: ignore[union-attr, assignment]  # (spins)
    if cpu in seen:
        cycle = seen[seen.index(cpu) :]
    chain = " -> ".join(f"cpu{c} (waits for {spinning[c].name})" for c in cycle)  # type: ignore[union-attr]  # (spins)
    what = (
        f"wait-for cycle {chain} -> cpu{cycle[0]}"
        if cycle
        else "CPUs spin on locks whose holders never release them"
    )
    monitor = machine.monitor
    history = []
    if monitor is not None:
        history = [f"  last {len(monitor.history)} events:"]
        history += [f"    {t:>10} cpu{c} {n:<10} {text}" for t, c, n, text in monitor.history]
    report = "\n".join(
        [
            f"invariant violated: deadlock: {what}",
            f"  at cycle {machine.env.now}, check deadlock",
            *lines,
            *history,
        ]
    )
    return InvariantViolation(report, "deadlock", machine.env.now)
