"""End-to-end speed: kernel entries per bare SimPy lock cycle, through ``l4sim run``.

Each case of the matrix is run the way a user runs it: ``l4sim run SCENARIO
--set ...`` (one point, one replication, a fresh output folder), which reads
the scenario, simulates, files the result in the cache, assembles
``events.parquet``, ``points.parquet`` and ``summary.parquet`` and prints its
line. Two runs per case, a long one and a short one (a tenth of the events);
their difference in recorded kernel entries over their difference in time is
the case's rate, so start-up and writing costs that do not grow with the run
cancel out while everything that grows with it (simulating, recording,
writing the tables) is counted.

The command runs in this process (``l4sim.cli.main``, as the CLI tests do):
the interpreter's start-up and imports are a constant that the subtraction
removes anyway, and a first throw-away run loads every module. Times are
process CPU time (every thread of the process: Arrow's writers included), so
that other jobs on a shared machine do not count; the bare SimPy lock loop is
timed the same way just before each case, and each repeat's ratio is the case's
rate over that adjacent loop's rate. A case's figure is the median over the
repeats.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from l4sim.cli import main as l4sim_main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHORT_FRACTION = 10  # the short run has a tenth of the long run's events


@dataclass(frozen=True)
class Case:
    """One configuration: a scenario file, the keys it pins, the long run's events."""

    group: str
    scenario: str
    settings: tuple[tuple[str, object], ...]
    events: int
    cpus: int = 2
    label: dict = field(default_factory=dict, compare=False, hash=False)

    def args(self, events: int, out: str) -> list[str]:
        sets = [*self.settings, ("replications", 1), ("events", events)]
        args = ["run", str(SCENARIOS / self.scenario), "--out", out, "--quiet", "--jobs", "1"]
        for key, value in sets:
            args += ["--set", f"{key}={_toml(value)}"]
        return args


