"""Reading a board's folder as published, and the rules that sort its runs (no simulation).

The data are synthetic sel4bench-results files written here
(tests/analysis/sel4bench_files.py), laid out as the public series lays them out.
"""

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l4sim.analysis.sel4bench import BuildName, Sel4benchError, read
from l4sim.analysis.sel4bench_runs import (
    BOOT_MODE_GAP,
    DELAY0_AGREEMENT,
    DELAY_WORKED_BELOW,
    DETERMINISTIC,
    EXPONENTIAL,
    PARTIAL_PROGRESS_BELOW,
    NoWorkingDelay,
    boot_modes,
    classify,
    classify_all,
    clock_sources,
)
from tests.analysis import sel4bench_files as files


def plain_four_core(kind, bits) -> dict:
    """4-core figures of the right shape (not the model's): lock-bound at 500 or delay 0."""
    one = {delay: kind.truth.rate(delay) for delay in (500, 32000)}
    if not kind.truth.delay_works:
        return {500: 1.3 * one[500], 32000: 1.3 * one[500]}
    return {500: 2.3 * one[500], 32000: kind.pairs * 0.998 * one[32000]}


@pytest.fixture
def published(tmp_path):
    return files.board(tmp_path / "myboard", plain_four_core)


def test_a_published_folder_is_read_by_build_and_says_what_it_left_aside(published):
    found = read(published)
    assert [board.name for board in found.boards] == ["myboard"]
    assert [data.name for data in found.data_sets] == ["myboard SMP_32", "myboard SMP_64"]
    board = found.boards[0]
    read_files = [path.name for path, _ in board.read]
    assert read_files == [
        "BOARD_SMP_32.jsonl",
        "BOARD_32.jsonl",
        "BOARD_SMP_64.jsonl",
        "BOARD_64.jsonl",
    ]
    why = {path.name: reason for path, reason in board.left_aside}
    assert set(why) == set(files.LEFT_ASIDE)
    assert "mixed-criticality" in why["BOARD_MCS_64.jsonl"]
    assert "fastpath off" in why["BOARD_64_nofastpath.jsonl"]
    assert "kernel stack switch" in why["BOARD_64_noksw.jsonl"]
    lines = board.summary()
    assert any(line.startswith("left aside BOARD_MCS_32.jsonl") for line in lines)
    for data in found.data_sets:  # each build with its own partner
        bits = data.build.split("_")[1]
        assert data.files["uniprocessor"].name == f"BOARD_{bits}.jsonl"
        assert [run.run_id for run in data.runs] == [k.run_id for k in files.board_runs()]


def test_the_folder_of_all_boards_gives_a_section_per_board(published, tmp_path):
    other = tmp_path / "uniprocessor_only"
    other.mkdir()
    (other / "OTHER_32.jsonl").write_text((published / "BOARD_32.jsonl").read_text())
    found = read(tmp_path)
    assert [board.name for board in found.boards] == ["myboard", "uniprocessor_only"]
    assert found.boards[1].problem.startswith("no SMP build")
    assert found.boards[1].summary()[-1].startswith("nothing to calibrate: no SMP build")
    assert len(found.data_sets) == 2


def test_a_board_without_smp_figures_is_one_clear_line(tmp_path):
    folder = files.write(tmp_path / "riscv", [files.records(1, 1, files.Truth())])
    smp = folder / files.SMP_FILE
    records = [json.loads(line) for line in smp.read_text().splitlines()]
    for record in records:
        for key in [k for k in record if k.startswith("smp_")]:
            del record[key]
    smp.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(
        Sel4benchError,
        match=r"nothing to calibrate \(riscv: "
        r"BOARD_SMP_32.jsonl has no smp_\* figures\)",
    ):
        read(folder)


@pytest.mark.parametrize(
    "name, label, standard",
    [
        ("SABRE_SMP_32.jsonl", "SMP_32", True),
        ("SABRE_32_nofastpath.jsonl", "32_nofastpath", False),
        ("PC99_SMP_64_haswell3.jsonl", "SMP_64", True),
        ("PC99_MCS_64_noksw_x.jsonl", "MCS_64_noksw", False),
        ("PC99_64_noksw_haswell3.jsonl", "64_noksw", False),
    ],
)
def test_a_file_name_says_the_build(name, label, standard, tmp_path):
    build = BuildName.of(tmp_path / name)
    assert (build.label, build.standard) == (label, standard)
    assert build.board in ("SABRE", "PC99_haswell3", "PC99_x")


def run_of(truth, four=None, day=1, month=3):
    """One Run of a one-run data set."""
    return one_data([(truth, four, day, month)]).runs[0]


def one_data(runs, tmp_path_factory=None):
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) / "b"
    files.write(
        folder,
        [
            files.records(100 + i, day, truth, four, month)
            for i, (truth, four, day, month) in enumerate(runs)
        ],
    )
    return read(folder).only()


@pytest.mark.parametrize(
    "ratio, worked",
    [
        (0.04, True),
        (DELAY_WORKED_BELOW * 0.99, True),
        (DELAY_WORKED_BELOW * 1.01, False),
        (1.0, False),
    ],
)
def test_a_delay_worked_when_the_slow_rate_is_below_the_threshold(ratio, worked):
    from l4sim.analysis.sel4bench import Figure

    run = run_of(files.Truth())
    fast = run.builds["smp"]["smp_1core_c500"]
    run.builds["smp"]["smp_1core_c32000"] = Figure(
        (*tuple(v * ratio for v in fast.values[:6]), 0.0, 5), fast.file, fast.line
    )
    kind = classify(run)
    assert kind.delay_worked is worked and kind.regime == ("delay" if worked else "delay 0")
    assert kind.simulated_delay(500) == (500 if worked else 0)


