# Cython declarations for the compiled build of engine.py (l4sim.build); plain
# Python ignores this file. Machine becomes an extension type whose attributes
# are C struct fields: every ``self.x`` in the engine is a pointer load instead
# of a dictionary lookup (worth ~8% of a compiled run). Any attribute not
# declared here still works (it goes to ``__dict__``); the class cannot be
# patched, but it can be subclassed.
cdef class Machine:
    cdef dict __dict__
    cdef public object env, kernel, costs, rng, trace, design, timers, probe, runners
    cdef public object thread_names, observations, done, monitor, measure_from, measure_to
    cdef public object _settle_at, _measure_kind, _noise, _lock_costs
    cdef public list held, resched, pending_irqs, irq_due, busy, _interrupting, ipi
    cdef public list _others, next_act, ipi_due, _ipis, spinning_on, _closes, _waits
    cdef public object cpus, fifo, _jitter_span, _irq_next, _ipi_next
    cdef public object lookahead, check_lock_order, eager_resume, _resuming
    cdef public object _warmup, _events, _window_check

