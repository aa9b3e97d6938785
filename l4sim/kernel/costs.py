"""Cycle costs: a profile file read into a frozen table.

A profile is a TOML file of costs in cycles, each with the source it comes
from in a comment. The built-in ones are ``l4sim/profiles/NAME.toml``,
named by ``NAME``; a user's is named by its path. A profile may start from
another, ``base = "sel4-sabre"`` (a built-in name, or a path relative to the
profile file), and change only some costs; ``name`` defaults to the file's
stem and ``description`` to the base's.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import l4sim


class ProfileError(ValueError):
    """A profile file that is missing, malformed, or has unknown/missing keys."""


@dataclass(frozen=True, slots=True)
class Costs:
    """Every cycle cost the model charges. Sources are in the profile file.

    Each cost's meaning, and its value in the built-in profiles, is in the
    cost reference (``docs/reference/costs.md``).
    """

    name: str
    """The profile's name (default: its file's stem)."""
    description: str
    """What the profile models: the board, its cores, the kernel."""
    clock_hz: int
    """The CPU clock (cycles per second): turns cycles into rates such as Calls per second."""
    kernel_entry: int
    """The exception vector and the save of the user registers a kernel entry needs."""
    kernel_exit: int
    """The restore of the user registers and the return to user mode."""
    entry_jitter: int
    """Hardware timing noise: each kernel entry costs uniform 0..``entry_jitter`` extra cycles."""
    check_load_compare: int
    """A fastpath check that loads one field and compares it (one load, a branch)."""
    check_pointer_chase: int
    """A fastpath check that loads a pointer, then a field through it (two dependent loads)."""
    check_bitmap: int
    """A fastpath check on the scheduler's two-level priority bitmap."""
    lock_acquire: int
    """An uncontended spinlock acquisition, with its memory barrier."""
    lock_release: int
    """A spinlock release, with its memory barriers."""
    lock_handoff: int
    """A contended grant: the waiter wakes and pulls the lock's line from the releaser's cache."""
    line_transfer: int
    """One cache line migrated between two cores."""
    sched_lock_lines: int
    """Lines of scheduler state that follow its lock to a CPU other than its last holder."""
    thread_lock_lines: int
    """Lines of a thread's IPC state that follow its lock to a CPU other than its last holder."""
    fp_copy_exception_state: int
    """The exception fastpath's copy of the exception frame into the handler's registers."""
    fp_switch: int
    """A fastpath's switch: mark both threads, switch address space, restore the destination."""
    fp_ipc_transfer: int
    """The IPC fastpath's message copy (untyped words in registers), tag and reply state."""
    sp_save_state: int
    """The slowpath's full context save of the thread that entered."""
    sp_build_message: int
    """The exception slowpath's construction of the exception IPC message and its tag."""
    sp_transfer: int
    """The exception slowpath's message transfer through the generic IPC machinery."""
    sp_enqueue_sender: int
    """Linking a sender into its receiver's send queue."""
    sched_pick: int
    """A scheduler decision: enqueue, the two-level bitmap search, dequeue."""
    context_switch: int
    """The slowpath's switch: save the kernel context, switch address space, restore."""
    resume_after_reply: int
    """The continuation of a sender woken by its reply: read the reply, restore the user frame."""
    receive_resume: int
    """The continuation of a receiver woken by a message."""
    ipc_decode: int
    """Decoding an IPC system call: its tag, the destination's lookup."""
    ipc_transfer: int
    """The IPC slowpath's message copy through the message registers."""
    timer_irq: int
    """A timer interrupt's entry and tick accounting."""
    ipi_send: int
    """Sending an inter-processor interrupt (a write to the interrupt controller)."""
    ipi_latency: int
    """The delivery of an inter-processor interrupt to the other core."""
    timeslice: int
    """A thread's timeslice (user time before preemption); at least 1."""
    wait_loop_iteration: int
    """One iteration of the benchmarks' user-level busy loop."""
    handler_service: int
    """The benchmarks' exception handler's user-level work per exception (read, note, reply)."""
    # Costs a profile may leave out (0: none). The trap's assembly entry and exit,
    # outside every kernel lock (a profile that gives them charges the rest of an
    # entry and exit as kernel_entry and kernel_exit); the op-specific parts of the
    # IPC fastpath's commit; the user-level loop of sel4bench's SMP benchmark; what
    # each CPU still spinning for a lock adds to a contended grant.
    trap_entry: int = 0
    """The trap's assembly entry, outside every kernel lock (0: part of ``kernel_entry``)."""
    trap_exit: int = 0
    """The trap's assembly exit, outside every kernel lock (0: part of ``kernel_exit``)."""
    fp_call: int = 0
    """The IPC fastpath's commit work specific to a Call."""
    fp_reply_recv: int = 0
    """The IPC fastpath's commit work specific to a ReplyRecv (ReplyWait)."""
    smp_bench_loop: int = 0
    """The user-level loop of sel4bench's SMP benchmark around each Call (``sel4bench_smp``)."""
    lock_spinner_drag: int = 0
    """What each CPU still spinning for a lock adds to a contended grant.

    The spinners' coherence traffic on the lock's and the kernel's shared lines,
    which the new holder's stores must invalidate again: with more cores
    spinning (sel4bench's SMP benchmark at delay 0) the holder is slower.
    FITTED per board and build by ``l4sim calibrate sel4bench``, with
    ``lock_handoff``, to the 4-core rates of that board's other runs: to the
    difference between its runs whose delay worked and those whose delay did
    not, where it has both; else to ``DELAY0_CONTRAST``, the delay-0 contrast
    itself FITTED to the TX2's runs of both kinds and transferred
    (``l4sim.analysis.calibration``). 0 in the built-in profiles: no drag.
    """

    def replace(self, **changes: int) -> Costs:
        """A copy with some costs changed (scenario overrides)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Costs(**values)


# the package folder, not this file's (compiled, it is in l4sim/_compiled/)
PROFILE_DIR = Path(l4sim.__file__).resolve().parent / "profiles"

COST_KEYS = tuple(f.name for f in fields(Costs) if f.name not in ("name", "description"))
# the costs every profile (or its base) must give: the rest default to 0
REQUIRED_COST_KEYS = tuple(
    f.name for f in fields(Costs) if f.name in COST_KEYS and f.default is MISSING
)
PROFILE_KEYS = frozenset(f.name for f in fields(Costs)) | {"base"}
# The largest cost a profile or an override may give: ten seconds at 1 GHz. A
# larger one cannot describe a kernel path, and a run charging it would take
# longer than anyone waits (and leave 64-bit cycle counters behind).
MAX_COST = 10**10
# costs the model divides by or repeats per unit of time: zero would never end a run
POSITIVE_COSTS = frozenset({"clock_hz", "timeslice"})


def cost_problem(key: str, value: object) -> str | None:
    """Why ``value`` cannot be the cost ``key`` (None: it can)."""
    if type(value) is not int or value < 0:
        return f"must be a non-negative integer number of cycles (got {value!r})"
    if key in POSITIVE_COSTS and value < 1:
        return f"must be at least 1 (got {value!r})"
    if value > MAX_COST:
        return f"must be at most {MAX_COST:,} (got {value:,})"
    return None


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def profile_path(profile: str | Path, relative_to: Path | None = None) -> Path:
    """The file of a profile: a built-in name, or a path (relative to ``relative_to``)."""
    text = str(profile)
    if "/" not in text and not text.endswith(".toml"):
        path = PROFILE_DIR / f"{text}.toml"
        if not path.is_file():
            raise ProfileError(
                f"unknown profile {text!r} (known: "
                f"{', '.join(available_profiles())}; or a path to a .toml file)"
            )
        return path
    path = Path(text).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if not path.is_file():
        raise ProfileError(f"{path}: profile file not found")
    return path


# path -> (the files it was read from with a hash of their contents, its costs)
_LOADED: dict[Path, tuple[tuple[tuple[Path, bytes | None], ...], Costs]] = {}


def load_profile(profile: str | Path) -> Costs:
    """Read a profile by built-in name or path; raise :class:`ProfileError` on any problem.

    Read again whenever the file or a base it starts from has changed.
    """
    path = profile_path(profile).resolve()
    cached = _LOADED.get(path)
    if cached is not None and all(_stamp(file) == stamp for file, stamp in cached[0]):
        return cached[1]
    read: list[Path] = []
    values = _values(path, (), read)
    missing = [key for key in REQUIRED_COST_KEYS if key not in values]
    if missing:
        raise ProfileError(
            f"{path}: missing costs {', '.join(missing)} "
            '(give them, or start from a profile with base = "NAME")'
        )
    values.setdefault("description", "")
    costs = Costs(**values)
    _LOADED[path] = (tuple((file, _stamp(file)) for file in read), costs)
    return costs


def _stamp(path: Path) -> bytes | None:
    """What a file holds now (a hash: two edits in one clock tick differ too)."""
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None


def _values(path: Path, seen: tuple[Path, ...], read: list[Path]) -> dict[str, Any]:
    """The keys of a profile file, on top of its base's (``read`` collects the files)."""
    read.append(path)
    if path in seen:
        raise ProfileError(f"{path}: key 'base': profiles start from each other in a circle")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: TOML syntax error ({error})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a UTF-8 text file") from None
    except OSError as error:
        raise ProfileError(f"{path}: cannot read ({error.strerror})") from None
    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise ProfileError(
            f"{path}: key '{unknown[0]}': unknown key (a cost profile has "
            f"name, description, base and the costs {', '.join(COST_KEYS)})"
        )
    for key in COST_KEYS:
        problem = cost_problem(key, data[key]) if key in data else None
        if problem:
            raise ProfileError(f"{path}: key '{key}': {problem}")
    for key in ("name", "description", "base"):
        if key in data and not isinstance(data[key], str):
            raise ProfileError(f"{path}: key '{key}': must be a string")
    values: dict[str, Any] = {}
    if "base" in data:
        try:
            base = profile_path(data["base"], relative_to=path.parent).resolve()
        except ProfileError as error:
            raise ProfileError(f"{path}: key 'base': {error}") from None
        values = _values(base, (*seen, path), read)
    values.update({k: v for k, v in data.items() if k != "base"})
    values.setdefault("name", path.stem)
    if "base" in data and "name" not in data:
        values["name"] = path.stem
    return values
