"""The report section "seL4: checks outside the big lock", from reduced runs of its scenarios."""

from pathlib import Path

from l4sim.analysis.document import Document
from l4sim.analysis.sel4_checks_report import HEADING, SCENARIOS, sel4_checks_section
from l4sim.sweep import fastpath_designs
from l4sim.sweep.execute import run_scenario
from l4sim.sweep.scenario import load_scenario

SCENARIO_DIR = Path(__file__).parents[2] / "scenarios"
REDUCED = ["replications=2", "events=400", "warmup_events=40"]
# one point each (the prediction's: 4 cores, delay 500): every design is searched and
# checked first, which is most of the time
EXTRA = {
    "sel4_checks_smp": ["sweep.cpus=[4]", "sweep.delay_cycles=[500]"],
    "sel4_checks_smp_static": ["sweep.cpus=[4]", "sweep.delay_cycles=[500]"],
    "sel4_checks_ipc": ["sweep.wait_factor=[100]"],
    "sel4_checks_ipc_static": ["sweep.wait_factor=[100]"],
    "sel4_checks_band": [
        "sweep.delay_cycles=[500]",
        "sweep.costs.lock_handoff=[240]",
        "sweep.costs.sched_lock_lines=[2]",
    ],
}


def test_without_its_runs_the_section_says_how_to_make_them(tmp_path):
    document = Document("report")
    sel4_checks_section(document, tmp_path)
    text = document.markdown(tmp_path)
    assert f"## {HEADING}" in text and "`make sel4checks`" in text


def test_the_section_states_the_prediction_with_its_intervals_and_band(
    tmp_path, monkeypatch, reviewed
):
    monkeypatch.setattr(fastpath_designs, "VERIFY_EVENTS", 400)  # (the checks, smaller)
    reviewed.nonnegative = False  # a gain may be negative
    for name in SCENARIOS:
        scenario = load_scenario(SCENARIO_DIR / f"{name}.toml", [*REDUCED, *EXTRA[name]])
        run_scenario(scenario, tmp_path / name, jobs=1, progress=False)
    document = Document("report")
    sel4_checks_section(document, tmp_path)
    text = document.markdown(tmp_path)
    assert f"## {HEADING}" in text
    # which checks leave the lock under each proof: seL4's message-info check in both,
    # the affinity check only in a static system
    assert "| `message_info` | both |" in text
    same_core = next(line for line in text.splitlines() if line.startswith("| `same_core`"))
    assert same_core.endswith("| no (a precheck at most) | yes: hoisted |")
    # every design it ran was checked first, and the steps say where the lock is taken
    assert "accepted" in text and "rejected" not in text
    assert "`same_core` [no lock] **hoisted**" in text
    assert "`priority` [big kernel lock]" in text
    # the prediction (the ceiling and delay 1000 too, where they ran), with a paired
    # interval and the calibration band beside it; what would falsify it
    assert "**Prediction**" in text and "What would falsify it" in text
    line = next(line for line in text.splitlines() if line.startswith("| delay 500 |"))
    assert line.count("(") >= 3 and line.count(" .. ") == 5
    assert "### The IPC benchmark with four clients" in text
    assert reviewed["sel4_checks.png"] == []
