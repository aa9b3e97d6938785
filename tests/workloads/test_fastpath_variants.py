"""Fastpath variants: a user's own check lists, run, checked and optimised like the paper's."""

import shutil
from pathlib import Path

import pytest

from l4sim.kernel.state import PAPER_FASTPATHS
from l4sim.sim.invariants import InvariantViolation
from l4sim.simulation.simulate import simulate
from l4sim.sweep.fastpath_designs import resolve_design
from l4sim.sweep.scenario import ScenarioError, point_from_dict
from l4sim.workloads.fastpath_variants import load_fastpath_variant

from ..helpers import machine, run_machine, shared_handler

EXAMPLE = Path(__file__).parents[2] / "examples" / "producer_consumer"

UNSAFE = """
from l4sim.kernel.exception_checks import SYSCALL_EXCEPTION_CHECKS
# the uniprocessor-era mistake: no check that the handler lives on this CPU
FASTPATH_CHECKS = {"syscall_exception": tuple(
    c for c in SYSCALL_EXCEPTION_CHECKS if c.name != "handler_on_this_cpu")}
"""

STRICT = """
from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.ipc_checks import IPC_CHECKS
# an extra lock-free check that fails for every Call with a payload
FASTPATH_CHECKS = {"ipc": (Check("no_payload", Stage.LOCK_FREE, "check_load_compare",
                                 lambda c: not c.op.payload, "no payload at all"),
                           *IPC_CHECKS)}
"""


@pytest.fixture
def variant(tmp_path):
    def write(text: str, name: str = "variant.py") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_the_example_variant_replaces_only_the_ipc_list():
    lists = load_fastpath_variant(EXAMPLE / "my_fastpath.py")
    assert set(lists) == {"ipc"}
    names = [check.name for check in lists["ipc"]]
    assert names[0] == "short_message"
    assert sorted(names[1:]) == sorted(check.name for check in PAPER_FASTPATHS["ipc"])


def test_the_kernel_runs_the_variants_checks(variant):
    point = point_from_dict(
        {
            "workload": "ipc_bench",
            "fastpath_ipc": True,
            "events": 300,
            "fastpath_checks": str(variant(STRICT)),
        }
    )
    result = simulate(point, 0)
    calls = result.events[result.events["thread_name"].str.startswith("client")]
    assert (calls["exit_point"] == "no_payload").all()  # every Call carries its number
    paper = simulate(point.model_copy(update={"fastpath_checks": ""}), 0)
    assert "no_payload" not in set(paper.events["exit_point"])


def test_the_invariant_checker_catches_an_unsafe_variant(variant):
    lists = load_fastpath_variant(variant(UNSAFE))
    k, programs = shared_handler(cpus=2, workers=2, fastpaths=lists)
    with pytest.raises(InvariantViolation) as caught:
        run_machine(machine(k, programs, 500))
    assert caught.value.check == "one-cpu"


def test_the_order_optimizer_orders_the_variants_checks(variant):
    point = point_from_dict(
        {
            "workload": "ipc_bench",
            "fastpath_ipc": True,
            "clients": 4,
            "wait_factor": 10.0,
            "events": 300,
            "check_order": "optimized",
            "fastpath_checks": str(variant(STRICT)),
        }
    )
    resolution = resolve_design(point)
    order = resolution.order
    names = sorted(check.name for check in load_fastpath_variant(point.fastpath_checks)["ipc"])
    assert sorted(order["ipc"]) == names and "no_payload" in order["ipc"]
    # the check that always fails, lock-free and cheapest, runs first
    assert order["ipc"][0] == "no_payload"
    simulate(point, 0, invariants=True, resolution=resolution)  # and it runs clean


def test_a_variant_is_read_again_when_its_file_changes(tmp_path):
    path = tmp_path / "v.py"
    shutil.copy(EXAMPLE / "my_fastpath.py", path)
    first = load_fastpath_variant(path)["ipc"][0].name
    path.write_text(path.read_text().replace('"short_message"', '"tiny_message"'))
    assert first == "short_message" and load_fastpath_variant(path)["ipc"][0].name == "tiny_message"


def test_an_order_file_must_name_the_variants_checks(variant, tmp_path):
    order = tmp_path / "order.json"
    order.write_text('{"ipc": ["simple_message"]}')
    with pytest.raises(ScenarioError, match=r"check_order_file.*each check once"):
        point_from_dict(
            {
                "workload": "ipc_bench",
                "check_order": "optimized",
                "check_order_file": str(order),
                "fastpath_checks": str(variant(STRICT)),
            }
        )
