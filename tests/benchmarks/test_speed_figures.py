"""The speed benchmark's derived figures: what they cancel and what they keep.

The benchmark's timings are not tested (they are the machine's), but the
arithmetic that turns them into the figures the targets are judged on is.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import end_to_end


def cpus_row(cpus: int, cpu_us: float, ratios: list[float], wait: int = 100) -> dict:
    return {
        "scenario": "syscall_bench",
        "cpus": cpus,
        "fastpath_syscall": True,
        "fastpath_ipc": False,
        "wait_factor": wait,
        "group": "cpus",
        "cpu_us_per_entry": cpu_us,
        "ratios": ratios,
    }


def test_the_scaling_figure_cancels_the_machine_speed_of_each_repeat():
    # the machine ran twice as fast while the 64-CPU case ran: its CPU time per
    # entry is as low as 2 CPUs', but against the bare loop timed just before
    # each case (the ratios), 64 CPUs cost twice as many bare-loop cycles
    rows = [
        cpus_row(2, 20.0, [0.5, 0.4, 0.6]),
        cpus_row(16, 25.0, [0.4, 0.3, 0.5]),
        cpus_row(64, 20.0, [0.25, 0.2, 0.3]),
    ]
    (row,) = end_to_end.cpu_scaling(rows)
    assert row["ratio_64_to_2"] == pytest.approx(2.0)
    assert row["cpu_time_ratio_64_to_2"] == pytest.approx(1.0)
    assert (row["us_per_entry_2"], row["us_per_entry_16"], row["us_per_entry_64"]) == (20, 25, 20)


def test_the_scaling_figure_is_the_median_over_repeats_and_skips_incomplete_cases():
    rows = [
        cpus_row(2, 10.0, [0.6, 0.6, 0.6]),
        cpus_row(64, 15.0, [0.2, 0.4, 0.5]),
        cpus_row(2, 10.0, [0.5], wait=10_000),  # no 64-CPU case: no figure
        {**cpus_row(64, 30.0, [0.1]), "group": "syscall_bench"},
    ]  # not the CPU group
    (row,) = end_to_end.cpu_scaling(rows)
    assert row["wait_factor"] == 100
    assert row["ratio_64_to_2"] == pytest.approx(1.5)  # median of 3.0, 1.5, 1.2
    assert row["us_per_entry_16"] is None
