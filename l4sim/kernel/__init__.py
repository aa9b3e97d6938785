"""The kernel model: plain Python, no clock, no SimPy.

Kernel paths are generators that change kernel state directly and yield small
effect values (:mod:`l4sim.kernel.effects`) for whoever runs them: the SimPy
engine (:mod:`l4sim.sim.machine`) or, in the tests, a synchronous interpreter
with no clock.
"""
