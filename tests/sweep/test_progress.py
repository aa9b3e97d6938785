"""Progress of long work; records never change.

Within a run (entries against the target), across workers, while the tables
are assembled; a bar on a terminal, lines in a log.
"""

import io

import pandas as pd

from l4sim.simulation.simulate import PROGRESS_EVERY, simulate
from l4sim.sweep.backends import run_local
from l4sim.sweep.execute import run_sweep
from l4sim.sweep.progress import Progress
from l4sim.sweep.scenario import load_scenario, point_from_dict


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_single_run_reports_its_entries_as_it_goes_and_no_record_changes():
    point = point_from_dict({"threads": 2, "events": 2500, "warmup_events": 250})
    steps: list[int] = []
    with_progress = simulate(point, progress=steps.append)
    without = simulate(point)
    assert sum(steps) == 2750  # warm-up and measured entries of the measured kind
    assert len(steps) >= 2750 // PROGRESS_EVERY  # it advanced during the run, not at its end
    assert steps[0] == PROGRESS_EVERY
    pd.testing.assert_frame_equal(with_progress.events, without.events)
    assert with_progress.rows == without.rows


def test_local_workers_share_one_count_of_entries():
    points = [
        point_from_dict({"events": 300, "warmup_events": 30, "threads": t}) for t in (1, 2, 3)
    ]
    tasks = [(f"k{i}", p.model_dump(), 0, None) for i, p in enumerate(points)]
    told: list[int] = []
    results = dict(run_local(tasks, 2, progress=told.append))
    assert sorted(results) == ["k0", "k1", "k2"]
    assert sum(told) == 3 * 330


def test_progress_bar_on_a_terminal_and_lines_in_a_log():
    terminal = _Terminal()
    assert Progress.choose(None, terminal) == "bar"
    assert Progress.choose(False, terminal) == "off"
    with Progress(10, "sweep", "bar", terminal) as bar:
        for _ in range(4):
            bar.update()
    assert "4/10" in terminal.getvalue() and "<" in terminal.getvalue()  # elapsed<ETA

    log = io.StringIO()
    assert Progress.choose(None, log) == "lines"
    with Progress(20, "sweep", "lines", log) as lines:
        for _ in range(20):
            lines.update()
    printed = log.getvalue().splitlines()
    assert len(printed) == 10  # one line per tenth of the runs
    assert printed[0].startswith("sweep: 2/20 runs (10%), elapsed 00:00, ETA ")
    assert printed[-1].startswith("sweep: 20/20 runs (100%)")


def test_entries_with_the_runs_beside_them():
    log = io.StringIO()
    with Progress(30_000, "big", "lines", log, unit="entries") as lines:
        lines.note("0/3 runs")
        lines.update(12_000)
        lines.note("1/3 runs")
        lines.update(18_000)
    printed = log.getvalue().splitlines()
    assert printed[0].startswith("big: 12,000/30,000 entries (40%, 0/3 runs), elapsed ")
    assert printed[-1].startswith("big: 30,000/30,000 entries (100%, 1/3 runs)")


def test_short_work_shows_nothing_and_long_work_does():
    log = io.StringIO()
    with Progress(5, "tables", "lines", log, delay=60.0) as quick:
        for _ in range(5):
            quick.update()
    assert log.getvalue() == ""
    with Progress(5, "tables", "lines", log, delay=0.0) as slow:
        for _ in range(5):
            slow.update()
    assert "tables: 5/5 runs (100%)" in log.getvalue()


def test_a_sweep_counts_entries_then_assembles_its_tables(tmp_path, capsys, monkeypatch):
    from l4sim.sweep import execute as run_module

    made = []

    class Recorded(Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(run_module, "Progress", Recorded)
    (tmp_path / "s.toml").write_text(
        'name = "s"\nevents = 100\nwarmup_events = 10\n[sweep]\nthreads = [1, 2]\n'
    )
    run_sweep(load_scenario(tmp_path / "s.toml"), tmp_path / "out", jobs=1)
    computing, assembling = made
    assert (computing.unit, computing.total, computing.done) == ("entries", 220, 220)
    assert computing.postfix == "2/2 runs"
    assert (assembling.unit, assembling.total, assembling.done) == ("runs", 2, 2)
    assert assembling.label == "s: tables"
