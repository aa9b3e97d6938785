"""Synthetic sel4bench-results files, written by the tests (no real data needed).

A run's figures come from chosen "true" parameters: the 1-core SMP benchmark
rate at delay d is ``clock / (2 spin(d) + loop + call + reply)``, as on the
board, where ``spin(d)`` is the mean spin of the run's sel4bench version
(exponential before 1fb8af24, deterministic from it) and 0 where the delay
did not work.

:func:`board` writes a whole board's folder as sel4bench-results publishes
it: two SMP builds (32- and 64-bit) with their uniprocessor partners, and the
builds a calibration leaves aside (MCS, fastpath off, no kernel stack
switch), with runs of every kind.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

SMP_FILE = "BOARD_SMP_32.jsonl"
UP_FILE = "BOARD_32.jsonl"
EXPONENTIAL_BENCH = "05b75695"  # sel4bench versions of the 2026 series
DETERMINISTIC_BENCH = "1fb8af24"
INTERMEDIATE_BENCH = "d2ba9fa8"


@dataclass(frozen=True)
class Truth:
    """The parameters a synthetic run is made from."""

    clock: float = 990e6
    call: float = 440.0  # one-way Call, SMP build, cycles
    reply: float = 500.0  # one-way ReplyRecv, SMP build
    null: float = 110.0  # null syscall, uniprocessor build
    loop: float = 400.0  # the benchmark's own user code per round
    bench: str = EXPONENTIAL_BENCH  # sha_bench
    delay_works: bool = True

    def spin(self, delay: int) -> float:
        if not self.delay_works:
            return 0.0
        if self.bench == DETERMINISTIC_BENCH:
            return float(delay)
        return 1 / math.expm1(1 / delay)  # the mean of floor(delay x E), E exponential

    def rate(self, delay: int) -> float:
        return self.clock / (2 * self.spin(delay) + self.loop + self.call + self.reply)


def figure(mean: float, n: int = 16) -> list[float]:
    return [mean, mean, mean, mean, mean, mean, 0.0, n]


def records(
    run_id: int, day: int, truth: Truth, four_core: dict[int, float] | None = None, month: int = 3
) -> tuple[dict, dict]:
    """The SMP build's record and the uniprocessor build's record of one run."""
    head = {
        "ts": f"2026-{month:02d}-{day:02d}T10:00:00Z",
        "sha": f"m{run_id:07x}",
        "sha_kernel": f"k{run_id:07x}",
        "sha_bench": truth.bench,
        "run_id": run_id,
    }
    smp = {
        **head,
        "ipc_call": figure(truth.call + 1),
        "ipc_reply": figure(truth.reply + 2),
        "ipc_call_intra": figure(truth.call),
        "ipc_reply_intra": figure(truth.reply),
        "smp_1core_c500": figure(truth.rate(500), 5),
        "smp_1core_c32000": figure(truth.rate(32000), 5),
    }
    for delay, rate in (four_core or {}).items():
        smp[f"smp_4core_c{delay}"] = figure(rate, 5)
    up = {**head, "null_syscall": figure(truth.null), "ipc_call": figure(truth.call - 90)}
    return smp, up


def write(
    folder: Path, runs: list[tuple[dict, dict]], smp: str = SMP_FILE, up: str = UP_FILE
) -> Path:
    """Write the runs' two files into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, index in ((smp, 0), (up, 1)):
        (folder / name).write_text("".join(json.dumps(run[index]) + "\n" for run in runs))
    return folder


@dataclass(frozen=True)
class Kind:
    """One run of the synthetic board: when, what kind, and what its 4-core figures are."""

    run_id: int
    month: int
    day: int
    truth: Truth
    four_core: bool  # has 4-core figures (else: withheld)
    pairs: int = 4  # pairs that made progress (fewer: the partial-progress anomaly)


def board_runs(base: Truth = Truth()) -> list[Kind]:
    """Runs of every kind: working and broken delays, both versions, the anomalies."""
    broken = replace(base, delay_works=False, loop=base.loop + 60)  # no overhead subtracted
    return [
        Kind(201, 1, 10, base, True),
        Kind(202, 1, 20, broken, True),
        Kind(203, 2, 1, replace(base, loop=base.loop + 4), True),
        Kind(204, 2, 10, replace(broken, loop=broken.loop + 3), True),
        Kind(205, 2, 20, base, True, pairs=3),  # partial progress
        Kind(206, 3, 1, replace(base, loop=base.loop + 2), True),
        Kind(207, 5, 10, replace(broken, call=base.call + 30, reply=base.reply + 20), False),
        Kind(
            208,
            6,
            16,
            replace(base, bench=INTERMEDIATE_BENCH, call=base.call + 30, reply=base.reply + 20),
            False,
        ),
        Kind(
            209,
            6,
            26,
            replace(
                base,
                bench=DETERMINISTIC_BENCH,
                loop=base.loop - 120,
                call=base.call + 30,
                reply=base.reply + 20,
            ),
            False,
        ),
    ]


LEFT_ASIDE = (
    "BOARD_MCS_64.jsonl",
    "BOARD_64_nofastpath.jsonl",
    "BOARD_64_noksw.jsonl",
    "BOARD_MCS_32.jsonl",
)


def board(folder: Path, four_core, builds: dict[str, Truth] | None = None) -> Path:
    """A board's folder as published: SMP_32 and SMP_64 with their partners, and the rest.

    ``four_core(kind, bits)`` gives a run's 4-core figures {delay: rate}
    (the tests make them with the model).
    """
    builds = builds or {
        "32": Truth(),
        "64": Truth(clock=1.2e9, call=400, reply=420, null=130, loop=450),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for bits, base in builds.items():
        runs = []
        for kind in board_runs(base):
            four = four_core(kind, bits) if kind.four_core else None
            runs.append(records(kind.run_id, kind.day, kind.truth, four, kind.month))
        write(folder, runs, f"BOARD_SMP_{bits}.jsonl", f"BOARD_{bits}.jsonl")
    for name in LEFT_ASIDE:  # read by nobody: their content only needs the format
        (folder / name).write_text(json.dumps(records(201, 10, Truth(), month=1)[1]) + "\n")
    return folder
