"""Calibration from sel4bench results: a synthetic round trip, the FITTED handoff, determinism.

The data are synthetic sel4bench-results files written here from chosen
parameters (tests/analysis/sel4bench_files.py): what the calibration
recovers can be held against what made them.
"""

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from l4sim.analysis import calibration
from l4sim.analysis.sel4bench import Figure, read
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict
from tests.analysis import sel4bench_files as files
from tests.cli.in_process import l4sim

EVENTS = 400  # Calls per simulation: enough for a stable mean, quick
TRUTH = files.Truth()
HANDOFF = 200  # the contended-grant cost the synthetic 4-core figure is made with
SLOWER = files.Truth(call=TRUTH.call + 25, reply=TRUTH.reply + 20)  # the calibrated run


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    """Three runs: two with a 4-core figure made by the model with HANDOFF, one without.

    The last has a slower IPC, as a kernel change would make it.
    """
    folder = tmp_path_factory.mktemp("data")
    files.write(folder, [files.records(1001, 10, TRUTH)])
    costs = calibration.derive(read(folder).only().run(1001))[1].replace(lock_handoff=HANDOFF)
    rate = calibration.simulate_rows(
        [(calibration.benchmark_point(4, 500, EVENTS, "exponential"), costs)]
    )[0]  # its version's (not in the table: March)
    four = {500: rate["calls_per_second"]}
    return files.write(
        folder,
        [
            files.records(1001, 10, TRUTH, four),
            files.records(1003, 15, TRUTH, four),
            files.records(1002, 20, SLOWER),
        ],
    )


