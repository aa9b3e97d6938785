"""Calibrating a cost profile from sel4bench results, and the model's residuals.

``l4sim calibrate sel4bench DATA --run RUN_ID`` turns one run of sel4bench
on a board into a profile for the ``sel4bench_smp`` workload (seL4's SMP
build: big kernel lock, CLH, IPC fastpath), starting from ``sel4-sabre``:

- from that run's single-core figures (derived, exact to a cycle):
  the trap's assembly entry and exit (``trap_entry``, ``trap_exit``, outside
  the big lock) from the uniprocessor build's null system call; the IPC
  fastpath's commit (``fp_switch``, ``fp_call``, ``fp_reply_recv``, inside the
  lock) so that the model's Call and ReplyRecv are the SMP build's
  ``ipc_call_intra`` and ``ipc_reply_intra``; the clock (``clock_hz``) and
  the benchmark's own loop (``smp_bench_loop``) from the 1-core ping-pong
  rates at the two delays (one round is ``2 x delay + loop + Call +
  ReplyRecv`` cycles: the slope over the delay gives the clock, the rest the
  loop);
- FITTED, what single-core figures cannot show: ``lock_handoff``, the cycles
  a contended big-lock grant costs, to the 4-core rate at delay 500 of every
  *other* run of the same data that has one (never the calibrated run's own
  multi-core figures), by simulating the benchmark with each of those runs'
  own calibrated profile.

Every derived number is written with its source (metric, build, file and
line, run, and the arithmetic). The residuals are the model's own
single-core figures, simulated with the new profile, against the measured
ones.
"""

from __future__ import annotations

import math
import textwrap
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from l4sim.analysis.sel4bench import SMP, UNIPROCESSOR, Figure, Run, Sel4benchData, Sel4benchError
from l4sim.kernel.costs import Costs, load_profile
from l4sim.kernel.ipc_checks import IPC_CHECKS

BASE_PROFILE = "sel4-sabre"
DELAYS = (500, 32000)  # the delays of sel4bench's SMP benchmark (smp_1core_c500, ...)
FIT_DELAY = 500  # where the 4-core rate is bound by the big lock: it shows the handoff
FIT_CORES = 4
EVENTS = 4000  # Calls per simulation (all CPUs), after a tenth as many of warm-up
# The cache lines that follow the big lock from core to core: the CLH lock's tail
# word (swapped by every acquirer) and the queue node the new holder spins on
# (written by its predecessor's release). Nothing else an IPC of this benchmark
# writes is shared between cores (each pair's TCBs, endpoint and reply slot, and
# seL4's per-core scheduler state, stay on its core).
BIG_LOCK_LINES = 2

# (build, metric)
CALL = (SMP, "ipc_call_intra")  # one address space, as the SMP benchmark's threads
REPLY_RECV = (SMP, "ipc_reply_intra")
NULL_SYSCALL = (UNIPROCESSOR, "null_syscall")


def rate_metric(cores: int, delay: int) -> str:
    return f"smp_{cores}core_c{delay}"


@dataclass(frozen=True)
class Term:
    """One cost of the calibrated profile, with the comment that says where it comes from."""

    key: str
    value: int
    source: tuple[str, ...]


@dataclass
class HandoffFit:
    """``lock_handoff`` fitted to other runs' 4-core rates: the value and what it came from."""

    value: int
    runs: list[int]  # the runs whose figures it was fitted to
    mean: float
    spread: float  # standard deviation over the runs


@dataclass
class Calibration:
    """A calibrated profile: its terms, its costs, and the figures they came from."""

    run: Run
    terms: list[Term]
    costs: Costs
    fit: HandoffFit | None
    residuals: list[dict] = field(default_factory=list)


def _where(run: Run, build: str, metric: str) -> str:
    figure = run.figure(build, metric)
    return f"{metric} ({build} build, {figure.file.name} line {figure.line})"


