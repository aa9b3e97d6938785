"""How long a sweep will take and how much memory and disk it needs, before it runs.

The figures are rates measured on a 2-core machine (``make bench``; see
docs/background/speed.md) and the sizes of a run's records, so they are estimates: a
slower machine, a long user loop preempted at every timeslice, or many
interrupts make a run slower. What they are for is refusing, with the
number, a sweep that cannot fit (its largest run needs more memory than the
machine has free, its tables more disk than the output folder's disk has)
and telling a user, before a long wait, how long it will be.
"""

from __future__ import annotations

import importlib.machinery
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from l4sim.workloads.base import Point
from l4sim.workloads.registry import find_workload

# time per simulated kernel entry of a whole sweep (the run, its cache file and its
# share of the tables) on 2 simulated CPUs, measured on a 2-core machine with the
# paper's syscall benchmark (docs/background/speed.md): compiled hot modules, and pure Python
SECONDS_PER_ENTRY = {"compiled": 10e-6, "python": 16e-6}
# two local workers ran that sweep 1.74x as fast as one
PARALLEL_EFFICIENCY = 0.87
# on 64 simulated CPUs an entry costs up to 1.8x (make bench); between, linearly
CPU_COST_GROWTH = 0.8 / 62
# memory: a worker process with the simulator loaded, then each kernel entry a
# run holds (its trace row, then its events table and the record sent back)
PROCESS_BYTES = 250 * 2**20
BYTES_PER_ENTRY = 800
# disk: events.parquet and the cached result, about 9 bytes per entry each
DISK_BYTES_PER_ENTRY = 20


class SizeError(ValueError):
    """A sweep that cannot fit on this machine (one line: what, how much, how much there is)."""


@dataclass
class Estimate:
    """A sweep's runs and kernel entries, and what simulating them will take."""

    runs: int
    entries: int  # kernel entries of every run, warm-up included
    cpu_seconds: float  # on one core
    run_bytes: int  # memory of the largest run's worker
    disk_bytes: int
    # entries of the measured kind every run closes, warm-up included: what a sweep's
    # progress counts
    measured: int = 0

    def wall_seconds(self, workers: int) -> float:
        """With ``workers`` local processes (runs spread evenly; at least the longest run)."""
        workers = max(1, min(workers, self.runs))
        return self.cpu_seconds / (workers * PARALLEL_EFFICIENCY if workers > 1 else 1)

    def describe(self, workers: int) -> str:
        more = (
            f", about {self.entries:,} kernel entries in all"
            if self.entries != self.measured
            else ""
        )
        return (
            f"{self.measured:,} measured kernel entries to simulate (warm-up included{more}): "
            f"{duration(self.wall_seconds(workers))} on {workers} "
            f"core{'s' if workers != 1 else ''}, {size(self.run_bytes)} of memory per "
            f"worker, {size(self.disk_bytes)} on disk"
        )


def estimate(points: list[Point]) -> Estimate:
    """The estimate of simulating every replication of every point."""
    per_entry = SECONDS_PER_ENTRY["compiled" if runs_compiled() else "python"]
    runs = entries = measured = largest = 0
    seconds = 0.0
    for point in points:
        workload = find_workload(point.workload)
        count = workload.kernel_entries(point)
        runs += point.replications
        entries += point.replications * count
        measured += point.replications * workload.measured_entries(point)
        seconds += (
            point.replications * count * per_entry * (1 + CPU_COST_GROWTH * max(0, point.cpus - 2))
        )
        largest = max(largest, count)
    return Estimate(
        runs,
        entries,
        seconds,
        PROCESS_BYTES + BYTES_PER_ENTRY * largest,
        DISK_BYTES_PER_ENTRY * entries,
        measured,
    )


def check_fits(estimate: Estimate, out_dir: Path, workers: int) -> None:
    """Raise :class:`SizeError` if the sweep cannot fit in this machine's memory or disk."""
    free = available_memory()
    workers = max(1, min(workers, estimate.runs))
    needed = estimate.run_bytes * workers
    if free is not None and needed > free:
        raise SizeError(
            f"its largest run needs about {size(estimate.run_bytes)} of memory "
            f"per worker, {size(needed)} for {workers}, and {size(free)} are free "
            "(lower events or warmup_events, or use fewer --jobs)"
        )
    disk = _existing(out_dir)
    free_disk = shutil.disk_usage(disk).free
    if estimate.disk_bytes > free_disk:
        raise SizeError(
            f"its tables need about {size(estimate.disk_bytes)} on disk and "
            f"{disk} has {size(free_disk)} free"
        )


def _existing(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (the disk it will be on)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return path if path.is_dir() else path.parent


def available_memory() -> int | None:
    """Memory available to new processes (MemAvailable), None where it cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def runs_compiled() -> bool:
    """Whether this process runs the engine from its compiled build."""
    import l4sim.sim.interpreter as interpreter

    loader = getattr(sys.modules[interpreter.__name__], "__loader__", None)
    return isinstance(loader, importlib.machinery.ExtensionFileLoader)


def duration(seconds: float) -> str:
    """A rough duration for a person: 'about 3 s', 'about 4 min', 'about 2.5 h'."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {math.ceil(seconds)} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"about {seconds / 3600:.1f} h"
    return f"about {seconds / 86400:,.0f} days"


def size(count: int) -> str:
    """Bytes for a person: '40 MB', '1.2 GB'."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{count} bytes"
