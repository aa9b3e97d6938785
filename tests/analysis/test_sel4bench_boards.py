"""A whole board's folder as published, round-tripped: calibrate and compare every build.

The synthetic board (tests/analysis/sel4bench_files.py) has an SMP build of
each word size, the builds a calibration leaves aside, and runs of every
kind: delays that worked and that did not, exponential and deterministic
versions, an intermediate version, partial progress, withheld 4-core
figures. Its 4-core figures are made by the model itself with a chosen lock
handoff and spinner drag, so what the fit finds can be held against them.
"""

import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from l4sim.analysis import calibration
from l4sim.analysis.sel4bench import read
from tests.analysis import sel4bench_files as files
from tests.cli.in_process import l4sim

EVENTS = 400  # Calls per simulation: enough for a stable mean, quick
HANDOFF, DRAG = 200, 10  # the lock the synthetic 4-core figures are made with
SCENARIO = Path(__file__).parents[2] / "scenarios" / "sel4bench_smp.toml"


def model_four_core(folder: Path):
    """4-core figures made by the model under each run's own calibrated profile."""

    def rates(kind, bits) -> dict:
        data = next(d for d in read(folder).data_sets if d.build == f"SMP_{bits}")
        prepared = calibration.prepare(data)
        run_kind = prepared.kinds[kind.run_id]
        costs = prepared.derived[kind.run_id][1].replace(
            lock_handoff=HANDOFF, lock_spinner_drag=DRAG
        )
        delays = [run_kind.simulated_delay(d) for d in (500, 32000)]
        found = {
            delay: calibration.simulate_rows(
                [(calibration.benchmark_point(4, delay, EVENTS, run_kind.distribution), costs)]
            )[0]["calls_per_second"]
            for delay in sorted(set(delays))
        }
        four = {500: found[delays[0]], 32000: found[delays[1]]}
        if run_kind.delay_worked:  # the pairs that made progress, nearly independent
            four[32000] = kind.pairs * 0.998 * kind.truth.rate(32000)
        return four

    return rates


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    folder = tmp_path_factory.mktemp("boards") / "myboard"
    files.board(folder, lambda kind, bits: None)  # first without 4-core figures
    return files.board(folder, model_four_core(folder))


@pytest.fixture(scope="module")
def compared(board):
    out = board.parent / "out"
    done = l4sim(
        "compare",
        "sel4bench",
        board.parent,
        "--out",
        out,
        "--events",
        EVENTS,
        "--jobs",
        1,
        "--scenario",
        SCENARIO,
        cwd=board.parent,
    )
    assert done.returncode == 0, done.stderr
    return out, done, pd.read_csv(out / "compare.csv", dtype={"anomaly": str})


def test_every_build_is_compared_and_every_run_labelled(compared):
    out, done, table = compared
    assert sorted(set(table["build"])) == ["SMP_32", "SMP_64"]
    for _, rows in table.groupby("build"):
        assert list(rows["run_id"]) == [k.run_id for k in files.board_runs()]
        regime = dict(zip(rows["run_id"], rows["regime"], strict=True))
        assert [regime[r] for r in (201, 202, 204, 207, 209)] == [
            "delay",
            "delay 0",
            "delay 0",
            "delay 0",
            "delay",
        ]
        distribution = dict(zip(rows["run_id"], rows["distribution"], strict=True))
        assert distribution[209] == "deterministic" and distribution[201] == "exponential"
        anomaly = dict(zip(rows["run_id"], rows["anomaly"].fillna(""), strict=True))
        assert anomaly[205].startswith("partial progress")
        assert anomaly[208].startswith("intermediate sel4bench version")
        assert {r for r, a in anomaly.items() if a} == {205, 208}
    markdown = (out / "compare.md").read_text()
    assert markdown in done.stdout
    assert "| myboard | BOARD_MCS_64.jsonl | left aside |" in markdown
    assert "## Anomalies: flagged, not fitted" in markdown and "| 205 |" in markdown
    for suffix in (".png", ".svg"):
        assert (out / f"sel4bench_2026{suffix}").stat().st_size > 10_000
    profiles = sorted(p.name for p in (out / "myboard" / "SMP_64" / "profiles").glob("*.toml"))
    assert profiles == [f"{k.run_id}.toml" for k in files.board_runs()]


