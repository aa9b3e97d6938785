"""Calibrating a cost profile from sel4bench results, and the model's residuals.

``l4sim calibrate sel4bench DATA --run RUN_ID`` turns one run of sel4bench
on a board into a profile for the ``sel4bench_smp`` workload (seL4's SMP
build: big kernel lock, CLH, IPC fastpath), starting from ``sel4-sabre``.
DATA may be a board's folder as published, or several boards
(:mod:`l4sim.analysis.sel4bench`): each SMP build is calibrated on its own.

How each run is read (its sel4bench version, whether its delay worked, its
anomalies) is :mod:`l4sim.analysis.sel4bench_runs`. Then, from the run's
single-core figures (derived, exact to a cycle):

- the trap's assembly entry and exit (``trap_entry``, ``trap_exit``, outside
  the big lock) from the uniprocessor build's null system call;
- the IPC fastpath's commit (``fp_switch``, ``fp_call``, ``fp_reply_recv``,
  inside the lock) so that the model's Call and ReplyRecv are the SMP
  build's ``ipc_call_intra`` and ``ipc_reply_intra``;
- the clock (``clock_hz``) from the 1-core rates at the two delays (one round
  is ``2 x spin + loop + Call + ReplyRecv`` cycles: the slope over the delay
  gives the clock); where the run's delay did not work, from the run of the
  same board and build nearest in time whose delay did;
- the benchmark's own loop (``smp_bench_loop``) from the run's own 1-core
  rate, whatever its version: that is how the loop is derived per version.

FITTED, what single-core figures cannot show, to the 4-core figures of the
*other* runs of the same board and build that have them and are no anomaly
(never the calibrated run's own multi-core figures), by simulating the
benchmark with each of those runs' own calibrated profile:

- ``lock_handoff``, the cycles a contended grant of the big lock costs;
- ``lock_spinner_drag``, what each core still spinning adds to it, fitted to
  the difference between the runs whose delay worked and those whose delay
  did not (more spinners at delay 0) where the other runs have both; else
  the drag with which the model, on the last of those runs' profiles, gives
  the difference measured where both were (``DELAY0_CONTRAST``).

Every derived number is written with its source (metric, build, file and
line, run, and the arithmetic). The residuals are the model's own
single-core figures, simulated with the new profile, against the measured ones.
"""

from __future__ import annotations

import math
import textwrap
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from l4sim.analysis.sel4bench import (
    SMP,
    UNIPROCESSOR,
    Run,
    Sel4benchData,
    Sel4benchError,
    Sel4benchSet,
)
from l4sim.analysis.sel4bench_runs import (
    CLOCK_GROUP,
    CORES,
    DELAYS,
    DETERMINISTIC,
    EXPONENTIAL,
    NoWorkingDelay,
    RunKind,
    classify_all,
    clock_sources,
    rate_metric,
)
from l4sim.kernel.costs import Costs, load_profile
from l4sim.kernel.ipc_checks import IPC_CHECKS

BASE_PROFILE = "sel4-sabre"
FIT_DELAY = 500  # where the 4-core rate is bound by the big lock: it shows the handoff
FIT_CORES = CORES
EVENTS = 4000  # Calls per simulation (all CPUs), after a tenth as many of warm-up
# The cache lines that follow the big lock from core to core: the CLH lock's tail
# word (swapped by every acquirer) and the queue node the new holder spins on
# (written by its predecessor's release). Nothing else an IPC of this benchmark
# writes is shared between cores (each pair's TCBs, endpoint and reply slot, and
# seL4's per-core scheduler state, stay on its core).
BIG_LOCK_LINES = 2
# A second spinner drag at which every run's handoff is matched: the handoff is linear
# in the drag, so two matches give it at any drag.
DRAG_PROBE = 20
# FITTED (to DELAY0_CONTRAST_SOURCE): how much lower the 4-core rate is at delay 0 than
# at delay 500. Of sel4bench's 2026 series only the TX2's runs of January to April have
# both delay regimes: the mean of its 23 runs whose delay did not work against the mean
# smp_4core_c500 of its 3 whose delay worked, 1,067,219 against 1,071,901 calls/s
# (`l4sim compare sel4bench` on its folder shows both). Where a board's own runs cannot
# show the spinners' drag, the drag is the one with which the model gives this contrast:
# transferred from the TX2, so on such a board the sign of the model's delay-0 difference
# follows from this number and is no prediction.
DELAY0_CONTRAST = -0.0044
DELAY0_CONTRAST_SOURCE = (
    "the TX2's SMP_64 runs of January to April 2026, 23 whose delay did not work against "
    "3 whose delay worked"
)

# (build, metric)
CALL = (SMP, "ipc_call_intra")  # one address space, as the SMP benchmark's threads
REPLY_RECV = (SMP, "ipc_reply_intra")
NULL_SYSCALL = (UNIPROCESSOR, "null_syscall")


@dataclass(frozen=True)
class Term:
    """One cost of the calibrated profile, with the comment that says where it comes from."""

    key: str
    value: int
    source: tuple[str, ...]


