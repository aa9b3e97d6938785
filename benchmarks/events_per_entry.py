"""SimPy events per kernel entry: how many events the engine queues for each entry it records.

Every event SimPy processes went through its queue once, with an id drawn
from the environment's counter (``Environment._eid``); what the counter has
reached at the end of a run is the number of events the run queued. The
figure of a case is the difference between a long run and a short one (a
third of its events) over the difference in recorded kernel entries, so the
events of start-up cancel out. Threads the engine resumes directly (no
round trip through the queue) do not count: they cost no event.

Each case is run through ``l4sim run`` as ``make bench``'s matrix runs it
(:mod:`end_to_end`), in this process.

Run: ``.venv/bin/python benchmarks/events_per_entry.py [CASE ...]`` (cases
named as ``make bench`` prints them; default: the 4-client IPC benchmark,
the 64-CPU syscall benchmark and the 2-CPU syscall benchmark).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import describe, l4sim_run, matrix

DEFAULT_CASES = (
    "ipc_bench clients=4 ipcfp=on wait_factor=100",
    "syscall_bench cpus=64 syscallfp=on ipcfp=off wait_factor=100 threads=1 threads_per_cpu=1",
    "syscall_bench cpus=2 syscallfp=on ipcfp=off wait_factor=100 threads=2",
)


@contextlib.contextmanager
def recording_environments() -> Iterator[list[simpy.Environment]]:
    """Every SimPy environment made inside the block, in a list."""
    made: list[simpy.Environment] = []
    init = simpy.Environment.__init__

    def recording_init(self: simpy.Environment, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    simpy.Environment.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield made
    finally:
        simpy.Environment.__init__ = init  # type: ignore[method-assign]


def queued_events(case, events: int) -> tuple[int, int]:
    """(recorded kernel entries, SimPy events queued) of one ``l4sim run`` of ``case``."""
    with recording_environments() as made:
        entries = l4sim_run(case, events)[0]
    return entries, sum(next(env._eid) for env in made)  # the ids drawn so far


def events_per_entry(case, long_events: int = 3000, short_events: int = 1000) -> float:
    """Events queued per recorded kernel entry, start-up subtracted."""
    long_entries, long_queued = queued_events(case, long_events)
    short_entries, short_queued = queued_events(case, short_events)
    return (long_queued - short_queued) / (long_entries - short_entries)


def case_named(name: str):
    """The case of the matrix named ``name`` (as ``make bench`` prints it), or None."""
    cases = {describe({**case.label, "group": case.group}): case for case in matrix()}
    return cases.get(name)


def main(names: list[str]) -> int:
    cases = {describe({**case.label, "group": case.group}): case for case in matrix()}
    for name in names or DEFAULT_CASES:
        if name not in cases:
            print(f"no case {name!r} in the matrix; its cases: " + "; ".join(cases))
            return 2
        print(f"{events_per_entry(cases[name]):6.2f} events per entry  {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
