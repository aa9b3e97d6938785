"""Figures a reviewer accepts: the checks themselves, then every figure l4sim draws.

The checks (:mod:`l4sim.analysis.figure_review`) are first shown to catch each
defect on a figure made to have it; then each drawing function of ``make
figures``, ``make scaling``, ``make sensitivity`` and ``l4sim timeline`` draws
from small synthetic tables (or a tiny run) and every PNG it writes must pass
(the ``reviewed`` fixture reviews each as it is saved). The notebooks' figures
are reviewed where the notebooks run (tests/cli/test_notebooks.py).
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from l4sim.analysis.figure_review import hidden_bands, raw_names_in, review
from l4sim.analysis.figures import ipc_bench_figure, linux_figure, syscall_figures
from l4sim.analysis.scaling_figure import scaling_figure
from l4sim.analysis.sensitivity_figures import indices_figure, robustness_figure
from l4sim.analysis.style import Curve, band, log_ticks

from ..cli.in_process import l4sim
from .conftest import SCENARIOS
from .test_figures import _points

# -- the checks catch what they are for ---------------------------------------------------


def _line_figure():
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.linspace(0, 10, 50)
    ax.plot(x, x, label="rising")
    ax.plot(x, 10 - x, label="falling")
    ax.set_title("a panel")
    return fig, ax


def test_a_legend_over_data_is_found_and_one_beside_the_panel_is_not():
    fig, ax = _line_figure()
    ax.legend(loc="center")  # where both lines cross
    assert any("covers data of 'a panel'" in p for p in review(fig))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    assert review(fig) == []
    plt.close(fig)


def test_a_legend_entry_for_nothing_drawn_is_found():
    fig, ax = _line_figure()
    proxy = plt.Rectangle((0, 0), 1, 1, color="red")  # never added to the axes
    handles, labels = ax.get_legend_handles_labels()
    ax.legend([*handles, proxy], [*labels, "spin"], loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    assert review(fig) == ["the legend entry 'spin' names nothing drawn"]
    plt.close(fig)


def test_raw_column_names_are_found_but_not_file_names_or_allowed_names():
    assert raw_names_in("ipc.duration_mean") == ["ipc.duration_mean"]
    assert raw_names_in("kernel_lock / lock") == ["kernel_lock"]
    assert raw_names_in("fast:slow_wait, 3 CPUs") == ["fast:slow_wait"]
    assert raw_names_in("scenarios/ipc_bench.toml and points.parquet") == []
    assert raw_names_in("scenario syscall_bench: 2 CPUs", {"syscall_bench"}) == []
    assert raw_names_in("mean IPC duration (cycles), wait factor 10") == []
    fig, ax = _line_figure()
    ax.set_xlabel("wait_factor")
    problems = review(fig)
    assert problems == ["the x label of 'a panel' shows the raw name wait_factor: 'wait_factor'"]
    plt.close(fig)


def test_a_log_axis_must_say_so_and_have_three_labelled_ticks():
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([450, 1500], [0, 1])  # the fastpath-on entries of the Linux load
    ax.set_xscale("log")
    ax.set_xlabel("cycles")
    # what the figures did: a 1-2-5 locator on a range under one decade gives two labels
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    problems = review(fig)
    assert any("logarithmic but its label does not say so" in p for p in problems)
    assert any("has 1 labelled ticks" in p or "has 2 labelled ticks" in p for p in problems)
    ax.set_xlabel("cycles (log scale)")
    log_ticks(fig)
    assert review(fig) == []
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 4 and "500" in labels
    plt.close(fig)


def _banded(spread: float):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.arange(5.0)
    line = Curve("a", 0, x, 100 + x, 100 + x - spread, 100 + x + spread)
    band(ax, line, "C0")
    ax.plot(line.x, line.y, linewidth=1.4, label="a")
    ax.set_ylim(0, 200)
    ax.set_title("a panel")
    return fig


def test_a_band_narrower_than_its_line_must_be_called_too_narrow_to_see():
    narrow, wide = _banded(0.2), _banded(20.0)
    for fig in (narrow, wide):
        fig.canvas.draw()
    assert not hidden_bands(narrow)[0].visible and hidden_bands(wide)[0].visible
    assert hidden_bands(narrow)[0].width == pytest.approx(0.4)
    problems = review(narrow, "Shaded: 95% t-interval over replications.")
    assert len(problems) == 2
    assert "do not say they are too narrow to see" in problems[0].replace("does not", "do not")
    assert problems[1] == "the caption calls bands shaded but none can be seen"
    assert review(narrow, "The intervals are too narrow to see.") == []
    assert review(wide, "Shaded: 95% t-interval over replications.") == []


def test_an_interval_below_zero_is_found_for_a_quantity_that_cannot_be_negative():
    fig, ax = _line_figure()
    ax.errorbar([1, 2], [5, 8], yerr=[9, 1], label="p99")
    assert review(fig) == [] or all("below 0" not in p for p in review(fig))
    assert any("reaches -4, below 0" in p for p in review(fig, nonnegative=True))
    plt.close(fig)


# -- every figure l4sim draws passes -------------------------------------------------------


def test_the_syscall_figures_pass(tmp_path, reviewed):
    drawn = syscall_figures(_points(threads=(1, 2, 3, 4), gap=0.5), tmp_path, paper=True)
    assert set(reviewed) == {d.png.name for d in drawn}
    assert all(problems == [] for problems in reviewed.values()), reviewed
    # the synthetic replications differ by 0.1 cycle: no band can be seen, and the
    # caption says so instead of calling them shaded
    duration = drawn[2].caption
    assert duration.startswith(
        "No band shows: the 95% t-interval over replications is too narrow to see (at most "
    )
    assert "shaded" not in duration.lower()


def test_the_figures_with_a_colour_bar_pass(tmp_path, reviewed):
    drawn = syscall_figures(_points(threads=tuple(range(1, 21)), gap=30.0), tmp_path)
    assert all(problems == [] for problems in reviewed.values()), reviewed
    assert "Colour: threads" in drawn[0].caption


def test_the_ipc_bench_figure_passes(tmp_path, reviewed):
    rows = _points().rename(columns={"threads": "clients", "fastpath_syscall": "fastpath_ipc"})
    rows["kind"] = "ipc"
    ipc_bench_figure(rows, tmp_path, paper=True)
    assert reviewed == {"ipc_bench_duration.png": []}


def test_the_linux_figure_passes_with_a_narrow_range(tmp_path, reviewed):
    """Durations within one octave (the calibrated profile's bulk).

    Still four labelled ticks, the legend under the panels, not on the fastpath-off
    distribution.
    """
    rng = np.random.default_rng(0)
    events = pd.DataFrame(
        {
            "kind": ["syscall_exception", "ipc"] * 1000,
            "fastpath_syscall": [True] * 1000 + [False] * 1000,
            "fastpath_ipc": [True] * 1000 + [False] * 1000,
            "duration": np.concatenate(
                [rng.normal(500, 20, 1000), rng.normal(800, 30, 1000)]
            ).astype(int),
        }
    )
    points = _points().assign(name="linux", workload="linux")
    linux_figure(events, tmp_path, points, paper=True)
    assert reviewed == {"linux_durations.png": []}


def _scaling_points(clh_gap: float = 0.0):
    rows = []
    for strategy, design, factor, cpus, replication in itertools.product(
        ("fine", "big"), ("tas", "ticket", "clh"), (100.0, 1000.0), (1, 2, 4, 8, 16), range(3)
    ):
        slow = 2.0 if design == "ticket" else 1.0 + (clh_gap if design == "clh" else 0.0)
        slow *= 1.5 if strategy == "big" else 1.0
        duration = 500.0 * cpus ** (0.8 * slow) + replication
        rows.append(
            {
                "name": "scaling",
                "profile": "vmxl4-pandaboard",
                "cpus": cpus,
                "lock": design,
                "kernel_lock": strategy,
                "wait_factor": factor,
                "events": 300,
                "replication": replication,
                "kind": "syscall_exception",
                "entries": 300,
                "entries_per_mcycle": 1e6 * cpus / duration,
                "duration_mean": duration,
            }
        )
    return pd.DataFrame(rows)


def test_the_scaling_figure_passes_and_draws_coinciding_designs_once(tmp_path, reviewed):
    drawn = scaling_figure(_scaling_points(), tmp_path)
    assert reviewed == {"scaling.png": []}
    assert "tas and clh coincide (at most 0% apart at any point)" in drawn.caption.replace(
        "0.0%", "0%"
    )
    apart = scaling_figure(_scaling_points(clh_gap=0.3), tmp_path)
    assert "coincide" not in apart.caption and reviewed == {"scaling.png": []}


def _indices(largest: float):
    rows = []
    for output in ("lock.duration_mean", "lock.fast_fraction", "E3.1"):
        for parameter, value in (
            ("hold_mean", largest),
            ("costs.lock_handoff", 0.05),
            ("(no effect)", 0.0),
        ):
            constant = output == "lock.fast_fraction"
            rows.append(
                {
                    "output": output,
                    "parameter": parameter,
                    "ST": np.nan if constant else value,
                    "ST_conf": np.nan if constant else 0.1,
                }
            )
    return pd.DataFrame(rows)


def test_the_sensitivity_figure_passes_and_says_a_total_index_beyond_1_is_error(tmp_path, reviewed):
    subtitle = "scenario lock_microbench: sobol (N = 8), 2 parameters, 48 samples x 1 point"
    drawn = indices_figure(_indices(1.93), "ST", tmp_path, subtitle)
    assert reviewed == {"sensitivity.png": []}
    assert (
        "estimates up to 1.93 lie beyond it: they are sampling error of the estimator at N = 8"
    ) in drawn.caption
    within = indices_figure(_indices(0.6), "ST", tmp_path, subtitle)
    assert "beyond it" not in within.caption and reviewed == {"sensitivity.png": []}


def test_the_robustness_figure_passes(tmp_path, reviewed):
    reviewed.nonnegative = False  # a claim's quantity may be a negative change
    rng = np.random.default_rng(1)
    samples = pd.DataFrame(
        {
            "sample": np.arange(-1, 40),
            "costs.sched_pick": rng.uniform(70, 130, 41),
            "E5.3": rng.uniform(-16, -2, 41),
            "E5.1": rng.uniform(1.2, 1.6, 41),
        }
    )
    robustness = pd.DataFrame(
        [
            {
                "output": "E5.3",
                "text": "4 clients, lightest contention: fastpath vs slowpath (%)",
                "band": "-15 .. 15%",
                "band_low": -15.0,
                "band_high": 15.0,
                "share_holding": 0.9,
                "top_parameters": "costs.sched_pick",
            },
            {
                "output": "E5.1",
                "text": "1 client: smallest IPC speedup",
                "band": ">= 1.2x",
                "band_low": 1.2,
                "band_high": np.inf,
                "share_holding": 1.0,
                "top_parameters": "",
            },
        ]
    )
    robustness_figure(samples, robustness, tmp_path, "scenario sensitivity_ipc: morris")
    assert reviewed == {"robustness.png": []}


def test_the_timeline_passes_and_names_only_what_it_draws(tmp_path, reviewed):
    done = l4sim(
        "timeline",
        SCENARIOS / "ipc_bench.toml",
        "--set",
        "clients=4",
        "--set",
        "wait_factor=10",
        "--set",
        "fastpath_ipc=true",
        "--events",
        40,
        "--start",
        2000,
        "--cycles",
        6000,
        "--out",
        tmp_path / "t.png",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert reviewed == {"t.png": []}
    from l4sim.analysis.timeline import segment_label

    assert segment_label("ipc fast:fast_call") == "IPC fastpath: call"
    assert segment_label("syscall_exception slow:slow_wait") == "syscall exception slowpath: wait"
    assert (
        segment_label("ipc slow:destination_on_this_cpu")
        == "IPC fell back: destination on this cpu"
    )
    assert segment_label("scheduler") == "scheduler"


def test_the_sel4bench_series_is_broken_at_each_change(tmp_path, reviewed):
    from l4sim.analysis.calibration import DELAYS, rate_metric
    from l4sim.analysis.sel4bench_compare import time_series_figure

    dates = pd.date_range("2026-04-01", periods=12, freq="3D", tz="UTC")
    table = pd.DataFrame({"ts": dates.strftime("%Y-%m-%dT%H:%M:%S%z")})
    for delay in DELAYS:
        metric = rate_metric(4, delay)
        # a step down after the change on 2026-04-16
        table[f"{metric}_predicted"] = np.where(dates < "2026-04-16", 1000.0, 800.0)
        table[f"{metric}_measured"] = np.where(
            dates < "2026-04-25", table[f"{metric}_predicted"] + 5, np.nan
        )
    captured = []
    original = plt.Axes.plot

    def keep(axis, *args, **options):
        lines = original(axis, *args, **options)
        captured.extend(lines)
        return lines

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt.Axes, "plot", keep)
        drawn = time_series_figure(table, tmp_path, (("2026-04-16", "IPC slower"),))
    assert reviewed == {"sel4bench_2026.png": []}
    change = pd.Timestamp("2026-04-16", tz="UTC")
    predicted = [line for line in captured if line.get_linestyle() == "-"]
    assert len(predicted) == 4  # two periods in each of the two panels
    for line in predicted:
        x = pd.to_datetime(pd.Series(line.get_xdata()))
        x = x.dt.tz_localize("UTC") if x.dt.tz is None else x
        assert (x < change).all() or (x >= change).all()  # no segment across the step
    assert "broken at each" in drawn.caption


def test_an_interval_below_zero_is_cut_at_zero_and_the_caption_says_so(tmp_path, reviewed):
    """Three replications of a lock wait near 0: the t-interval would reach below it."""
    points = _points()
    points["lock_wait_mean"] = np.where(points["threads"] > 1, 2.0 * points["replication"], 0.0)
    contention = syscall_figures(points, tmp_path)[0]
    assert reviewed["syscall_contention.png"] == []
    assert "it is cut at 0 (the quantity cannot be negative" in contention.caption


def test_a_caption_travels_in_the_files_not_drawn_in_the_image(tmp_path, reviewed):
    from PIL import Image

    drawn = ipc_bench_figure(
        _points()
        .rename(columns={"threads": "clients", "fastpath_syscall": "fastpath_ipc"})
        .assign(kind="ipc"),
        tmp_path,
    )
    # the figure's own texts: its title, and the provenance footer a reader cites
    texts = reviewed.texts["ipc_bench_duration.png"]
    assert len(texts) == 2 and texts[0].startswith("IPC duration per client count")
    assert texts[1].startswith("l4sim ") and " · model " in texts[1]
    assert Image.open(drawn.png).text["Description"] == drawn.caption
    assert f"<dc:description>{drawn.caption}</dc:description>" in drawn.svg.read_text()


def test_the_sel4bench_series_of_every_board_passes(tmp_path, reviewed):
    """Two boards: both delay regimes, an anomaly, withheld runs, a panel on a log axis."""
    from l4sim.analysis.calibration import DELAYS, rate_metric
    from l4sim.analysis.sel4bench_compare import time_series_figure

    dates = pd.date_range("2026-04-01", periods=12, freq="3D", tz="UTC")
    frames = []
    for board, build, scale in (("tx2", "SMP_64", 1.0), ("pc99-skylake", "SMP_32", 2.0)):
        table = pd.DataFrame(
            {
                "board": board,
                "build": build,
                "ts": dates.strftime("%Y-%m-%dT%H:%M:%S%z"),
                # the TX2's delay works only from the last run on; a Skylake run is odd
                "regime": ["delay 0"] * 11 + ["delay"] if board == "tx2" else "delay",
                "anomaly": ["partial progress"] + [""] * 11 if board != "tx2" else "",
            }
        )
        for delay in DELAYS:
            metric = rate_metric(4, delay)
            delay_zero = (table["regime"] == "delay 0") | (delay == DELAYS[0])
            base = np.where(delay_zero, 1e6, 6e4) * scale  # delay 0 is as fast at 32000
            table[f"{metric}_predicted"] = np.where(dates < "2026-04-16", base, 0.95 * base)
            table[f"{metric}_measured"] = np.where(
                dates < "2026-04-25", table[f"{metric}_predicted"] * 1.002, np.nan
            )
        frames.append(table)
    changes = (("2026-04-16", "seL4: IPC slower"), ("2026-05-01", "sel4bench changed"))
    drawn = time_series_figure(pd.concat(frames, ignore_index=True), tmp_path, changes)
    assert reviewed == {"sel4bench_2026.png": []}
    assert "broken at each" in drawn.caption and "log axis" in drawn.caption
