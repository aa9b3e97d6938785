"""Fastpath designs: a fastpath's checks moved across its lock stages, behaviour unchanged.

The paper's SMP fastpath runs its checks in three stages: lock-free, under
the global scheduler lock, under the two thread locks. A check that fails
after a lock was taken still pays for that lock, its wait and its release:
under contention with cross-CPU clients, most IPC-fastpath attempts fail
``destination_on_this_cpu`` with the scheduler lock held. A *design* is the
paper's list transformed by three moves, each keeping what threads observe
identical:

- **reorder** checks (within and across stages) keeping their data
  dependencies (no check dereferences what an earlier one did not vouch for);
- **hoist** a check before any lock when it reads only fields proven never
  written after creation (:mod:`l4sim.design.immutability`: a thread's
  CPU, handler, priority, domain, a space's validity): its answer is the same
  at any moment, so the lock it was under protected nothing it reads;
- add an **optimistic precheck** (``early``): a check that needs a lock also
  runs first without it, as a cheap early exit. Its read may be stale, so the
  check runs again under its lock (``recheck``) before the commit. A stale
  read can only make the fastpath fall back (the slowpath then does the same
  operation the long way), never commit on what the lock did not vouch for.

A fourth move changes what a fallback costs, not what it observes:

- **hand over** (``handover``) what a check decoded: a lock-free check that
  does part of the slowpath's decoding of the system call (the message tag,
  the destination's lookup: ``Check.decodes``) leaves its result for the
  slowpath when a later check fails, and the slowpath does not decode that
  part again. The paper's fastpath (like seL4's and OKL4's) falls back to a
  slowpath that starts from the beginning; here the fallback enters the
  slowpath after its decoding, as a kernel that passes the decoded message
  and destination in registers would.

A design is a list of steps in running order, one string each: ``name`` (the
check at its own stage), ``hoisted:name``, ``early:name``, ``handover:name``
and, later, ``recheck:name``. Every check of the list appears exactly once as
a plain, hoisted, handover or recheck step. The kernel takes a stage's locks
just before the first step that needs them, as for the paper's lists.

A fastpath that serves several operations (the IPC fastpath: a Call and a
ReplyWait, :data:`OPERATIONS`) may have a design per operation: each runs
its own order, hoists and prechecks, found from its own attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from l4sim.kernel.checks import Check, Context, Stage, validate_dependencies
from l4sim.kernel.decode import IPC

PLAIN, HOISTED, EARLY, RECHECK, HANDOVER = "plain", "hoisted", "early", "recheck", "handover"
MOVES = (HOISTED, EARLY, RECHECK, HANDOVER)
EARLY_SUFFIX = "_early"  # the exit point of a failed precheck: the check's name and this

# the operations of a fastpath that may each have a design of their own, by kind; a
# design for the kind itself serves every operation
CALL, REPLY_WAIT = "call", "reply_wait"
OPERATIONS: Mapping[str, tuple[str, ...]] = {IPC: (CALL, REPLY_WAIT)}


def design_key(kind: str, operation: str) -> str:
    """The key of one operation's design (``"ipc.call"``) in a kernel's designs."""
    return f"{kind}.{operation}"


def split_design_key(key: str) -> tuple[str, str | None]:
    """``"ipc.call"`` -> ``("ipc", "call")``; a kind's own key -> ``(kind, None)``."""
    kind, _, operation = key.partition(".")
    return kind, operation or None


def design_for(
    designs: Mapping[str, list[str]], kind: str, operation: str | None = None
) -> list[str] | None:
    """The design fastpath ``kind`` runs for ``operation``: its own, else the kind's; None."""
    if operation is not None:
        own = designs.get(design_key(kind, operation))
        if own is not None:
            return own
    return designs.get(kind)