@pytest.fixture(scope="module")
def calibrated(data_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "board.toml"
    done = l4sim(
        "calibrate",
        "sel4bench",
        data_folder,
        "--run",
        1002,
        "--out",
        out,
        "--events",
        EVENTS,
        "--jobs",
        1,
        cwd=data_folder,
    )
    assert done.returncode == 0, done.stderr
    return out, done


def simulated(profile, delay: int) -> dict:
    point = point_from_dict(
        {
            "workload": "sel4bench_smp",
            "profile": str(profile),
            "cpus": 1,
            "delay_cycles": delay,
            "events": 2000,
            "warmup_events": 100,
        }
    )
    return simulate(point, invariants=False).rows[0]


def test_a_calibrated_profile_gives_back_its_single_core_inputs(calibrated):
    """Calibrate, simulate with the profile file, recover each single-core figure within 1%."""
    profile, _ = calibrated
    truth = SLOWER
    fast, slow = simulated(profile, 500), simulated(profile, 32000)
    assert fast["call_cycles"] == pytest.approx(truth.call, rel=0.01)
    assert fast["reply_recv_cycles"] == pytest.approx(truth.reply, rel=0.01)
    assert fast["calls_per_second"] == pytest.approx(truth.rate(500), rel=0.01)
    assert slow["calls_per_second"] == pytest.approx(truth.rate(32000), rel=0.01)
    costs = tomllib.loads(profile.read_text())
    assert costs["clock_hz"] == pytest.approx(truth.clock, rel=1e-6)
    assert costs["smp_bench_loop"] == pytest.approx(truth.loop, abs=1)
    assert costs["trap_entry"] + costs["trap_exit"] == truth.null


def test_the_residuals_are_printed_and_written_within_one_percent(calibrated):
    profile, done = calibrated
    table = profile.with_name("board.residuals.md").read_text()
    assert table in done.stdout
    errors = [float(e) for e in re.findall(r"\| ([+-]\d+\.\d+)% \|", table)]
    assert len(errors) == 6  # Call, ReplyRecv (one and two address spaces), two rates
    assert all(abs(e) < 1.0 for e in errors)


def test_the_handoff_is_fitted_to_the_other_runs_four_core_figure(calibrated):
    """The 4-core figure was made with HANDOFF and no drag.

    These runs have one delay regime, so the drag is the one that gives the contrast
    measured elsewhere, and the handoff the one that, with it, gives the figure again:
    a little below HANDOFF.
    """
    profile, _ = calibrated
    costs = tomllib.loads(profile.read_text())
    assert 0 < costs["lock_spinner_drag"] < 30
    assert HANDOFF - 3 * costs["lock_spinner_drag"] <= costs["lock_handoff"] < HANDOFF
    # with them the model shows the measured contrast of delay 0 against delay 500
    shown = calibration.contrast(calibration.load_profile(profile), "exponential", EVENTS)
    assert shown == pytest.approx(calibration.DELAY0_CONTRAST, abs=0.003)
    text = profile.read_text()
    fitted = text[text.index("# FITTED") : text.index("lock_handoff =")]
    assert "smp_4core_c500" in fitted and "1001 1003" in fitted and "1002" not in fitted


def test_every_derived_number_names_its_source(calibrated):
    profile, _ = calibrated
    lines = profile.read_text().splitlines()
    keys = [i for i, line in enumerate(lines) if re.match(r"^[a-z_]+ = ", line)]
    for index in keys:
        key = lines[index].split(" = ")[0]
        if key in ("base", "description"):
            continue
        assert lines[index - 1].startswith("# "), key  # its comment right above it
    assert "run 1002" in profile.read_text()


def test_a_run_s_own_multi_core_figures_are_never_used(data_folder, tmp_path):
    """Giving the calibrated run a 4-core figure of its own changes nothing in its profile."""
    data = read(data_folder).only()
    known = {}  # the other runs' matching handoffs, found once
    plain = calibration.calibrate(data, 1002, EVENTS, known)
    data.run(1002).builds["smp"]["smp_4core_c500"] = Figure(
        (9e5,) * 7 + (5.0,), data_folder / files.SMP_FILE, 3
    )
    again = calibration.calibrate(data, 1002, EVENTS, known)
    assert again.costs == plain.costs and again.fit.runs == [1001, 1003]
    # and the other way round: calibrating 1001 fits to 1003 and the new figure of 1002
    assert calibration.calibrate(data, 1001, EVENTS, known).fit.runs == [1003, 1002]


def test_calibrate_is_deterministic_whatever_the_workers(data_folder, tmp_path):
    outputs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}" / "board.toml"
        out.parent.mkdir()
        done = l4sim(
            "calibrate",
            "sel4bench",
            data_folder / files.SMP_FILE,
            data_folder / files.UP_FILE,
            "--run",
            1002,
            "--out",
            out,
            "--events",
            EVENTS,
            "--jobs",
            jobs,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        outputs.append((out.read_bytes(), out.with_name("board.residuals.md").read_bytes()))
    assert outputs[0] == outputs[1]


def test_without_other_multi_core_figures_the_handoff_is_the_base_estimate(tmp_path):
    folder = files.write(tmp_path / "data", [files.records(7, 3, TRUTH)])
    result = calibration.calibrate(read(folder).only(), None, EVENTS)
    assert result.fit is None
    assert result.costs.lock_handoff == calibration.load_profile("sel4-sabre").lock_handoff
    assert "not fitted" in calibration.profile_text(result, "test")


def test_the_scenario_runs_with_a_calibrated_profile(calibrated, tmp_path):
    """scenarios/sel4bench_smp.toml with --set profile=: one row per (cpus, delay, replication)."""
    from pathlib import Path

    from l4sim.sweep.execute import run_scenario
    from l4sim.sweep.scenario import load_scenario

    profile, _ = calibrated
    scenario = Path(__file__).parents[2] / "scenarios" / "sel4bench_smp.toml"
    # one core over whole blocks of its exponential draws (the scenario's spins)
    chosen = load_scenario(
        scenario,
        [
            f"profile={profile}",
            "events=256",
            "warmup_events=128",
            "replications=2",
            "sweep.cpus=[1,4]",
            "sweep.delay_cycles=[500,32000]",
        ],
    )
    points = run_scenario(chosen, tmp_path / "out", jobs=1, progress=False)
    assert len(points) == 2 * 2 * 2 and set(points["kind"]) == {"ipc"}
    assert points["calls_per_second"].notna().all()
    one = points[(points["cpus"] == 1) & (points["delay_cycles"] == 500)]
    assert one["calls_per_second"].mean() == pytest.approx(SLOWER.rate(500), rel=0.01)


def _section(folder, where) -> tuple[str, str]:
    """The report's hardware section as Markdown and HTML."""
    from l4sim.analysis.document import Document
    from l4sim.analysis.sel4bench_compare import hardware_section

    document = Document("report")
    hardware_section(document, folder)
    return document.markdown(where), document.html()


def test_compare_predicts_every_run_and_the_report_shows_it(data_folder, tmp_path, monkeypatch):
    from pathlib import Path

    import pandas as pd

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")  # 2026-05-28: the day of the predictions
    markdown, _ = _section(tmp_path / "out", tmp_path)
    assert "No comparison yet" in markdown and "l4sim compare sel4bench" in markdown
    scenario = Path(__file__).parents[2] / "scenarios" / "sel4bench_smp.toml"
    done = l4sim(
        "compare",
        "sel4bench",
        data_folder,
        "--out",
        tmp_path / "out",
        "--events",
        EVENTS,
        "--jobs",
        1,
        "--scenario",
        scenario,
        "--change",
        "2026-03-18=IPC slower",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert list(table["run_id"]) == [1001, 1003, 1002]
    measured = table["smp_4core_c500_measured"]
    assert measured.notna().tolist() == [True, True, False]  # the last has none: withheld
    assert table["smp_4core_c500_predicted"].notna().all()
    # each in-sample run's handoff is fitted to the other's figure (made with HANDOFF)
    assert table["smp_4core_c500_error"].dropna().abs().max() < 0.01
    # the slower IPC of the last run: fewer calls on 4 cores at delay 500
    assert table["smp_4core_c500_predicted"].iloc[2] < table["smp_4core_c500_predicted"].iloc[0]
    # every run's residuals, each within 1%
    residuals = table[
        [
            c
            for c in table.columns
            if c.startswith("residual_smp_1core")
            or c in ("residual_ipc_call_intra", "residual_ipc_reply_intra")
        ]
    ]
    assert residuals.shape[1] == 4 and (residuals.abs() < 0.01).all().all()
    for suffix in (".png", ".svg"):
        assert (tmp_path / "out" / f"sel4bench_2026{suffix}").stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "out").glob("*/SMP_32/profiles/*.toml")) == [
        "1001.toml",
        "1002.toml",
        "1003.toml",
    ]
    written = (tmp_path / "out" / "compare.md").read_text()
    assert written in done.stdout and "FITTED" in written and "| 1002 |" in written
    markdown, page = _section(tmp_path / "out", tmp_path)
    assert "## Validated against hardware" in markdown and "| 1002 |" in markdown
    assert "### Residuals" in markdown and "### In-sample errors" in markdown
    assert "FITTED" in markdown and "(out/sel4bench_2026.png)" in markdown
    assert "2026-03-20" in markdown  # the withheld run's prediction: alone, measured n/a
    changes = pd.read_csv(tmp_path / "out" / "changes.csv", dtype=str)
    assert changes.to_dict("records") == [
        {"date": "2026-03-18", "change": "IPC slower", "predicted_on": "2026-05-28"}
    ]
    assert "Predictions, made on 2026-05-28, before the withheld figures" in written
    assert "Predictions, made on 2026-05-28, before the withheld figures" in markdown
    effect = next(line for line in markdown.splitlines() if "2026-03-18: IPC slower" in line)
    assert "| 2 / 1 |" in effect and "-" in effect.split("|")[6]  # fewer calls after it
    withheld = next(line for line in markdown.splitlines() if line.startswith("| 1002 |"))
    assert withheld.count("n/a") == 4  # measured and error, at both delays
    assert "data:image/png;base64," in page  # the figure inlined in the HTML report


