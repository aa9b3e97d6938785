"""A fastpath variant: the IPC fastpath's checks in an order of our own, plus one check.

A scenario selects it with ``fastpath_checks = "./my_fastpath.py"``. The file
defines ``FASTPATH_CHECKS``: for each fastpath to change (``"ipc"``,
``"syscall_exception"``), its checks in the order they run. A check is an
``l4sim.Check``: a name, the lock ``Stage`` it needs, the
profile key of its cost, a predicate on the fastpath's context (here an
``IpcContext``: ``kernel``, ``cpu``, ``current``, ``op``, ``dest``,
``is_call``), what it guards, and the checks it depends on. The kernel takes
a stage's locks before the first check that needs them; the commit after
the last check is the kernel's own. An extra check can only send more
attempts to the slowpath, so this variant is as safe as the paper's (the
invariant checker agrees: ``l4sim run scenario.toml --check-invariants``).
"""

from l4sim import IPC_CHECKS, Check, FastpathChecks, IpcContext, Stage

PAPER = {check.name: check for check in IPC_CHECKS}

# the consumer hands over batches of one or two words: refuse longer messages
# before anything else (a single compare, lock-free)
SHORT_MESSAGE: Check[IpcContext] = Check(
    "short_message",
    Stage.LOCK_FREE,
    "check_load_compare",
    lambda c: c.op.words <= 2,
    "messages of this workload fit in two registers",
)

FASTPATH_CHECKS: FastpathChecks = {
    "ipc": (
        SHORT_MESSAGE,
        PAPER["valid_destination"],
        PAPER["call_or_reply_wait"],
        PAPER["simple_message"],
        # under the scheduler lock: the check that fails most here comes first
        PAPER["destination_waiting"],
        PAPER["destination_on_this_cpu"],
        PAPER["no_sender_queued"],
        PAPER["priority_and_domain"],
        PAPER["destination_partner"],
        PAPER["no_pending_notification"],
        PAPER["valid_space"],
    ),
}
