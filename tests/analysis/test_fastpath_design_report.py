"""The report section "A fastpath design for SMP", built from reduced runs of its scenarios."""

from pathlib import Path

from l4sim.analysis.document import Document
from l4sim.analysis.fastpath_design_report import fastpath_design_section
from l4sim.sweep.execute import run_scenario
from l4sim.sweep.scenario import load_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
REDUCED = ["replications=2", "events=400", "warmup_events=40"]


def test_the_section_shows_designs_intervals_and_e5(tmp_path):
    folders = {}
    for name, extra in (
        ("fastpath_design", ["sweep.clients=[1,4]", "sweep.wait_factor=[10]"]),
        ("ipc_bench", ["sweep.clients=[1,4]", "sweep.wait_factor=[10]"]),
        ("fastpath_design_linux", []),
    ):
        scenario = load_scenario(SCENARIOS / f"{name}.toml", [*REDUCED, *extra])
        folders[name] = tmp_path / name
        run_scenario(scenario, folders[name], jobs=1, progress=False)
    document = Document("report")
    fastpath_design_section(document, folders)
    text = document.markdown(tmp_path)
    assert "<ol><li>" in document.html()  # a design's checks as a numbered list
    assert "## A fastpath design for SMP" in text
    assert "| clients | wait factor |" in text and "slow/fast optimized" in text
    assert "### E5 with the optimized design" in text and "| E5 |" in text
    assert "**ipc fastpath, clients = 4, wait_factor = 10**" in text
    assert "`destination_on_this_cpu` [no lock] **hoisted**" in text
    assert "accepted: clean under the invariant checker" in text
    assert "syscall_exception fastpath, the load" in text  # the Linux load's exception design
