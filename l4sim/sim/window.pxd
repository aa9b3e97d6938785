# Cython declarations for the compiled build of window.py (l4sim.build); plain
# Python ignores this file (see interpreter.pxd).
cdef class MeasurementWindow:
    cdef dict __dict__
    cdef public object env, kind, warmup, events, settle_at, next_check, start, end, done
    cdef public object progress, report_every, reported, next_report
    cdef public object closed_at, entered_at
