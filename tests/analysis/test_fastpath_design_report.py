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
    # the eleven columns of one table are three narrow tables
    assert (
        "| clients | wait factor | paper | reordered | reordered vs paper (%) | optimized |" in text
    )
    assert "| clients | wait factor | reordered - paper | optimized - paper |" in text
    assert "| clients | wait factor | paper | reordered | optimized |" in text
    assert max(line.count("|") for line in text.splitlines()) <= 10  # at most 9 columns
    # what the ratios show, as measured (never "never loses")
    assert "With the optimized design the IPC fastpath is faster than the slowpath" in text
    assert "### E5 with the optimized design" in text and "| E5 |" in text
    # one missing-value mark, each with its reason; no '-' for missing
    assert "no value for this row" not in text
    assert not any(
        cell.strip() == "-"
        for line in text.splitlines()
        if line.startswith("|")
        for cell in line.split("|")
    )
    # each distinct design listed once, with where it applies
    designs = [line for line in text.splitlines() if line.startswith("**Design ")]
    assert len(designs) == len(set(designs))
    assert any("4 clients at wait factor 10" in line for line in designs)
    assert "`destination_on_this_cpu` [no lock] **hoisted**" in text
    # hoisted means before any lock: never beside a lock
    assert not [
        line
        for line in text.splitlines()
        if "lock" in line.split("]")[0] and "[no lock]" not in line and "**hoisted**" in line
    ]
    assert "accepted" in text and "clean under the invariant checker" in text
    assert "(syscall exception fastpath; the load)" in text  # the Linux load's design


def test_a_design_is_described_with_its_locks_and_moves():
    from l4sim.analysis.fastpath_design_report import describe
    from l4sim.kernel.fastpath_design import paper_design
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    design = [
        "simple_message",
        "valid_destination",
        "call_or_reply_wait",
        "hoisted:destination_on_this_cpu",
        "early:no_sender_queued",
        "early:destination_waiting",
        "priority_and_domain",
        "destination_partner",
        "no_pending_notification",
        "valid_space",
        "recheck:no_sender_queued",
        "recheck:destination_waiting",
    ]
    lines = describe(design, IPC_CHECKS)
    assert lines[3] == (
        "`destination_on_this_cpu` [no lock] **hoisted** (reads only fields never written)"
    )
    assert "**early**" in lines[4] and "again under its lock" in lines[-1]
    # hoisted means before any lock: placed after a check that took one, it is not
    late = [s for s in paper_design(IPC_CHECKS) if s != "valid_space"] + ["hoisted:valid_space"]
    line = describe(late, IPC_CHECKS)[-1]
    assert line.startswith("`valid_space` [scheduler + thread locks]")
    assert "hoisted" not in line and "needs no lock of its own" in line
