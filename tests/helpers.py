"""Small machines with custom user programs, for the kernel regression and checker tests."""

import numpy as np

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Compute, RaiseException, ReplyWait, Wait
from l4sim.sim.invariants import Monitor
from l4sim.sim.machine import Machine
from l4sim.simulation.simulate import run_machine


def kernel(cpus=2, **options):
    """A kernel for the regression suite: the IPC slowpath unless asked.

    The suite checks system-call semantics; the IPC fastpath has its own tests.
    """
    options.setdefault("fastpath_ipc", False)
    return Kernel(KernelConfig(cpus=cpus, **options), load_profile("vmxl4-pandaboard"))


def worker(rng, wait, count=None):
    """Compute a random while (0..wait cycles), raise a syscall numbered 1, 2, ...

    After ``count`` syscalls (if given) it blocks for good in a receive nobody answers.
    """
    number = 0
    while count is None or number < count:
        yield Compute(int(rng.random() * wait))
        number += 1
        yield RaiseException("syscall", (number,))
    yield Wait()


def server(service=200):
    """An exception handler: serve each exception, reply with ReplyWait (open receive)."""
    message = yield Wait()
    while True:
        yield Compute(service)
        message = yield ReplyWait(message.sender, ("ok", *message.payload[1:]))


def machine(
    k,
    programs,
    events,
    kind="syscall_exception",
    seed=0,
    check=True,
    order=True,
    stress=0,
    observe=True,
    lookahead=True,
):
    m = Machine(
        k,
        programs,
        np.random.default_rng(seed),
        kind,
        0,
        events,
        observe=observe,
        lookahead=lookahead,
    )
    m.enforce_lock_order = order
    if check:
        Monitor(exact_time=k.unlocked_fastpath, order=order, stress=stress, seed=seed).attach(m)
    return m


def shared_handler(cpus=2, workers=2, wait=300, seed=0, **options):
    """One handler on cpu0 serving workers spread over all CPUs (cross-CPU partners)."""
    k = kernel(cpus, **options)
    handler = k.create_thread("handler", 0, 200, k.create_space("server"))
    rng = np.random.default_rng(seed)
    programs = {handler: server()}
    for index in range(workers):
        w = k.create_thread(
            f"w{index}", index % cpus, 100, k.create_space(f"t{index}"), handler=handler
        )
        programs[w] = worker(np.random.default_rng(rng.integers(2**32)), wait)
    return k, programs


__all__ = ["kernel", "machine", "run_machine", "server", "shared_handler", "worker"]
