"""Sensitivity studies: the indices find what matters, ignore what does not, resume."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from l4sim.analysis import sensitivity as sensitivity_module
from l4sim.analysis.document import Document
from l4sim.analysis.sensitivity import (
    NO_EFFECT,
    noise_floor,
    run_study,
    sample_points,
    study_from,
)
from l4sim.analysis.sensitivity_params import StudyError, parse_parameters
from l4sim.analysis.sensitivity_report import sensitivity_section
from l4sim.analysis.style import number
from l4sim.sweep.scenario import load_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
# four contenders on four CPUs, short runs: the lock's hold time against its handoff cost
# and a cost of a path this workload never takes (IPC decoding)
LOCK = ["cpus=4", "threads=4", "lock=ticket", "events=150", "warmup_events=20", "replications=1"]
PARAMS = ["hold_mean=300:700", "costs.lock_handoff=100:200", "costs.ipc_decode=30:90"]


def _lock_study(samples=16, method="sobol", params=PARAMS):
    scenario = load_scenario(SCENARIOS / "lock_microbench.toml", LOCK)
    return study_from(scenario, params, [], method, samples)


def _index(indices: pd.DataFrame, output: str, parameter: str, column: str = "ST") -> float:
    row = indices[(indices["output"] == output) & (indices["parameter"] == parameter)]
    return float(row[column].iloc[0])


@pytest.fixture(scope="module")
def lock_result(tmp_path_factory):
    return run_study(_lock_study(), tmp_path_factory.mktemp("lock"), jobs=1, progress=False)


def test_hold_time_dominates_throughput_and_an_unused_cost_is_at_the_noise_floor(lock_result):
    indices = lock_result.indices
    output = "lock.acquisitions_per_mcycle"
    floor = noise_floor(indices, "sobol")
    hold = _index(indices, output, "hold_mean")
    handoff = _index(indices, output, "costs.lock_handoff")
    unused = _index(indices, output, "costs.ipc_decode")
    assert unused <= floor
    assert _index(indices, output, "costs.ipc_decode", "ST_conf") <= floor
    assert hold > 0.5 > handoff
    assert hold - _index(indices, output, "hold_mean", "ST_conf") > handoff + _index(
        indices, output, "costs.lock_handoff", "ST_conf"
    )
    assert handoff > floor  # a real, smaller effect is seen above the floor


def test_the_no_effect_parameter_measures_the_floor(lock_result):
    """Common random numbers: a parameter applied to nothing leaves every result as it was."""
    indices = lock_result.indices
    dummy = indices[indices["parameter"] == NO_EFFECT]
    assert len(dummy) == indices["output"].nunique()
    assert (dummy["ST"].fillna(0) == 0).all() and (dummy["S1"].fillna(0) == 0).all()
    assert noise_floor(indices, "sobol") == 0.0


def test_tables_have_the_documented_columns(lock_result):
    out = lock_result.out_dir
    indices = pd.read_parquet(out / "sensitivity.parquet")
    assert list(indices.columns) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert set(indices["parameter"]) == {*(p.split("=")[0] for p in PARAMS), NO_EFFECT}
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 1 + 16 * (len(PARAMS) + 1 + 2)  # the profile + Saltelli's design
    assert samples.loc[samples["sample"] == -1, "hold_mean"].item() == 500.0
    assert samples["costs.lock_handoff"].between(100, 200).all()
    assert samples["costs.lock_handoff"].dtype.kind == "i"  # costs are whole cycles
    # the sampled inputs are the outputs' causes: the hold time sets the mean duration
    assert np.corrcoef(samples["hold_mean"], samples["lock.duration_mean"])[0, 1] > 0.9
    assert (out / "sensitivity.png").is_file()


def test_every_sample_faces_the_same_random_streams():
    study = _lock_study(samples=8)
    points = sample_points(study, study.design())
    assert len({p.hold_mean for p in points}) > 8
    assert len({p.seed_key() for p in points}) == 1
    # without the shared streams, another hold time would have drawn other numbers
    assert points[1].model_copy(update={"stream_key": ""}).seed_key() != points[0].seed_key()


def test_morris_screens_the_same_way(tmp_path):
    result = run_study(_lock_study(samples=4, method="morris"), tmp_path, jobs=1, progress=False)
    indices = result.indices
    assert list(indices.columns) == ["output", "parameter", "mu_star", "mu_star_conf", "sigma"]
    output = "lock.duration_mean"
    assert _index(indices, output, "costs.ipc_decode", "mu_star") == 0.0
    assert _index(indices, output, "hold_mean", "mu_star") > 10 * _index(
        indices, output, "costs.lock_handoff", "mu_star"
    )


def test_claims_of_a_study_get_a_robustness_share(tmp_path):
    """The scaling crossover on a tiny study: a share in [0, 1] and a verdict per sample."""
    scenario = load_scenario(
        SCENARIOS / "sensitivity_scaling.toml",
        ["events=80", "warmup_events=10", "sweep.cpus=[1,2]"],
    )
    study = study_from(scenario, ["costs.lock_handoff=0:3000"], [], "morris", 4)
    assert "make sensitivity" in _section(tmp_path)  # nothing run yet
    result = run_study(study, tmp_path / "sensitivity_scaling", jobs=1, progress=False)
    row = result.robustness.set_index("output").loc["S1.1"]
    assert 0.0 <= row["share_holding"] <= 1.0
    values = result.samples.loc[result.samples["sample"] >= 0, "S1.1"]
    assert row["share_holding"] == pytest.approx(((values >= 1) & (values <= 2)).mean())
    for figure in result.figures:
        assert figure.png.is_file() and figure.svg.is_file()
        assert "sensitivity_scaling" in figure.title
    assert [f.png.name for f in result.figures] == ["sensitivity.png", "robustness.png"]
    section = _section(tmp_path)
    assert f"| S1.1 | {row['text']} | {row['band']} |" in section
    assert f"| {number(100 * row['share_holding'])}% |" in section
    assert "](sensitivity_scaling/robustness.png)" in section  # the figures, captioned


def _section(results: Path) -> str:
    document = Document("report")
    sensitivity_section(document, results)
    return document.markdown(results)


def test_relative_ranges_and_the_cost_wildcard():
    scenario = load_scenario(SCENARIOS / "lock_microbench.toml", LOCK)
    parameters = parse_parameters(
        ["costs.*=-30%:+30%", "costs.lock_handoff=10:20"], ["costs.timeslice"], scenario
    )
    names = [p.name for p in parameters]
    assert "costs.timeslice" not in names
    # lock_acquire and lock_release are 0 in this scenario: nothing to vary relatively
    assert "costs.lock_acquire" not in names and "costs.lock_release" not in names
    handoff = next(p for p in parameters if p.name == "costs.lock_handoff")
    assert (handoff.low, handoff.high) == (10, 20)
    switch = next(p for p in parameters if p.name == "costs.context_switch")
    assert (switch.low, switch.high) == pytest.approx((84, 156))
    assert switch.applied(100.4) == 100


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ("nope=1:2", "unknown parameter"),
        ("costs.nope=1:2", "unknown parameter"),
        ("hold_mean=700:300", "must be below HIGH"),
        ("hold_mean=5:5", "must be below HIGH"),
        ("hold_mean=-10:300", "valid domain"),
        ("costs.lock_handoff=-30:90", "valid domain"),
        ("hold_mean", "NAME=LOW:HIGH"),
        ("hold_mean=a:3", "neither a number"),
        ("costs.check_bitmap=12.1:12.3", "single whole number"),
    ],
)
def test_bad_parameters_are_one_line(spec, fragment):
    scenario = load_scenario(SCENARIOS / "lock_microbench.toml", LOCK)
    with pytest.raises(StudyError, match=fragment) as error:
        study_from(scenario, [spec], [], "sobol", 8)
    assert "\n" not in str(error.value)


def test_a_swept_key_cannot_be_varied_too():
    scenario = load_scenario(SCENARIOS / "sensitivity_syscall.toml")
    with pytest.raises(StudyError, match="sweeps 'wait_factor'"):
        study_from(scenario, ["wait_factor=10:20"], [], "morris", 4)


def test_unknown_study_key_in_the_scenario(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[sensitivity]\nparms = ["costs.sched_pick=1:2"]\n')
    with pytest.raises(StudyError, match=r"sensitivity\.parms"):
        study_from(load_scenario(path), [], [], None, None)


def test_claims_follow_the_scenario():
    linux = load_scenario(SCENARIOS / "sensitivity_linux.toml")
    assert sensitivity_module.claims_for(linux).__name__ == "linux_claims"
    scaling = load_scenario(SCENARIOS / "sensitivity_scaling.toml")
    assert sensitivity_module.claims_for(scaling).__name__ == "scaling_claims"
    plain = load_scenario(SCENARIOS / "lock_microbench.toml")
    assert sensitivity_module.claims_for(plain) is None