def test_the_example_data_is_what_its_script_writes(tmp_path, monkeypatch):
    """examples/sel4bench/data/ (synthetic, used by docs/how-to/calibration.md) is reproducible."""
    import importlib.util
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "sel4bench"
    spec = importlib.util.spec_from_file_location("make_data", example / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    shipped = sorted((example / "data").glob("*.jsonl"))
    assert [p.name for p in shipped] == sorted(p.name for p in tmp_path.glob("*.jsonl"))
    for path in shipped:
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name
    data = read(example / "data").only()
    assert [run.run_id for run in data.runs] == [101, 102, 103]
    assert not data.run(103).has("smp", "smp_4core_c500")  # as if withheld


def test_the_synthetic_example_is_never_presented_as_hardware_validation(tmp_path):
    """The example data is marked synthetic, and never shown as a hardware validation.

    Compare's output and the report's section say so in their titles and first
    sentence.
    """
    from pathlib import Path

    from PIL import Image

    root = Path(__file__).parents[2]
    done = l4sim(
        "compare",
        "sel4bench",
        root / "examples" / "sel4bench" / "data",
        "--out",
        tmp_path / "out",
        "--events",
        EVENTS,
        "--jobs",
        1,
        "--scenario",
        root / "scenarios" / "sel4bench_smp.toml",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    markdown, page = _section(tmp_path / "out", tmp_path)
    for text in (done.stdout, markdown, page):
        assert "Validated against hardware" not in text
        assert "Synthetic" in text and "not measurements" in text
    lines = [line for line in markdown.splitlines() if line.strip()]
    heading = next(index for index, line in enumerate(lines) if line.startswith("## "))
    assert lines[heading].startswith("## Synthetic sel4bench data (not measurements")
    first = lines[heading + 1]
    assert first.startswith("**Synthetic data, not measurements**: ")
    assert "SYNTHETIC_SMP_32" in first
    with Image.open(tmp_path / "out" / "sel4bench_2026.png") as image:
        assert "synthetic" in image.text["Title"]  # type: ignore[attr-defined]
    assert "synthetic (not measured)" in (tmp_path / "out" / "sel4bench_2026.svg").read_text()
    recorded = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert recorded["data"]["synthetic"].startswith("made up by examples/sel4bench/make_data.py")
    assert [Path(f["path"]).name for f in recorded["data"]["files"]] == [
        "SYNTHETIC_32.jsonl",
        "SYNTHETIC_SMP_32.jsonl",
    ]
    # the table on its own, and each run's profile and residuals, say so too
    table = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert table["synthetic"].str.startswith("made up by").all()
    for profile in (tmp_path / "out").glob("*/*/profiles/*.toml"):
        assert "SYNTHETIC DATA, not measurements" in profile.read_text()
        residuals = profile.with_name(profile.stem + ".residuals.md").read_text()
        assert residuals.startswith("**Synthetic data, not measurements**")
        assert "| measured |" not in residuals and "| synthetic |" in residuals


def test_a_comparison_of_unrecorded_origin_is_not_called_a_validation(data_folder, tmp_path):
    from l4sim.analysis.sel4bench_compare import TABLE

    folder = tmp_path / "old"
    folder.mkdir()
    done = l4sim(
        "compare",
        "sel4bench",
        data_folder,
        "--out",
        folder,
        "--events",
        EVENTS,
        "--jobs",
        1,
        "--scenario",
        Path(__file__).parents[2] / "scenarios" / "sel4bench_smp.toml",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (folder / "provenance.json").unlink()  # as an older l4sim wrote it
    assert (folder / TABLE).is_file()
    markdown, _ = _section(folder, tmp_path)
    assert "Validated against hardware" not in markdown
    assert "unrecorded origin" in markdown and "was not recorded" in markdown
