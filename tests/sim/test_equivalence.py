"""Fastpath/slowpath equivalence (the analogue of the paper's LTP criterion).

Random small workloads (hypothesis) run with the fastpaths on and off, under
the invariant checker, and so do the benchmarks: per receiver and per
sender, the messages seen must agree (:func:`tests.behaviour.assert_same_behaviour`),
with the paper's check lists, any valid order of them, and a fastpath variant.
"""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4sim.simulation.simulate import simulate
from l4sim.sweep.fastpath_designs import resolve_design
from l4sim.sweep.scenario import point_from_dict

from ..behaviour import assert_same_behaviour
from ..helpers import kernel, machine, run_machine, server, worker

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
        return (
            f"Workload({self.cpus} cpus, {self.workers} workers with priorities "
            f"{list(self.worker_priorities)}, {handlers} at priority "
            f"{self.handler_priority}, waits 0..{self.wait} cycles, seed {self.seed})"
        )

    def run(
        self,
        fastpath: bool,
        variant: str = "smp",
        events: int = 120,
        order: dict | None = None,
        fastpath_ipc: bool = False,
        fastpaths: dict | None = None,
        **design,
    ) -> dict:
        """``design``: ``design`` and ``proven_immutable``, as for the kernel."""
        k = kernel(
            self.cpus,
            fastpath_syscall=fastpath,
            fastpath_variant=variant,
            order=order,
            fastpath_ipc=fastpath_ipc,
            fastpaths=fastpaths,
            **design,
        )
        count = 1 if self.shared_handler else self.cpus
        handlers = [
            k.create_thread(f"h{c}", c, self.handler_priority, k.create_space(f"s{c}"))
            for c in range(count)
        ]
        programs = {h: server() for h in handlers}
        streams = np.random.SeedSequence(self.seed).spawn(self.workers)
        for index in range(self.workers):
            cpu = index % self.cpus
            w = k.create_thread(
                f"w{index}",
                cpu,
                self.worker_priorities[index],
                k.create_space(f"t{index}"),
                handler=handlers[cpu % count],
            )
            programs[w] = worker(np.random.default_rng(streams[index]), self.wait)
        m = machine(k, programs, events, seed=self.seed)
        run_machine(m)
        return m.observations


def workloads(cpus=None):
    cpus = cpus if cpus is not None else st.integers(1, 3)
    return st.builds(
        lambda cpus, workers, shared, hprio, prios, wait, seed: Workload(
            cpus, workers, shared, hprio, tuple(prios[:workers]), wait, seed
        ),
        cpus,
        st.integers(1, 5),
        st.booleans(),
        st.sampled_from([200, 50]),
        st.lists(st.sampled_from([100, 150]), min_size=5, max_size=5),
        st.sampled_from([0, 50, 500, 5000]),
        st.integers(0, 2**16),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_fastpath_on_and_off_are_indistinguishable(workload):
    RUNS["examples"] += 1
    fast, slow = workload.run(True), workload.run(False)
    assert_same_behaviour(fast, slow)
    assert sum(map(len, fast.values())) > 0


def orders(checks, root: str):
    """Random check orders that keep the data dependencies (``root`` before its users)."""
    names = [check.name for check in checks]
    return st.permutations(names).map(lambda o: _root_first_needed(list(o), root))


def _root_first_needed(order: list, root: str) -> list:
    """Move ``root`` just before the first check that needs it, if it comes later."""
    from l4sim.kernel.checks import reorder
    from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    checks = {c.name: c for c in (*SYSCALL_EXCEPTION_CHECKS, *IPC_CHECKS)}
    order.remove(root)
    first = next((i for i, name in enumerate(order) if root in checks[name].needs), len(order))
    order.insert(first, root)
    reorder(tuple(checks[name] for name in order), order)  # raises if still invalid
    return order


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), st.data())
def test_any_check_order_keeps_the_behaviour(workload, data):
    """The equivalence holds with a reordered check list (both fastpaths on)."""
    from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    RUNS["examples"] += 1
    order = {
        "syscall_exception": data.draw(orders(SYSCALL_EXCEPTION_CHECKS, "handler_present")),
        "ipc": data.draw(orders(IPC_CHECKS, "valid_destination")),
    }
    fast = workload.run(True, order=order, fastpath_ipc=True)
    slow = workload.run(False)
    assert_same_behaviour(fast, slow)
    assert sum(map(len, fast.values())) > 0


