"""One run of one point: its kernel configuration, the engine, its records.

:func:`~l4sim.simulation.simulate.simulate` is the entry point: a point, a
replication and its resolved fastpath order or design
(:mod:`~l4sim.simulation.resolution`) in, plain records out
(:mod:`~l4sim.simulation.records`); :mod:`~l4sim.simulation.worker` is the
same as a worker process sees it, and :mod:`~l4sim.simulation.behaviour`
compares what two runs' threads received.
"""
