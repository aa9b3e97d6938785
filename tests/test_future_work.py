"""The paper's future work: check profile, implied checks, optimized order, notifications."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from l4sim.kernel.costs import load_profile
from l4sim.kernel.interpret import run_sync
from l4sim.kernel.ipc_fastpath import notify_fastpath
from l4sim.kernel.ipc_slowpath import ipc_slowpath
from l4sim.kernel.kernel import Kernel, KernelConfig
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import Notify, Wait
from l4sim.runner import simulate
from l4sim.scenario import ScenarioError, point_from_dict

from .behaviour import same_behaviour

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def _l4sim(*args):
    return subprocess.run([sys.executable, "-m", "l4sim.cli", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("checks")
    result = _l4sim("run", str(SCENARIOS / "check_order.toml"), "--out", str(out), "--quiet",
                    "--set", "replications=1", "--set", "events=800", "--set",
                    "warmup_events=100", "--set", "sweep.check_order=['paper']",
                    "--set", "sweep.wait_factor=[10,100000]")
    assert result.returncode == 0, result.stderr
    return out


def test_check_profile_counts_are_consistent(profiled_run):
    result = _l4sim("checks", str(profiled_run), "--optimize")
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(profiled_run / "checks.parquet")
    for _, rows in table.groupby("wait_factor"):
        rows = rows.sort_values("position")
        reached, failed = rows["reached"].to_numpy(), rows["failed"].to_numpy()
        assert (reached[1:] == reached[:-1] - failed[:-1]).all()
        # the lock-free checks hold no lock when they fail; the rest hold the scheduler lock
        stages = dict(zip(rows["check"], rows["locks_held_at_failure"], strict=True))
        assert stages["simple_message"] == "none"
        assert stages["destination_on_this_cpu"] == "scheduler"
    heavy = table[table["wait_factor"] == 10].set_index("check")
    assert heavy.loc["destination_on_this_cpu", "failed"] > 0  # cross-CPU clients
    order = json.loads((profiled_run / "check_order.json").read_text())["ipc"]
    assert order["expected_cycles_optimized"] <= order["expected_cycles_paper"] + 1e-9
    assert sorted(order["order"]) == sorted(table["check"].unique())
    assert (profiled_run / "checks.png").is_file()
    assert (profiled_run / "implied_checks.parquet").is_file()


def test_optimize_needs_a_profiled_run(tmp_path):
    out = tmp_path / "plain"
    assert _l4sim("run", str(SCENARIOS / "ipc_bench.toml"), "--out", str(out), "--quiet",
                  "--set", "replications=1", "--set", "events=200", "--set", "clients=2",
                  "--set", "wait_factor=10", "--set", "fastpath_ipc=true").returncode == 0
    result = _l4sim("checks", str(out), "--optimize")
    assert result.returncode == 2 and "check_profile" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("workload", [
    {"workload": "ipc_bench", "clients": 4, "wait_factor": 10.0, "fastpath_ipc": True},
    {"workload": "ipc_bench", "clients": 1, "wait_factor": 1000.0, "fastpath_ipc": True},
    {"workload": "ipc_bench", "clients": 3, "wait_factor": 1000.0, "fastpath_ipc": True},
])
def test_optimized_order_keeps_observable_behaviour(tmp_path, workload):
    paper = point_from_dict({**workload, "events": 600, "warmup_events": 50})
    order = {"ipc": ["no_sender_queued", "valid_destination", "destination_on_this_cpu",
                     "destination_waiting", "simple_message", "call_or_reply_wait",
                     "priority_and_domain", "destination_partner", "no_pending_notification",
                     "valid_space"]}
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    reordered = paper.model_copy(update={"check_order": "optimized",
                                         "check_order_file": str(path)})
    first = simulate(paper, 0, observe=True)
    second = simulate(reordered, 0, observe=True)
    if workload["clients"] == 1:  # no contention: the reordered fastpath is taken
        assert (second.events["path"] == "fast").mean() > 0.9
    same_behaviour(first.observations, second.observations)


def test_dependencies_refuse_a_null_dereference_order(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"ipc": ["destination_waiting", "valid_destination",
                                        "simple_message", "call_or_reply_wait",
                                        "destination_on_this_cpu", "no_sender_queued",
                                        "priority_and_domain", "destination_partner",
                                        "no_pending_notification", "valid_space"]}))
    with pytest.raises(ScenarioError, match="depends on"):  # refused when the point is made
        point_from_dict({"workload": "ipc_bench", "fastpath_ipc": True, "events": 50,
                         "check_order": "optimized", "check_order_file": str(path)})


@pytest.fixture
def waiter():
    kernel = Kernel(KernelConfig(cpus=2, fastpath_notify=True), load_profile("vmxl4-pandaboard"))
    receiver = kernel.create_thread("receiver", 1, 200, kernel.create_space("r"))
    sender = kernel.create_thread("sender", 0, 100, kernel.create_space("s"))
    kernel.scheduler.pick_next(0)
    kernel.scheduler.pick_next(1)
    return kernel, sender, receiver


def test_notification_fastpath_wakes_a_remote_waiter(waiter):
    kernel, sender, receiver = waiter
    receiver.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.current[1] = None
    run = run_sync(notify_fastpath(kernel, 0, sender, Notify(receiver, 0b10)))
    assert run.outcome.exit_point == "fast_notify" and run.kicks == [1]
    assert receiver.received.observed() == ("notify", "kernel", (0b10,))
    assert receiver.state is ThreadState.READY and run.held_at_end == []


def test_notification_to_a_busy_thread_stays_pending(waiter):
    kernel, sender, receiver = waiter
    run = run_sync(notify_fastpath(kernel, 0, sender, Notify(receiver, 0b01)))
    assert run.outcome.exit_point == "destination_waiting_open"  # falls back
    slow = run_sync(ipc_slowpath(kernel, 0, sender, Notify(receiver, 0b01)))
    assert slow.outcome.exit_point == "slow_notify_pending" and receiver.notify_bits == 0b01
    got = run_sync(kernel._ipc(1, receiver, Wait()))
    assert got.value.observed() == ("notify", "kernel", (0b01,)) and receiver.notify_bits == 0


def test_notification_forwarding_delivers_every_interrupt_once_in_order():
    """The Linux load depends on timing (which process blocks when), so runs with the
    notification fastpath on and off differ; each must still deliver every forwarded
    interrupt to its server exactly once and the timer ticks in order."""
    base = {"workload": "linux", "irq_forward": "notify", "events": 600, "warmup_events": 50,
            "device_latency": 20000.0, "tick": 1_000_000, "fastpath_ipc": True}
    on = simulate(point_from_dict({**base, "fastpath_notify": True}), 0, observe=True)
    off = simulate(point_from_dict({**base, "fastpath_notify": False}), 0, observe=True)
    assert (on.events["exit_point"] == "fast_notify").sum() > 0
    assert (off.events["exit_point"] == "fast_notify").sum() == 0
    for run in (on, off):
        assert [m for m in run.observations["irq1"] if m[0] == "notify"]  # CPU 1 is signalled
        for server in ("linux0", "linux1"):
            payloads = [m[2] for m in run.observations[server] if m[0] == "call"]
            assert payloads and len(payloads) == len(set(payloads))  # each exactly once
            ticks = [p[1] for p in payloads if p[0] == "timer"]
            assert ticks == sorted(ticks)


def test_a_bad_check_order_file_is_a_one_line_error(tmp_path):
    scenario = SCENARIOS / "check_order.toml"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ipc": {"order": ["bogus"]}}))
    for value, problem in (("nowhere.json", "no such file"), (str(bad), "each check once")):
        for command in ("validate", "run"):
            extra = ["--out", str(tmp_path / "out")] if command == "run" else []
            result = _l4sim(command, str(scenario), "--set", "check_order=optimized",
                            "--set", f"check_order_file={value}", *extra)
            assert result.returncode == 2, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "check_order_file" in lines[0] and problem in lines[0]
            assert not (tmp_path / "out").exists()


def test_the_cache_key_follows_the_order_file_contents(tmp_path):
    from l4sim.cache import task_key

    path = tmp_path / "order.json"
    path.write_text(json.dumps({"ipc": ["valid_destination", "simple_message"]}))
    config = {"workload": "ipc_bench", "check_order": "optimized",
              "check_order_file": str(path)}
    first = task_key(config, 0, "model")
    path.write_text(json.dumps({"ipc": ["simple_message", "valid_destination"]}))
    assert task_key(config, 0, "model") != first
