"""Timeline traces: Chrome trace JSON and PNG, from a normal run and from a violation."""

import itertools
import json
from pathlib import Path

import numpy as np

from l4sim.analysis.timeline import Timeline
from l4sim.cli import main
from l4sim.simulation.simulate import build_machine, run_machine
from l4sim.sweep.scenario import point_from_dict

SCENARIO = str(Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml")


def test_trace_json_has_cpu_tracks_segments_and_ipc_flows(tmp_path):
    out = tmp_path / "trace.json"
    assert main(["trace", SCENARIO, "--set", "threads=2", "--out", str(out), "--events", "60"]) == 0
    events = json.loads(out.read_text())["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["tid"] for e in slices} == {0, 1}
    categories = {e["cat"] for e in slices}
    assert {"user", "fast", "slow", "spin"} <= categories
    names = {e["name"] for e in slices if e["cat"] == "fast"}
    assert "syscall_exception fast:fast_switch" in names
    starts = [e for e in events if e["ph"] == "s"]
    finishes = [e for e in events if e["ph"] == "f"]
    assert starts and len(starts) == len(finishes)
    # per CPU, the non-spin slices tile the timeline: no overlaps
    for cpu in (0, 1):
        spans = sorted(
            (e["ts"], e["ts"] + e["dur"]) for e in slices if e["tid"] == cpu and e["cat"] != "spin"
        )
        assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(spans))


def test_kernel_segments_add_up_to_the_trace_buffer():
    point = point_from_dict({"threads": 3, "wait_factor": 100.0, "events": 150, "warmup_events": 0})
    timeline = Timeline(2)
    machine = build_machine(point, 0, invariants=True, recorder=timeline)
    run_machine(machine)
    segments = sum(
        s.end - s.start for s in timeline.kernel_segments if not s.name.startswith("scheduler")
    )
    duration = np.asarray(machine.trace.duration)
    closed = duration[duration >= 0].sum()
    assert closed <= segments <= closed * 1.02  # the rest: entries still open at the end


def test_a_violation_writes_its_trace_and_exits_3(tmp_path, capsys):
    out = tmp_path / "violation.json"
    status = main(
        [
            "trace",
            SCENARIO,
            "--set",
            "threads=4",
            "--set",
            "wait_factor=10",
            "--set",
            "fastpath_variant=uniprocessor",
            "--out",
            str(out),
        ]
    )
    assert status == 3
    assert "invariant violated" in capsys.readouterr().err
    events = json.loads(out.read_text())["traceEvents"]
    assert any(e["name"].startswith("VIOLATION") for e in events if e["ph"] == "i")


def test_timeline_png(tmp_path):
    out = tmp_path / "timeline.png"
    assert (
        main(
            [
                "timeline",
                SCENARIO,
                "--set",
                "threads=2",
                "--out",
                str(out),
                "--cycles",
                "3000",
                "--events",
                "30",
            ]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_interrupt_on_an_idle_cpu_is_recorded_as_the_idle_thread():
    """A tick that finds its CPU idle is a kernel entry of no thread (it used to crash)."""
    from l4sim.kernel.config import KernelConfig
    from l4sim.kernel.costs import load_profile
    from l4sim.kernel.kernel import IRQ, Kernel
    from l4sim.kernel.syscalls import Compute, Wait
    from l4sim.sim.machine import Machine

    kernel = Kernel(KernelConfig(cpus=1), load_profile("vmxl4-pandaboard"))
    irq_thread = kernel.create_thread("irq", 0, 250, kernel.create_space("s"))
    kernel.irq_threads[0] = irq_thread

    def serve():
        while True:
            yield Wait()
            yield Compute(100)  # far shorter than the tick: the CPU idles in between

    machine = Machine(
        kernel,
        {irq_thread: serve()},
        np.random.default_rng(0),
        IRQ,
        0,
        10,
        timers=((0, 5000, "tick"),),
    )
    machine.run()
    frame = machine.trace.to_frame(threads=machine.thread_names)
    ticks = frame[frame["kind"] == IRQ]
    assert len(ticks) >= 10
    assert set(ticks["thread_name"]) == {"idle"}
    assert set(ticks["exit_point"]) == {"irq_deliver"}
