"""No silent stall: a run whose measured kind makes no progress ends with one line, exit 3."""

from pathlib import Path

import pytest

import l4sim.sim.machine as machine_module

from ..cli.in_process import l4sim

COMPUTES = '''\
"""Its thread only computes: no kernel entry at all."""
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Compute
from l4sim.workloads import Point, Setup


class Params(Point):
    pass


def busy():
    while True:
        yield Compute(1000)


def build(params, costs, seeds, config):
    kernel = Kernel(config, costs)
    thread = kernel.create_thread("busy", 0, 100, kernel.create_space("task"))
    return Setup(kernel, {thread: busy()}, SYSCALL_EXCEPTION, params.warmup_events, params.events)
'''

OTHER_KIND = '''\
"""Its threads make IPC calls, but the run measures system-call exceptions."""
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Call, Compute, ReplyWait, Wait
from l4sim.workloads import Point, Setup


class Params(Point):
    pass


def client(server):
    while True:
        yield Compute(100)
        yield Call(server, (1,))


def server():
    message = yield Wait()
    while True:
        message = yield ReplyWait(message.sender, message.payload)


def build(params, costs, seeds, config):
    kernel = Kernel(config, costs)
    answer = kernel.create_thread("server", 0, 200, kernel.create_space("server"))
    caller = kernel.create_thread("client", 0, 100, kernel.create_space("client"))
    programs = {answer: server(), caller: client(answer)}
    return Setup(kernel, programs, SYSCALL_EXCEPTION, params.warmup_events, params.events)
'''


@pytest.mark.parametrize(
    ("source", "did"), [(COMPUTES, "kernel entries meanwhile: none"), (OTHER_KIND, " ipc)")]
)
def test_a_workload_that_never_makes_a_measured_entry_ends_in_one_line(
    tmp_path: Path, monkeypatch, source: str, did: str
):
    monkeypatch.setattr(machine_module, "STALL_EVENTS", 200_000)
    (tmp_path / "stalls.py").write_text(source)
    (tmp_path / "s.toml").write_text('workload = "./stalls.py"\nevents = 10\ncpus = 1\n')
    done = l4sim("run", "s.toml", "--jobs", "1", "--quiet", "--out", "o", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("l4sim: run failed: no syscall_exception kernel entry closed in ")
    assert "200,000 engine events" in lines[0] and did in lines[0]
    assert "check that the workload's programs make syscall_exception kernel entries" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "stalls.py"]  # nothing kept


def test_the_watch_changes_no_record():
    """Watched every event or never, a run gives the same records (the watch only reads)."""
    from l4sim.simulation.simulate import simulate
    from l4sim.workloads.syscall_bench import Params

    point = Params(name="w", threads=2, events=300, warmup_events=20)
    runs = []
    original = machine_module.WATCH_EVERY
    try:
        for every in (1, 2**62):
            machine_module.WATCH_EVERY = every
            runs.append(simulate(point, 0).events)
    finally:
        machine_module.WATCH_EVERY = original
    assert runs[0].equals(runs[1]) and (runs[0]["kind"] == "syscall_exception").sum() == 300
