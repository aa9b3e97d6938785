# Cython declarations for the compiled build of scheduler.py (l4sim.build); plain
# Python ignores this file. The scheduler's state as C struct fields: its
# methods run several times per kernel entry.
cdef class Scheduler:
    cdef dict __dict__
    cdef public object cpus, monitor
    cdef public list current, _ready, _ready_bitmap
