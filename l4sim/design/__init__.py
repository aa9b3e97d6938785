"""Fastpath designs, studied once per point: the best check order, the design search, the proofs.

Plain Python on a fastpath's checks and its measured check profile, no
simulation: :mod:`~l4sim.design.order` (the order that makes falling back
cheapest), :mod:`~l4sim.design.search` (orders x hoists x prechecks),
:mod:`~l4sim.design.immutability` (the static scan a hoist rests on) and
:mod:`~l4sim.design.files` (the files ``l4sim checks --optimize`` writes).
The runs that profile and verify a design are the sweep's
(:mod:`l4sim.sweep.fastpath_designs`).
"""
