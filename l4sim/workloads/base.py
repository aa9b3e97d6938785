"""What every workload shares: the keys of a point (its parameter model) and its setup.

A workload is a module (built in, installed under the ``l4sim.workloads``
entry-point group, or a Python file next to a scenario) that declares

- ``Params``: a subclass of :class:`Point` with the workload's own keys
  (a pydantic model; unknown keys are refused), and
- ``build(params, costs, seeds, config) -> Setup``: a kernel with its threads,
  one user program per thread, and what to measure.

The keys of :class:`Point` are those every workload has: the run's name and
size, the machine, the kernel's build options, the cost profile and its
overrides.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from l4sim.design.files import validate_order_file
from l4sim.design.immutability import proven_immutable
from l4sim.kernel.checks import Check
from l4sim.kernel.config import SCENARIO_OPTIONS, FastpathVariant, LockOrder
from l4sim.kernel.costs import COST_KEYS, Costs, ProfileError, cost_problem, load_profile
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.locks import KernelLocking, Lock, LockDesign
from l4sim.kernel.objects import Thread
from l4sim.kernel.state import PAPER_FASTPATHS
from l4sim.kernel.syscalls import Program
from l4sim.sim.machine import Probe
from l4sim.workloads.user_files import is_path as is_path  # (its home; named here too)

if TYPE_CHECKING:
    import pandas as pd

    from l4sim.sim.machine import Machine

# Keys that change the kernel, not the workload: points that differ only in
# these share their random streams (common random numbers), so fastpath on
# and off see the same user behaviour. They are the kernel's options (but the
# CPU count, which places the workload's threads), what its fastpaths' checks
# are resolved from, its cost profile, and the invariant checker's settings.
KERNEL_OPTION_KEYS = frozenset(SCENARIO_OPTIONS) - {"cpus"} | {
    "fastpath_checks",
    "check_order",
    "check_order_file",
    "fastpath_design",
    "hoist_proof",
    "profile",
    "costs",
    "lock_order_check",
    "stress_jitter",
}
# Keys that name or repeat a run rather than configure one point.
RUN_KEYS = frozenset({"name", "seed", "replications"})
# Keys that may name a file: a relative path is taken relative to the scenario file.
PATH_KEYS = ("workload", "profile", "fastpath_checks", "check_order_file")
COSTS_PREFIX = "costs."  # a cost override's key: costs.NAME

# Limits that keep every valid point finite in time and memory. A run keeps one
# record per kernel entry, so its size is bounded through ``events``; a user
# program's work between kernel entries is bounded in cycles, so a run always
# reaches its last entry (a loop of 10**300 cycles would be preempted at every
# timeslice, forever). ``l4sim validate`` estimates time and memory within them.
MAX_EVENTS = 10_000_000  # measured (and, separately, warm-up) entries per run
MAX_CPUS = 64
MAX_WORK_CYCLES = 10**10  # any user-work time key: ten simulated seconds at 1 GHz
MAX_WAIT_FACTOR = 10**8  # busy-loop scale: at most 3 x 10**8 cycles per loop
INT64_MAX = 2**63 - 1  # every integer key is a column of 64-bit integers
# A scenario's name is the name of its output folder under results/: a plain
# name, so that no scenario writes outside its own folder.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def _a_function() -> None:
    """Give its type: a plain function, or Cython's when this module runs compiled."""


# A compiled build (l4sim.build) makes methods Cython functions, which pydantic
# would take for fields without annotations: tell it they are not. (Models of
# other compiled modules keep to validators and properties, which pydantic
# recognises however they are built: such a module may be compiled while this
# one runs as Python.)
FUNCTION_TYPES = (type(_a_function),)


