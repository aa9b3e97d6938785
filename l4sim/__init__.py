"""l4sim: a discrete-event simulator of the SMP fastpaths of an L4 microkernel.

Layers, each importing only those below it::

    cli        l4sim run / validate / summarize / plot
    sweep      scenario file -> points x replications -> cache -> tables
    workloads  user programs: syscall_bench, ...
    sim        SimPy: CPUs, thread processes, lock spinning, trace buffer
    kernel     plain Python: objects, locks, checks, fastpaths, slowpaths, costs

The last three run compiled by Cython when built (``python -m l4sim.build``,
done by ``make venv``); see :mod:`l4sim.compiled`.
"""

__version__ = "0.1.0"

from l4sim import compiled as _compiled

_compiled.install()  # the hot modules' compiled builds, where they match their source