def parse_step(step: str) -> tuple[str, str]:
    """``"early:no_sender_queued"`` -> ``("early", "no_sender_queued")``; a bare name is plain."""
    how, sep, name = step.partition(":")
    if not sep:
        return PLAIN, step
    if how not in MOVES:
        raise ValueError(
            f"unknown step {step!r} (a check's name, or {', '.join(m + ':NAME' for m in MOVES)})"
        )
    return how, name


def step(how: str, name: str) -> str:
    """The step string for ``how`` (plain, hoisted, early, recheck) and a check's name."""
    return name if how == PLAIN else f"{how}:{name}"


def paper_design(checks: tuple[Check[Context], ...]) -> list[str]:
    """The design that is the list itself: every check plain, in order."""
    return [check.name for check in checks]


def hoistable(check: Check[Any], proven_immutable: frozenset[str]) -> bool:
    """May ``check`` run before any lock: it needs one, and reads only proven-immutable fields."""
    return (
        check.stage > Stage.LOCK_FREE and bool(check.reads) and set(check.reads) <= proven_immutable
    )


def apply_design(
    checks: tuple[Check[Context], ...], design: list[str], proven_immutable: frozenset[str]
) -> tuple[Check[Context], ...]:
    """The checks a fastpath runs for ``design``, in order; ValueError (one line) if invalid.

    ``proven_immutable`` are the fields the static scan proved never written
    after creation (passed in as data: the kernel does not scan its own source).
    """
    by_name = {check.name: check for check in checks}
    result: list[Check[Context]] = []
    placed: dict[str, str] = {}
    early_open: set[str] = set()
    locked = False  # a step needing a lock has run: later prechecks would not be early
    for text in design:
        how, name = parse_step(text)
        check = by_name.get(name)
        if check is None:
            raise ValueError(f"design step {text!r}: no check {name!r} in this fastpath")
        if how == EARLY:
            if check.stage == Stage.LOCK_FREE:
                raise ValueError(
                    f"design step {text!r}: {name} needs no lock, so it needs no precheck"
                )
            if locked:
                raise ValueError(
                    f"design step {text!r}: a precheck must come before the "
                    "first check that takes a lock"
                )
            if name in early_open or name in placed:
                raise ValueError(f"design step {text!r}: {name} is prechecked twice")
            early_open.add(name)
            result.append(
                replace(
                    check,
                    name=name + EARLY_SUFFIX,
                    stage=Stage.LOCK_FREE,
                    moved_from=check.stage,
                    optimistic=True,
                )
            )
            continue
        if name in placed:
            raise ValueError(
                f"design step {text!r}: {name} already runs ({step(placed[name], name)})"
            )
        if how == HANDOVER:
            if not (check.decodes and check.stage == Stage.LOCK_FREE):
                raise ValueError(
                    f"design step {text!r}: {name} does no lock-free part of the "
                    "slowpath's decoding: there is nothing to hand over"
                )
            result.append(replace(check, handed_over=True))
        elif how == HOISTED:
            if not hoistable(check, proven_immutable):
                unproven = sorted(set(check.reads) - proven_immutable) or ["(no reads declared)"]
                raise ValueError(
                    f"design step {text!r}: {name} cannot be hoisted: "
                    f"{', '.join(unproven)} not proven immutable"
                )
            result.append(replace(check, stage=Stage.LOCK_FREE, moved_from=check.stage))
        elif how == RECHECK:
            if name not in early_open:
                raise ValueError(f"design step {text!r}: a recheck needs an earlier early:{name}")
            early_open.discard(name)
            result.append(check)
        else:
            result.append(check)
        if result[-1].stage > Stage.LOCK_FREE:
            locked = True
        placed[name] = how
    if early_open:
        raise ValueError(
            f"design: {', '.join(sorted(early_open))} prechecked but never "
            "checked again under its lock"
        )
    missing = [name for name in by_name if name not in placed]
    if missing:
        raise ValueError(f"design: the checks {', '.join(missing)} are missing")
    return validate_dependencies(tuple(result))
