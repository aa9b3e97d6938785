# Cython declarations for the compiled build of interrupts.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
cdef class InterruptSources:
    cdef dict __dict__
    cdef public object env, kernel, ipi_latency, probe, runners, interpreter
    cdef public object irq_next, ipi_next
    cdef public list pending_irqs, resched, busy, interrupting, ipi, irq_due, ipi_due, ipis
