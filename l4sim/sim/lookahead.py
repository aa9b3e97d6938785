"""Lookahead: may another CPU act before a given cycle?

A CPU runs ahead of the clock while no other CPU could observe it:
consecutive costs become one delay, an uncontended lock is granted without an
event, a thread switched to on the same CPU runs at once. Each of these is
exact only if no other CPU can act first: every other CPU's next action
(``next_act``: when it may next touch shared kernel state; NEVER while it
spins, since it acts only once its lock's holder does), IPI and interrupt
lie strictly later. These are the questions; the effect interpreter asks the
hottest one inline.

Up to ``SCAN_CPUS`` CPUs the others are scanned one by one; beyond, minima
over all CPUs are taken in C, conservatively (a needless stop of the clock
changes no result). The CPUs' next actions are a C array of 64-bit integers
(``action_times``): compiled, the engine reads and writes them as machine
integers, where a list would box every cycle count in a Python int and
convert it back for each comparison.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

try:
    import cython
except ImportError:  # no Cython: its declarations below mean nothing
    from l4sim.sim.no_cython import cython  # type: ignore[no-redef]

if TYPE_CHECKING:
    from l4sim.sim.interrupts import InterruptSources

NEVER = 2**62  # a time no run reaches
SCAN_CPUS = 8  # up to this many CPUs, "may another CPU act?" scans them one by one


def action_times(cpus: int) -> array[int]:
    """Per CPU, when it may next touch shared kernel state (all 0: at the start).

    Signed 64-bit integers: every cycle count of a run, and NEVER, fits.
    """
    return array("q", [0] * cpus)


def other_cpus(cpus: int) -> list[tuple[int, ...] | None]:
    """Per CPU, the CPUs to scan (None beyond SCAN_CPUS: use the minima)."""
    return [
        tuple(o for o in range(cpus) if o != cpu) if cpus <= SCAN_CPUS else None
        for cpu in range(cpus)
    ]


class Lookahead:
    """Answers "may another CPU act before t?" from the machine's per-CPU state."""

    def __init__(self, cpus: int, next_act: array[int], interrupts: InterruptSources) -> None:
        self.next_act = next_act
        self.interrupts = interrupts  # ipi_due, irq_due and their minima
        self.ipi_due = interrupts.ipi_due
        self.irq_due = interrupts.irq_due
        self.others = other_cpus(cpus)

    def interruptible_before(self, cpu: int, time: int) -> bool:
        """An interrupt or IPI may reach ``cpu`` at or before ``time``.

        Those already on their way are due then; any other CPU that may act by
        then could still send one (or start a device) before it.
        """
        if self.ipi_due[cpu] <= time:
            return True
        due = self.irq_due[cpu]
        if due and due[0] <= time:
            return True
        return not self.others_quiet(cpu, time)

    def others_quiet(self, cpu: int, time: int) -> bool:
        """No other CPU can act before ``time`` (strictly)."""
        others = self.others[cpu]
        if others is None:
            return self.quiet_by_minimum(cpu, time)
        next_act = self.next_act
        ipi_due = self.ipi_due
        irq_due = self.irq_due
        for other in others:
            if next_act[other] <= time or ipi_due[other] <= time:
                return False
            if irq_due[other] and irq_due[other][0] <= time:
                return False
        return True

    @cython.locals(
        cpu=cython.int,
        other=cython.int,
        cpus=cython.int,
        earliest=cython.longlong,
        act=cython.longlong,
    )
    def earliest_other_action(self, cpu: int) -> int:
        """The earliest next action of any CPU but ``cpu``.

        Compiled, a loop over the C array (the builtin ``min`` compares Python
        objects, several times slower over 64 CPUs); as Python, ``min`` itself.
        """
        if cython.compiled:
            earliest = NEVER
            cpus = self.next_act.shape[0]  # type: ignore[attr-defined]  # a C array, compiled
            for other in range(cpus):
                act = self.next_act[other]
                if act < earliest and other != cpu:
                    earliest = act
            return earliest
        next_act = self.next_act
        own = next_act[cpu]
        next_act[cpu] = NEVER
        earliest = min(next_act)
        next_act[cpu] = own
        return earliest

    def quiet_by_minimum(self, cpu: int, time: int) -> bool:
        """No other CPU can act before ``time``, for many CPUs: minima instead of a scan.

        Conservative where a scan is exact: this CPU's own IPIs and interrupts
        count too.
        """
        interrupts = self.interrupts
        return (
            interrupts.ipi_next > time
            and interrupts.irq_next > time
            and self.earliest_other_action(cpu) > time
        )
