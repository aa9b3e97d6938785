"""Scenario files: flat TOML, validated, expanded into a sweep of points.

Every parameter is a top-level key. A ``[sweep]`` table gives lists of values
for any of those keys; the sweep is their cartesian product. ``--set``
overrides use TOML value syntax (``--set events=500``,
``--set sweep.threads=[1,2]``); setting a plain key that is also swept pins it.

Every problem is a :class:`ScenarioError` whose message is one line naming
the file, the key and the problem.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from l4sim.kernel.costs import ProfileError, available_profiles, load_profile

# Keys that change the kernel, not the workload: points that differ only in
# these share their random streams (common random numbers), so fastpath on
# and off see the same user behaviour.
KERNEL_OPTION_KEYS = frozenset({"fastpath_syscall", "fastpath_ipc", "lock", "profile",
                                "check_order", "check_order_file", "check_profile",
                                "fastpath_notify", "kernel_lock", "handoff_cycles",
                                "acquire_cycles", "release_cycles",
                                # issue 5: fastpath variant, lock order and checker options
                                "fastpath_variant", "lock_order", "lock_order_check",
                                "stress_jitter"})
# Keys that name or repeat a run rather than configure one point.
RUN_KEYS = frozenset({"name", "seed", "replications"})


class ScenarioError(ValueError):
    """A bad scenario: the message is one line naming file, key and problem."""


class Point(BaseModel):
    """Keys every workload has. Each workload subclasses it with its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    workload: str = "syscall_bench"
    profile: str = "vmxl4-pandaboard"
    seed: int = Field(0, ge=0)
    replications: int = Field(1, ge=1, le=10_000)
    events: int = Field(3000, ge=1)
    warmup_events: int = Field(300, ge=0)
    cpus: int = Field(2, ge=1, le=64)
    lock: Literal["ticket", "tas", "mcs", "clh"] = "ticket"
    kernel_lock: Literal["fine", "big"] = "fine"
    handoff_cycles: int | None = Field(None, ge=0)  # None: the profile's lock_handoff
    fastpath_syscall: bool = True
    fastpath_ipc: bool = False
    check_order: Literal["paper", "optimized"] = "paper"
    check_order_file: str = ""  # JSON from `l4sim checks DIR --optimize`; empty: profile first
    check_profile: bool = False  # record which checks pass at every fastpath decision
    fastpath_notify: bool = False  # the IPC fastpath also delivers notifications
    # issue 5: the pre-paper unlocked fastpath, a deliberately wrong lock order,
    # whether lock order is enforced, and the checker's stress jitter (cycles)
    fastpath_variant: Literal["smp", "uniprocessor"] = "smp"
    lock_order: Literal["ascending", "descending", "objects_first"] = "ascending"
    lock_order_check: bool = True
    stress_jitter: int = Field(0, ge=0, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data):
        # TOML integers are fine where a float is expected (strict mode refuses them)
        if isinstance(data, dict):
            floats = [k for k, f in cls.model_fields.items() if f.annotation is float]
            data = {k: (float(v) if k in floats and type(v) is int else v)
                    for k, v in data.items()}
        return data

    @field_validator("check_order_file")
    @classmethod
    def _valid_order_file(cls, path: str) -> str:
        if path:
            from l4sim.check_order import validate_order_file

            validate_order_file(path)  # raises ValueError with a one-line reason
        return path

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str) -> str:
        if profile not in available_profiles():
            raise ValueError(f"unknown profile (known: {', '.join(available_profiles())})")
        return profile

    def seed_key(self) -> tuple[int, ...]:
        """Spawn key of this point's random streams: a stable hash of its workload keys."""
        workload = {k: v for k, v in self.model_dump().items()
                    if k not in KERNEL_OPTION_KEYS | RUN_KEYS}
        digest = hashlib.sha256(json.dumps(workload, sort_keys=True).encode()).digest()
        return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))

    def costs(self):
        """The profile's costs with this point's overrides."""
        costs = load_profile(self.profile)
        if self.handoff_cycles is not None:
            costs = costs.replace(lock_handoff=self.handoff_cycles)
        return costs

    def kernel_entries(self) -> int:
        """Kernel entries one replication simulates (warm-up included), for sizing."""
        return self.events + self.warmup_events