def _variant():
    """A fastpath variant: each list in an order of its own, the IPC one with an extra check."""
    from l4sim.kernel.checks import Check, Stage
    from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    extra = Check(
        "payload_is_short",
        Stage.LOCK_FREE,
        "check_load_compare",
        lambda c: len(c.op.payload) <= 3,
        "a check of the user's own",
    )
    handler_first = sorted(SYSCALL_EXCEPTION_CHECKS, key=lambda c: c.name != "handler_present")
    return {
        "syscall_exception": tuple(handler_first),
        "ipc": (
            extra,
            *reversed([c for c in IPC_CHECKS if c.stage == Stage.LOCK_FREE]),
            *[c for c in IPC_CHECKS if c.stage != Stage.LOCK_FREE],
        ),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_a_fastpath_variant_keeps_the_behaviour(workload):
    """The property holds, unchanged, for a user's own check lists (fastpath_checks)."""
    RUNS["examples"] += 1
    fast = workload.run(True, fastpaths=_variant(), fastpath_ipc=True)
    assert_same_behaviour(fast, workload.run(False))
    assert sum(map(len, fast.values())) > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_sel4s_fastpath_keeps_the_behaviour(workload):
    """The built-in variant of seL4's checks keeps the behaviour.

    Replies to a syscall exception (a fault reply in seL4's terms) fall back to
    the slowpath.
    """
    from l4sim.workloads.fastpath_variants import load_fastpath_variant

    RUNS["examples"] += 1
    fast = workload.run(True, fastpaths=load_fastpath_variant("sel4"), fastpath_ipc=True)
    assert_same_behaviour(fast, workload.run(False))
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
        assert_same_behaviour(fast, slow)
    assert assert_same_behaviour(fast, {"h0": fast["h0"][:1]}) == 1  # a prefix is fine


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
            assert_same_behaviour(workload.run(True, events=8), workload.run(False, events=8))
        except AssertionError:
            return True
        return False

    smallest = find(
        workloads(), differs, settings=settings(max_examples=100, deadline=None, database=None)
    )
    assert repr(smallest).startswith("Workload(1 cpus, 1 workers")
    with pytest.raises(AssertionError, match="h0 from w0: message 1"):
        assert_same_behaviour(smallest.run(True), smallest.run(False))


@pytest.mark.parametrize(
    "workload",
    [
        {"workload": "syscall_bench", "threads": 5, "wait_factor": 30.0},
        {"workload": "ipc_bench", "clients": 1, "wait_factor": 100.0},
        {"workload": "ipc_bench", "clients": 4, "wait_factor": 10.0},
        {"workload": "ipc_bench", "clients": 5, "wait_factor": 1000.0, "cpus": 3},
    ],
)
def test_benchmarks_with_fastpaths_on_and_off_deliver_the_same_messages(workload):
    base = {**workload, "events": 500, "warmup_events": 50}
    on = simulate(
        point_from_dict({**base, "fastpath_syscall": True, "fastpath_ipc": True}), 0, observe=True
    )
    off = simulate(
        point_from_dict({**base, "fastpath_syscall": False, "fastpath_ipc": False}), 0, observe=True
    )
    assert (on.events["path"] == "fast").any() and not (off.events["path"] == "fast").any()
    assert assert_same_behaviour(on.observations, off.observations) > 0


@pytest.mark.parametrize(
    "workload",
    [
        {"workload": "ipc_bench", "clients": 4, "wait_factor": 10.0, "fastpath_ipc": True},
        {"workload": "ipc_bench", "clients": 1, "wait_factor": 1000.0, "fastpath_ipc": True},
        {"workload": "ipc_bench", "clients": 3, "wait_factor": 1000.0, "fastpath_ipc": True},
    ],
)
def test_optimized_order_keeps_observable_behaviour(tmp_path, workload):
    paper = point_from_dict({**workload, "events": 600, "warmup_events": 50})
    order = {
        "ipc": [
            "no_sender_queued",
            "valid_destination",
            "destination_on_this_cpu",
            "destination_waiting",
            "simple_message",
            "call_or_reply_wait",
            "priority_and_domain",
            "destination_partner",
            "no_pending_notification",
            "valid_space",
        ]
    }
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    reordered = paper.model_copy(update={"check_order": "optimized", "check_order_file": str(path)})
    first = simulate(paper, 0, observe=True)
    second = simulate(reordered, 0, observe=True, resolution=resolve_design(reordered))
    if workload["clients"] == 1:  # no contention: the reordered fastpath is taken
        assert (second.events["path"] == "fast").mean() > 0.9
    assert assert_same_behaviour(first.observations, second.observations) > 0
