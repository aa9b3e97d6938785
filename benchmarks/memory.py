"""Memory of one long run: peak resident memory per recorded kernel entry, plus a constant.

Two runs of ``l4sim run`` (syscall benchmark, 2 CPUs, 2 threads, syscall
fastpath on, wait factor 100, one replication: a single run each), a short
and a long one, each in its own process; a process's peak resident set size
comes from the kernel (``os.wait4``, what ``/usr/bin/time -v`` reports as
"Maximum resident set size"). The line through the two points gives the bytes
per recorded entry (a row of ``events.parquet``) and the constant (the
interpreter, the libraries, everything that does not grow with the run).
Peak memory does not depend on the machine's load, unlike time.

Run: ``.venv/bin/python benchmarks/memory.py [--rows SHORT,LONG]`` (default
1,000,000 and 4,000,000 recorded entries; the target is checked on the
slope: under 150 bytes per entry). Writes ``results/bench_memory.json``;
exit status 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parents[1]
TARGET_BYTES_PER_ENTRY = 150
ENTRIES_PER_EVENT = 2  # each measured syscall exception, and its handler's reply


def peak_of_run(rows: int, out: Path) -> tuple[int, int, int]:
    """(recorded entries, peak resident bytes, events.parquet bytes) of one run."""
    events = max(1, rows // ENTRIES_PER_EVENT)
    command = [
        sys.executable,
        "-m",
        "l4sim.cli",
        "run",
        str(HERE / "scenarios/syscall_bench.toml"),
        "--out",
        str(out),
        "--quiet",
        "--jobs",
        "1",
        "--set",
        "replications=1",
        "--set",
        "threads=2",
        "--set",
        "wait_factor=100",
        "--set",
        "fastpath_syscall=true",
        "--set",
        f"events={events}",
    ]
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"l4sim run exited with status {process.returncode}")
    table = out / "events.parquet"
    recorded = pq.ParquetFile(table).metadata.num_rows
    return recorded, usage.ru_maxrss * 1024, table.stat().st_size  # ru_maxrss is in KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        default="1000000,4000000",
        help="recorded entries of the short and the long run (SHORT,LONG)",
    )
    args = parser.parse_args()
    try:
        short, long = (int(value) for value in args.rows.split(","))
    except ValueError:
        parser.error(f"--rows {args.rows!r}: two whole numbers, SHORT,LONG")
    if not 0 < short < long:
        parser.error(f"--rows {args.rows!r}: SHORT must be positive and below LONG")
    with tempfile.TemporaryDirectory(prefix="l4sim-memory-") as work:
        points = [peak_of_run(rows, Path(work) / str(rows)) for rows in (short, long)]
    (rows_1, peak_1, _), (rows_2, peak_2, parquet_2) = points
    per_entry = (peak_2 - peak_1) / (rows_2 - rows_1)
    constant = peak_1 - per_entry * rows_1
    print("peak resident memory of one run (syscall_bench, 2 CPUs, 2 threads):")
    for rows, peak, _ in points:
        print(f"  {rows:>12,} recorded entries: {peak / 2**20:8.0f} MiB")
    print(
        f"  {per_entry:.0f} bytes per recorded entry + {constant / 2**20:.0f} MiB; "
        f"events.parquet {parquet_2 / rows_2:.1f} bytes per entry"
    )
    met = per_entry < TARGET_BYTES_PER_ENTRY
    print(f"{'meets' if met else 'MISSES'}: under {TARGET_BYTES_PER_ENTRY} bytes per entry")
    out = HERE / "results" / "bench_memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "runs": [
                    {"recorded_entries": rows, "peak_bytes": peak, "events_parquet_bytes": size}
                    for rows, peak, size in points
                ],
                "bytes_per_entry": round(per_entry, 1),
                "constant_bytes": round(constant),
                "target_bytes_per_entry": TARGET_BYTES_PER_ENTRY,
                "met": met,
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(HERE)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
