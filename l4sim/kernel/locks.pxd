# Cython declarations for the compiled build of locks.py (l4sim.build); plain
# Python ignores this file. A lock as a C struct: the simulator reads its
# holder, order key, lines and spinning state on every acquisition and release.
cdef class Lock:
    cdef public object name, rank, address, holder, sim
    cdef public long long lines, order_key
