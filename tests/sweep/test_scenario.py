"""Scenario files: cost overrides (costs.NAME), paths relative to the scenario, points."""

import pytest

from l4sim.kernel.costs import load_profile
from l4sim.sweep.execute import point_from_row, run_sweep
from l4sim.sweep.scenario import ScenarioError, load_scenario, point_from_dict, point_keys


def _scenario(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text('name = "s"\nevents = 60\nwarmup_events = 10\n' + text)
    return path


@pytest.mark.parametrize("text", ["costs.line_transfer = 30\n", "[costs]\nline_transfer = 30\n"])
def test_a_cost_override_changes_that_cost_only(tmp_path, text):
    point = load_scenario(_scenario(tmp_path, text)).points()[0]
    base = load_profile(point.profile)
    costs = point.cost_profile()
    assert costs.line_transfer == 30
    assert costs.replace(line_transfer=base.line_transfer) == base


def test_a_swept_cost_is_a_column_of_every_table(tmp_path):
    path = _scenario(tmp_path, '[sweep]\n"costs.lock_handoff" = [30, 120]\nthreads = [2]\n')
    scenario = load_scenario(path, ["costs.line_transfer=20"])
    assert [p.cost_profile().lock_handoff for p in scenario.points()] == [30, 120]
    assert "costs.lock_handoff" in point_keys(scenario.points())
    run = run_sweep(scenario, tmp_path / "out", jobs=1, progress=False)
    assert sorted(run.points["costs.lock_handoff"].unique()) == [30, 120]
    assert (run.points["costs.line_transfer"] == 20).all()
    import pandas as pd

    events = pd.read_parquet(tmp_path / "out" / "events.parquet")
    assert sorted(events["costs.lock_handoff"].unique()) == [30, 120]
    # the contended grant costs more with the dearer handoff
    wait = run.points[run.points["kind"] == "syscall_exception"].set_index("costs.lock_handoff")[
        "lock_wait_mean"
    ]
    assert wait[120] > wait[30]


def test_set_and_sweep_take_costs_too(tmp_path):
    path = _scenario(tmp_path, "")
    pinned = load_scenario(path, ["costs.lock_handoff=99"]).points()
    assert [p.costs for p in pinned] == [{"lock_handoff": 99}]
    swept = load_scenario(path, ["sweep.costs.lock_handoff=[1,2]"]).points()
    assert [p.costs for p in swept] == [{"lock_handoff": 1}, {"lock_handoff": 2}]


def test_cost_overrides_share_the_random_streams(tmp_path):
    """They change the kernel, not the workload: common random numbers."""
    one, two = (point_from_dict({"costs.lock_handoff": h}) for h in (10, 500))
    assert one.seed_key() == two.seed_key() == point_from_dict({}).seed_key()


def test_a_points_row_gives_back_the_point(tmp_path):
    path = _scenario(
        tmp_path,
        'profile = "sel4-sabre"\ncosts.line_transfer = 7\n'
        '[sweep]\n"costs.lock_handoff" = [30, 120]\n',
    )
    for point in load_scenario(path).points():
        row = {**point.flat(), "replication": 0, "kind": "ipc", "duration_mean": 1.0}
        assert point_from_row(row) == point


def test_files_are_relative_to_the_scenario(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "board.toml").write_text('base = "sel4-sabre"\nline_transfer = 31\n')
    path = _scenario(folder, 'profile = "./board.toml"\n')
    monkeypatch.chdir(tmp_path)
    point = load_scenario(path).points()[0]
    assert point.profile == str(folder / "board.toml")
    assert point.cost_profile().line_transfer == 31
    assert point.cost_profile().name == "board"


def test_a_folder_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(tmp_path)


def test_a_byte_order_mark_is_not_a_syntax_error(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbfname = 'bom'\nevents = 10\n")
    assert load_scenario(path).name == "bom"
