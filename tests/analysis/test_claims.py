"""Each claim of the paper pinned in direction on reduced scenarios (fewer events, fixed seeds)."""

from pathlib import Path

import pytest

from l4sim.analysis import claims
from l4sim.sweep.execute import run_scenario
from l4sim.sweep.scenario import load_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _points(name, tmp_path_factory, *overrides):
    scenario = load_scenario(
        SCENARIOS / f"{name}.toml",
        ["replications=3", "events=1000", "warmup_events=200", *overrides],
    )
    return run_scenario(scenario, tmp_path_factory.mktemp(name), jobs=2, progress=False)


@pytest.fixture(scope="module")
def linux(tmp_path_factory):
    return {c.text: c for c in claims.linux_claims(_points("linux", tmp_path_factory))}


@pytest.fixture(scope="module")
def ipc_bench(tmp_path_factory):
    points = _points(
        "ipc_bench", tmp_path_factory, "sweep.clients=[1,4]", "sweep.wait_factor=[10,1000,100000]"
    )
    return claims.ipc_bench_claims(points)


def test_e1_exception_fastpath_is_used_exclusively_and_faster(linux):
    speedup = next(c for t, c in linux.items() if t.startswith("syscall-exception speedup"))
    share = next(c for t, c in linux.items() if t.startswith("share of syscall"))
    assert speedup.value > 1.3
    assert share.value >= 0.99


def test_e2_ipc_fastpath_is_faster_under_linux(linux):
    speedup = next(c for t, c in linux.items() if t.startswith("IPC speedup"))
    assert speedup.value > 1.1


def test_e5_directions(ipc_bench):
    one_client, heavy, light = ipc_bench
    assert one_client.value >= 1.2  # large improvement with a single client
    assert heavy.value < 1.0  # several clients, heavy contention: the fastpath is worse
    assert abs(light.value) <= 15  # light contention: within 15% of the slowpath


def test_claims_frame_marks_fitted_rows(linux):
    frame = claims.claims_frame(list(linux.values()))
    assert frame.to_string().count("(fitted)") == 2


def test_verdict_needs_the_whole_interval_inside_the_band():
    inside = claims.Claim("E", "x", "", (1.0, 2.0), 1.5, (1.4, 1.6))
    straddling = claims.Claim("E", "x", "", (1.0, 2.0), 1.9, (1.7, 2.1))
    outside = claims.Claim("E", "x", "", (1.0, 2.0), 2.5, (2.4, 2.6))
    assert inside.verdict == "holds"
    assert straddling.verdict.startswith("inconclusive")
    assert outside.verdict == "**does not hold**"


def _scaling_rows(fine: list[float], big: list[float], counts=(1, 2, 4, 8)):
    import pandas as pd

    rows = []
    for lock, rates in (("fine", fine), ("big", big)):
        for cpus, rate in zip(counts, rates, strict=True):
            rows.append(
                {
                    "kind": "syscall_exception",
                    "replication": 0,
                    "cpus": cpus,
                    "kernel_lock": lock,
                    "entries_per_mcycle": rate,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "fine,big,crossover",
    [
        ([635, 1151, 1241, 1239], [682, 813, 836, 835], 2),  # the README's wait factor 100
        ([700, 1151, 1241, 1239], [682, 813, 836, 835], 1),
        ([600, 700, 1241, 1239], [682, 813, 836, 835], 4),
        ([600, 1151, 800, 1239], [682, 813, 836, 835], 8),  # behind at 4: only from 8 on
        ([600, 700, 800, 800], [682, 813, 836, 835], 16),  # never: twice the largest count
    ],
)
def test_scaling_crossover_is_where_fine_stays_ahead(fine, big, crossover):
    claim, one, two = claims.scaling_claims(_scaling_rows(fine, big))
    assert claim.value == crossover
    assert claim.holds == (crossover <= 2)
    assert one.value == pytest.approx(big[0] / fine[0]) and one.holds == (big[0] > fine[0])
    assert two.value == pytest.approx(fine[1] / big[1]) and two.holds == (fine[1] > big[1])
