"""A cached result's key covers exactly what can change the result.

The code that decides a run's records (the import closure of a run and of
the resolution of its fastpath design), the libraries' versions, the
point's keys, and the contents of every file it names: a user's workload,
fastpath variant and check-order file, and its profile as
resolved. Editing anything else (the analysis, the figures, the command
line, the documentation) reuses the cached runs.
"""

import json
import shutil
from pathlib import Path

import pytest

import l4sim
from l4sim.sweep.cache import task_key
from l4sim.sweep.model_version import model_sources, source_digest
from l4sim.sweep.scenario import point_from_dict

PACKAGE = Path(l4sim.__file__).resolve().parent
EXAMPLE = Path(__file__).parents[2] / "examples" / "producer_consumer"


@pytest.fixture
def package_copy(tmp_path):
    """The package's sources, copied: a tree whose files a test may edit."""
    copy = tmp_path / "l4sim"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("_compiled*", "__pycache__"))
    return copy


def _append(path: Path, text: str = "\n# an edit\n") -> None:
    path.write_text(path.read_text() + text)


def test_the_model_is_the_import_closure_of_a_run_and_of_its_design():
    sources = {path.relative_to(PACKAGE).as_posix() for path in model_sources()}
    parts = {source.split("/")[0] for source in sources}
    assert parts == {"kernel", "sim", "workloads", "simulation", "design", "sweep"}
    # of the sweep, only what resolves a design; the file that accepts one is in
    assert {s for s in sources if s.startswith("sweep/")} == {"sweep/fastpath_designs.py"}
    assert {"simulation/behaviour.py", "design/search.py", "sim/interpreter.pxd"} <= sources
    # every built-in workload and fastpath variant, though they are imported by name
    assert {"workloads/linux.py", "workloads/sel4bench_smp.py", "workloads/sel4_fastpath.py"} <= (
        sources
    )


def test_a_new_write_of_a_field_a_check_reads_changes_the_model(package_copy):
    before = source_digest(package_copy)
    _append(package_copy / "analysis" / "figures.py", "\ndef _x(t):\n    t.space = None\n")
    assert source_digest(package_copy) != before


@pytest.mark.parametrize(
    "edited",
    [
        "analysis/figures.py",
        "analysis/report.py",
        "cli.py",
        "sweep/execute.py",
        "sweep/progress.py",
        "build.py",
    ],
)
def test_editing_analysis_cli_or_tables_reuses_cached_runs(package_copy, edited):
    before = source_digest(package_copy)
    _append(package_copy / edited)
    assert source_digest(package_copy) == before


@pytest.mark.parametrize(
    "edited",
    [
        "kernel/ipc_fastpath.py",
        "sim/interpreter.py",
        "sim/interpreter.pxd",
        "workloads/linux.py",
        "simulation/simulate.py",
        "simulation/behaviour.py",
        "design/search.py",
    ],
)
def test_editing_the_simulation_code_recomputes(package_copy, edited):
    before = source_digest(package_copy)
    _append(package_copy / edited)
    assert source_digest(package_copy) != before


def _config(**keys) -> dict:
    return point_from_dict({"events": 100, **keys}).model_dump()


def test_key_covers_every_result_shaping_key_and_the_model():
    point = _config()
    key = task_key(point, 0, "m1")
    assert task_key(dict(point), 0, "m1") == key
    assert task_key(point, 1, "m1") != key
    assert task_key(point, 0, "m2") != key
    for name, value in [
        ("seed", 1),
        ("events", 151),
        ("lock", "tas"),
        ("cpus", 3),
        ("fastpath_ipc", True),
        ("profile", "sel4-sabre"),
        ("costs", {"lock_handoff": 61}),
    ]:
        assert task_key({**point, name: value}, 0, "m1") != key, name
    # labels that do not change one run's result leave the key alone
    assert task_key({**point, "name": "renamed", "replications": 9}, 0, "m1") == key


def test_editing_a_user_workload_file_recomputes(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "example")
    workload = tmp_path / "example" / "producer_consumer.py"
    config = _config(workload=str(workload))
    before = task_key(config, 0, "m")
    _append(workload)
    assert task_key(config, 0, "m") != before


def test_the_profile_counts_by_its_costs_base_included(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text((PACKAGE / "profiles" / "sel4-sabre.toml").read_text())
    board = tmp_path / "board.toml"
    board.write_text('base = "./base.toml"\nline_transfer = 20\n')
    config = _config(profile=str(board))
    first = task_key(config, 0, "m")
    _append(board, "# only a comment: the same costs\n")
    assert task_key(config, 0, "m") == first
    board.write_text('base = "./base.toml"\nline_transfer = 21\n')
    second = task_key(config, 0, "m")
    assert second != first
    base.write_text(base.read_text().replace("lock_handoff = 60", "lock_handoff = 61"))
    assert task_key(config, 0, "m") != second


def test_editing_a_fastpath_variant_recomputes(tmp_path):
    variant = tmp_path / "variant.py"
    shutil.copy(EXAMPLE / "my_fastpath.py", variant)
    config = _config(fastpath_checks=str(variant), fastpath_ipc=True)
    before = task_key(config, 0, "m")
    _append(variant)
    assert task_key(config, 0, "m") != before


def test_the_cache_key_follows_the_order_file_contents(tmp_path):
    path = tmp_path / "order.json"
    path.write_text(json.dumps({"ipc": ["valid_destination", "simple_message"]}))
    config = {
        **_config(workload="ipc_bench"),
        "check_order": "optimized",
        "check_order_file": str(path),
    }
    first = task_key(config, 0, "model")
    path.write_text(json.dumps({"ipc": ["simple_message", "valid_destination"]}))
    assert task_key(config, 0, "model") != first
