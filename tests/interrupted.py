"""A real command killed mid-sweep (``kill -9``), for the tests that it resumes."""

import os
import signal
import subprocess
import time
from pathlib import Path


def kill_after_cached_runs(
    command: list[str], out: Path, cwd: Path, runs: int, timeout: float
) -> int:
    """Start ``command``, ``kill -9`` it once ``out`` holds ``runs`` cached runs.

    Returns how many it had filed by then (no more runs are filed after the kill).
    """
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while len(list(out.glob("cache/*/*.parquet"))) < runs:
        assert process.poll() is None, "the command ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return len(list(out.glob("cache/*/*.parquet")))
