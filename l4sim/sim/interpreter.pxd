# Cython declarations for the compiled build of interpreter.py (l4sim.build);
# plain Python ignores this file. The interpreter becomes an extension type
# whose attributes are C struct fields: every ``self.x`` in run_path is a
# pointer load instead of a dictionary lookup. An attribute not declared here
# still works (it goes to ``__dict__``); the class cannot be patched, but it
# can be subclassed.
from l4sim.kernel.locks cimport Lock
from l4sim.sim.spinlock cimport SpinState
from l4sim.sim.threads cimport ThreadRunner

cdef class KernelWaits:
    cdef dict __dict__
    cdef public object env
    cdef long long[::1] next_act  # the C array of l4sim.sim.lookahead.action_times
    cdef public list waits
    # the clock's catching up: a C call from run_path, a Python one from elsewhere
    cpdef object elapse(self, int cpu, long long delay)
    cpdef object wait(self, int cpu, long long delay)

cdef class PathInterpreter(KernelWaits):
    cdef public object costs, interrupts, lookahead, locks, design, lock_costs
    cdef public object threads, runners, trace, window, measure_kind, monitor, jitter_span
    cdef public object lookahead_on, enforce_lock_order
    cdef public list held, busy, resched, pending_irqs, ipi_due, irq_due, others
    cdef public list noise
