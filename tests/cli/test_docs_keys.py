"""The reference lists every scenario key, cost and command, from the code.

The tables of ``docs/reference/`` are made when the docs are built
(``docs/_ext/l4sim_reference.py``, sphinx-argparse): these tests hold that
every name has a meaning where the tables read it, and that every model,
workload and command has its table.
"""

import argparse
import re
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from l4sim.cli import _parser
from l4sim.kernel.costs import COST_KEYS, Costs
from l4sim.workloads.base import Point
from l4sim.workloads.registry import BUILTIN, find_workload

REFERENCE = Path(__file__).parents[2] / "docs" / "reference"
sys.path.insert(0, str(REFERENCE.parent / "_ext"))

from l4sim_reference import attribute_doc, costs_table, keys_table, toml_value  # noqa: E402

MODELS = [Point, *(find_workload(name).Params for name in BUILTIN)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__module__)
def test_every_key_has_its_meaning_below_it(model):
    for name in model.model_fields:
        assert attribute_doc(model, name), f"{model.__module__}.{name}: no docstring"


def test_every_workload_and_the_common_keys_have_a_table():
    page = (REFERENCE / "scenarios.md").read_text()
    tables = re.findall(r"^```\{l4sim-keys\} (\S+)", page, flags=re.MULTILINE)
    expected = ["l4sim.workloads.base.Point"]
    expected += [f"{find_workload(name).Params.__module__}.Params" for name in BUILTIN]
    assert sorted(tables) == sorted(expected)


def test_the_common_keys_table_gives_each_default_as_a_scenario_writes_it():
    rows = {
        row.split("|")[1].strip().strip("`"): row.split("|")[3].strip()
        for row in keys_table(Point)[2:]
    }
    assert set(rows) == set(Point.model_fields)
    assert rows["lock"] == '`"ticket"`' and rows["fastpath_ipc"] == "`false`"
    assert rows["events"] == "`3000`" and rows["costs"] == "`{}`" and rows["name"] == "-"
    assert toml_value(10_000_000) == "10_000_000" and toml_value(2e6) == "2_000_000.0"


def test_a_workload_table_shows_its_own_keys_and_the_defaults_it_changes():
    model = find_workload("sel4bench_smp").Params
    keys = [row.split("|")[1].strip().strip("`") for row in keys_table(model, own=True)[2:]]
    assert "delay_cycles" in keys and "kernel_lock" in keys  # changed default: big
    assert "workload" not in keys and "events" not in keys


def test_every_cost_has_its_meaning_and_a_row():
    for name in COST_KEYS:
        assert attribute_doc(Costs, name), f"Costs.{name}: no docstring"
    rows = costs_table()[2:]
    assert [row.split("|")[1].strip().strip("`") for row in rows] == list(COST_KEYS)
    optional = [f.name for f in fields(Costs) if f.default == 0]
    assert all("Optional" in row for row in rows if row.split("`")[1] in optional)
    assert "{l4sim-costs}" in (REFERENCE / "costs.md").read_text()


def test_every_command_has_its_section_and_every_option_its_help():
    page = (REFERENCE / "commands.md").read_text()
    documented = re.findall(r"^:path: (\w+)$", page, flags=re.MULTILINE)
    commands = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    assert sorted(documented) == sorted(commands.choices)
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"l4sim {name} {action.option_strings or action.dest}: no help"
