"""What each run of sel4bench's SMP benchmark was: its version, its delay, its anomalies.

sel4bench's SMP benchmark (``apps/smp`` of https://github.com/seL4/sel4bench)
changed how it spins between IPCs. The source is sel4bench's public commit
history (https://github.com/seL4/sel4bench/commits): each run names its
sel4bench commit (``sha_bench``), and ``apps/smp`` at that commit says how it
delayed:

- before commit ``1fb8af24`` (first run 2026-06-26) each delay was
  ``REXP(core) x delay - overhead``: exponentially distributed with mean
  ``delay`` from a per-core generator with a fixed seed, less a measured
  overhead of reading and resetting the cycle counter, which was reset before
  every spin on ARM and RISC-V;
- from ``1fb8af24`` on, the spin is deterministic: until the counter has
  advanced by ``delay``, no reset, no overhead correction;
- ``d2ba9fa8``, ``a914182f`` and ``6b40730e`` (2026-06-16/17) were
  intermediate versions while the benchmark was being reworked.

On 64-bit ARM the overhead estimate was often larger than the delay (sel4bench
issue #78, fixed by pull request #80), so the spin ended at once: in such a
run both "delays" are in effect zero, whatever the file says. It varied from
boot to boot. Such runs are real measurements of four cores saturating the
big lock with nothing between IPCs; they are calibrated and predicted as
delay-0 runs.

A commit that :data:`VERSIONS` does not know (a later run, another fork) is
decided by its run's date: deterministic from the first run of ``1fb8af24``
on, exponential before; its version text says it was decided so.

The rules below (each with its threshold) sort the runs; every table shows
what they found, and an anomalous run is never fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4sim.analysis.sel4bench import SMP, Run, Sel4benchData, Sel4benchError

DELAYS = (500, 32000)  # the delays of sel4bench's SMP benchmark (smp_1core_c500, ...)
CORES = 4  # the multi-core figures kept: smp_4core_c500, smp_4core_c32000

EXPONENTIAL = "exponential"
DETERMINISTIC = "deterministic"
DETERMINISTIC_FROM = ("1fb8af24", "2026-06-26")  # the commit, its first run in the series
# sel4bench's versions in the 2026 series: sha_bench -> what it did to the SMP benchmark,
# from apps/smp at each commit of https://github.com/seL4/sel4bench/commits (an unknown
# commit: version_of decides by the run's date)
VERSIONS = {
    "05b75695": "exponential delay, 1 s samples, 5 runs",
    "8e6d539a": "exponential delay",
    "22da3f39": "exponential delay",
    "16650286": "exponential delay",
    "8b5697b4": "exponential delay",
    "141580b6": "exponential delay",
    "f4ec90f0": "exponential delay",
    "59812a1a": "exponential delay",
    "e16a2f35": "exponential delay",
    "776ba8a8": "exponential delay",
    "702b8e12": "exponential delay",
    "d2ba9fa8": "intermediate version, the benchmark being reworked",
    "a914182f": "intermediate version, the benchmark being reworked",
    "6b40730e": "intermediate version, the benchmark being reworked",
    "e19fff3e": "exponential delay, 100 ms samples, 10 runs, normalised to calls/s",
    "1fb8af24": "deterministic delay (spin until the counter has advanced by delay)",
}
INTERMEDIATE = frozenset({"d2ba9fa8", "a914182f", "6b40730e"})

# Rule: the delay worked if the 1-core rate at delay 32000 is below this fraction of the
# rate at delay 500. A working delay makes a round 2 x delay + loop + IPC cycles, so the
# ratio is (1000 + L) / (64000 + L), under 0.1 for any loop and IPC L below 6000 cycles;
# a delay that ended at once makes both rounds the same, a ratio of 1 within the noise.
DELAY_WORKED_BELOW = 0.5
# Rule: at delay 32000 the big lock is far from saturated and k pairs give k times the
# 1-core rate (less a fraction of a percent); below this many pairs' worth, not all four
# pairs made progress.
PARTIAL_PROGRESS_BELOW = CORES - 0.5
# Rule: in a run whose delay did not work both 4-core figures are delay-0 figures; if they
# differ by more than this fraction, the run is not what it seems.
DELAY0_AGREEMENT = 0.02
# Rule: the runs of one board and build that share a delay regime and a clock (within
# CLOCK_GROUP) and whose single-core figures say the same, but whose 4-core figures at
# delay 500 fall into two clusters with a gap wider than this fraction of their median
# between them: the smaller cluster, if it has BOOT_MODE_RUNS runs or more (and the group
# BOOT_MODE_GROUP or more), is another mode of the board's boots, which no single-core
# figure shows (e.g. where the kernel's data landed in a sliced last-level cache).
BOOT_MODE_GAP = 0.03
BOOT_MODE_RUNS = 2
BOOT_MODE_GROUP = 6
CLOCK_GROUP = 0.01  # clocks within this fraction of each other: the board ran as before


def rate_metric(cores: int, delay: int) -> str:
    return f"smp_{cores}core_c{delay}"


@dataclass(frozen=True)
class RunKind:
    """How one run is read: its sel4bench version, whether its delay worked, its anomalies."""

    version: str  # what the version did, and how it is known
    distribution: str  # EXPONENTIAL or DETERMINISTIC
    delay_worked: bool
    delay_ratio: float  # 1-core rate at delay 32000 / at delay 500
    anomalies: tuple[str, ...] = ()  # why the run is not fitted to (empty: it may be)

    @property
    def regime(self) -> str:
        return "delay" if self.delay_worked else "delay 0"

    def simulated_delay(self, delay: int) -> int:
        """The delay the model spins for sel4bench's ``delay``: 0 where it did not work."""
        return delay if self.delay_worked else 0


