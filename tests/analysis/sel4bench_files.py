"""Synthetic sel4bench-results files, written by the tests (no real data needed).

A run's figures come from chosen "true" parameters: the 1-core SMP benchmark
rate at delay d is ``clock / (2 d + loop + call + reply)``, as on the board.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SMP_FILE = "BOARD_SMP_32.jsonl"
UP_FILE = "BOARD_32.jsonl"


@dataclass(frozen=True)
class Truth:
    """The parameters a synthetic run is made from."""

    clock: float = 990e6
    call: float = 440.0  # one-way Call, SMP build, cycles
    reply: float = 500.0  # one-way ReplyRecv, SMP build
    null: float = 110.0  # null syscall, uniprocessor build
    loop: float = 400.0  # the benchmark's own user code per round

    def rate(self, delay: int) -> float:
        return self.clock / (2 * delay + self.loop + self.call + self.reply)


def figure(mean: float, n: int = 16) -> list[float]:
    return [mean, mean, mean, mean, mean, mean, 0.0, n]


def records(
    run_id: int, day: int, truth: Truth, four_core: dict[int, float] | None = None
) -> tuple[dict, dict]:
    """The SMP build's record and the uniprocessor build's record of one run."""
    head = {
        "ts": f"2026-03-{day:02d}T10:00:00Z",
        "sha": f"m{run_id:07x}",
        "sha_kernel": f"k{run_id:07x}",
        "sha_bench": "b0000001",
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


def write(folder: Path, runs: list[tuple[dict, dict]]) -> Path:
    """Write the runs' two files into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, index in ((SMP_FILE, 0), (UP_FILE, 1)):
        (folder / name).write_text("".join(json.dumps(run[index]) + "\n" for run in runs))
    return folder
