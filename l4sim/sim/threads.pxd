# Cython declarations for the compiled build of threads.py (l4sim.build); plain
# Python ignores this file. A thread's simulator state and the thread processes'
# shared state as C struct fields (see interpreter.pxd).
cdef class ThreadRunner:
    cdef public object thread, program, process, wake
    cdef public int index
    cdef public bint in_user
    cdef public long long slice_left, carry

cdef class UserThreads:
    cdef dict __dict__
    cdef public object env, kernel, timeslice, interrupts, lookahead, observations, probe
    cdef public object monitor, interpreter, eager_resume, resuming
    cdef long long[::1] next_act  # the C array of lookahead.action_times
    cdef public list resched, pending_irqs, interrupting
