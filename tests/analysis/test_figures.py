"""The figures: PNG and SVG, titles from the run, merged coinciding curves, legends that fit."""

import itertools
import xml.etree.ElementTree as ElementTree

import matplotlib.image
import numpy as np
import pandas as pd

from l4sim.analysis.figures import ipc_bench_figure, linux_figure, syscall_figures
from l4sim.analysis.style import coinciding_groups, curve


def _points(threads=(1, 2, 3), name="mine", gap=0.0, lock="ticket"):
    """Syscall-benchmark rows: 1 thread far below, the others ``gap`` cycles apart."""
    rows = []
    for t, w, on, r in itertools.product(
        threads, (10.0, 1000.0, 100000.0), (True, False), range(3)
    ):
        base = 500.0 if t == 1 else 600.0 + gap * t + 100.0 / np.log10(w)
        rows.append(
            {
                "name": name,
                "workload": "syscall_bench",
                "profile": "vmxl4-pandaboard",
                "cpus": 2,
                "lock": lock,
                "kernel_lock": "fine",
                "events": 300,
                "fastpath_syscall": on,
                "threads": t,
                "wait_factor": w,
                "replication": r,
                "kind": "syscall_exception",
                "duration_mean": base + r * 0.1 + (0 if on else 200),
                "lock_wait_mean": 0.0 if t == 1 else 50.0 / np.log10(w) + r,
                "contended_fraction": 0.0 if t == 1 else 0.2 + 0.01 * r,
            }
        )
    return pd.DataFrame(rows)


def test_each_figure_is_a_png_and_an_svg(tmp_path):
    drawn = syscall_figures(_points(), tmp_path)
    assert [d.png.name for d in drawn] == [
        "syscall_contention.png",
        "syscall_contended_fraction.png",
        "syscall_duration.png",
    ]
    for figure in drawn:
        height, width, _ = matplotlib.image.imread(figure.png).shape
        assert width > 1000 and height > 500
        assert ElementTree.parse(figure.svg).getroot().tag.endswith("svg")
        assert 'PolyCollection_1"' in figure.svg.read_text()  # the shaded intervals


def test_a_users_scenario_is_not_called_the_papers_figure(tmp_path):
    mine = syscall_figures(_points(name="mine"), tmp_path)
    assert all("paper" not in d.title for d in mine)
    assert mine[2].title.startswith(
        "Syscall-exception duration; scenario mine: "
        "profile vmxl4-pandaboard, 2 CPUs, ticket spinlocks, "
        "fine-grained kernel locks"
    )
    papers = syscall_figures(_points(name="syscall_bench"), tmp_path, paper=True)
    assert "(paper Fig. 2b)" in papers[2].title and "(paper Fig. 2a)" in papers[0].title


def test_curves_on_top_of_each_other_are_one_line_and_the_caption_says_so(tmp_path):
    duration = syscall_figures(_points(threads=(1, 2, 3, 4, 5), gap=0.5), tmp_path)[2]
    assert "Threads 2-5 (at most 1.5 cycles apart) lie on top of each other" in duration.caption
    apart = syscall_figures(_points(threads=(1, 2, 3), gap=60.0), tmp_path)[2]
    assert "on top of each other" not in apart.caption


def test_curves_merge_only_where_they_coincide_in_every_panel():
    frame = pd.DataFrame({"x": [1, 2] * 2, "y": [10.0, 20.0, 10.5, 20.5]})
    near = [curve("a", 1, frame.iloc[:2], "x", "y"), curve("b", 2, frame.iloc[2:], "x", "y")]
    far = [
        curve("a", 1, frame.iloc[:2], "x", "y"),
        curve("b", 2, frame.iloc[2:].assign(y=[40.0, 50.0]), "x", "y"),
    ]
    assert coinciding_groups([near], span=100.0) == [["a", "b"]]
    assert coinciding_groups([near, far], span=100.0) == [["a"], ["b"]]


def test_many_curves_get_a_colour_bar_not_a_legend(tmp_path):
    drawn = syscall_figures(_points(threads=tuple(range(1, 21)), gap=30.0), tmp_path)[0]
    assert "Colour: threads" in drawn.caption
    assert 'id="legend_1"' not in drawn.svg.read_text()
    few = syscall_figures(_points(threads=(1, 2, 3), gap=30.0), tmp_path)[0]
    assert 'id="legend_1"' in few.svg.read_text()


def test_other_swept_keys_are_rows_of_panels_not_averaged_away(tmp_path):
    both = pd.concat([_points(lock="ticket"), _points(lock="tas")], ignore_index=True)
    drawn = syscall_figures(both, tmp_path)[2]
    svg = drawn.svg.read_text()
    assert "spinlock tas" in svg and "spinlock ticket" in svg  # the panels' titles
    assert "tas/ticket spinlocks" in drawn.title


def test_linux_figure_has_a_log_axis_and_names_medians(tmp_path):
    rng = np.random.default_rng(0)
    events = pd.DataFrame(
        {
            "kind": ["syscall_exception", "ipc"] * 500,
            "fastpath_syscall": [True] * 500 + [False] * 500,
            "fastpath_ipc": [True] * 500 + [False] * 500,
            "duration": np.concatenate(
                [rng.exponential(100, 500) + 450, rng.exponential(100, 500) + 700]
            ).astype(int),
        }
    )
    points = _points().assign(name="linux", workload="linux")
    drawn = linux_figure(events, tmp_path, points)
    assert drawn.png.name == "linux_durations.png" and drawn.svg.is_file()
    assert "Log x axis" in drawn.caption and "scenario linux" in drawn.title


def test_ipc_figure_from_its_own_rows(tmp_path):
    rows = _points().rename(columns={"threads": "clients", "fastpath_syscall": "fastpath_ipc"})
    rows["kind"] = "ipc"
    drawn = ipc_bench_figure(rows, tmp_path, paper=True)
    assert drawn.png.is_file() and "(paper E5)" in drawn.title