@dataclass(frozen=True)
class Matching:
    """The handoff with which the model reproduces one run's 4-core figure, at any drag."""

    run_id: int
    regime: str  # RunKind.regime
    without_drag: float
    per_drag: float  # its change per cycle of drag: minus the spinners a grant sees

    def at(self, drag: float) -> float:
        return self.without_drag + self.per_drag * drag


@dataclass
class LockFit:
    """``lock_handoff`` and ``lock_spinner_drag`` fitted to other runs' 4-core figures."""

    handoff: int
    drag: int
    runs: list[int]  # the runs whose figures they were fitted to
    regimes: dict[str, int]  # how many of those runs in each delay regime
    own_drag: bool  # the drag fitted to these runs' two regimes (else the ratio's)
    per_run: dict[int, float]  # the handoff that reproduces each run's figure at this drag
    mean: float
    spread: float  # standard deviation over the runs


@dataclass
class Calibration:
    """A calibrated profile: its terms, its costs, and the figures they came from."""

    data: Sel4benchData
    run: Run
    kind: RunKind
    clock_run: Run  # the run whose 1-core rates gave the clock
    terms: list[Term]
    costs: Costs
    fit: LockFit | None
    residuals: list[dict] = field(default_factory=list)

    @property
    def workload_keys(self) -> dict:
        """The ``sel4bench_smp`` keys that make the benchmark as this run ran it."""
        return {"delay_distribution": self.kind.distribution}


@dataclass
class Calibrations:
    """One calibration per SMP build of the boards given, and what could not be calibrated."""

    found: Sel4benchSet
    results: list[Calibration]
    skipped: list[str]  # one line per board or build left out, and why


def spin_mean(delay: int, distribution: str) -> float:
    """The mean spin the model draws for ``delay``: floor(delay x E) for exponential E."""
    if distribution == EXPONENTIAL and delay > 0:
        return 1 / math.expm1(1 / delay)
    return float(delay)


def _where(run: Run, build: str, metric: str) -> str:
    figure = run.figure(build, metric)
    return f"{metric} ({build} build, {figure.file.name} line {figure.line})"


def clock_of(run: Run, kind: RunKind) -> tuple[int, float, float]:
    """(clock, rate at 500, rate at 32000) of a run whose delay worked."""
    low, high = DELAYS
    rates = {delay: run.mean(SMP, rate_metric(1, delay)) for delay in DELAYS}
    spins = {delay: spin_mean(delay, kind.distribution) for delay in DELAYS}
    clock = round(2 * (spins[high] - spins[low]) / (1 / rates[high] - 1 / rates[low]))
    return clock, rates[low], rates[high]


def _fixed_terms(base: Costs, inside: float) -> tuple[Costs, list[Term], int]:
    """sel4-sabre's fixed fastpath terms, scaled down where this build's IPC is below them."""
    checks = [check.cost for check in IPC_CHECKS]
    keys = ["lock_acquire", "lock_release", *dict.fromkeys(checks), "fp_ipc_transfer"]

    def total(costs: Costs) -> int:
        return (
            costs.lock_acquire
            + costs.lock_release
            + costs.fp_ipc_transfer
            + sum(getattr(costs, check) for check in checks)
        )

    fixed = total(base)
    if inside >= fixed:
        return base, [], fixed
    scale = max(0.0, inside) / fixed
    scaled = base.replace(**{key: math.floor(getattr(base, key) * scale) for key in keys})
    terms = [
        Term(
            key,
            getattr(scaled, key),
            (
                f"sel4-sabre's {getattr(base, key)} x {scale:.3f}: this build's Call or ReplyRecv "
                f"inside the lock ({inside:.1f} cycles) is below sel4-sabre's fixed fastpath terms "
                f"({fixed}), which are all scaled by their ratio.",
            ),
        )
        for key in keys
    ]
    return scaled, terms, total(scaled)


def _loop(
    run: Run, kind: RunKind, clock: int, call: float, reply: float
) -> tuple[int, tuple[str, str]]:
    """``smp_bench_loop`` from the run's own 1-core rate and the model's Call and ReplyRecv."""
    low, high = DELAYS
    if kind.delay_worked:
        rate = run.mean(SMP, rate_metric(1, low))
        spins = 2 * spin_mean(low, kind.distribution)
        loop = round(clock / rate - spins - call - reply)
        return loop, (
            f"clock / {rate_metric(1, low)} - 2 x the mean spin at delay {low} "
            f"({spins:g}, {kind.distribution}) - Call {call:g} - ReplyRecv "
            f"{reply:g} (the model's, as above):",
            f"{clock} / {rate:.1f} - {spins:g} - {call:g} - {reply:g}",
        )
    rates = [run.mean(SMP, rate_metric(1, delay)) for delay in DELAYS]
    rate = sum(rates) / len(rates)
    loop = round(clock / rate - call - reply)
    return loop, (
        f"This run's delay did not work (both are delay-0 rates): clock / the mean "
        f"of {rate_metric(1, low)} {rates[0]:,.1f} and {rate_metric(1, high)} "
        f"{rates[1]:,.1f} - Call {call:g} - ReplyRecv {reply:g}:",
        f"{clock} / {rate:.1f} - {call:g} - {reply:g}",
    )


