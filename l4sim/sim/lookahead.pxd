# Cython declarations for the compiled build of lookahead.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
cdef class Lookahead:
    cdef dict __dict__
    cdef public object interrupts
    cdef public object next_act  # a list, or beyond SCAN_CPUS CPUs the C array acts views
    cdef public list ipi_due, irq_due, others
    cdef long long[::1] acts