def derive(run: Run, base: Costs | None = None) -> tuple[list[Term], Costs]:
    """The terms a run's single-core figures give (no simulation); ``lock_handoff`` as base."""
    base = base or load_profile(BASE_PROFILE)
    call = run.mean(*CALL)
    reply = run.mean(*REPLY_RECV)
    null = run.mean(*NULL_SYSCALL)
    rates = {delay: run.mean(SMP, rate_metric(1, delay)) for delay in DELAYS}
    jitter = base.entry_jitter / 2  # the mean of the uniform 0..entry_jitter per entry
    trap = round(null)
    trap_entry, trap_exit = trap - trap // 2, trap // 2
    checks = sum(getattr(base, check.cost) for check in IPC_CHECKS)
    fixed = base.lock_acquire + base.lock_release + checks + base.fp_ipc_transfer
    call_in = call - trap - jitter  # inside the lock (C code), plus the lock itself
    reply_in = reply - trap - jitter
    fp_switch = round(min(call_in, reply_in) - fixed)
    if fp_switch < 0:
        raise Sel4benchError(
            f"{run.describe()}: Call {call:g} and ReplyRecv {reply:g} cycles are "
            f"below this model's fixed fastpath terms ({fixed + trap + jitter:g} "
            "cycles): not a fastpath IPC"
        )
    fp_call = max(0, round(call_in - fixed - fp_switch))
    fp_reply_recv = max(0, round(reply_in - fixed - fp_switch))
    model_call = jitter + trap + fixed + fp_switch + fp_call
    model_reply = jitter + trap + fixed + fp_switch + fp_reply_recv
    low, high = DELAYS
    clock = round(2 * (high - low) / (1 / rates[high] - 1 / rates[low]))
    loop = round(clock / rates[low] - 2 * low - model_call - model_reply)
    if clock <= 0 or loop < 0:
        raise Sel4benchError(
            f"{run.describe()}: the 1-core rates {rates[low]:g} and "
            f"{rates[high]:g} calls/s leave no time for the benchmark's loop "
            f"(clock {clock} Hz, loop {loop} cycles)"
        )
    ident = f"run {run.run_id}"
    terms = [
        Term(
            "clock_hz",
            clock,
            (
                f"{rate_metric(1, low)} = {rates[low]:,.1f} and {rate_metric(1, high)} = "
                f"{rates[high]:,.1f} calls/s ({SMP} build, {ident}). One round of the 1-core "
                "benchmark takes 2 x delay + smp_bench_loop + Call + ReplyRecv cycles, so the "
                "slope over the delay gives the clock:",
                f"2 x ({high} - {low}) / (1/{rates[high]:.1f} - 1/{rates[low]:.1f})",
            ),
        ),
        Term(
            "trap_entry",
            trap_entry,
            (
                f"{_where(run, *NULL_SYSCALL)} = {null:.1f} cycles ({ident}), rounded: {trap} = "
                f"trap_entry {trap_entry} + trap_exit {trap_exit}. The trap's assembly entry and "
                "exit, outside the big lock: svc, the register save and the kernel stack; the "
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
        Term(
            "fp_switch",
            fp_switch,
            (
                f"Call: {_where(run, *CALL)} = {call:.1f}; ReplyRecv: {_where(run, *REPLY_RECV)} "
                f"= {reply:.1f} ({ident}). Inside the lock each is the figure less the trap "
                f"{trap} and the mean entry jitter {jitter:g}: {call_in:.1f} and {reply_in:.1f}. "
                f"Their common part less lock_acquire {base.lock_acquire}, lock_release "
                f"{base.lock_release}, the fastpath's checks {checks} and fp_ipc_transfer "
                f"{base.fp_ipc_transfer} (all sel4-sabre's):",
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
                "The benchmark's own user code per round (counter reads, the per-core counter, "
                f"the stubs): clock / {rate_metric(1, low)} - 2 x {low} - Call {model_call:g} - "
                f"ReplyRecv {model_reply:g} (the model's, as above):",
                f"{clock} / {rates[low]:.1f} - {2 * low} - {model_call:g} - {model_reply:g}",
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


def benchmark_point(cpus: int, delay: int, events: int = EVENTS):
    """The ``sel4bench_smp`` point of one (cores, delay): seL4's settings are its defaults."""
    from l4sim.sweep.scenario import point_from_dict

    return point_from_dict(
        {
            "workload": "sel4bench_smp",
            "cpus": cpus,
            "delay_cycles": delay,
            "events": events,
            "warmup_events": max(1, events // 10),
        }
    )


def simulate_rows(runs: list[tuple[object, Costs]]) -> list[dict]:
    """The measured-kind row of each (point, costs), simulated without the invariant checker."""
    from l4sim.simulation.simulate import simulate

    return [simulate(point, 0, invariants=False, costs=costs).rows[0] for point, costs in runs]  # type: ignore[arg-type]  # (points built above)


def handoff_matching(run: Run, costs: Costs, events: int = EVENTS) -> float:
    """The ``lock_handoff`` with which the model reproduces this run's 4-core rate at delay 500.

    The rate's inverse is close to linear in the handoff while the lock is
    saturated: two secant steps from the base value and 300 cycles.
    """
    target = 1 / run.mean(SMP, rate_metric(FIT_CORES, FIT_DELAY))
    point = benchmark_point(FIT_CORES, FIT_DELAY, events)

    def inverse_rate(handoff: float) -> float:
        row = simulate_rows([(point, costs.replace(lock_handoff=max(0, round(handoff))))])[0]
        return 1 / row["calls_per_second"]

    low, high = float(load_profile(BASE_PROFILE).lock_handoff), 300.0
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


def fit_handoff(
    data: Sel4benchData,
    exclude: Run,
    events: int = EVENTS,
    known: dict[int, float] | None = None,
    jobs: int = 1,
) -> HandoffFit | None:
    """``lock_handoff`` fitted to the 4-core rates of every run but ``exclude``; None if none.

    ``known`` caches each run's matching handoff (it depends on that run only);
    ``jobs`` worker processes find the missing ones (the same values either way).
    """
    known = {} if known is None else known
    metric = rate_metric(FIT_CORES, FIT_DELAY)
    runs = [run for run in data.runs if run.run_id != exclude.run_id and run.has(SMP, metric)]
    if not runs:
        return None
    todo = [run for run in runs if run.run_id not in known]
    profiles = [derive(run)[1] for run in todo]  # bad data is found before any simulation
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            found = list(pool.map(handoff_matching, todo, profiles, [events] * len(todo)))
    else:
        found = [
            handoff_matching(run, costs, events) for run, costs in zip(todo, profiles, strict=True)
        ]
    known.update(zip((run.run_id for run in todo), found, strict=True))
    values = [known[run.run_id] for run in runs]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
    return HandoffFit(
        round(mean),
        [run.run_id for run in runs],
        mean,
        spread,
    )


def calibrate(
    data: Sel4benchData,
    run_id: int | None = None,
    events: int = EVENTS,
    known: dict[int, float] | None = None,
    jobs: int = 1,
) -> Calibration:
    """Calibrate one run (default: the last) and compute its residuals."""
    run = data.run(run_id)
    terms, costs = derive(run)
    fit = fit_handoff(data, run, events, known, jobs)
    metric = rate_metric(FIT_CORES, FIT_DELAY)
    if fit is not None:
        first, last = (data.run(fit.runs[0]), data.run(fit.runs[-1]))
        lines = [
            f"FITTED to {metric} ({SMP} build) of the {len(fit.runs)} other runs of "
            f"this data that have it ({first.date} .. {last.date}), never this run's "
            "own: for each, the handoff with which sel4bench_smp on 4 CPUs at delay "
            f"{FIT_DELAY}, under that run's own calibrated profile, gives its measured "
            f"calls/s; their mean {fit.mean:.1f} (standard deviation {fit.spread:.1f}). "
            "The cycles of a contended grant of the big lock: the waiter seeing its "
            "predecessor's release, and whatever else the lock moving between cores "
            "costs beyond the lines above. The runs:",
            " ".join(str(r) for r in fit.runs),
        ]
        terms.append(Term("lock_handoff", fit.value, tuple(lines)))
        costs = costs.replace(lock_handoff=fit.value)
    else:
        terms.append(
            Term(
                "lock_handoff",
                costs.lock_handoff,
                (f"not fitted: no other run of this data has {metric}; sel4-sabre's estimate",),
            )
        )
    calibration = Calibration(run, terms, costs, fit)
    calibration.residuals = residuals(run, costs, events)
    return calibration


def residuals(run: Run, costs: Costs, events: int = EVENTS) -> list[dict]:
    """The model's single-core figures, simulated with ``costs``, against the measured ones."""
    low, high = DELAYS
    rows = simulate_rows([(benchmark_point(1, delay, events), costs) for delay in DELAYS])
    model = {
        "call": rows[0]["call_cycles"],
        "reply": rows[0]["reply_recv_cycles"],
        low: rows[0]["calls_per_second"],
        high: rows[1]["calls_per_second"],
    }
    table = [
        ("Call (cycles)", CALL, model["call"]),
        ("ReplyRecv (cycles)", REPLY_RECV, model["reply"]),
        ("Call, two address spaces (cycles; not modelled)", (SMP, "ipc_call"), model["call"]),
        (
            "ReplyRecv, two address spaces (cycles; not modelled)",
            (SMP, "ipc_reply"),
            model["reply"],
        ),
        (f"1 core, delay {low} (calls/s)", (SMP, rate_metric(1, low)), model[low]),
        (f"1 core, delay {high} (calls/s)", (SMP, rate_metric(1, high)), model[high]),
    ]
    out = []
    for name, (build, metric), value in table:
        if not run.has(build, metric):
            continue
        figure: Figure = run.figure(build, metric)
        used = (build, metric) in (CALL, REPLY_RECV) or metric.startswith("smp_1core")
        out.append(
            {
                "figure": name,
                "metric": metric,
                "build": build,
                "measured": figure.mean,
                "model": value,
                "error": value / figure.mean - 1,
                "used": used,
            }
        )
    return out


def profile_text(calibration: Calibration, command: str) -> str:
    """The calibrated profile as TOML, every derived number with its source in a comment."""
    run = calibration.run
    files = sorted({str(path.name) for path, _ in run.files.values()})
    lines = [
        "# Cost profile calibrated from sel4bench results (files in the format of",
        "# https://github.com/seL4/sel4bench-results) by",
        f"#   {command}",
        f"# Run {run.run_id} at {run.ts}: manifest {run.sha}, seL4 {run.sha_kernel}, "
        f"sel4bench {run.sha_bench}",
        *textwrap.wrap(
            f"Files: {', '.join(files)}. Means of each metric; cycles unless "
            "said otherwise. For the sel4bench_smp workload (seL4's SMP build: "
            "kernel_lock big, lock clh, IPC fastpath). Costs not given here are "
            "sel4-sabre's (hand-built, documented there).",
            98,
            initial_indent="# ",
            subsequent_indent="# ",
        ),
        "",
        f'base = "{BASE_PROFILE}"',
        f'description = "sel4bench run {run.run_id} ({run.date}, seL4 {run.sha_kernel}, '
        f'sel4bench {run.sha_bench}), calibrated"',
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


def residuals_markdown(calibration: Calibration) -> str:
    """The residuals as a Markdown table (what ``calibrate`` prints and writes)."""
    run = calibration.run
    lines = [
        f"Residuals: sel4bench {run.describe()}, seL4 {run.sha_kernel}, sel4bench "
        f"{run.sha_bench}; the model simulated with the calibrated profile",
        "(sel4bench_smp, 1 CPU). *: a figure the calibration used. Not modelled: the "
        "benchmark's threads",
        "share one address space, so the model has no address-space switch (shown for reference).",
        "",
        "| figure | metric (build) | measured | model | error |",
        "|---|---|---|---|---|",
    ]
    for row in calibration.residuals:
        mark = " *" if row["used"] else ""
        lines.append(
            f"| {row['figure']}{mark} | {row['metric']} ({row['build']}) | "
            f"{row['measured']:,.1f} | {row['model']:,.1f} | "
            f"{100 * row['error']:+.2f}% |"
        )
    return "\n".join(lines) + "\n"


def write(calibration: Calibration, out: Path, command: str) -> tuple[Path, Path]:
    """Write the profile and its residuals (``OUT`` and ``OUT`` with ``.residuals.md``)."""
    residual_path = out.with_name(out.stem + ".residuals.md")
    temporary = [
        out.with_name(f".{out.name}.tmp"),
        residual_path.with_name(f".{residual_path.name}.tmp"),
    ]
    temporary[0].write_text(profile_text(calibration, command))
    temporary[1].write_text(residuals_markdown(calibration))
    temporary[0].replace(out)
    temporary[1].replace(residual_path)
    return out, residual_path


def command_line(data: list[Path], calibration: Calibration, events: int = EVENTS) -> str:
    """How the profile was made, for its header (the data by name: no local paths)."""
    named = " ".join(Path(path).name for path in data)
    extra = "" if events == EVENTS else f" --events {events}"
    return (
        f"l4sim calibrate sel4bench {named} --run {calibration.run.run_id}{extra} "
        "--out PROFILE.toml"
    )