def _clock_text(
    run: Run, clock_run: Run, kind: RunKind, clock_kind: RunKind, low_rate: float, high_rate: float
) -> tuple[str, ...]:
    """Where ``clock_hz`` comes from: the run's own 1-core rates, or its clock run's."""
    low, high = DELAYS
    slope = (
        f"2 x ({spin_mean(high, clock_kind.distribution):g} - "
        f"{spin_mean(low, clock_kind.distribution):g}) / (1/{high_rate:.1f} - 1/{low_rate:.1f})"
    )
    rates = (
        f"{rate_metric(1, low)} = {low_rate:,.1f} and {rate_metric(1, high)} = "
        f"{high_rate:,.1f} calls/s"
    )
    if clock_run is run:
        return (
            f"{rates} ({SMP} build, run {run.run_id}). One round of the 1-core "
            "benchmark takes 2 x spin + smp_bench_loop + Call + ReplyRecv cycles, so the "
            f"slope over the mean spin ({kind.distribution}) gives the clock:",
            slope,
        )
    return (
        f"This run's delay did not work; the clock of run {clock_run.run_id} "
        f"({clock_run.date}), the run of this board and build nearest in time whose "
        f"delay worked: its {rates}; one round takes 2 x spin "
        "+ smp_bench_loop + Call + ReplyRecv cycles, so the slope over the mean spin "
        f"({clock_kind.distribution}) gives the clock:",
        slope,
    )


def _trap_terms(run: Run, null: float, trap_entry: int, trap_exit: int) -> list[Term]:
    """The trap's terms from the uniprocessor build's null system call."""
    return [
        Term(
            "trap_entry",
            trap_entry,
            (
                f"{_where(run, *NULL_SYSCALL)}, fastest {null:.1f} cycles (run {run.run_id}), "
                f"rounded: {trap_entry + trap_exit} = trap_entry {trap_entry} + trap_exit "
                f"{trap_exit}. The trap's assembly entry and exit, outside the big lock: the "
                "system-call instruction, the register save and the kernel stack; the "
                "register restore and the return to user.",
            ),
        ),
        Term("trap_exit", trap_exit, ("The other part of the null syscall above.",)),
        Term(
            "kernel_entry",
            0,
            (
                "The trap covers the whole entry: the fastpath's C code "
                "starts by taking the lock (counted in the terms below).",
            ),
        ),
        Term("kernel_exit", 0, ("The trap covers the whole exit.",)),
    ]


def derive(
    run: Run, kind: RunKind | None = None, clock_run: Run | None = None, base: Costs | None = None
) -> tuple[list[Term], Costs]:
    """The terms a run's single-core figures give (no simulation); the lock's as ``base``.

    ``kind`` says how the run is read (default: by the rules); ``clock_run``
    is the run whose delay worked that gives the clock (default: the run).
    """
    from l4sim.analysis.sel4bench_runs import classify

    kind = kind or classify(run)
    clock_run = clock_run or run
    base = base or load_profile(BASE_PROFILE)
    call = run.fastest(*CALL)
    reply = run.fastest(*REPLY_RECV)
    null = run.fastest(*NULL_SYSCALL)
    jitter = base.entry_jitter / 2  # the mean of the uniform 0..entry_jitter per entry
    trap = round(null)
    trap_entry, trap_exit = trap - trap // 2, trap // 2
    call_in = call - trap - jitter  # inside the lock (C code), plus the lock itself
    reply_in = reply - trap - jitter
    if min(call_in, reply_in) < 0:
        raise Sel4benchError(
            f"{run.describe()}: Call {call:g} and ReplyRecv {reply:g} cycles "
            f"are below the null system call {null:g} and the entry jitter "
            f"{jitter:g}: not a fastpath IPC"
        )
    base, scaled, fixed = _fixed_terms(base, min(call_in, reply_in))
    checks = sum(getattr(base, check.cost) for check in IPC_CHECKS)
    fp_switch = max(0, round(min(call_in, reply_in) - fixed))
    fp_call = max(0, round(call_in - fixed - fp_switch))
    fp_reply_recv = max(0, round(reply_in - fixed - fp_switch))
    model_call = jitter + trap + fixed + fp_switch + fp_call
    model_reply = jitter + trap + fixed + fp_switch + fp_reply_recv
    clock_kind = kind if clock_run is run else classify(clock_run)
    clock, clock_low, clock_high = clock_of(clock_run, clock_kind)
    ident = f"run {run.run_id}"
    loop, loop_text = _loop(run, kind, clock, model_call, model_reply)
    if clock <= 0 or loop < 0:
        raise Sel4benchError(
            f"{run.describe()}: the 1-core rates {clock_low:g} and "
            f"{clock_high:g} calls/s leave no time for the benchmark's loop "
            f"(clock {clock} Hz, loop {loop} cycles)"
        )
    clock_text = _clock_text(run, clock_run, kind, clock_kind, clock_low, clock_high)
    terms = [
        Term("clock_hz", clock, clock_text),
        *_trap_terms(run, null, trap_entry, trap_exit),
        *scaled,
        Term(
            "fp_switch",
            fp_switch,
            (
                f"Call: {_where(run, *CALL)}, fastest {call:.1f}; ReplyRecv: "
                f"{_where(run, *REPLY_RECV)}, fastest {reply:.1f} ({ident}; the fastest of "
                "sel4bench's warm samples: the path as the SMP benchmark repeats it back to back, "
                "without the interference that makes some samples slower, and the same from boot "
                "to boot where the median and the mean are not). Inside the lock each is the "
                f"figure less the trap {trap} and the mean entry jitter {jitter:g}: {call_in:.1f} "
                f"and {reply_in:.1f}. Their "
                f"common part less lock_acquire {base.lock_acquire}, lock_release "
                f"{base.lock_release}, the fastpath's checks {checks} and fp_ipc_transfer "
                f"{base.fp_ipc_transfer}:",
                f"{min(call_in, reply_in):.1f} - {fixed}",
            ),
        ),
        Term("fp_call", fp_call, (f"Call's own part: {call_in:.1f} - {fixed} - {fp_switch}",)),
        Term(
            "fp_reply_recv",
            fp_reply_recv,
            (f"ReplyRecv's own part: {reply_in:.1f} - {fixed} - {fp_switch}",),
        ),
        Term(
            "smp_bench_loop",
            loop,
            (
                "The benchmark's own user code per round (counter reads, the random draws and "
                "counter resets of the exponential versions, less the overhead they subtract; "
                "the per-core counter, the stubs), from this run's own rate, so for its "
                f"version ({kind.version}): {loop_text[0]}",
                loop_text[1],
            ),
        ),
        Term(
            "sched_lock_lines",
            BIG_LOCK_LINES,
            (
                "Estimate: the cache lines that follow the big lock from core to core, the CLH "
                "lock's tail word and the queue node the new holder spun on; each pair's TCBs, "
                "endpoint and reply slot, and seL4's per-core scheduler state, stay on its core. "
                f"At line_transfer {base.line_transfer} cycles each (sel4-sabre).",
            ),
        ),
    ]
    costs = base.replace(**{term.key: term.value for term in terms})
    return terms, costs


