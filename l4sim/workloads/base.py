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
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l4sim.kernel.costs import COST_KEYS, Costs, ProfileError, load_profile
from l4sim.kernel.kernel import FASTPATH_VARIANTS, LOCK_ORDERS, Kernel
from l4sim.kernel.locks import KERNEL_LOCKING, LOCK_DESIGNS
from l4sim.kernel.objects import Thread

# Keys that change the kernel, not the workload: points that differ only in
# these share their random streams (common random numbers), so fastpath on
# and off see the same user behaviour.
KERNEL_OPTION_KEYS = frozenset({"fastpath_syscall", "fastpath_ipc", "fastpath_notify",
                                "fastpath_variant", "fastpath_checks", "lock", "kernel_lock",
                                "lock_order", "lock_order_check", "profile", "costs",
                                "check_order", "check_order_file", "check_profile",
                                "stress_jitter"})
# Keys that name or repeat a run rather than configure one point.
RUN_KEYS = frozenset({"name", "seed", "replications"})
# Keys that may name a file: a relative path is taken relative to the scenario file.
PATH_KEYS = ("workload", "profile", "fastpath_checks", "check_order_file")
COSTS_PREFIX = "costs."  # a cost override's key: costs.NAME


def _a_function() -> None:
    """(Its type: a plain function, or Cython's when this module runs compiled.)"""


# A compiled build (l4sim.build) makes methods Cython functions, which pydantic
# would take for fields without annotations: tell it they are not.
FUNCTION_TYPES = (type(_a_function),)


def is_path(value: str) -> bool:
    """A workload or profile given as a file rather than by name."""
    return "/" in value or value.endswith((".py", ".toml"))


class Point(BaseModel):
    """Keys every workload has. Each workload's ``Params`` subclasses it with its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              ignored_types=FUNCTION_TYPES)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    workload: str = "syscall_bench"  # a built-in or installed name, or a Python file
    profile: str = "vmxl4-pandaboard"  # a built-in name or a .toml file
    # cost overrides (costs.NAME = cycles), applied on top of the profile
    costs: dict[str, int] = Field(default_factory=dict)
    seed: int = Field(0, ge=0)
    replications: int = Field(1, ge=1, le=10_000)
    events: int = Field(3000, ge=1)
    warmup_events: int = Field(300, ge=0)
    cpus: int = Field(2, ge=1, le=64)
    lock: Literal[LOCK_DESIGNS] = "ticket"
    kernel_lock: Literal[KERNEL_LOCKING] = "fine"
    fastpath_syscall: bool = True
    fastpath_ipc: bool = False
    fastpath_notify: bool = False  # the IPC fastpath also delivers notifications
    fastpath_variant: Literal[FASTPATH_VARIANTS] = "smp"
    # a Python file defining FASTPATH_CHECKS, each fastpath's own ordered checks
    # (l4sim.workloads.fastpath_variants); empty: the paper's lists
    fastpath_checks: str = ""
    check_order: Literal["paper", "optimized"] = "paper"  # paper: as listed
    check_order_file: str = ""  # JSON from `l4sim checks DIR --optimize`; empty: profile first
    check_profile: bool = False  # record which checks pass at every fastpath decision
    lock_order: Literal[LOCK_ORDERS] = "ascending"
    lock_order_check: bool = True  # the engine and the checker refuse a lock-order violation
    stress_jitter: int = Field(0, ge=0, le=100_000)  # the invariant checker's stress (cycles)
    # the random streams to use, as another point's seed digest (hex); empty: this point's
    # own. Points that vary a workload key (hold_mean, wait_factor) but name the same
    # streams face the same random numbers, scaled: common random numbers for that key
    stream_key: str = Field("", pattern=r"^([0-9a-f]{32})?$")

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data):
        # TOML integers are fine where a float is expected (strict mode refuses them)
        if isinstance(data, dict):
            floats = [k for k, f in cls.model_fields.items() if f.annotation is float]
            data = {k: (float(v) if k in floats and type(v) is int else v)
                    for k, v in data.items()}
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _finite(cls, value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

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
            if type(value) is not int or value < 0:
                raise ValueError(f"cost {name!r} must be a non-negative integer "
                                 f"(got {value!r})")
        return costs

    @field_validator("fastpath_checks")
    @classmethod
    def _valid_variant(cls, path: str) -> str:
        if path:
            from l4sim.workloads.fastpath_variants import load_fastpath_variant

            load_fastpath_variant(path)  # raises ValueError with a one-line reason
        return path

    @model_validator(mode="after")
    def _valid_order_file(self):
        if self.check_order_file:
            from l4sim.kernel.check_order import validate_order_file

            try:
                validate_order_file(self.check_order_file, self.fastpaths())
            except ValueError as error:
                raise ValueError(f"check_order_file: {error}") from None
        return self

    def workload_identity(self) -> str:
        """The workload's name as its random streams see it: a file by its name only,
        so the same file gives the same streams wherever it lies."""
        return Path(self.workload).name if is_path(self.workload) else self.workload

    def seed_key(self) -> tuple[int, ...]:
        """Spawn key of this point's random streams: a stable hash of its workload keys
        (or the digest ``stream_key`` names)."""
        digest = bytes.fromhex(self.stream_key or self.stream_digest())
        return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))

    def stream_digest(self) -> str:
        """This point's own streams as a ``stream_key``: a hash of its workload keys."""
        workload = {k: v for k, v in self.model_dump().items()
                    if k not in KERNEL_OPTION_KEYS | RUN_KEYS | {"stream_key"}}
        workload["workload"] = self.workload_identity()
        return hashlib.sha256(json.dumps(workload, sort_keys=True).encode()).hexdigest()[:32]

    def cost_profile(self) -> Costs:
        """The profile's costs with this point's ``costs.NAME`` overrides."""
        costs = load_profile(self.profile)
        return costs.replace(**self.costs) if self.costs else costs

    def fastpaths(self) -> dict:
        """Each fastpath's checks as listed (the paper's, or this point's variant's)."""
        from l4sim.kernel.kernel import PAPER_FASTPATHS

        if not self.fastpath_checks:
            return dict(PAPER_FASTPATHS)
        from l4sim.workloads.fastpath_variants import load_fastpath_variant

        return {**PAPER_FASTPATHS, **load_fastpath_variant(self.fastpath_checks)}

    def kernel_entries(self) -> int:
        """Kernel entries one replication simulates (warm-up included), for sizing."""
        return self.events + self.warmup_events

    def flat(self) -> dict:
        """The keys as table columns: each cost override as its own ``costs.NAME`` key."""
        values = self.model_dump()
        costs = values.pop("costs")
        values.update({f"{COSTS_PREFIX}{name}": value for name, value in sorted(costs.items())})
        return values


@dataclass
class Setup:
    """A workload ready to simulate."""

    kernel: Kernel
    programs: dict[Thread, Generator]
    measure_kind: str  # the kernel-entry kind whose count ends the run
    warmup: int  # entries of that kind before measuring starts
    events: int  # entries of that kind measured
    # extra metrics of the measured kind: (machine, events, measured cycles) -> {name: value}
    metrics: Callable | None = None
    timers: tuple = ()  # periodic interrupts: (cpu, period in cycles, name)
    probe: object = None  # optional: irq_raised(payload, now), received(thread, msg, now), rows()
    timed_locks: tuple = ()  # locks whose hold times the metrics need (SpinState.held_between)
