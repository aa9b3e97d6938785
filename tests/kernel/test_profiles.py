"""The shipped cost profiles: complete, and the documented sums hold."""

import pytest

from l4sim.kernel.costs import available_profiles, load_profile


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_loads(name):
    assert load_profile(name).name == name


def test_sel4_sabre_adds_up_to_sel4bench():
    c = load_profile("sel4-sabre")
    assert c.kernel_entry + c.kernel_exit == 114  # null syscall
    assert c.lock_acquire + c.lock_release == 433 - 368  # SMP-build fastpath Call overhead
    fault = (
        c.kernel_entry
        + c.sp_save_state
        + c.sp_build_message
        + c.sp_transfer
        + c.sched_pick
        + c.context_switch
        + c.receive_resume
        + c.kernel_exit
    )
    assert fault == 741  # fault delivered to handler, no fastpath
    call = (
        c.kernel_entry
        + c.ipc_decode
        + c.ipc_transfer
        + c.sched_pick
        + c.context_switch
        + c.receive_resume
        + c.kernel_exit
    )
    assert call == 860  # slowpath Call


def test_sel4_sabre_runs_the_syscall_benchmark_under_its_big_lock():
    from l4sim.simulation.simulate import simulate
    from l4sim.sweep.scenario import point_from_dict

    point = point_from_dict(
        {
            "profile": "sel4-sabre",
            "kernel_lock": "big",
            "lock": "clh",
            "fastpath_syscall": False,
            "cpus": 4,
            "threads": 4,
            "events": 300,
            "warmup_events": 30,
        }
    )
    rows = {row["kind"]: row for row in simulate(point).rows}
    assert rows["syscall_exception"]["fast_fraction"] == 0.0
    assert rows["syscall_exception"]["entries"] == 300


def test_sel4_sabre_fastpath_call_adds_up_to_sel4bench():
    from l4sim.kernel.ipc_checks import IPC_CHECKS

    c = load_profile("sel4-sabre")
    checks = sum(getattr(c, check.cost) for check in IPC_CHECKS)
    assert c.kernel_entry + checks + c.fp_ipc_transfer + c.fp_switch + c.kernel_exit == 368


def test_a_profile_may_start_from_another_and_change_a_few_costs(tmp_path):
    (tmp_path / "boards").mkdir()
    board = tmp_path / "boards" / "myboard.toml"
    board.write_text('base = "sel4-sabre"\nline_transfer = 20\n')
    derived, base = load_profile(board), load_profile("sel4-sabre")
    assert derived.line_transfer == 20 and derived.name == "myboard"
    assert derived.description == base.description
    assert derived.replace(line_transfer=base.line_transfer, name=base.name) == base
    # a base by path, relative to the profile file; chains of bases
    (tmp_path / "boards" / "tuned.toml").write_text(
        'base = "./myboard.toml"\nname = "tuned"\nlock_handoff = 90\n'
    )
    tuned = load_profile(tmp_path / "boards" / "tuned.toml")
    assert (tuned.name, tuned.lock_handoff, tuned.line_transfer) == ("tuned", 90, 20)


def test_a_profile_error_names_the_file_and_the_key(tmp_path):
    from l4sim.kernel.costs import ProfileError

    bad = tmp_path / "bad.toml"
    bad.write_text('base = "vmxl4-pandaboard"\nlock_handoff = "fast"\n')
    with pytest.raises(
        ProfileError,
        match=r"bad\.toml: key 'lock_handoff': must be a "
        "non-negative integer",
    ):
        load_profile(bad)


def test_profiles_cite_public_sources_not_files_outside_the_repository():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[2] / "l4sim" / "profiles").glob("*.toml")):
        text = path.read_text()
        assert "shared/" not in text and "domain notes" not in text.lower(), path.name
        assert "sel4bench-results" in text, path.name  # the published measurements
