"""Fastpath/slowpath equivalence (the analogue of the paper's LTP criterion), by hypothesis.

Random small workloads run with the syscall fastpath on and off, under the
invariant checker. Per receiver and per sender, the messages seen must agree:
one run's sequence is a prefix of the other's (runs stop after a fixed count
of syscalls, and interleavings across senders legitimately differ).
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .behaviour import by_pair
from .helpers import kernel, machine, run_machine, server, worker

RUNS = {"examples": 0}


@dataclass(frozen=True)
class Workload:
    cpus: int
    workers: int
    shared_handler: bool  # one handler on cpu0 for everyone, else one per CPU
    handler_priority: int
    worker_priorities: tuple
    wait: int
    seed: int

    def __repr__(self) -> str:
        handlers = "one handler on cpu0" if self.shared_handler else "a handler per CPU"
        return (f"Workload({self.cpus} cpus, {self.workers} workers with priorities "
                f"{list(self.worker_priorities)}, {handlers} at priority "
                f"{self.handler_priority}, waits 0..{self.wait} cycles, seed {self.seed})")

    def run(self, fastpath: bool, variant: str = "smp", events: int = 120,
            check_order: dict | None = None, fastpath_ipc: bool = False) -> dict:
        k = kernel(self.cpus, fastpath_syscall=fastpath, fastpath_variant=variant,
                   check_order=check_order, fastpath_ipc=fastpath_ipc)
        count = 1 if self.shared_handler else self.cpus
        handlers = [k.create_thread(f"h{c}", c, self.handler_priority, k.create_space(f"s{c}"))
                    for c in range(count)]
        programs = {h: server() for h in handlers}
        streams = np.random.SeedSequence(self.seed).spawn(self.workers)
        for index in range(self.workers):
            cpu = index % self.cpus
            w = k.create_thread(f"w{index}", cpu, self.worker_priorities[index],
                                k.create_space(f"t{index}"), handler=handlers[cpu % count])
            programs[w] = worker(np.random.default_rng(streams[index]), self.wait)
        m = machine(k, programs, events, seed=self.seed)
        run_machine(m)
        return m.observations


def workloads(cpus=None):
    cpus = cpus if cpus is not None else st.integers(1, 3)
    return st.builds(
        lambda cpus, workers, shared, hprio, prios, wait, seed: Workload(
            cpus, workers, shared, hprio, tuple(prios[:workers]), wait, seed),
        cpus, st.integers(1, 5), st.booleans(), st.sampled_from([200, 50]),
        st.lists(st.sampled_from([100, 150]), min_size=5, max_size=5),
        st.sampled_from([0, 50, 500, 5000]), st.integers(0, 2**16))


def assert_equivalent(fast: dict, slow: dict) -> None:
    """Every (receiver, sender) sequence of one run is a prefix of the other's."""
    a, b = by_pair(fast), by_pair(slow)
    for pair in sorted(set(a) | set(b)):
        x, y = a.get(pair, []), b.get(pair, [])
        shorter = min(len(x), len(y))
        for i in range(shorter):
            assert x[i] == y[i], (f"{pair[0]} from {pair[1]}: message {i + 1} is {x[i]} with "
                                  f"the fastpath, {y[i]} without")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_fastpath_on_and_off_are_indistinguishable(workload):
    RUNS["examples"] += 1
    fast, slow = workload.run(True), workload.run(False)
    assert_equivalent(fast, slow)
    assert sum(map(len, fast.values())) > 0


def orders(checks, root: str):
    """Random check orders that keep the data dependencies (``root`` before its users)."""
    names = [check.name for check in checks]
    return st.permutations(names).map(lambda o: _root_first_needed(list(o), root))


def _root_first_needed(order: list, root: str) -> list:
    """Move ``root`` just before the first check that needs it, if it comes later."""
    from l4sim.kernel.checks import reorder
    from l4sim.kernel.exception_fastpath import SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.ipc_fastpath import IPC_CHECKS

    checks = {c.name: c for c in (*SYSCALL_EXCEPTION_CHECKS, *IPC_CHECKS)}
    order.remove(root)
    first = next((i for i, name in enumerate(order) if root in checks[name].needs), len(order))
    order.insert(first, root)
    reorder(tuple(checks[name] for name in order), order)  # raises if still invalid
    return order


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), st.data())
def test_any_check_order_keeps_the_behaviour(workload, data):
    """Issue 7: the equivalence holds with a reordered check list (both fastpaths on)."""
    from l4sim.kernel.exception_fastpath import SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.ipc_fastpath import IPC_CHECKS

    RUNS["examples"] += 1
    order = {"syscall_exception": data.draw(orders(SYSCALL_EXCEPTION_CHECKS, "handler_present")),
             "ipc": data.draw(orders(IPC_CHECKS, "valid_destination"))}
    fast = workload.run(True, check_order=order, fastpath_ipc=True)
    slow = workload.run(False)
    assert_equivalent(fast, slow)
    assert sum(map(len, fast.values())) > 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads(cpus=st.just(1)))
def test_uniprocessor_fastpath_equals_smp_fastpath_on_one_cpu(workload):
    RUNS["examples"] += 1
    assert workload.run(True, "uniprocessor") == workload.run(True, "smp")


def test_the_comparison_catches_a_reordering():
    fast = {"h0": [("exception", "w0", ("syscall", 1)), ("exception", "w0", ("syscall", 2))]}
    slow = {"h0": [("exception", "w0", ("syscall", 2)), ("exception", "w0", ("syscall", 1))]}
    with pytest.raises(AssertionError, match="h0 from w0: message 1"):
        assert_equivalent(fast, slow)
    assert_equivalent(fast, {"h0": fast["h0"][:1]})  # a prefix is fine


def test_a_broken_fastpath_shrinks_to_a_readable_counterexample(monkeypatch):
    """A fastpath that loses the syscall number: hypothesis finds it and shrinks it small."""
    from hypothesis import find

    from l4sim.kernel import kernel as kernel_module

    original = kernel_module.syscall_exception_fastpath

    def broken(kernel, cpu, current, exception, spent=0):
        exception = type(exception)(exception.kind, ())  # the bug: drops the payload
        return (yield from original(kernel, cpu, current, exception, spent))

    monkeypatch.setattr(kernel_module, "syscall_exception_fastpath", broken)

    def differs(workload):
        try:
            assert_equivalent(workload.run(True, events=8), workload.run(False, events=8))
        except AssertionError:
            return True
        return False

    smallest = find(workloads(), differs, settings=settings(max_examples=100, deadline=None,
                                                              database=None))
    assert repr(smallest).startswith("Workload(1 cpus, 1 workers")
    with pytest.raises(AssertionError, match="h0 from w0: message 1"):
        assert_equivalent(smallest.run(True), smallest.run(False))
