"""seL4's IPC fastpath checks, as a fastpath variant (``fastpath_checks = "sel4"``).

seL4 has two fastpaths where the model has one IPC fastpath: ``fastpath_call``
and ``fastpath_reply_recv`` (seL4/seL4, ``src/fastpath/fastpath.c``; the
message-info test is ``fastpath_mi_check`` in ``include/fastpath/fastpath.h``).
Both run every check after the SMP build's big kernel lock is taken
(``NODE_LOCK_SYS``, the first statement of ``c_handle_fastpath_call`` and
``c_handle_fastpath_reply_recv``, ``src/arch/arm/c_traps.c``). Their checks,
in source order (32-bit ARM, SMP, without MCS)::

    fastpath_call                       fastpath_reply_recv
    message info, no saved fault        message info, no saved fault
    endpoint cap, can send              endpoint cap, can receive
                                        no active bound notification
    endpoint in Recv state              endpoint not in Send state
                                        the caller slot holds a reply cap
                                        the caller has no fault
    destination's vspace root valid     caller's vspace root valid
    priority (dest >= us, or highest)   caller is the highest priority
    endpoint cap grants (a reply cap)
    stored hardware ASID valid          stored hardware ASID valid
    same domain                         same domain
    SMP: same core affinity             SMP: same core affinity

The model enters one IPC fastpath for both operations, so this variant is
the two lists merged in an order that keeps each one's own: a check of one
operation only passes at once for the other (``c.is_call``), and a check
both have tests each operation's condition.

**Costs: an estimate, apportioned from the calibrated totals.** The
calibrated Call and ReplyRecv (``l4sim calibrate sel4bench``,
docs/how-to/calibration.md) fix what each operation spends inside the big lock;
how that splits into checks and commit is not measured. Each check here is
charged by the kind of access seL4's code makes, at the profile's
per-check costs: a compare on values already in registers or one load
(``check_load_compare``), two dependent loads (``check_pointer_chase``:
the saved fault through the core's current-thread pointer, the capability
lookup, the vspace root and its stored ASID), the ready-queue bitmap
(``check_bitmap``). At sel4-sabre's 4, 8 and 12 cycles the twelve checks
come to 68 cycles, the total of the paper's ten IPC checks that the
calibration subtracts: with this variant the calibrated profile's commit
terms (``fp_switch``, ``fp_call``, ``fp_reply_recv``) stand unchanged and the
single-core Call and ReplyRecv stay what was calibrated. A Call runs nine of
the twelve (56 cycles) in seL4 and a ReplyRecv eleven (64): here each pays
all twelve, the difference (12 and 4 cycles) moved from its own commit term
to the checks. The totals, and the cycles under the lock, are the same.

**Stages and reads.** The model's objects stand for seL4's: a thread's
``state``, ``partner`` and ``send_queue`` for the endpoint it waits on or
that queues to it; its ``space`` and ``space.valid`` for the vspace root
and its hardware ASID; ``cpu`` for ``tcbAffinity``. Each check's stage is
the model's lock over that state: the caller's own registers need none; the
capability space and the ready queues, written by any core, are global
(``SCHEDULER``); a partner's or the endpoint's IPC state is under the
thread locks (``THREADS``). Under ``kernel_lock = "big"`` every stage is the
one big lock, as in seL4. ``reads`` names the model's fields, for the
static scan a fastpath design's hoisting rests on; ``cspace`` stands for the
capability space, which the model does not have (so nothing in it writes
one).

**What may leave the big lock** (``hoist_proof``). The model's static scan
proves ``cpu``, ``priority``, ``domain``, ``space``, ``valid`` and ``cspace``
never written: true of the model, and of a static seL4 system (capabilities,
priorities, affinities, domains and address spaces fixed after boot, as in
a Microkit or CAmkES system, and as in sel4bench while it measures). seL4 as
a kernel guarantees none of it: any core may, under the lock, delete or move
a capability (CNode invocations), change a thread's priority
(``TCB_SetPriority``), affinity (``TCB_SetAffinity``), domain
(``DomainSet_Set``) or address space (``TCB_SetSpace``), or free an ASID.
:data:`WRITTEN_AT_RUN_TIME` says so, and ``hoist_proof = "kernel"`` takes
those fields out of the proof: only what the calling core owns, its
registers and its own fault word (``message_info``, which needs no lock at
all), is left.
"""

from __future__ import annotations

from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.ipc_checks import MAX_REGISTER_WORDS, IpcContext
from l4sim.kernel.objects import ANY, BLOCKED_ON_REPLY, WAITING_TO_RECEIVE
from l4sim.workloads.fastpath_variants import FastpathChecks


def _endpoint_state(c: IpcContext) -> bool:
    if c.is_call:  # EPState_Recv: a receiver waits on the endpoint, nobody queued to send
        dest = c.dest
        return dest.state is WAITING_TO_RECEIVE and dest.partner is ANY and not dest.send_queue
    return not c.current.send_queue  # not EPState_Send: no sender waits for our receive


def _priority(c: IpcContext) -> bool:
    best = c.kernel.scheduler.highest_ready(c.cpu)
    highest = best is None or c.dest.priority >= best  # isHighestPrio
    if c.is_call:  # fall back only if the callee is below us and not the highest ready
        return highest or c.dest.priority >= c.current.priority
    return highest


