"""The SMP invariant checker: it finds real races and bugs, and stays quiet on a correct kernel."""

import subprocess
import sys

import numpy as np
import pytest

from l4sim.kernel import (
    exception_fastpath,
    exception_slowpath,
    ipc_fastpath,
    ipc_slowpath,
    ipc_state,
)
from l4sim.kernel.lock_effects import LockEffects
from l4sim.kernel.objects import ThreadState
from l4sim.sim.invariants import InvariantViolation, Monitor
from l4sim.simulation import simulate as runner
from l4sim.simulation.simulate import build_machine, simulate
from l4sim.sweep.scenario import point_from_dict

from ..helpers import kernel, machine, run_machine, server, shared_handler

# the syscall benchmark under load: several threads per CPU, short waits
PATHS = (exception_fastpath, exception_slowpath, ipc_fastpath, ipc_slowpath)
LOADED = {"threads": 4, "wait_factor": 10.0, "events": 1500, "warmup_events": 0}


def _fast(result) -> float:
    return next(r for r in result.rows if r["kind"] == "syscall_exception")["fast_fraction"]


def _violation(point, **kwargs) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as caught:
        simulate(point, invariants=True, **kwargs)
    return caught.value


@pytest.mark.parametrize("cpus,seed", [(2, 1), (2, 2), (2, 3), (3, 1), (4, 1)])
def test_uniprocessor_fastpath_races_on_two_or_more_cpus(cpus, seed):
    point = point_from_dict(
        {**LOADED, "cpus": cpus, "threads": 2 * cpus, "fastpath_variant": "uniprocessor"}
    )
    error = _violation(point, seed=seed)
    assert error.check in ("stale-read", "unlocked-write"), error
    assert "scheduler" in str(error) or "ipc:" in str(error)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_smp_fastpath_runs_clean_on_the_same_load(seed):
    result = simulate(point_from_dict(LOADED), seed=seed, invariants=True)
    assert _fast(result) > 0.2  # the fastpath is really exercised


def test_uniprocessor_fastpath_is_correct_on_one_cpu():
    point = point_from_dict({**LOADED, "cpus": 1, "fastpath_variant": "uniprocessor"})
    result = simulate(point, invariants=True, observe=True)
    assert _fast(result) > 0.2
    smp = simulate(point.model_copy(update={"fastpath_variant": "smp"}), observe=True)
    # same behaviour as the locked fastpath (one CPU: no interleaving inside the kernel)
    assert result.observations == smp.observations


def test_report_says_what_when_where_and_what_led_to_it():
    text = str(_violation(point_from_dict({**LOADED, "fastpath_variant": "uniprocessor"})))
    first, where, events = text.splitlines()[:3]
    assert first.startswith("invariant violated: ")
    for part in ("cycle ", "cpu ", "thread ", "lock ", "check "):
        assert part in where
    assert events.strip().startswith("last ") and len(text.splitlines()) > 10


