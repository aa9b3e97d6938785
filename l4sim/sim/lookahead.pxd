# Cython declarations for the compiled build of lookahead.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
cdef class Lookahead:
    cdef dict __dict__
    cdef public object interrupts
    cdef public list next_act, ipi_due, irq_due, others