def version_of(run: Run) -> tuple[str, str]:
    """(distribution, what the version did) from the run's ``sha_bench``."""
    sha = run.sha_bench[:8]
    commit, first_run = DETERMINISTIC_FROM
    if sha in VERSIONS:
        distribution = DETERMINISTIC if sha == commit else EXPONENTIAL
        return distribution, f"sel4bench {sha}: {VERSIONS[sha]}"
    # not a version of the 2026 series: by the date of its run
    if run.date >= first_run:
        return DETERMINISTIC, (
            f"sel4bench {sha}: not a version this table knows; taken as "
            f"deterministic, run after {commit} ({first_run})"
        )
    return EXPONENTIAL, (
        f"sel4bench {sha}: not a version this table knows; taken as "
        f"exponential, run before {commit} ({first_run})"
    )


def classify(run: Run) -> RunKind:
    """Apply every rule to one run (its 1-core rates must be there)."""
    low, high = DELAYS
    rate = {delay: run.mean(SMP, rate_metric(1, delay)) for delay in DELAYS}
    ratio = rate[high] / rate[low]
    worked = ratio < DELAY_WORKED_BELOW
    distribution, version = version_of(run)
    anomalies = []
    if run.sha_bench[:8] in INTERMEDIATE:
        anomalies.append(
            f"intermediate sel4bench version {run.sha_bench[:8]} (2026-06-16/17, "
            "the SMP benchmark being reworked)"
        )
    four = {
        delay: run.mean(SMP, rate_metric(CORES, delay))
        for delay in DELAYS
        if run.has(SMP, rate_metric(CORES, delay))
    }
    if worked and high in four:
        pairs = four[high] / rate[high]
        if pairs < PARTIAL_PROGRESS_BELOW:
            anomalies.append(
                f"partial progress: at delay {high} the {CORES}-core rate is {pairs:.2f} x the "
                f"1-core rate, about {round(pairs)} of {CORES} pairs' worth (all {CORES} "
                f"give {PARTIAL_PROGRESS_BELOW:g} x or more)"
            )
    if not worked and len(four) == len(DELAYS):
        apart = four[low] / four[high] - 1
        if abs(apart) > DELAY0_AGREEMENT:
            anomalies.append(
                f"delay 0 at both delays, yet its {CORES}-core rates differ by "
                f"{100 * apart:+.1f}% (more than {100 * DELAY0_AGREEMENT:g}%)"
            )
    return RunKind(version, distribution, worked, ratio, tuple(anomalies))