@pytest.mark.parametrize(
    "bench, date, distribution, known",
    [
        ("05b75695", 3, EXPONENTIAL, True),
        ("1fb8af24", 6, DETERMINISTIC, True),
        ("e19fff3e", 6, EXPONENTIAL, True),
        ("0badc0de", 3, EXPONENTIAL, False),
        ("0badc0de", 7, DETERMINISTIC, False),
    ],
)
def test_the_version_decides_the_delay_distribution(bench, date, distribution, known):
    run = run_of(replace(files.Truth(), bench=bench), month=date)
    kind = classify(run)
    assert kind.distribution == distribution
    assert ("not a version this table knows" in kind.version) is not known
    assert not kind.anomalies


def test_an_intermediate_version_is_an_anomaly():
    kind = classify(run_of(replace(files.Truth(), bench=files.INTERMEDIATE_BENCH)))
    assert kind.anomalies and "intermediate sel4bench version d2ba9fa8" in kind.anomalies[0]


@pytest.mark.parametrize(
    "pairs, flagged",
    [
        (3.0, True),
        (PARTIAL_PROGRESS_BELOW - 0.01, True),
        (PARTIAL_PROGRESS_BELOW + 0.01, False),
        (3.99, False),
    ],
)
def test_partial_progress_is_an_anomaly(pairs, flagged):
    truth = files.Truth()
    run = run_of(truth, {500: 2.3 * truth.rate(500), 32000: pairs * truth.rate(32000)})
    kind = classify(run)
    assert bool(kind.anomalies) is flagged
    if flagged:
        assert kind.anomalies[0].startswith("partial progress")


@pytest.mark.parametrize(
    "apart, flagged",
    [(1.05, True), (1 + DELAY0_AGREEMENT * 1.1, True), (1 + DELAY0_AGREEMENT * 0.9, False)],
)
def test_delay_zero_figures_that_disagree_are_an_anomaly(apart, flagged):
    truth = replace(files.Truth(), delay_works=False)
    run = run_of(truth, {500: 1.3e6 * apart, 32000: 1.3e6})
    kind = classify(run)
    assert not kind.delay_worked and bool(kind.anomalies) is flagged


def test_a_second_cluster_of_boots_is_an_anomaly_a_lone_outlier_is_not():
    base = [(1000.0 + i, i) for i in range(6)]
    modes = boot_modes(
        [*base, (1000 * (1 + 2 * BOOT_MODE_GAP), 10), (1000 * (1 + 2 * BOOT_MODE_GAP) + 1, 11)]
    )
    assert sorted(run for run, _, _ in modes) == [10, 11]
    assert all(apart == pytest.approx(2 * BOOT_MODE_GAP, abs=0.01) for _, apart, _ in modes)
    assert boot_modes([*base, (1000 * (1 + 2 * BOOT_MODE_GAP), 10)]) == []  # one run alone
    assert (
        boot_modes(
            [*base, (1000 * (1 + BOOT_MODE_GAP / 2), 10), (1000 * (1 + BOOT_MODE_GAP / 2), 11)]
        )
        == []
    )  # too near
    # through classify_all: two runs of a 6-run board 8% above the rest
    truth = files.Truth()
    runs = [
        (
            truth,
            {
                500: 2.3 * truth.rate(500) * (1.08 if i >= 4 else 1 + i / 1e4),
                32000: 3.99 * truth.rate(32000),
            },
            1 + i,
            3,
        )
        for i in range(6)
    ]
    data = one_data(runs)
    kinds = classify_all(data)
    flagged = [run.run_id for run in data.runs if kinds[run.run_id].anomalies]
    assert flagged == [104, 105]
    assert "another boot mode" in kinds[104].anomalies[0]


def test_a_broken_delay_takes_the_clock_of_the_nearest_working_run():
    truth = files.Truth()
    broken = replace(truth, delay_works=False)
    data = one_data(
        [(truth, None, 1, 1), (broken, None, 20, 1), (broken, None, 1, 3), (truth, None, 10, 3)]
    )
    kinds = classify_all(data)
    sources = clock_sources(data, kinds)
    assert [sources[run.run_id].run_id for run in data.runs] == [100, 100, 103, 103]


def test_a_board_without_any_working_delay_is_one_clear_line():
    broken = replace(files.Truth(), delay_works=False)
    data = one_data([(broken, None, 1, 1), (broken, None, 2, 1)])
    with pytest.raises(
        NoWorkingDelay,
        match=r"b SMP_32: no run whose delay worked .* "
        r"the board's clock cannot be derived",
    ):
        clock_sources(data, classify_all(data))


@given(
    board=st.lists(
        st.sampled_from(["PC99", "haswell3", "SABRE", "imx8mm", "evk", "x"]), min_size=1, max_size=3
    ),
    smp=st.booleans(),
    mcs=st.booleans(),
    bits=st.sampled_from([None, 32, 64]),
    fastpath=st.booleans(),
    ksw=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_any_name_of_the_series_gives_back_its_build(board, smp, mcs, bits, fastpath, ksw, order):
    """Whatever the order of its parts, a file name says its board and build."""
    from pathlib import Path

    parts = (["SMP"] if smp else []) + (["MCS"] if mcs else []) + ([str(bits)] if bits else [])
    parts += ([] if fastpath else ["nofastpath"]) + ([] if ksw else ["noksw"])
    order.shuffle(parts)
    build = BuildName.of(Path("_".join([board[0], *parts, *board[1:]]) + ".jsonl"))
    assert (build.smp, build.mcs, build.bits) == (smp, mcs, bits)
    assert (build.fastpath, build.kernel_stack_switch) == (fastpath, ksw)
    assert build.board == "_".join(board)
    assert build.standard == (fastpath and ksw and not mcs)
