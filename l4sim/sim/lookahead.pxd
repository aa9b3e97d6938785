# Cython declarations for the compiled build of lookahead.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
cdef class Lookahead:
    cdef dict __dict__
    cdef public object interrupts
    cdef long long[::1] next_act  # the C array of lookahead.action_times
    cdef public list ipi_due, irq_due, others