def classify_all(data: Sel4benchData) -> dict[int, RunKind]:
    """Every run's kind: the rules on each run, then the boot-mode rule on the runs together."""
    kinds = {run.run_id: classify(run) for run in data.runs}
    low = DELAYS[0]
    by_regime: dict[str, list[tuple[float, float, int]]] = {}
    for run in data.runs:
        kind = kinds[run.run_id]
        if kind.anomalies or not run.has(SMP, rate_metric(CORES, low)):
            continue
        clock = rough_clock(run) if kind.delay_worked else 0.0
        by_regime.setdefault(kind.regime, []).append(
            (clock, run.mean(SMP, rate_metric(CORES, low)), run.run_id)
        )
    groups: list[list[tuple[float, int]]] = []
    for items in by_regime.values():  # split where the clock steps by more than CLOCK_GROUP
        items.sort()
        for index, (clock, value, run_id) in enumerate(items):
            if index == 0 or clock > items[index - 1][0] * (1 + CLOCK_GROUP):
                groups.append([])
            groups[-1].append((value, run_id))
    for members in groups:
        for run_id, apart, others in boot_modes(members):
            kind = kinds[run_id]
            kinds[run_id] = RunKind(
                kind.version,
                kind.distribution,
                kind.delay_worked,
                kind.delay_ratio,
                (
                    *kind.anomalies,
                    (
                        f"another boot mode: its {CORES}-core rate at delay {low} is "
                        f"{100 * apart:+.1f}% from the median of {others} other runs with "
                        "the same clock and regime "
                        f"(two clusters, more than {100 * BOOT_MODE_GAP:g}% apart), at the same "
                        "single-core figures"
                    ),
                ),
            )
    return kinds


def boot_modes(members: list[tuple[float, int]]) -> list[tuple[int, float, int]]:
    """(run, how far from the larger cluster's median, its size) of a smaller cluster, if any."""
    if len(members) < BOOT_MODE_GROUP:
        return []
    ordered = sorted(members)
    values = [value for value, _ in ordered]
    median = values[len(values) // 2]
    gaps = [(values[i + 1] - values[i], i) for i in range(len(values) - 1)]
    gap, at = max(gaps)
    if gap <= BOOT_MODE_GAP * median:
        return []
    lower, upper = ordered[: at + 1], ordered[at + 1 :]
    smaller, larger = (lower, upper) if len(lower) < len(upper) else (upper, lower)
    if len(smaller) < BOOT_MODE_RUNS or len(smaller) == len(larger):
        return []
    centre = sorted(value for value, _ in larger)[len(larger) // 2]
    return [(run_id, value / centre - 1, len(larger)) for value, run_id in smaller]


def rough_clock(run: Run) -> float:
    """The counter's rate a run's 1-core rates give (a deterministic delay's arithmetic)."""
    low, high = DELAYS
    rate = {delay: run.mean(SMP, rate_metric(1, delay)) for delay in DELAYS}
    return 2 * (high - low) / (1 / rate[high] - 1 / rate[low])


def clock_sources(data: Sel4benchData, kinds: dict[int, RunKind]) -> dict[int, Run]:
    """The run whose 1-core rates give each run's clock.

    A run whose delay worked: itself. One whose delay did not: the run of the
    same board and build, nearest in time, whose delay worked and that is no
    anomaly (the earlier one of two as near). Raises :class:`NoWorkingDelay`
    if there is none.
    """
    working = [
        (index, run)
        for index, run in enumerate(data.runs)
        if kinds[run.run_id].delay_worked and not kinds[run.run_id].anomalies
    ]
    if not working:
        raise NoWorkingDelay(
            f"{data.name}: no run whose delay worked (in none of its {len(data.runs)} runs is "
            f"the 1-core rate at delay {DELAYS[1]} below {DELAY_WORKED_BELOW:g} x the rate at "
            f"delay {DELAYS[0]}), so the board's clock cannot be derived from these data"
        )
    sources = {}
    for run in data.runs:
        if kinds[run.run_id].delay_worked:
            sources[run.run_id] = run
        else:
            sources[run.run_id] = min(
                working, key=lambda item: (abs(_seconds(item[1]) - _seconds(run)), item[0])
            )[1]
    return sources


class NoWorkingDelay(Sel4benchError):
    """A board and build none of whose runs had a working delay: its clock is unknown."""


def _seconds(run: Run) -> float:
    from datetime import datetime

    return datetime.fromisoformat(run.ts.replace("Z", "+00:00")).timestamp()
