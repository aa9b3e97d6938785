"""A small syscall_bench sweep for the tests of what a run writes (a few seconds)."""

from pathlib import Path

ROOT = Path(__file__).parents[2]
SCENARIO = ROOT / "scenarios" / "syscall_bench.toml"


def small_sweep(events: int, warmup_events: int) -> list[str]:
    """``--set`` options for two replications of two points of ``SCENARIO``."""
    values = {
        "events": events,
        "warmup_events": warmup_events,
        "replications": 2,
        "sweep.threads": "[1,2]",
        "sweep.wait_factor": "[10]",
    }
    return [part for key, value in values.items() for part in ("--set", f"{key}={value}")]