def benchmark_point(
    cpus: int,
    delay: int,
    events: int = EVENTS,
    distribution: str = DETERMINISTIC,
    warmup: int | None = None,
):
    """The ``sel4bench_smp`` point of one (cores, delay): seL4's settings are its defaults."""
    from l4sim.sweep.scenario import point_from_dict

    return point_from_dict(
        {
            "workload": "sel4bench_smp",
            "cpus": cpus,
            "delay_cycles": delay,
            "events": events,
            "warmup_events": warmup or max(1, events // 10),
            "delay_distribution": distribution,
        }
    )


def one_core_point(delay: int, events: int, distribution: str):
    """The 1-core point of the residuals: warm-up and measurement whole blocks of draws.

    One core draws two spins per Call, so a multiple of half a block of Calls
    measures the stratified draws' exact mean (the board's samples average
    some hundred thousand spins).
    """
    from l4sim.workloads.sel4bench_smp import DRAW_BLOCK

    half = DRAW_BLOCK // 2
    return benchmark_point(1, delay, -(-max(events, half) // half) * half, distribution, half)


def simulate_rows(runs: list[tuple[object, Costs]]) -> list[dict]:
    """The measured-kind row of each (point, costs), simulated without the invariant checker."""
    from l4sim.simulation.simulate import simulate

    return [simulate(point, 0, invariants=False, costs=costs).rows[0] for point, costs in runs]  # type: ignore[arg-type]  # (points built above)


def four_core_target(run: Run, kind: RunKind) -> float:
    """The 4-core figure a run's handoff is matched to: at delay 500, or both delay-0 ones."""
    if kind.delay_worked:
        return run.mean(SMP, rate_metric(FIT_CORES, FIT_DELAY))
    rates = [
        run.mean(SMP, rate_metric(FIT_CORES, delay))
        for delay in DELAYS
        if run.has(SMP, rate_metric(FIT_CORES, delay))
    ]
    return sum(rates) / len(rates)


def has_four_core(run: Run, kind: RunKind) -> bool:
    if kind.delay_worked:
        return run.has(SMP, rate_metric(FIT_CORES, FIT_DELAY))
    return any(run.has(SMP, rate_metric(FIT_CORES, delay)) for delay in DELAYS)


def _secant(inverse_rate, target: float, low: float, high: float) -> float:
    """The handoff at which ``inverse_rate`` meets ``target`` (close to linear in it)."""
    at_low, at_high = inverse_rate(low), inverse_rate(high)
    for _ in range(2):
        slope = (at_high - at_low) / (high - low)
        if slope <= 0:
            break
        guess = min(max(low + (target - at_low) / slope, 0.0), 5000.0)
        if round(guess) in (round(low), round(high)):
            return guess
        at_guess = inverse_rate(guess)
        # keep the guess and whichever of the two is nearer the target
        if abs(at_low - target) < abs(at_high - target):
            high, at_high = guess, at_guess
        else:
            low, at_low = guess, at_guess
    slope = (at_high - at_low) / (high - low)
    return low + (target - at_low) / slope if slope > 0 else low


def match(run: Run, costs: Costs, kind: RunKind, events: int = EVENTS) -> Matching:
    """The handoff with which the model reproduces this run's 4-core figure, at two drags."""
    target = 1 / four_core_target(run, kind)
    point = benchmark_point(FIT_CORES, kind.simulated_delay(FIT_DELAY), events, kind.distribution)

    def inverse_rate(drag: int):
        def at(handoff: float) -> float:
            row = simulate_rows(
                [
                    (
                        point,
                        costs.replace(lock_handoff=max(0, round(handoff)), lock_spinner_drag=drag),
                    )
                ]
            )[0]
            return 1 / row["calls_per_second"]

        return at

    start = float(load_profile(BASE_PROFILE).lock_handoff)
    without = _secant(inverse_rate(0), target, start, 300.0)
    with_drag = _secant(
        inverse_rate(DRAG_PROBE), target, without - 2 * DRAG_PROBE, without - DRAG_PROBE
    )
    return Matching(run.run_id, kind.regime, without, (with_drag - without) / DRAG_PROBE)


def fit_lock(matchings: list[Matching], transferred: float | None = None) -> LockFit | None:
    """``lock_handoff`` and ``lock_spinner_drag`` from the runs' matchings; None if none.

    Where the runs have both delay regimes, the drag is the one at which the
    two regimes' mean handoffs agree (more cores spin at delay 0); otherwise
    ``transferred`` (:func:`transferred_drag`).
    """
    if not matchings:
        return None
    regimes: dict[str, list[Matching]] = {}
    for found in matchings:
        regimes.setdefault(found.regime, []).append(found)
    own = len(regimes) > 1
    if own:
        (first, second) = (regimes[key] for key in sorted(regimes))
        apart = _mean(m.without_drag for m in first) - _mean(m.without_drag for m in second)
        seen = _mean(m.per_drag for m in second) - _mean(m.per_drag for m in first)
        drag = max(0.0, apart / seen) if abs(seen) > 1e-9 else 0.0
    else:
        drag = transferred or 0.0
    values = [m.at(drag) for m in matchings]
    average = _mean(values)
    spread = math.sqrt(sum((v - average) ** 2 for v in values) / max(1, len(values) - 1))
    return LockFit(
        round(average),
        round(drag),
        [m.run_id for m in matchings],
        {key: len(found) for key, found in sorted(regimes.items())},
        own,
        {m.run_id: v for m, v in zip(matchings, values, strict=True)},
        average,
        spread,
    )


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def contrast(costs: Costs, distribution: str, events: int = EVENTS) -> float:
    """The model's 4-core rate at delay 0 against delay 500 under one profile, minus 1."""
    rows = simulate_rows(
        [
            (benchmark_point(FIT_CORES, delay, events, distribution), costs)
            for delay in (0, FIT_DELAY)
        ]
    )
    return rows[0]["calls_per_second"] / rows[1]["calls_per_second"] - 1


def transferred_drag(
    costs: Costs, distribution: str, matchings: list[Matching], events: int = EVENTS
) -> float:
    """The drag with which the model shows ``DELAY0_CONTRAST`` on this profile.

    At each of two drags the handoff is the one the runs' matchings give with
    it; the contrast is close to linear in the drag between them.
    """
    found = []
    for drag in (0, DRAG_PROBE):
        handoff = max(0, round(_mean(m.at(drag) for m in matchings)))
        found.append(
            contrast(
                costs.replace(lock_handoff=handoff, lock_spinner_drag=drag), distribution, events
            )
        )
    slope = (found[1] - found[0]) / DRAG_PROBE
    if slope >= 0:
        return 0.0
    return min(max((DELAY0_CONTRAST - found[0]) / slope, 0.0), 10.0 * DRAG_PROBE)


@dataclass
class Prepared:
    """A data set read for calibration: every run's kind, clock run and derived profile."""

    data: Sel4benchData
    kinds: dict[int, RunKind]
    clock_runs: dict[int, Run]
    derived: dict[int, tuple[list[Term], Costs]]
    transferred: dict[tuple[int, ...], float] = field(default_factory=dict)

    def drag_for(self, runs: list[Run], matched: list[Matching], events: int) -> float | None:
        """The transferred drag for these fit runs (None: they have both regimes)."""
        if len({self.kinds[run.run_id].regime for run in runs}) != 1:
            return None
        key = tuple(run.run_id for run in runs)
        if key not in self.transferred:
            last = runs[-1]
            self.transferred[key] = transferred_drag(
                self.derived[last.run_id][1], self.kinds[last.run_id].distribution, matched, events
            )
        return self.transferred[key]

    def fit_runs(self, exclude: Run | None) -> list[Run]:
        """The runs the lock is fitted to: 4-core figures, no anomaly, not ``exclude``.

        Of those, the runs whose clock is that of ``exclude`` (within
        CLOCK_GROUP), if there are any: a handoff in counter cycles need not
        carry over to a board that ran at another clock.
        """
        runs = [
            run
            for run in self.data.runs
            if (exclude is None or run.run_id != exclude.run_id)
            and not self.kinds[run.run_id].anomalies
            and has_four_core(run, self.kinds[run.run_id])
        ]
        if exclude is None:
            return runs
        clock = self.derived[exclude.run_id][1].clock_hz
        same = [
            run
            for run in runs
            if abs(self.derived[run.run_id][1].clock_hz / clock - 1) <= CLOCK_GROUP
        ]
        return same or runs


def prepare(data: Sel4benchData) -> Prepared:
    """Classify and derive every run (no simulation): bad data is found before any."""
    kinds = classify_all(data)
    clock_runs = clock_sources(data, kinds)
    derived = {
        run.run_id: derive(run, kinds[run.run_id], clock_runs[run.run_id]) for run in data.runs
    }
    return Prepared(data, kinds, clock_runs, derived)


def matchings(
    prepared: Prepared,
    runs: list[Run],
    events: int = EVENTS,
    known: dict[int, Matching] | None = None,
    jobs: int = 1,
) -> list[Matching]:
    """Each run's matching (``known`` caches them; ``jobs`` workers find the missing ones)."""
    known = {} if known is None else known
    todo = [run for run in runs if run.run_id not in known]
    arguments = (
        list(todo),
        [prepared.derived[run.run_id][1] for run in todo],
        [prepared.kinds[run.run_id] for run in todo],
        [events] * len(todo),
    )
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            found = list(pool.map(match, *arguments))
    else:
        found = [match(*one) for one in zip(*arguments, strict=True)]
    known.update((m.run_id, m) for m in found)
    return [known[run.run_id] for run in runs]


def calibrate(
    data: Sel4benchData | Sel4benchSet,
    run_id: int | None = None,
    events: int = EVENTS,
    known: dict[int, Matching] | None = None,
    jobs: int = 1,
    prepared: Prepared | None = None,
):
    """Calibrate one run (default: the last) and compute its residuals.

    Given several boards or builds (a :class:`Sel4benchSet`), each SMP build is
    calibrated on its own run ``run_id`` (default: its last): a
    :class:`Calibrations`.
    """
    if isinstance(data, Sel4benchSet):
        return _calibrate_set(data, run_id, events, jobs)
    prepared = prepared or prepare(data)
    run = data.run(run_id)
    kind = prepared.kinds[run.run_id]
    terms, costs = prepared.derived[run.run_id]
    terms = list(terms)
    runs = prepared.fit_runs(run)
    matched = matchings(prepared, runs, events, known, jobs)
    fit = fit_lock(matched, prepared.drag_for(runs, matched, events) if runs else None)
    if fit is not None:
        terms += fit_terms(prepared, fit)
        costs = costs.replace(lock_handoff=fit.handoff, lock_spinner_drag=fit.drag)
    else:
        terms.append(
            Term(
                "lock_handoff",
                costs.lock_handoff,
                (
                    "not fitted: no other run of this board and build has a 4-core figure that is "
                    "no anomaly; sel4-sabre's estimate",
                ),
            )
        )
    calibration = Calibration(data, run, kind, prepared.clock_runs[run.run_id], terms, costs, fit)
    calibration.residuals = residuals(run, kind, costs, events)
    return calibration


def fit_terms(prepared: Prepared, fit: LockFit) -> list[Term]:
    """The FITTED terms, each saying what it was fitted to."""
    data = prepared.data
    first, last = data.run(fit.runs[0]), data.run(fit.runs[-1])
    counts = ", ".join(f"{count} {regime}" for regime, count in fit.regimes.items())
    what = (
        f"the {FIT_CORES}-core figures of the {len(fit.runs)} other runs of "
        f"{data.name} that have them and are no anomaly ({first.date} .. {last.date}; "
        f"{counts}: {rate_metric(FIT_CORES, FIT_DELAY)} where the delay worked, both "
        f"delay-0 figures, {rate_metric(FIT_CORES, DELAYS[0])} and "
        f"{rate_metric(FIT_CORES, DELAYS[1])}, where it did not), never this run's own"
    )
    if fit.own_drag:
        drag_text = (
            f"FITTED to {what}: the drag with which the runs whose delay worked and "
            "those whose delay did not need the same handoff (at delay 0 more cores "
            "spin for the lock). What each core still spinning adds to a contended "
            "grant: the spinners' copies of the lock's and the kernel's shared lines, "
            "which the new holder's stores must invalidate again."
        )
    else:
        drag_text = (
            f"FITTED to the same runs' handoffs and to DELAY0_CONTRAST, itself FITTED to "
            f"{DELAY0_CONTRAST_SOURCE} and transferred here: the drag with which "
            f"sel4bench_smp on {FIT_CORES} CPUs, under the profile of run {fit.runs[-1]}, "
            f"gives a rate at delay 0 {-100 * DELAY0_CONTRAST:g}% below the rate at delay "
            f"{FIT_DELAY}; these runs have one regime only, which cannot show the drag, so "
            "the model's delay-0 difference on this board follows from that transfer (no "
            "prediction). What each core still spinning adds to a contended grant."
        )
    handoff_text = (
        f"FITTED to {what}: for each, the handoff with which sel4bench_smp on {FIT_CORES} CPUs, "
        "under that run's own calibrated profile and version, gives its measured calls/s "
        f"(at the drag below); their mean {fit.mean:.1f} (standard deviation "
        f"{fit.spread:.1f}). The cycles of a contended grant of the big lock beyond the "
        "lines above: the waiter seeing its predecessor's release, and the kernel data the "
        "new holder finds in another core's cache. The runs:"
    )
    return [
        Term("lock_handoff", fit.handoff, (handoff_text, " ".join(map(str, fit.runs)))),
        Term("lock_spinner_drag", fit.drag, (drag_text,)),
    ]


def _calibrate_set(found: Sel4benchSet, run_id: int | None, events: int, jobs: int) -> Calibrations:
    results, skipped = (
        [],
        [f"{board.name}: {board.problem}" for board in found.boards if board.problem],
    )
    for data in found.data_sets:
        try:
            prepared = prepare(data)
        except NoWorkingDelay as error:
            skipped.append(str(error))
            continue
        results.append(calibrate(data, run_id, events, jobs=jobs, prepared=prepared))
    if not results:
        raise Sel4benchError(f"{found.source}: nothing to calibrate ({'; '.join(skipped)})")
    return Calibrations(found, results, skipped)


def residuals(run: Run, kind: RunKind, costs: Costs, events: int = EVENTS) -> list[dict]:
    """The model's single-core figures, simulated with ``costs``, against the measured ones."""
    low = DELAYS[0]
    simulated = sorted({kind.simulated_delay(delay) for delay in DELAYS})
    rows = simulate_rows(
        [(one_core_point(delay, events, kind.distribution), costs) for delay in simulated]
    )
    by_delay = dict(zip(simulated, rows, strict=True))
    first = by_delay[kind.simulated_delay(low)]
    model = {"call": first["call_cycles"], "reply": first["reply_recv_cycles"]}
    regime = "" if kind.delay_worked else " (delay did not work: delay 0)"
    table = [
        ("Call (cycles)", CALL, model["call"]),
        ("ReplyRecv (cycles)", REPLY_RECV, model["reply"]),
        ("Call, two address spaces (cycles; not modelled)", (SMP, "ipc_call"), model["call"]),
        (
            "ReplyRecv, two address spaces (cycles; not modelled)",
            (SMP, "ipc_reply"),
            model["reply"],
        ),
    ]
    table += [
        (
            f"1 core, delay {delay} (calls/s){regime}",
            (SMP, rate_metric(1, delay)),
            by_delay[kind.simulated_delay(delay)]["calls_per_second"],
        )
        for delay in DELAYS
    ]
    out = []
    for name, (build, metric), value in table:
        if not run.has(build, metric):
            continue
        figure = run.figure(build, metric)
        rate = metric.startswith("smp_")
        measured = figure.mean if rate else figure.fastest
        used = (build, metric) in (CALL, REPLY_RECV) or metric.startswith("smp_1core")
        out.append(
            {
                "figure": name,
                "metric": metric,
                "build": build,
                "statistic": "mean" if rate or measured == figure.mean else "fastest",
                "measured": measured,
                "model": value,
                "error": value / measured - 1,
                "used": used,
            }
        )
    return out


def profile_text(calibration: Calibration, command: str) -> str:
    """The calibrated profile as TOML, every derived number with its source in a comment."""
    run, kind, data = calibration.run, calibration.kind, calibration.data
    files = sorted({str(path.name) for path, _ in run.files.values()})
    settings = f'delay_distribution = "{kind.distribution}"' + (
        "" if kind.delay_worked else ", delay_cycles = 0 (its delay did not work)"
    )
    lines = [
        "# Cost profile calibrated from sel4bench results (files in the format of",
        "# https://github.com/seL4/sel4bench-results) by",
        f"#   {command}",
        f"# {data.name}, run {run.run_id} at {run.ts}: manifest {run.sha}, seL4 "
        f"{run.sha_kernel}, sel4bench {run.sha_bench}",
        *textwrap.wrap(
            f"Files: {', '.join(files)}. The fastest samples of the cycle "
            "figures, the means of the rates; cycles are counts of the benchmark's "
            "counter. For the sel4bench_smp workload (seL4's SMP build: kernel_lock "
            f"big, lock clh, IPC fastpath). {kind.version}; "
            f"{'its delay worked' if kind.delay_worked else 'its delay did not work'}"
            + (f"; anomalies: {'; '.join(kind.anomalies)}" if kind.anomalies else "")
            + ". Costs not given here are sel4-sabre's (hand-built, documented "
            "there).",
            98,
            initial_indent="# ",
            subsequent_indent="# ",
        ),
        f"# As this run ran it: {settings}",
        *(
            textwrap.wrap(
                f"SYNTHETIC DATA, not measurements: {run.synthetic}. This profile is an "
                "example of the format; it describes no board.",
                98,
                initial_indent="# ",
                subsequent_indent="# ",
            )
            if run.synthetic
            else []
        ),
        "",
        f'base = "{BASE_PROFILE}"',
        f'description = "sel4bench {data.name} run {run.run_id} ({run.date}, seL4 '
        f'{run.sha_kernel}, sel4bench {run.sha_bench}), calibrated"',
        "",
    ]
    for term in calibration.terms:
        for paragraph in term.source:
            lines += textwrap.wrap(
                paragraph, 98, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
            )
        lines.append(f"{term.key} = {term.value}")
        lines.append("")
    return "\n".join(lines)


def residuals_markdown(calibration: Calibration | Calibrations) -> str:
    """The residuals as Markdown tables (what ``calibrate`` prints and writes)."""
    if isinstance(calibration, Calibrations):
        return _set_markdown(calibration)
    run, kind = calibration.run, calibration.kind
    regime = (
        "its delay worked" if kind.delay_worked else "its delay did not work, simulated at delay 0"
    )
    lines = [
        f"Residuals: {calibration.data.name}, sel4bench {run.describe()}, seL4 "
        f"{run.sha_kernel}, sel4bench {run.sha_bench} ({kind.distribution} delay; "
        f"{regime}); the model simulated with the calibrated profile",
        "(sel4bench_smp, 1 CPU). *: a figure the calibration used. Measured: the fastest "
        "sample of a cycle figure, the mean of a rate.",
        "Not modelled: the benchmark's threads share one address space, so the model has "
        "no address-space switch (shown for reference).",
        "",
    ]
    if run.synthetic:
        lines = [
            f"**Synthetic data, not measurements** ({run.synthetic}): the residuals "
            "below show how a calibration reads; they validate nothing against hardware.",
            "",
            *lines,
        ]
    if kind.anomalies:
        lines += [f"Anomaly (not fitted to): {'; '.join(kind.anomalies)}", ""]
    seen = "synthetic" if run.synthetic else "measured"
    lines += [f"| figure | metric (build) | {seen} | model | error |", "|---|---|---|---|---|"]
    for row in calibration.residuals:
        mark = " *" if row["used"] else ""
        lines.append(
            f"| {row['figure']}{mark} | {row['metric']} ({row['build']}) | "
            f"{row['measured']:,.1f} | {row['model']:,.1f} | "
            f"{100 * row['error']:+.2f}% |"
        )
    return "\n".join(lines) + "\n"


def _set_markdown(calibrations: Calibrations) -> str:
    parts = []
    for board in calibrations.found.boards:
        parts.append(
            f"## {board.name}\n\n" + "\n".join(f"- {line}" for line in board.summary()) + "\n"
        )
        for result in calibrations.results:
            if result.data.board == board.name:
                parts.append(f"### {result.data.name}\n\n{residuals_markdown(result)}")
    skipped = [
        line
        for line in calibrations.skipped
        if not any(line.startswith(f"{b.name}:") for b in calibrations.found.boards if b.problem)
    ]
    if skipped:
        parts.append("Not calibrated:\n\n" + "\n".join(f"- {line}" for line in skipped) + "\n")
    return "\n".join(parts)


def profile_paths(calibration: Calibration | Calibrations, out: Path) -> list[Path]:
    """Where each profile goes: ``OUT`` for one, ``OUT.BOARD.BUILD.toml`` for several."""
    if isinstance(calibration, Calibration):
        return [out]
    if len(calibration.results) == 1:
        return [out]
    return [
        out.with_name(f"{out.stem}.{r.data.board}.{r.data.build}.toml") for r in calibration.results
    ]


def write(calibration: Calibration | Calibrations, out: Path, command: str) -> tuple[Path, ...]:
    """Write each profile and its residuals (``OUT`` and ``OUT`` with ``.residuals.md``)."""
    results = calibration.results if isinstance(calibration, Calibrations) else [calibration]
    written: list[Path] = []
    for result, path in zip(results, profile_paths(calibration, out), strict=True):
        residual_path = path.with_name(path.stem + ".residuals.md")
        temporary = [
            path.with_name(f".{path.name}.tmp"),
            residual_path.with_name(f".{residual_path.name}.tmp"),
        ]
        temporary[0].write_text(
            profile_text(result, command.replace("RUN_ID", str(result.run.run_id)))
        )
        temporary[1].write_text(residuals_markdown(result))
        temporary[0].replace(path)
        temporary[1].replace(residual_path)
        written += [path, residual_path]
    return tuple(written)


def command_line(
    data: list[Path], calibration: Calibration | Calibrations, events: int = EVENTS
) -> str:
    """How the profile was made, for its header (the data by name: no local paths)."""
    named = " ".join(Path(path).name for path in data)
    extra = "" if events == EVENTS else f" --events {events}"
    run = "RUN_ID" if isinstance(calibration, Calibrations) else str(calibration.run.run_id)
    return f"l4sim calibrate sel4bench {named} --run {run}{extra} --out PROFILE.toml"