class SyscallBenchPoint(Point):
    """The paper's syscall-exception benchmark (E3, E4)."""

    workload: Literal["syscall_bench"] = "syscall_bench"
    threads: int = Field(1, ge=1, le=4096)
    threads_per_cpu: int | None = Field(None, ge=1, le=64)  # if set, replaces threads
    wait_factor: float = Field(100.0, ge=0)

    @property
    def worker_threads(self) -> int:
        return self.threads if self.threads_per_cpu is None else self.threads_per_cpu * self.cpus

    def kernel_entries(self) -> int:
        # each syscall exception is followed by its handler's reply (an ipc entry)
        return 2 * (self.events + self.warmup_events)


Distribution = Literal["exponential", "deterministic", "uniform"]


class LockMicrobenchPoint(Point):
    """One lock, one thread per CPU: think, acquire, hold, release (l4sim.workloads)."""

    workload: Literal["lock_microbench"] = "lock_microbench"
    threads: int = Field(2, ge=1, le=64)
    think_dist: Distribution = "exponential"
    think_mean: float = Field(3000.0, ge=0)
    hold_dist: Distribution = "exponential"
    hold_mean: float = Field(1000.0, ge=0)
    acquire_cycles: int | None = Field(None, ge=0)  # None: the profile's lock_acquire
    release_cycles: int | None = Field(None, ge=0)  # None: the profile's lock_release

    @model_validator(mode="after")
    def _one_thread_per_cpu(self):
        if self.threads > self.cpus:
            raise ValueError(f"threads ({self.threads}) must not exceed cpus ({self.cpus}): "
                             "one thread per CPU")
        return self

    def costs(self):
        costs = super().costs()
        if self.acquire_cycles is not None:
            costs = costs.replace(lock_acquire=self.acquire_cycles)
        if self.release_cycles is not None:
            costs = costs.replace(lock_release=self.release_cycles)
        return costs


class IpcBenchPoint(Point):
    """The paper's IPC benchmark (E5): clients Call one server."""

    workload: Literal["ipc_bench"] = "ipc_bench"
    clients: int = Field(1, ge=1, le=4096)
    wait_factor: float = Field(100.0, ge=0)


class LinuxPoint(Point):
    """A paravirtualized Linux under load (E1, E2). Times are in cycles, means of exponentials."""

    workload: Literal["linux"] = "linux"
    io_procs: int = Field(3, ge=0, le=64)
    cpu_procs: int = Field(3, ge=0, le=64)
    io_gap: float = Field(20_000.0, gt=0)  # user burst of an I/O-heavy process
    cpu_gap: float = Field(2_000_000.0, gt=0)  # user burst of a CPU-intensive process
    io_block_fraction: float = Field(0.3, ge=0, le=1)  # syscalls that wait for the device
    device_latency: float = Field(100_000.0, gt=0)  # device transfer time
    syscall_service: float = Field(2_000.0, gt=0)  # Linux server work per system call
    irq_service: int = Field(1_000, ge=0)  # Linux server work per interrupt
    irq_decode: int = Field(200, ge=0)  # interrupt thread work per interrupt
    tick: int = Field(10_000_000, ge=1000)  # guest timer period (HZ = 100 at 1 GHz)
    irq_forward: Literal["send", "notify"] = "send"  # how irq0 forwards to other CPUs

    @model_validator(mode="after")
    def _some_process(self) -> LinuxPoint:
        if self.io_procs + self.cpu_procs < 1:
            raise ValueError("io_procs + cpu_procs must be >= 1")
        return self


class SmpPingPongPoint(Point):
    """sel4bench's SMP benchmark: a ping and a pong thread per CPU (l4sim.workloads)."""

    workload: Literal["smp_pingpong"] = "smp_pingpong"
    delay_cycles: int = Field(0, ge=0)

    def kernel_entries(self) -> int:
        # each Call is followed by its pong's ReplyWait (two ipc entries)
        return 2 * (self.events + self.warmup_events)


# workload name -> its point model; a new workload adds one line here
POINT_MODELS: dict[str, type[Point]] = {"syscall_bench": SyscallBenchPoint,
                                        "ipc_bench": IpcBenchPoint, "linux": LinuxPoint,
                                        "lock_microbench": LockMicrobenchPoint,
                                        "smp_pingpong": SmpPingPongPoint}
WORKLOADS = tuple(POINT_MODELS)


def point_model(workload) -> type[Point]:
    """The point model of a workload name (the base model for an unknown one)."""
    return POINT_MODELS.get(workload, Point) if isinstance(workload, str) else Point


