"""The notification fastpath (the paper's future work), on its own and under the Linux load."""

import pytest

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.ipc_fastpath import notify_fastpath
from l4sim.kernel.ipc_slowpath import ipc_slowpath
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import Notify, Wait
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict
from tests.kernel.sync_run import run_sync


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
    """Every forwarded interrupt reaches its server exactly once, the ticks in order.

    The Linux load depends on timing (which process blocks when), so runs with
    the notification fastpath on and off differ; each must still deliver every
    forwarded interrupt to its server exactly once and the timer ticks in order.
    """
    base = {
        "workload": "linux",
        "irq_forward": "notify",
        "events": 600,
        "warmup_events": 50,
        "device_latency": 20000.0,
        "tick": 1_000_000,
        "fastpath_ipc": True,
    }
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