def _toml(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _syscall(
    cpus: int, fast_syscall: bool, fast_ipc: bool, wait: int, threads: int, group: str
) -> Case:
    pinned = {
        "cpus": cpus,
        "fastpath_syscall": fast_syscall,
        "fastpath_ipc": fast_ipc,
        "wait_factor": wait,
        "threads": threads,
    }
    if group == "cpus":  # one worker per CPU
        pinned.update(threads=1, threads_per_cpu=1)
    return Case(
        group,
        "syscall_bench.toml",
        tuple(pinned.items()),
        6_000,
        cpus,
        {"scenario": "syscall_bench", **pinned},
    )


def matrix() -> list[Case]:
    """The configurations users run: every workload of the paper, each fastpath on and off."""
    cases = [
        _syscall(2, fast_syscall, fast_ipc, wait, threads, "syscall_bench")
        for fast_syscall in (True, False)
        for fast_ipc in (False, True)
        for wait in (10, 100, 10_000)
        for threads in (1, 2, 8)
    ]
    for clients in (1, 4):
        for fast_ipc in (True, False):
            pinned = {"clients": clients, "fastpath_ipc": fast_ipc, "wait_factor": 100}
            cases.append(
                Case(
                    "ipc_bench",
                    "ipc_bench.toml",
                    tuple(pinned.items()),
                    12_000,
                    label={"scenario": "ipc_bench", **pinned},
                )
            )
    for fast_syscall in (True, False):
        for fast_ipc in (True, False):
            pinned = {"fastpath_syscall": fast_syscall, "fastpath_ipc": fast_ipc}
            cases.append(
                Case(
                    "linux",
                    "linux.toml",
                    tuple(pinned.items()),
                    4_000,
                    label={"scenario": "linux", **pinned},
                )
            )
    cases += [
        _syscall(cpus, True, fast_ipc, wait, 1, "cpus")
        for fast_ipc in (False, True)
        for wait in (100, 10_000)
        for cpus in (2, 16, 64)
    ]
    return cases


def l4sim_run(case: Case, events: int) -> tuple[int, float, float]:
    """(recorded kernel entries, CPU seconds, wall seconds) of one ``l4sim run``."""
    with tempfile.TemporaryDirectory(prefix="l4sim-bench-") as out:
        args = case.args(events, out)
        wall, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            code = l4sim_main(args)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if code:
            raise RuntimeError(f"l4sim {' '.join(args)} exited with status {code}")
        entries = pq.ParquetFile(Path(out) / "events.parquet").metadata.num_rows
    return entries, cpu, wall


def warm_up() -> None:
    """Load every module a run needs, so that no case pays for the imports."""
    for case in matrix()[:1]:
        l4sim_run(case, 200)


def measure(cases: list[Case], repeats: int, bare_rate, log=print) -> list[dict]:
    """Each case's end-to-end rate and ratio, interleaved with the bare loop, ``repeats`` times.

    ``bare_rate()`` is the bare loop's lock cycles per CPU second.
    """
    warm_up()
    samples: dict[Case, list[tuple[float, float, float]]] = {case: [] for case in cases}
    for repeat in range(repeats):
        for case in cases:
            bare = bare_rate()
            long_entries, long_cpu, long_wall = l4sim_run(case, case.events)
            short_entries, short_cpu, short_wall = l4sim_run(
                case, max(1, case.events // SHORT_FRACTION)
            )
            entries = long_entries - short_entries
            cpu_us = (long_cpu - short_cpu) * 1e6 / entries
            rate = 1e6 / cpu_us
            samples[case].append((rate / bare, cpu_us, (long_wall - short_wall) * 1e6 / entries))
        log(f"  repeat {repeat + 1}/{repeats} done")
    rows = []
    for case, values in samples.items():
        rows.append(
            {
                **case.label,
                "group": case.group,
                "long_events": case.events,
                "ratio": round(statistics.median(v[0] for v in values), 3),
                "cpu_us_per_entry": round(statistics.median(v[1] for v in values), 2),
                "wall_us_per_entry": round(statistics.median(v[2] for v in values), 2),
                "ratios": [round(v[0], 3) for v in values],
            }
        )
    return rows


def cpu_scaling(rows: list[dict]) -> list[dict]:
    """Cost per entry on 64 CPUs over that on 2, for every case the matrix has both of.

    ``ratio_64_to_2`` is the quotient of the two cases' costs in bare-loop
    cycles (each case's CPU time per entry times the rate of the bare loop
    timed just before it), repeat by repeat, then the median: the machine's
    speed, which drifts between the two cases' runs on a shared machine,
    cancels as it does in every other figure of the benchmark.
    ``cpu_time_ratio_64_to_2`` is the plain quotient of the two cases' median
    CPU times per entry, shown beside it.
    """
    by_key: dict = {}
    for row in rows:
        if row["group"] != "cpus":
            continue
        key = tuple(
            (k, v)
            for k, v in row.items()
            if k in ("fastpath_syscall", "fastpath_ipc", "wait_factor")
        )
        by_key.setdefault(key, {})[row["cpus"]] = row
    scaling = []
    for key, by_cpus in by_key.items():
        if 2 not in by_cpus or 64 not in by_cpus:
            continue
        two, many = by_cpus[2], by_cpus[64]
        per_repeat = [few / lots for few, lots in zip(two["ratios"], many["ratios"], strict=True)]
        scaling.append(
            {
                **dict(key),
                "us_per_entry_2": two["cpu_us_per_entry"],
                "us_per_entry_16": by_cpus[16]["cpu_us_per_entry"] if 16 in by_cpus else None,
                "us_per_entry_64": many["cpu_us_per_entry"],
                "ratio_64_to_2": round(statistics.median(per_repeat), 2),
                "cpu_time_ratio_64_to_2": round(
                    many["cpu_us_per_entry"] / two["cpu_us_per_entry"], 2
                ),
            }
        )
    return scaling


def describe(row: dict) -> str:
    """A case in a few words, for the printed matrix."""
    skip = {
        "scenario",
        "group",
        "long_events",
        "ratio",
        "cpu_us_per_entry",
        "wall_us_per_entry",
        "ratios",
    }
    words = []
    for key, value in row.items():
        if key in skip:
            continue
        if isinstance(value, bool):
            words.append(f"{key.removeprefix('fastpath_')}fp={'on' if value else 'off'}")
        else:
            words.append(f"{key}={value}")
    return f"{row['scenario']} " + " ".join(words)
