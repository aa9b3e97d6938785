"""The registry of workloads: built in, installed (entry points), or a user's file."""

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import ScenarioError, load_scenario, point_from_dict
from l4sim.workloads import registry
from l4sim.workloads.registry import BUILTIN, WorkloadError, find_workload, known_workloads

EXAMPLE = Path(__file__).parents[2] / "examples" / "producer_consumer"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_built_in_workload_declares_its_keys_and_its_builder(name):
    workload = find_workload(name)
    assert workload.Params.model_fields["workload"].default == name
    assert callable(workload.build) and workload.source is None


@pytest.fixture
def installed(monkeypatch):
    """An installed package's workload, found through an entry point."""
    point = EntryPoint(
        name="echo_bench", value="tests.workloads.echo_workload", group=registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [point] if group == registry.ENTRY_POINT_GROUP else [],
    )
    registry._by_name.cache_clear()
    yield
    registry._by_name.cache_clear()


def test_an_installed_workload_is_found_by_its_entry_point_name(installed):
    assert "echo_bench" in known_workloads()
    point = point_from_dict({"workload": "echo_bench", "gap": 300, "events": 50})
    result = simulate(point, 0)
    assert set(result.events["kind"]) == {"syscall_exception", "ipc"}
    assert (result.events["kind"] == "syscall_exception").sum() >= 50


def test_an_unknown_name_lists_the_known_ones(installed):
    with pytest.raises(WorkloadError, match=r"echo_bench.*or a path to a Python file"):
        find_workload("nope")


def test_a_workload_file_is_relative_to_the_scenario(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLE, tmp_path / "example")
    monkeypatch.chdir(tmp_path)  # anywhere else than the scenario's folder
    scenario = load_scenario(
        tmp_path / "example" / "scenario.toml",
        ["events=100", "replications=1", "sweep.producers=[2]"],
    )
    points = scenario.points()
    assert {p.workload for p in points} == {str(tmp_path / "example" / "producer_consumer.py")}
    result = simulate(points[0], 0)
    assert (result.events["kind"] == "ipc").sum() >= 100
    assert {"producer0", "producer1", "consumer", "sink"} <= set(result.events["thread_name"])


def test_a_workload_file_gives_the_same_streams_wherever_it_lies(tmp_path):
    """Its random streams depend on its keys and its file name, not on its folder."""
    one, two = tmp_path / "one", tmp_path / "two" / "deeper"
    for folder in (one, two):
        shutil.copytree(EXAMPLE, folder)
    points = [
        point_from_dict({"workload": str(folder / "producer_consumer.py"), "events": 200})
        for folder in (one, two)
    ]
    assert points[0].seed_key() == points[1].seed_key()
    first, second = (simulate(p, 0).events for p in points)
    assert first.equals(second)


def test_a_scenario_with_a_broken_workload_file_is_one_line(tmp_path):
    (tmp_path / "w.py").write_text("class Params:\n    pass\n")
    (tmp_path / "s.toml").write_text('workload = "./w.py"\n')
    with pytest.raises(
        ScenarioError,
        match=r"s\.toml: key 'workload': .*w\.py: Params is "
        r"not a subclass of l4sim\.workloads\.Point",
    ):
        load_scenario(tmp_path / "s.toml")
