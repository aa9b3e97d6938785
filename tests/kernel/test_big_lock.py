"""The big kernel lock: one lock around every path, the fine-grained effects dropped."""

from l4sim.kernel.big_lock import BigLockKernel
from l4sim.kernel.interpret import run_sync
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import RaiseException
from l4sim.sweep.runner import simulate
from l4sim.sweep.scenario import point_from_dict


def test_fastpath_runs_under_the_big_lock_only(pair):
    kernel, worker, handler = pair
    big = BigLockKernel(kernel)
    kind, path = big.enter(0, worker, RaiseException("syscall"))
    run = run_sync(path)
    # the lock is taken before the first check and dropped before the switch
    assert run.acquired == [big.big_lock]
    assert run.released == [big.big_lock]
    assert run.switched_to is handler
    assert run.outcome.path == "fast"
    assert worker.state is ThreadState.BLOCKED_ON_REPLY
    assert big.locks[0] is big.big_lock and kernel.scheduler_lock in big.locks


def test_cross_cpu_handler_goes_slowpath_with_an_ipi(pair):
    kernel, worker, handler = pair
    handler.cpu = 1  # the handler lives on the other CPU
    big = BigLockKernel(kernel)
    _, path = big.enter(0, worker, RaiseException("syscall"))
    run = run_sync(path)
    assert run.outcome.path == "slow" and run.outcome.exit_point == "handler_on_this_cpu"
    assert run.kicks == [1]
    assert run.acquired == [big.big_lock]


def test_big_lock_serialises_more_than_fine_locks():
    """Same workload, same streams: one lock for everything waits more on 8 CPUs."""
    keys = {"cpus": 8, "threads_per_cpu": 1, "wait_factor": 300.0, "events": 1500,
            "warmup_events": 150}
    fine = simulate(point_from_dict({**keys, "kernel_lock": "fine"})).rows
    big = simulate(point_from_dict({**keys, "kernel_lock": "big"})).rows
    wait = {r["kind"]: r["lock_wait_mean"] for r in fine}
    wait_big = {r["kind"]: r["lock_wait_mean"] for r in big}
    assert wait_big["ipc"] > wait["ipc"]


def test_every_entry_point_of_the_kernel_is_wrapped():
    """A new entry point on Kernel must be wrapped too, or it would bypass the big lock."""
    from l4sim.kernel.kernel import Kernel

    entry_points = {"enter", "reschedule", "dispatch", "deliver_irq"}
    # an entry point's kernel part without the trap's exit: the wrapper puts the
    # lock around it and the trap around that (enter_kernel is its counterpart
    # for enter, not a generator itself)
    kernel_parts = {"reschedule_kernel", "deliver_irq_kernel"}
    generators = {name for name, value in vars(Kernel).items()
                  if callable(value) and not name.startswith("_")
                  and getattr(value, "__code__", None) is not None
                  and value.__code__.co_flags & 0x20}  # generator functions: kernel paths
    assert generators <= entry_points | kernel_parts, generators - entry_points - kernel_parts
    assert all(name in vars(BigLockKernel) for name in entry_points)
