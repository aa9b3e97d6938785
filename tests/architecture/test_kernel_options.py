"""Each kernel option has one home: one name and one type in the scenario and the kernel."""

from __future__ import annotations

import typing
from dataclasses import fields

import pytest

from l4sim.kernel.checks import Check
from l4sim.kernel.config import SCENARIO_OPTIONS, KernelConfig
from l4sim.sweep.scenario import point_from_dict
from l4sim.workloads.base import KERNEL_OPTION_KEYS, Point

HINTS = typing.get_type_hints(KernelConfig, localns={"Check": Check})


@pytest.mark.parametrize("option", SCENARIO_OPTIONS)
def test_a_kernel_option_is_a_scenario_key_of_the_same_name_and_type(option):
    assert option in Point.model_fields
    assert Point.model_fields[option].annotation == HINTS[option]


def test_the_resolved_values_have_names_no_scenario_key_has():
    resolved = {f.name for f in fields(KernelConfig)} - set(SCENARIO_OPTIONS)
    assert resolved == {"fastpaths", "order", "design", "proven_immutable"}
    assert not resolved & set(Point.model_fields)


def test_a_points_kernel_configuration_is_built_from_its_keys_by_name():
    point = point_from_dict(
        {"lock": "mcs", "kernel_lock": "big", "cpus": 4, "threads": 4, "check_profile": True}
    )
    config = KernelConfig.from_options(point)
    assert {name: getattr(config, name) for name in SCENARIO_OPTIONS} == {
        name: getattr(point, name) for name in SCENARIO_OPTIONS
    }


def test_the_keys_that_keep_the_random_streams_include_every_kernel_option_but_cpus():
    assert set(SCENARIO_OPTIONS) - {"cpus"} <= KERNEL_OPTION_KEYS
    assert "cpus" not in KERNEL_OPTION_KEYS  # it places the workload's threads
