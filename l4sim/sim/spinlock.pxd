# Cython declarations for the compiled build of spinlock.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
from l4sim.kernel.locks cimport Lock

cdef class SpinLocks:
    cdef dict __dict__
    cdef public object env, costs, design, fifo, rng, enforce_lock_order
    cdef long long[::1] next_act  # the C array of lookahead.action_times
    cdef public list held, spinning_on

# A lock's simulator state as a struct: the interpreter reads and writes these
# fields on every uncontended acquisition and release.
cdef class SpinState:
    cdef public object waiters, last_cpu, holds
    cdef public long long free_at, held_from