@pytest.mark.slow
def test_cli_exits_3_without_traceback(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "s"\nthreads = 4\nwait_factor = 10\nevents = 500\n'
        'warmup_events = 0\nfastpath_variant = "uniprocessor"\n'
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "l4sim.cli",
            "run",
            str(scenario),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--quiet",
            "--check-invariants",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "invariant violated" in result.stderr and "last " in result.stderr
    assert not (out / "points.parquet").exists()


def test_descending_thread_locks_are_an_order_violation():
    point = point_from_dict({**LOADED, "lock_order": "descending"})
    error = _violation(point)
    assert error.check == "lock-order" and "thread:" in str(error)


def test_descending_thread_locks_cannot_deadlock_under_the_scheduler_lock(monkeypatch):
    """Every thread-lock acquisition happens under the global lock: any order is safe here."""
    taken = []  # (thread-lock addresses in the order taken, scheduler lock held)

    def recording(method, held_at):
        def take(self, *args):
            held_before = list(args[held_at])
            effect = method(self, *args)
            objects = [lock.address for lock in effect.locks if lock.address is not None]
            if len(objects) == 2:
                taken.append((objects, self.scheduler_lock in held_before + list(effect.locks)))
            return effect

        return take

    monkeypatch.setattr(LockEffects, "take_stage", recording(LockEffects.take_stage, 1))
    monkeypatch.setattr(
        LockEffects, "take_thread_locks", recording(LockEffects.take_thread_locks, 0)
    )
    point = point_from_dict({**LOADED, "lock_order": "descending", "lock_order_check": False})
    result = simulate(point, invariants=True)  # no deadlock, no other violation
    # the condition did occur: pairs of thread locks taken in descending address
    # order, always under the scheduler lock, while the CPUs contended for locks
    assert len(taken) > 100
    assert all(first > second and under_scheduler for (first, second), under_scheduler in taken)
    assert (result.events["lock_wait"] > 0).sum() > 10


def test_objects_before_the_global_lock_deadlock_is_reported_with_its_cycle():
    k, programs = shared_handler(workers=4, lock_order="objects_first")
    with pytest.raises(InvariantViolation) as caught:
        run_machine(machine(k, programs, 3000, order=False))
    error = caught.value
    assert error.check == "deadlock"
    text = str(error)
    assert "wait-for cycle" in text and "held by cpu" in text and "waits for" in text
    k, programs = shared_handler(workers=4, lock_order="objects_first")
    with pytest.raises(InvariantViolation, match="lock-order"):
        run_machine(machine(k, programs, 3000, order=True))


def test_mutual_exclusion_is_checked_independently_of_the_engine():
    from l4sim.sim.spinlock import SpinLocks

    class BrokenSpinLocks(SpinLocks):  # (a subclass: the compiled class cannot be patched)
        def acquire(self, cpu, lock):  # grants a held lock: a broken spinlock
            lock.holder = cpu
            self.held[cpu].append(lock)
            return self.costs.lock_acquire
            yield

    # every acquisition through acquire() (lookahead grants free locks inline)
    machine = runner.build_machine(point_from_dict(LOADED), invariants=True, lookahead=False)
    locks = machine.locks
    machine.locks = machine.interpreter.locks = BrokenSpinLocks(
        machine.env,
        machine.costs,
        locks.design,
        locks.rng,
        machine.held,
        machine.next_act,
        machine.spinning_on,
    )
    with pytest.raises(InvariantViolation, match="mutual-exclusion"):
        runner.run_machine(machine)


def test_a_duplicated_delivery_is_caught(monkeypatch):
    def twice(kernel, sender, receiver, message):
        ipc_state.send_message(kernel, sender, receiver, message)
        ipc_state.send_message(kernel, sender, receiver, message)

    for path in PATHS:  # each path delivers through its own name of the function
        monkeypatch.setattr(path, "send_message", twice)
    with pytest.raises(InvariantViolation, match="message"):
        simulate(point_from_dict(LOADED), invariants=True)


def test_a_lost_wakeup_is_caught(monkeypatch):
    monkeypatch.setattr(ipc_slowpath, "first_sender", lambda receiver, source: None)
    k, programs = shared_handler(cpus=2, workers=4, wait=10)
    m = machine(k, programs, 200)
    m.monitor.wakeup_bound = 50_000
    with pytest.raises(InvariantViolation, match="lost-wakeup"):
        run_machine(m, max_cycles=2_000_000)  # time runs on (timeout), nothing else happens
    k, programs = shared_handler(cpus=2, workers=4, wait=10)
    with pytest.raises(InvariantViolation, match="lost-wakeup"):
        run_machine(machine(k, programs, 200))  # the run stalls


def test_a_thread_running_while_waiting_is_caught():
    k = kernel(cpus=1)
    handler = k.create_thread("h", 0, 200, k.create_space("s"))
    programs = {handler: server()}
    m = machine(k, programs, 10)
    handler.state = ThreadState.WAITING_TO_RECEIVE
    k.scheduler.current[0] = handler
    with pytest.raises(InvariantViolation, match="one-cpu"):
        m.monitor.on_user(0, handler, 0)


def test_stress_jitter_is_seeded():
    k1, p1 = shared_handler(seed=3)
    k2, p2 = shared_handler(seed=3)
    m1, m2 = machine(k1, p1, 300, stress=50), machine(k2, p2, 300, stress=50)
    run_machine(m1)
    run_machine(m2)
    assert m1.env.now == m2.env.now
    assert m1.observations == m2.observations


def test_monitor_takes_no_simpy_and_no_variant_names():
    """The detector reads accesses, not configuration: it never looks at the variant."""
    from pathlib import Path

    import l4sim

    source = (Path(l4sim.__file__).parent / "sim" / "invariants.py").read_text()
    assert "uniprocessor" not in source and "fastpath_variant" not in source
    assert "import simpy" not in source
    assert isinstance(Monitor(), Monitor) and np is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_the_uniprocessor_race_is_real_it_loses_exceptions(seed):
    """A cross-CPU partner: with the race checks off, the consequence shows up on its own."""
    k, programs = shared_handler(seed=seed, workers=4, fastpath_variant="uniprocessor")
    m = machine(k, programs, 5000, seed=seed, check=False)
    Monitor(exact_time=True, races=False).attach(m)
    with pytest.raises(InvariantViolation, match="overwrote"):
        run_machine(m)
    k, programs = shared_handler(seed=seed, workers=4, fastpath_variant="uniprocessor")
    with pytest.raises(InvariantViolation, match=r"stale-read|unlocked-write"):
        run_machine(machine(k, programs, 5000, seed=seed))
    k, programs = shared_handler(seed=seed, workers=4)  # the paper's SMP fastpath
    run_machine(machine(k, programs, 5000, seed=seed))


@pytest.mark.parametrize("variant", ["smp", "uniprocessor"])
def test_the_checker_does_not_change_the_timeline(variant):
    """Watching (and catching time up for exact accesses) changes no record."""
    import pandas as pd

    point = point_from_dict(
        {
            "threads": 3,
            "wait_factor": 100.0,
            "events": 400,
            "warmup_events": 20,
            "cpus": 1 if variant != "smp" else 2,
            "fastpath_variant": variant,
        }
    )
    plain = simulate(point, invariants=False)
    watched = simulate(point, invariants=True)
    pd.testing.assert_frame_equal(plain.events, watched.events)


def test_a_deadlock_is_caught_while_other_cpus_keep_running():
    """cpu0 and cpu1 deadlock while cpu2 computes forever: caught without a stall."""
    from l4sim.kernel.syscalls import Compute

    def forever():
        while True:
            yield Compute(1000)

    k, programs = shared_handler(cpus=3, workers=4, lock_order="objects_first")
    loner = k.create_thread("loner", 2, 250, k.create_space("alone"))
    programs[loner] = forever()  # the highest priority on cpu2: it never stops
    with pytest.raises(InvariantViolation) as caught:
        run_machine(machine(k, programs, 5000, order=False))
    assert caught.value.check == "deadlock"


# -- under the paravirtualized Linux load ---------------------------------------
LINUX = {"workload": "linux", "cpus": 2, "fastpath_ipc": True, "events": 400, "warmup_events": 0}


def test_uniprocessor_fastpath_race_is_caught_under_linux():
    point = point_from_dict({**LINUX, "fastpath_variant": "uniprocessor"})
    with pytest.raises(InvariantViolation) as error:
        simulate(point, 0, invariants=True)
    # the unlocked fastpath either commits on a read another CPU has since changed,
    # or writes the scheduler's state while another CPU holds its lock
    assert error.value.check in ("stale-read", "unlocked-write")
    assert "scheduler" in str(error.value)


@pytest.mark.parametrize("forward", ["send", "notify"])
def test_smp_fastpaths_run_clean_under_linux(forward):
    point = point_from_dict(
        {
            **LINUX,
            "irq_forward": forward,
            "fastpath_notify": True,
            "tick": 1_000_000,
            "device_latency": 20_000.0,
        }
    )
    result = simulate(point, 0, invariants=True)
    assert (result.events["path"] == "fast").any()


def test_uniprocessor_fastpath_is_clean_on_one_cpu_under_linux():
    point = point_from_dict({**LINUX, "cpus": 1, "fastpath_variant": "uniprocessor"})
    machine = build_machine(point, 0, invariants=True)
    run_machine(machine)
    # the checker watched the whole run, and the unlocked fastpath was taken
    assert machine.monitor is not None and machine.monitor.violations == 0
    records = machine.trace.to_frame(
        since=machine.measure_from, threads=machine.thread_names, until=machine.measure_to
    )
    assert len(records) >= LINUX["events"]
    assert (records["path"] == "fast").sum() > 0