class Scenario(BaseModel):
    """A scenario: base values of every key plus the swept keys' value lists."""

    base: dict
    sweep: dict[str, list]
    source: str = "<scenario>"

    def points(self) -> list[Point]:
        """The cartesian product of the sweep, each point validated."""
        keys = list(self.sweep)
        points = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            data = {**self.base, **dict(zip(keys, values, strict=True))}
            points.append(_validate_point(data, self.source))
        return points

    @property
    def name(self) -> str:
        return self.base["name"]


def _validate_point(data: dict, source: str, where: str = "") -> Point:
    workload = data.get("workload", "syscall_bench")
    if workload not in POINT_MODELS:
        raise ScenarioError(f"{source}: key 'workload': unknown workload {workload!r} "
                            f"(known: {', '.join(WORKLOADS)})")
    try:
        return POINT_MODELS[workload].model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        key = ".".join(str(part) for part in first["loc"])
        if not key:  # a rule across keys: name the key its message starts with
            named = re.match(r"\w+", message)
            fields = POINT_MODELS[workload].model_fields
            key = named.group(0) if named and named.group(0) in fields else "(scenario)"
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        value = first.get("input")
        quiet = first["type"] in ("extra_forbidden", "missing") or not first["loc"]
        shown = "" if quiet else f" (got {value!r})"  # a cross-key rule: no scenario dump
        raise ScenarioError(f"{source}: {where}key '{key}': {message}{shown}") from None


def parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with a TOML value; a bare word is taken as a string."""
    if "=" not in text:
        raise ScenarioError(f"--set {text}: expected KEY=VALUE")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key:
        raise ScenarioError(f"--set {text}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw and all(ch.isalnum() or ch in "_-./" for ch in raw):
            value = raw
        else:
            raise ScenarioError(f"--set {text}: value {raw!r} is not valid TOML "
                                "(quote strings: KEY='\"...\"')") from None
    return key, value


def load_scenario(path: str | Path, overrides: list[str] = ()) -> Scenario:
    """Read, override and validate a scenario file (raises :class:`ScenarioError`)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ScenarioError(f"{source}: file not found")
    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: {_syntax_error(error, text)}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: not a UTF-8 text file") from None
    sweep = data.pop("sweep", {})
    if not isinstance(sweep, dict):
        raise ScenarioError(f"{source}: key 'sweep': must be a table of lists")
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("sweep."):
            sweep[key.removeprefix("sweep.")] = value
        else:
            data[key] = value
            sweep.pop(key, None)
    data.setdefault("name", path.stem)
    keys = point_model(data.get("workload", "syscall_bench")).model_fields
    for key, values in sweep.items():
        if key not in keys:
            raise ScenarioError(f"{source}: key 'sweep.{key}': unknown key")
        if key in RUN_KEYS | {"workload"}:
            raise ScenarioError(f"{source}: key 'sweep.{key}': cannot be swept")
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{source}: key 'sweep.{key}': must be a non-empty list")
    _validate_point(data, source)
    for key, values in sweep.items():
        # compared once validated: 10 and 10.0 are the same wait_factor
        seen = [getattr(_validate_point({**data, key: value}, source, where="sweep "), key)
                for value in values]
        if len({json.dumps(v) for v in seen}) != len(seen):
            raise ScenarioError(f"{source}: key 'sweep.{key}': repeated values")
    scenario = Scenario(base=data, sweep=sweep, source=source)
    try:
        load_profile(data.get("profile", "vmxl4-pandaboard"))
    except ProfileError as error:
        raise ScenarioError(f"{source}: key 'profile': {error}") from None
    return scenario


def _syntax_error(error: tomllib.TOMLDecodeError, text: str) -> str:
    """'TOML syntax error at line N: problem' (tomllib omits the line at end of file)."""
    message = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(found.group(1)) if found else max(1, len(text.splitlines()))
    problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return f"TOML syntax error at line {line}: {problem}"


def point_from_dict(values: dict) -> Point:
    """A point from keyword values (defaults for the rest): for notebooks and benchmarks."""
    return _validate_point({"name": "adhoc", **values}, "<point>")


def point_keys(points: list[Point]) -> list[str]:
    """The keys of these points' models, in declaration order (table columns)."""
    keys: list[str] = []
    for point in points:
        keys.extend(k for k in type(point).model_fields if k not in keys)
    return keys