def test_the_fit_finds_the_lock_the_figures_were_made_with_from_clean_runs_only(compared):
    _, _, table = compared
    for _, rows in table.groupby("build"):
        in_sample = rows[rows["smp_4core_c500_measured"].notna() & rows["anomaly"].isna()]
        assert len(in_sample) == 5  # 201-204 and 206; 205 is an anomaly
        assert (in_sample["fit_runs"] == 4).all()  # each fitted to the other four
        assert (rows[rows["run_id"] >= 207]["fit_runs"] == 5).all()
        assert in_sample["own_drag"].all()  # both regimes among them: the drag is theirs
        assert in_sample["lock_handoff"].between(HANDOFF - 8, HANDOFF + 8).all()
        assert in_sample["lock_spinner_drag"].between(DRAG - 5, DRAG + 5).all()
        # lock-bound at delay 500 (or 0): within 1%; at 32000 a few hundred Calls of
        # exponential spins on 4 cores leave a few percent of noise
        assert (in_sample["smp_4core_c500_error"].abs() < 0.01).all()
        assert (in_sample["smp_4core_c32000_error"].abs() < 0.04).all()
        residuals = rows[
            ["residual_ipc_call_intra", "residual_ipc_reply_intra", "residual_smp_1core_c500"]
        ]
        assert (residuals.abs() < 0.01).all().all()
        # 1 core at 32000: 400 Calls are three blocks of exponential draws, a few percent
        assert (rows["residual_smp_1core_c32000"].abs() < 0.03).all()


def test_a_broken_delay_is_predicted_as_delay_zero_with_the_clock_of_a_working_run(compared):
    _, _, table = compared
    rows = table[table["build"] == "SMP_32"].set_index("run_id")
    broken = rows.loc[202]
    assert broken["smp_4core_c500_predicted"] == broken["smp_4core_c32000_predicted"]
    assert broken["clock_run"] == 201  # the nearest working run: 10 days off (203: 12)
    assert broken["clock_hz"] == pytest.approx(files.Truth().clock, rel=1e-4)
    # the loop per version: the broken runs' own, the deterministic version's shorter
    loops = rows["smp_bench_loop"]
    assert loops[202] == pytest.approx(files.Truth().loop + 60, abs=2)
    assert loops[209] == pytest.approx(files.Truth().loop - 120, abs=2)


def test_calibrate_writes_a_profile_per_build(board, tmp_path):
    done = l4sim(
        "calibrate",
        "sel4bench",
        board,
        "--out",
        tmp_path / "board.toml",
        "--events",
        EVENTS,
        "--jobs",
        1,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "left aside BOARD_64_noksw.jsonl" in done.stdout
    for bits in ("32", "64"):
        profile = tmp_path / f"board.myboard.SMP_{bits}.toml"
        text = profile.read_text()
        assert 'delay_distribution = "deterministic"' in text  # the last run: 1fb8af24
        costs = tomllib.loads(text)
        assert costs["lock_handoff"] == pytest.approx(HANDOFF, abs=8)
        table = profile.with_name(f"board.myboard.SMP_{bits}.residuals.md").read_text()
        assert table in done.stdout
        errors = [float(e) for e in re.findall(r"\| ([+-]\d+\.\d+)% \|", table)]
        used = [
            float(e) for e in re.findall(r"\* \| [^|]+ \| [^|]+ \| [^|]+ \| ([+-]\d+\.\d+)%", table)
        ]
        assert len(errors) == 6 and len(used) == 4 and all(abs(e) < 1.0 for e in used)


def test_compare_is_the_same_on_any_number_of_workers(board, tmp_path):
    """Both delay regimes, both versions, a withheld run: the same table on 1 and 2 workers."""
    folder = tmp_path / "one"
    folder.mkdir()
    keep = ('"run_id": 201', '"run_id": 202', '"run_id": 204', '"run_id": 207', '"run_id": 209')
    for name in ("BOARD_SMP_32.jsonl", "BOARD_32.jsonl"):
        lines = (board / name).read_text().splitlines(keepends=True)
        (folder / name).write_text("".join(line for line in lines if any(k in line for k in keep)))
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        done = l4sim(
            "compare",
            "sel4bench",
            folder,
            "--out",
            out,
            "--events",
            EVENTS // 2,
            "--jobs",
            jobs,
            "--scenario",
            SCENARIO,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        tables.append((out / "compare.csv").read_bytes())
    assert tables[0] == tables[1]


def test_a_board_with_no_smp_build_is_one_line_exit_2(tmp_path):
    folder = tmp_path / "uniprocessor_only"
    folder.mkdir()
    records = files.records(1, 1, files.Truth())
    (folder / "ODROID_64.jsonl").write_text(__import__("json").dumps(records[1]) + "\n")
    done = l4sim(
        "compare",
        "sel4bench",
        folder,
        "--out",
        tmp_path / "out",
        "--scenario",
        SCENARIO,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert re.search(r"nothing to calibrate \(uniprocessor_only: no SMP build", done.stderr)
    assert not (tmp_path / "out").exists()
