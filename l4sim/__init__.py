"""l4sim: a discrete-event simulator of the SMP fastpaths of an L4 microkernel.

Layers, one subpackage each, each importing only those below it (checked by
import-linter, ``lint-imports``; contracts in ``pyproject.toml``)::

    cli        l4sim run / validate / summarize / plot / report / checks / trace / timeline
    analysis   claims, report, figures, check profile, validation, timelines
    sweep      scenario file -> points x replications -> one run -> cache -> tables
    workloads  the keys every workload has, the registry, the built-in workloads
    sim        SimPy (only here): CPUs, thread processes, effects, lock spinning, trace
    kernel     plain Python: objects, locks, checks, fastpaths, slowpaths, costs

The last three run compiled by Cython when built (``python -m l4sim.build``,
done by ``make venv``); see :mod:`l4sim.compiled`.
"""

__version__ = "0.1.0"

from l4sim import compiled as _compiled

_compiled.install()  # the hot modules' compiled builds, where they match their source