def plain_name(stem: str) -> str:
    """A scenario name made from a file's stem: what a folder name may not hold becomes '_'."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip(".")
    return name if NAME_PATTERN.fullmatch(name) else "scenario"


class Point(BaseModel):
    """Keys every workload has. Each workload's ``Params`` subclasses it with its own keys.

    A point is one combination of a scenario's keys, validated (unknown keys,
    wrong types and values out of range are refused) and frozen. Every key,
    with its type, default and meaning, is in the scenario reference
    (``docs/reference/scenarios.md``).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, ignored_types=FUNCTION_TYPES
    )

    name: str
    """The output folder's name (``results/<name>/``); default: the scenario file's stem.

    A plain name of letters, digits, ``_``, ``-`` and ``.`` (not first), so never
    a path; from the file's stem, other characters become ``_`` (``my first.toml``
    runs as ``my_first``).
    """
    workload: str = "syscall_bench"
    """A built-in workload, an installed one's name, or a Python file.

    A file is named by its path, relative to the scenario file
    (``./my_workload.py``): see the how-to guide on extending l4sim.
    """
    profile: str = "vmxl4-pandaboard"
    """The cost profile: a built-in name (``vmxl4-pandaboard``, ``sel4-sabre``) or a ``.toml`` file.

    A file is relative to the scenario file; given with ``--set``, to the
    current folder.
    """
    costs: dict[str, int] = Field(default_factory=dict)
    """Cost overrides on top of the profile, one key each: ``costs.NAME = cycles``.

    Any cost of the profile (e.g. ``costs.lock_handoff = 30``); sweepable as
    ``"costs.NAME" = [...]``; each is a column ``costs.NAME`` of the tables.
    """
    seed: int = Field(0, ge=0)
    """The root seed.

    Each (point, replication) derives its streams from it through
    ``numpy.random.SeedSequence`` spawn keys made of a hash of the point's
    workload keys and the replication number.
    """
    replications: int = Field(1, ge=1, le=10_000)
    """Independent runs per point."""
    events: int = Field(3000, ge=1, le=MAX_EVENTS)
    """Kernel entries of the workload's measured kind counted per run.

    Syscall exceptions for ``syscall_bench`` and ``linux``, IPCs for ``ipc_bench``.
    """
    warmup_events: int = Field(300, ge=0, le=MAX_EVENTS)
    """Kernel entries of the measured kind simulated first, then discarded."""
    cpus: int = Field(2, ge=1, le=MAX_CPUS)
    """The number of CPUs."""
    lock: LockDesign = "ticket"
    """The spinlock design of every kernel lock.

    ``ticket`` (FIFO), ``tas`` (test-and-set, a random waiter wins), ``mcs``,
    ``clh`` (FIFO queue locks).
    """
    kernel_lock: KernelLocking = "fine"
    """``fine`` (the paper's global and per-object locks) or ``big`` (one big kernel lock, seL4)."""
    fastpath_syscall: bool = True
    """The system-call-exception fastpath is built in (a kernel build option)."""
    fastpath_ipc: bool = False
    """The IPC fastpath is built in (a kernel build option)."""
    fastpath_notify: bool = False
    """The IPC fastpath also delivers notifications."""
    fastpath_variant: FastpathVariant = "smp"
    """``smp`` (the paper's locked fastpath) or ``uniprocessor``.

    The uniprocessor variant runs the same checks reading the scheduler's and
    the handler's state without locks.
    """
    fastpath_checks: str = ""
    """A Python file defining ``FASTPATH_CHECKS``, or a built-in variant's name.

    A file: a fastpath's own ordered checks (see the how-to guide on extending
    l4sim, :mod:`l4sim.workloads.fastpath_variants`). A name: ``sel4``, seL4's
    own IPC fastpath checks (:mod:`l4sim.workloads.sel4_fastpath`). Empty:
    the paper's lists.
    """
    check_order: Literal["paper", "optimized"] = "paper"
    """The order each fastpath runs its checks in: ``paper`` (as listed) or ``optimized``."""
    check_order_file: str = ""
    """With an optimized order or design: a JSON file written by ``l4sim checks DIR --optimize``.

    A path relative to the scenario file, checked when the scenario is read;
    its contents are part of a cached result's key. Empty: profile the same
    point first (paper order, 2000 events) and optimise from that.
    """
    fastpath_design: Literal["paper", "reordered", "optimized"] = "paper"
    """``paper`` (as ``check_order`` says), ``reordered`` (the optimized order) or ``optimized``.

    ``optimized``: the searched design (:mod:`l4sim.kernel.fastpath_design`),
    one per operation (a Call's, a ReplyWait's): checks hoisted before their
    locks, prechecked early, and what the lock-free checks decoded handed to
    the slowpath on a fallback; from ``check_order_file`` (its ``design``
    entries) or a profiling run, checked before use. Under ``kernel_lock =
    "big"`` a design also moves the big lock: taken at the design's first
    locked step instead of at the kernel's entry.
    """
    hoist_proof: Literal["static_system", "kernel"] = "static_system"
    """What an optimized design's hoisted checks rest on: ``static_system`` or ``kernel``.

    ``static_system``: the static scan of the model (fields it never writes, as
    in a system whose capabilities, priorities, affinities and address spaces
    are fixed after boot). ``kernel``: that scan less the fields the fastpath
    variant declares its kernel writes at run time (``WRITTEN_AT_RUN_TIME``;
    seL4's, for its checks outside the big lock).
    """
    check_profile: bool = False
    """Record, at every fastpath decision, which checks pass.

    A bit mask per entry; it has no effect on timing.
    """
    lock_order: LockOrder = "ascending"
    """``ascending`` (the rule), or a deliberate bug.

    ``descending`` thread-lock addresses, or ``objects_first`` (the slowpaths
    take thread locks before the scheduler lock).
    """
    lock_order_check: bool = True
    """The engine and the checker refuse a lock-order violation.

    ``false``: let it happen (to see deadlocks).
    """
    stress_jitter: int = Field(0, ge=0, le=100_000)
    """The invariant checker's stress mode: uniform 0..N extra cycles (seeded).

    Added to every kernel cost and before every lock acquisition.
    """
    stream_key: str = Field("", pattern=r"^([0-9a-f]{32})?$")
    """The random streams to use, as another point's seed digest; empty: the point's own.

    The digest is 32 hex digits. Points that vary a workload key
    (``hold_mean``, ``wait_factor``) but name the same streams face the same
    random numbers, scaled: common random numbers for that key. A sensitivity
    study gives every sample the streams of its unsampled point.
    """

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data: Any) -> Any:
        # TOML integers are fine where a float is expected (strict mode refuses them)
        if isinstance(data, dict):
            floats = [k for k, f in cls.model_fields.items() if f.annotation is float]
            data = {k: (float(v) if k in floats and type(v) is int else v) for k, v in data.items()}
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _representable(cls, value: Any) -> Any:
        # before the range checks: NaN is not "below 0", it is no number at all
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        if type(value) is int and not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ValueError(f"must fit in a 64-bit integer (at most {INT64_MAX:,})")
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                "must be a plain folder name: letters, digits, '_', '-' and "
                "'.' (not first), no '/' or '..'"
            )
        return name

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str) -> str:
        try:
            load_profile(profile)
        except ProfileError as error:
            raise ValueError(str(error)) from None
        return profile

    @field_validator("costs")
    @classmethod
    def _known_costs(cls, costs: dict[str, int]) -> dict[str, int]:
        for name, value in costs.items():
            if name not in COST_KEYS:
                raise ValueError(f"unknown cost {name!r} (known: {', '.join(COST_KEYS)})")
            problem = cost_problem(name, value)
            if problem:
                raise ValueError(f"cost {name!r} {problem}")
        return costs

    @field_validator("fastpath_checks")
    @classmethod
    def _valid_variant(cls, path: str) -> str:
        if path:
            from l4sim.workloads.fastpath_variants import load_fastpath_variant

            load_fastpath_variant(path)  # raises ValueError with a one-line reason
        return path

    @model_validator(mode="after")
    def _valid_order_file(self) -> Point:
        if self.fastpath_design != "paper" and self.check_order != "paper":
            raise ValueError(
                f"fastpath_design = {self.fastpath_design!r} excludes "
                f"check_order = {self.check_order!r} (set one of them)"
            )
        if self.check_order_file:
            try:
                validate_order_file(
                    self.check_order_file,
                    self.fastpaths(),
                    designs=self.fastpath_design == "optimized",
                    proven=self.proven_immutable(),
                )
            except ValueError as error:  # (named: a rule across keys has no key of its own)
                raise ValueError(f"check_order_file: {error}") from None
        return self

    def workload_identity(self) -> str:
        """The workload's name as its random streams see it.

        A file by its name only, so the same file gives the same streams
        wherever it lies.
        """
        return Path(self.workload).name if is_path(self.workload) else self.workload

    def seed_key(self) -> tuple[int, ...]:
        """Spawn key of this point's random streams.

        A stable hash of its workload keys, or the digest ``stream_key`` names.
        """
        digest = bytes.fromhex(self.stream_key or self.stream_digest())
        return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))

    def stream_digest(self) -> str:
        """This point's own streams as a ``stream_key``: a hash of its workload keys."""
        workload = {
            k: v
            for k, v in self.model_dump().items()
            if k not in KERNEL_OPTION_KEYS | RUN_KEYS | {"stream_key"}
        }
        workload["workload"] = self.workload_identity()
        return hashlib.sha256(json.dumps(workload, sort_keys=True).encode()).hexdigest()[:32]

    def cost_profile(self) -> Costs:
        """The profile's costs with this point's ``costs.NAME`` overrides."""
        costs = load_profile(self.profile)
        return costs.replace(**self.costs) if self.costs else costs

    def fastpaths(self) -> dict[str, tuple[Check[Any], ...]]:
        """Each fastpath's checks as listed (the paper's, or this point's variant's)."""
        return fastpaths_of(self.fastpath_checks)

    def proven_immutable(self) -> frozenset[str]:
        """The fields this point's fastpath designs may hoist checks on (``hoist_proof``)."""
        proven = proven_immutable(self.fastpaths())
        if self.hoist_proof == "kernel" and self.fastpath_checks:
            from l4sim.workloads.fastpath_variants import written_at_run_time

            proven -= written_at_run_time(self.fastpath_checks)
        return proven

    def kernel_entries(self) -> int:
        """Kernel entries one replication simulates (warm-up included), for sizing.

        The measured kind's; a workload module may say better (its
        ``kernel_entries``).
        """
        return self.measured_entries()

    def measured_entries(self) -> int:
        """Entries of the measured kind one replication closes, warm-up included.

        Its Setup's ``warmup + events``: what a sweep's progress counts and
        ``l4sim validate`` announces. A workload that measures more than one
        entry per event says so.
        """
        return self.events + self.warmup_events

    def flat(self) -> dict[str, Any]:
        """The keys as table columns: each cost override as its own ``costs.NAME`` key."""
        values = self.model_dump()
        costs = values.pop("costs")
        values.update({f"{COSTS_PREFIX}{name}": value for name, value in sorted(costs.items())})
        return values


