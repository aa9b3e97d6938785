"""The big kernel lock: one lock around every path, the fine-grained effects dropped."""

import pytest

from l4sim.kernel.big_lock import BigLockKernel, with_kernel_lock
from l4sim.kernel.config import KernelConfig
from l4sim.kernel.effects import Acquire, Release, Switch
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.kernel.syscalls import RaiseException
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict
from tests.kernel.sync_run import run_sync


def test_fastpath_runs_under_the_big_lock_only(pair):
    kernel, worker, handler = pair
    big = BigLockKernel(kernel)
    _kind, path = big.enter(0, worker, RaiseException("syscall"))
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
    keys = {
        "cpus": 8,
        "threads_per_cpu": 1,
        "wait_factor": 300.0,
        "events": 1500,
        "warmup_events": 150,
    }
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
    generators = {
        name
        for name, value in vars(Kernel).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__code__", None) is not None
        and value.__code__.co_flags & 0x20
    }  # generator functions: kernel paths
    assert generators <= entry_points | kernel_parts, generators - entry_points - kernel_parts
    assert all(name in vars(BigLockKernel) for name in entry_points)


def _effects(path, resume: bool = True) -> list:
    """Every effect of a path, through its first switch and (resume) its continuation."""
    effects = []
    for effect in path:
        effects.append(effect)
        if isinstance(effect, Switch) and not resume:
            break
    return effects


@pytest.mark.parametrize("big", [True, False], ids=["big", "fine"])
def test_the_trap_s_entry_and_exit_run_outside_every_lock(costs, big):
    """The trap's entry comes before the first lock, its exit after the last.

    seL4 takes its lock in C, after the trap's assembly entry, and drops it
    before the assembly exit.
    """
    kernel = Kernel(
        KernelConfig(cpus=2, kernel_lock="big" if big else "fine"),
        costs.replace(trap_entry=7, trap_exit=5),
    )
    space = kernel.create_space("s")
    handler = kernel.create_thread("handler0", 0, 200, space)
    worker = kernel.create_thread("worker0", 0, 100, space, handler=handler)
    kernel.scheduler.pick_next(0)
    handler.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.pick_next(0)
    entry = with_kernel_lock(kernel)
    effects = _effects(entry.enter(0, worker, RaiseException("syscall"))[1])
    locks = [i for i, e in enumerate(effects) if isinstance(e, Acquire | Release)]
    assert effects[0] == 7 and locks[0] > 0  # the entry, then the first lock
    assert effects[-1] == 5 and locks[-1] < len(effects) - 1  # the last release, then the exit
    assert isinstance(effects[locks[-1]], Release)
    assert sum(1 for e in effects if e in (5, 7) and type(e) is int) == 2


def test_without_trap_costs_paths_are_not_wrapped(pair):
    kernel, worker, _ = pair
    path = kernel.enter_kernel(0, worker, RaiseException("syscall"))[1]
    assert kernel.trapped(path) is path


def test_with_a_design_the_big_lock_is_taken_at_the_first_locked_step():
    """With a design the big lock is taken at the design's first locked step.

    seL4 as it is takes its lock at the C entry; with a design the lock-free,
    hoisted and prechecked steps run before it. A fallback before it takes it
    for the slowpath.
    """
    from l4sim.kernel.costs import load_profile
    from l4sim.kernel.syscalls import Call
    from tests.kernel.test_fastpath_design import DESIGN, PROVEN

    costs = load_profile("vmxl4-pandaboard")

    def rig(design):
        kernel = Kernel(
            KernelConfig(
                cpus=2, fastpath_ipc=True, kernel_lock="big", design=design, proven_immutable=PROVEN
            ),
            costs,
        )
        big = with_kernel_lock(kernel)
        server = kernel.create_thread("server", 0, 200, kernel.create_space("s"))
        client = kernel.create_thread("client", 0, 100, kernel.create_space("c"))
        remote = kernel.create_thread("remote", 1, 200, kernel.create_space("r"))
        kernel.scheduler.pick_next(0)
        server.state = ThreadState.WAITING_TO_RECEIVE
        kernel.scheduler.pick_next(0)
        return big, client, server, remote

    big, client, server, remote = rig(None)
    run = run_sync(big.enter(0, client, Call(server, (1,)))[1])
    assert run.outcome.path == "fast" and run.cycles_before_first_lock == 0

    big, client, server, remote = rig({"ipc": DESIGN})
    run = run_sync(big.enter(0, client, Call(server, (1,)))[1])
    assert run.acquired == [big.big_lock] and run.outcome.path == "fast"
    # the entry, three lock-free checks, one hoisted and two prechecks before the lock
    before = costs.kernel_entry + 3 * costs.check_load_compare + 3 * costs.check_pointer_chase
    assert run.cycles_before_first_lock == before

    run = run_sync(big.enter(0, client, Call(remote, (1,)))[1])
    assert run.outcome.exit_point == "destination_on_this_cpu"
    assert run.acquired == [big.big_lock]  # for the slowpath, which goes on under it
    # the entry and the four checks up to the hoisted one that fails
    assert run.cycles_before_first_lock == (
        costs.kernel_entry + 2 * costs.check_load_compare + 2 * costs.check_pointer_chase
    )
