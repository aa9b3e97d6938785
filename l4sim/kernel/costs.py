"""Cycle costs: a profile file (``l4sim/profiles/NAME.toml``) read into a frozen table."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
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

    def replace(self, **changes: int) -> Costs:
        """A copy with some costs changed (scenario overrides)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Costs(**values)


# the package folder, not this file's (compiled, it is in l4sim/_compiled/)
PROFILE_DIR = Path(l4sim.__file__).resolve().parent / "profiles"

COST_KEYS = tuple(f.name for f in fields(Costs) if f.name not in ("name", "description"))


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name: str) -> Costs:
    """Read a shipped profile by name; raise :class:`ProfileError` on any problem."""
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown profile {name!r} (known: {', '.join(available_profiles())})")
    data = tomllib.loads(path.read_text())
    expected = {f.name for f in fields(Costs)}
    unknown = sorted(set(data) - expected)
    missing = sorted(expected - set(data))
    if unknown or missing:
        raise ProfileError(f"profile {name}: unknown keys {unknown}, missing keys {missing}")
    for key in COST_KEYS:
        if not isinstance(data[key], int) or data[key] < 0:
            raise ProfileError(f"profile {name}: {key} must be a non-negative integer")
    return Costs(**data)
