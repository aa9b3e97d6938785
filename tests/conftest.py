import os

import pytest

from l4sim.kernel.config import KernelConfig
from l4sim.kernel.costs import load_profile
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.objects import ThreadState
from l4sim.simulation.simulate import INVARIANTS_ENV

# every simulation in the tests runs under the invariant checker
# (worker processes inherit it through the environment)
os.environ[INVARIANTS_ENV] = "1"


@pytest.fixture
def costs():
    return load_profile("vmxl4-pandaboard")


@pytest.fixture
def pair(costs):
    """A kernel with, on CPU 0, a handler waiting for exceptions and a running worker."""
    kernel = Kernel(KernelConfig(cpus=2), costs)
    server = kernel.create_space("server")
    task = kernel.create_space("task")
    handler = kernel.create_thread("handler0", 0, 200, server)
    worker = kernel.create_thread("worker0", 0, 100, task, handler=handler)
    # bring the kernel to the state the benchmark reaches: handler waits, worker runs
    kernel.scheduler.pick_next(0)  # handler runs first (higher priority)
    handler.state = ThreadState.WAITING_TO_RECEIVE
    kernel.scheduler.pick_next(0)  # then the worker
    assert kernel.scheduler.current[0] is worker
    return kernel, worker, handler
