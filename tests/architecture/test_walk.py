"""A reader's walk from ``l4sim run`` to the engine: each module entered at most twice.

The walk is the call stack at the moment the engine starts a run
(``Machine.run``): from the command line down through the sweep, the
backend, the run of one point, to the simulator. Consecutive frames of one
module are one visit; a module visited again further down the stack is
entered again. A seam that bounces between modules (a run that resolves its
own design, which runs a simulation, which builds a configuration...) shows
as a module entered three or more times.
"""

from __future__ import annotations

import traceback
from itertools import groupby
from pathlib import Path

import pytest

from l4sim.sim.machine import Machine

from ..cli.in_process import l4sim

SCENARIO = """\
workload = "ipc_bench"
events = 200
warmup_events = 20
fastpath_ipc = true
clients = 2
[sweep]
fastpath_design = ["paper", "optimized"]
"""


def _module(filename: str) -> str | None:
    """The l4sim module a frame's file belongs to (None for anything else)."""
    parts = Path(filename).with_suffix("").parts
    if "l4sim" not in parts:
        return None
    return ".".join(parts[len(parts) - 1 - parts[::-1].index("l4sim") :])


@pytest.fixture
def walks(monkeypatch):
    """The stacks (l4sim modules, outermost first) at every start of the engine."""
    seen: list[list[str]] = []
    original = Machine.run

    def run(self, *args, **kwargs):
        stack = [_module(frame.filename) for frame in traceback.extract_stack()]
        seen.append([module for module in stack if module is not None])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Machine, "run", run)
    return seen


def visits(stack: list[str]) -> dict[str, int]:
    """How often the walk enters each module (consecutive frames: one visit)."""
    counts: dict[str, int] = {}
    for module, _ in groupby(stack):
        counts[module] = counts.get(module, 0) + 1
    return counts


def test_the_walk_from_the_command_to_the_engine_enters_each_module_at_most_twice(tmp_path, walks):
    (tmp_path / "walk.toml").write_text(SCENARIO)
    done = l4sim("run", "walk.toml", "--jobs", "1", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # a run of each point, the profiling run and the verification runs of the design
    assert len(walks) >= 4
    for stack in walks:
        assert stack[0] == "l4sim.cli" and "l4sim.sim.machine" not in stack[:-1]
        too_often = {module: n for module, n in visits(stack).items() if n > 2}
        assert not too_often, f"entered more than twice: {too_often} in {stack}"


def test_visits_count_returns_to_a_module():
    assert visits(["a", "a", "b", "a", "c", "a"]) == {"a": 3, "b": 1, "c": 1}
