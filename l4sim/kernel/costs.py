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

import l4sim


class ProfileError(ValueError):
    """A profile file that is missing, malformed, or has unknown/missing keys."""


@dataclass(frozen=True, slots=True)
class Costs:
    """Every cycle cost the model charges. Sources are in the profile file."""

    name: str
    description: str
    clock_hz: int
    kernel_entry: int
    kernel_exit: int
    entry_jitter: int
    check_load_compare: int
    check_pointer_chase: int
    check_bitmap: int
    lock_acquire: int
    lock_release: int
    lock_handoff: int
    line_transfer: int
    sched_lock_lines: int
    thread_lock_lines: int
    fp_copy_exception_state: int
    fp_switch: int
    fp_ipc_transfer: int
    sp_save_state: int
    sp_build_message: int
    sp_transfer: int
    sp_enqueue_sender: int
    sched_pick: int
    context_switch: int
    resume_after_reply: int
    receive_resume: int
    ipc_decode: int
    ipc_transfer: int
    timer_irq: int
    ipi_send: int
    ipi_latency: int
    timeslice: int
    wait_loop_iteration: int
    handler_service: int
    # Costs a profile may leave out (0: none). The trap's assembly entry and exit,
    # outside every kernel lock (a profile that gives them charges the rest of an
    # entry and exit as kernel_entry and kernel_exit); the op-specific parts of the
    # IPC fastpath's commit; the user-level loop of sel4bench's SMP benchmark; what
    # each CPU still spinning for a lock adds to a contended grant (the coherence
    # traffic of the spinners on the lock's and the kernel's shared lines, which the
    # new holder's stores must invalidate again).
    trap_entry: int = 0
    trap_exit: int = 0
    fp_call: int = 0
    fp_reply_recv: int = 0
    smp_bench_loop: int = 0
    lock_spinner_drag: int = 0

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


def cost_problem(key: str, value) -> str | None:
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
_LOADED: dict[Path, tuple[tuple, Costs]] = {}


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


def _values(path: Path, seen: tuple[Path, ...], read: list[Path]) -> dict:
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
    values: dict = {}
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