def fastpaths_of(fastpath_checks: str) -> dict[str, tuple[Check[Any], ...]]:
    """Each fastpath's checks as listed: the paper's, with a variant file's lists instead."""
    if not fastpath_checks:
        return dict(PAPER_FASTPATHS)
    from l4sim.workloads.fastpath_variants import load_fastpath_variant

    return {**PAPER_FASTPATHS, **load_fastpath_variant(fastpath_checks)}


class WorkloadProbe(Probe, Protocol):
    """A workload's own measurements (see :class:`l4sim.sim.machine.Probe`).

    Its rows for the results: one per measure, over the measured window.
    """

    def rows(self, since: int, measured_cycles: int) -> list[dict[str, Any]]: ...


@dataclass
class Setup:
    """A workload ready to simulate: what its ``build`` returns.

    Attributes:
        kernel: The kernel, with its spaces and threads created.
        programs: One program (a generator of actions) per thread, every thread.
        measure_kind: The kind of kernel entry whose count ends the run
            (:data:`~l4sim.kernel.decode.IPC`, :data:`~l4sim.kernel.decode.SYSCALL_EXCEPTION`).
        warmup: Entries of that kind simulated before measuring starts.
        events: Entries of that kind measured.
        metrics: Extra metrics of the measured kind's rows:
            ``(machine, events, measured cycles) -> {name: value}``.
        timers: Periodic interrupts, each ``(cpu, period in cycles, name)``.
        probe: An object told of interrupts and receptions
            (``irq_raised(payload, now)``, ``received(thread, msg, now)``) that adds
            rows of its own (``rows()``).
        timed_locks: Locks whose hold times the metrics need.
    """

    kernel: Kernel
    programs: dict[Thread, Program]
    measure_kind: str  # the kernel-entry kind whose count ends the run
    warmup: int  # entries of that kind before measuring starts
    events: int  # entries of that kind measured
    # extra metrics of the measured kind: (machine, events, measured cycles) -> {name: value}
    metrics: Callable[[Machine, pd.DataFrame, int], dict[str, float]] | None = None
    timers: tuple[tuple[int, int, str], ...] = ()  # periodic interrupts: (cpu, period, name)
    probe: WorkloadProbe | None = None  # a workload's own measurements
    timed_locks: tuple[
        Lock, ...
    ] = ()  # locks whose hold times the metrics need (SpinState.held_between)
