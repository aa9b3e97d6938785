"""An interrupted run (SIGTERM, Ctrl-C, kill -9) leaves no worker and no lock behind.

No lock blocks the rerun, which resumes from the runs it kept.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l4sim.sweep.cache import FolderLock

SCENARIO = Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml"
# runs long enough to be interrupted while both workers are busy
LONG = ["--set", "events=400000", "--set", "warmup_events=10", "--set", "replications=4"]


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("stop", "status", "word"),
    [
        (signal.SIGTERM, 128 + signal.SIGTERM, "terminated"),
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGKILL, -signal.SIGKILL, None),
    ],
)
def test_an_interrupted_run_leaves_no_worker_and_no_lock(tmp_path, stop, status, word):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "l4sim.cli", "run", str(SCENARIO), *LONG]
    command += ["--set", "sweep.threads=[1]", "--set", "sweep.wait_factor=[10]"]
    command += ["--set", "sweep.fastpath_syscall=[true]", "--jobs", "2", "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a shell starts a foreground command: Ctrl-C heard (a test runner's
        # worker may ignore it, and a child inherits that)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while len(_children(process.pid)) < 2:  # both workers started (and busy)
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    workers = _children(process.pid)
    os.kill(process.pid, stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    if word is not None:
        assert stderr.strip() == (
            f"l4sim: {word} (finished runs are kept: the same command resumes)"
        ), stderr
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):  # (kill -9: they die with it)
        assert time.monotonic() < deadline, "a worker went on after the run was stopped"
        time.sleep(0.05)
    # no lock blocks the rerun (a rerun resuming is tests/sweep/test_sweep_cache.py's)
    if out.exists():
        with FolderLock(out):
            pass