def _caller_no_fault(c: IpcContext) -> bool:
    # seL4 reads the caller's tcbFault; in the model a thread blocked in a fault (a
    # syscall exception) is the one whose last message to us was that exception
    last = c.current.received
    return c.is_call or last is None or last.label != "exception" or last.sender is not c.dest


SEL4_IPC_CHECKS: tuple[Check[IpcContext], ...] = (
    Check(
        "message_info",
        Stage.LOCK_FREE,
        "check_pointer_chase",
        lambda c: c.op.words <= MAX_REGISTER_WORDS and not c.op.typed_items,
        "fastpath_mi_check: no extra caps, the message fits in the 4 message registers; "
        "and the caller has no saved fault (in the model a thread in a system call has "
        "none)",
    ),
    Check(
        "endpoint_cap",
        Stage.SCHEDULER,
        "check_pointer_chase",
        # (not a Call: a ReplyWait, which has a source)
        lambda c: c.dest is not None and (c.is_call or c.op.source is ANY),  # type: ignore[union-attr]
        "lookup_fp: the capability is an endpoint with the send (Call) or receive "
        "(ReplyRecv) right; the model names the partner thread directly (a ReplyRecv "
        "receives on an endpoint: from anyone)",
        reads=("cspace",),
    ),
    Check(
        "no_bound_notification",
        Stage.THREADS,
        "check_load_compare",
        lambda c: c.is_call or (c.current.notify_bits == 0 and not c.current.pending_irqs),
        "ReplyRecv: no active bound notification (nor interrupt) our receive would take first",
        reads=("notify_bits", "pending_irqs"),
    ),
    Check(
        "endpoint_state",
        Stage.THREADS,
        "check_load_compare",
        _endpoint_state,
        "Call: the endpoint is in Recv state (a receiver waits); ReplyRecv: it is not in "
        "Send state (no sender queued)",
        needs=("endpoint_cap",),
        reads=("state", "partner", "send_queue"),
    ),
    Check(
        "reply_cap",
        Stage.THREADS,
        "check_load_compare",
        lambda c: (
            c.is_call or (c.dest.state is BLOCKED_ON_REPLY and c.dest.reply_from is c.current)
        ),
        "ReplyRecv: the caller slot holds a reply capability (the caller waits for our reply)",
        needs=("endpoint_cap",),
        reads=("state", "reply_from"),
    ),
    Check(
        "caller_no_fault",
        Stage.THREADS,
        "check_load_compare",
        _caller_no_fault,
        "ReplyRecv: the caller is not blocked in a fault (a fault reply takes the slowpath)",
        reads=("received",),
    ),
    Check(
        "valid_vspace",
        Stage.THREADS,
        "check_pointer_chase",
        lambda c: c.dest.space is not None,
        "isValidVTableRoot_fp: the destination has a valid vspace root to switch to",
        needs=("endpoint_cap",),
        reads=("space",),
    ),
    Check(
        "priority",
        Stage.SCHEDULER,
        "check_bitmap",
        _priority,
        "the destination may run now (isHighestPrio over the core's ready bitmap; a "
        "Call also when the callee is not below the caller)",
        needs=("endpoint_cap",),
        reads=("priority", "_ready", "_ready_bitmap"),
    ),
    Check(
        "grant_reply",
        Stage.SCHEDULER,
        "check_load_compare",
        lambda c: True,
        "Call: the endpoint capability has the grant or grant-reply right, to create "
        "the reply capability (the model's capabilities carry every right: it passes, "
        "and costs what seL4's test costs)",
        reads=("cspace",),
    ),
    Check(
        "valid_asid",
        Stage.THREADS,
        "check_load_compare",
        lambda c: c.dest.space.valid,
        "32-bit ARM: the vspace root's stored hardware ASID is valid",
        needs=("endpoint_cap", "valid_vspace"),
        reads=("space", "valid"),
    ),
    Check(
        "same_domain",
        Stage.SCHEDULER,
        "check_load_compare",
        lambda c: c.dest.domain == c.current.domain,
        "the destination is in the current scheduling domain",
        needs=("endpoint_cap",),
        reads=("domain",),
    ),
    Check(
        "same_core",
        Stage.SCHEDULER,
        "check_load_compare",
        lambda c: c.dest.cpu == c.cpu,
        "SMP: the destination's affinity is this core (cross-core IPC takes the "
        "slowpath and an IPI)",
        needs=("endpoint_cap",),
        reads=("cpu",),
    ),
)

FASTPATH_CHECKS: FastpathChecks = {"ipc": SEL4_IPC_CHECKS}

# the checks only one of seL4's two functions makes (the others are in both)
CALL_ONLY = frozenset({"grant_reply"})
REPLY_RECV_ONLY = frozenset({"no_bound_notification", "reply_cap", "caller_no_fault"})

# Fields seL4 writes at run time through operations the model does not have (see above):
# under hoist_proof = "kernel" no check on them may run before the lock.
WRITTEN_AT_RUN_TIME = frozenset({"cpu", "priority", "domain", "space", "valid", "cspace"})
