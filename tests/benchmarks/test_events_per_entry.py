"""SimPy events per kernel entry: the counts the engine's event-free hand-offs keep down.

Event counts do not depend on the machine (nor on whether the hot modules
are compiled): they are tested, with some room, so that a change that makes
the engine stop the clock where it need not shows here.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import events_per_entry


@pytest.mark.parametrize(
    ("name", "at_most"),
    [
        ("ipc_bench clients=4 ipcfp=on wait_factor=100", 3.9),
        (
            "syscall_bench cpus=64 syscallfp=on ipcfp=off wait_factor=100 "
            "threads=1 threads_per_cpu=1",
            3.1,
        ),
        ("syscall_bench cpus=2 syscallfp=on ipcfp=off wait_factor=100 threads=2", 1.2),
    ],
)
def test_events_per_kernel_entry(name, at_most, monkeypatch):
    # as users run it: the invariant checker (which the tests turn on) stops the
    # clock before every access it checks
    monkeypatch.delenv("L4SIM_CHECK_INVARIANTS")
    case = events_per_entry.case_named(name)
    assert case is not None
    count = events_per_entry.events_per_entry(case, long_events=1500, short_events=500)
    assert 0.5 < count <= at_most
