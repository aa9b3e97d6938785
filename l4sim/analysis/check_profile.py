"""Which fastpath checks fail, and which are implied by others (the paper's future work).

Built from a run's ``events.parquet``: every fastpath attempt's exit point (the
first failing check, or the fast exit), the kernel cycles spent when the
fastpath decided (``outcome_cycles``), and, when the run had
``check_profile = true``, the pass/fail mask of every check at that moment.

Two kinds of knowledge about a check are kept apart:

- *observed*: in this run, whenever check A passed, check B passed too;
- *guaranteed*: the model's code makes it so. :func:`never_written_fields`
  uses the static scan of the package's source
  (:mod:`l4sim.design.immutability`): a check whose fields are never assigned or
  mutated after a thread is created gives the same answer for the whole run,
  so if it passed once it cannot fail (a candidate for removal from the
  model's fastpath, and a question to ask of the real kernel). One further
  implication is proved by hand in :data:`KNOWN_IMPLICATIONS`.
"""

from __future__ import annotations

import pandas as pd

from l4sim.design.immutability import written_fields
from l4sim.kernel.checks import Check, Stage, locks_held
from l4sim.kernel.state import PAPER_FASTPATHS

LOCK_NAMES = {0: "none", 1: "scheduler", 3: "scheduler + 2 thread locks"}

# (fastpath, A, B, condition, proof): A passing implies B passing, from the code
KNOWN_IMPLICATIONS = [
    (
        "syscall_exception",
        "handler_waiting",
        "handler_send_queue_empty",
        "the handler waits with an open receive (every handler here does)",
        "ipc_slowpath puts a thread in WAITING_TO_RECEIVE with an open receive only "
        "when first_sender() finds nobody queued, and a sender is queued only when "
        "can_receive_now() is false, which for an open-waiting receiver needs a "
        "non-empty queue: an open-waiting thread's send queue stays empty",
    ),
]


def never_written_fields() -> frozenset[str]:
    """The fields the paper's checks read that no statement assigns or mutates."""
    fields = {
        name for fastpath in PAPER_FASTPATHS.values() for check in fastpath for name in check.reads
    }
    return frozenset(fields - written_fields())


def constant_by_code(check: Check) -> bool:
    """The check reads only fields the model never changes after creating the objects."""
    return bool(check.reads) and not set(check.reads) & written_fields()


def check_table(events: pd.DataFrame, kind: str, order: tuple[Check, ...]) -> pd.DataFrame:
    """Per check, in the order the kernel ran them: reached, failed, cycles, locks held."""
    attempts = events[events["kind"] == kind]
    names = [check.name for check in order]
    fast = ~attempts["exit_point"].isin(names) & (attempts["path"] == "fast")
    fallen = attempts[attempts["exit_point"].isin(names)]
    total = int(fast.sum() + len(fallen))
    rows = []
    reached = total
    stage = Stage.LOCK_FREE
    for position, check in enumerate(order):
        stage = max(stage, check.stage)
        failing = fallen[fallen["exit_point"] == check.name]
        failed = len(failing)
        rows.append(
            {
                "fastpath": kind,
                "position": position + 1,
                "check": check.name,
                "stage": check.stage.name.lower(),
                "reached": reached,
                "failed": failed,
                "fail_rate": failed / reached if reached else 0.0,
                "cycles_before_failure": float(failing["outcome_cycles"].mean())
                if failed
                else float("nan"),
                "locks_held_at_failure": LOCK_NAMES[locks_held(stage)],
                "constant_by_code": constant_by_code(check),
            }
        )
        reached -= failed
    return pd.DataFrame(rows)


def implied_pairs(
    events: pd.DataFrame, kind: str, paper: tuple[Check, ...] | None = None
) -> pd.DataFrame:
    """Pairs (A, B) where every attempt that passed A also passed B, with counts.

    ``paper`` is the list the profile's mask bits refer to (the fastpath's
    list as given; default the paper's).
    """
    paper = paper or PAPER_FASTPATHS[kind]
    attempts = events[(events["kind"] == kind) & (events["check_mask"] >= 0)]
    masks = attempts["check_mask"].to_numpy()
    known = {
        (a, b): (condition, proof)
        for fastpath, a, b, condition, proof in KNOWN_IMPLICATIONS
        if fastpath == kind
    }
    rows = []
    for i, a in enumerate(paper):
        passed_a = (masks >> i) & 1 == 1
        for j, b in enumerate(paper):
            if i == j or not passed_a.any():
                continue
            passed_b = (masks >> j) & 1 == 1
            if (passed_a & ~passed_b).any():
                continue  # a counterexample: A passed, B failed
            if constant_by_code(b):
                basis = "guaranteed: B reads only fields the model never changes"
            elif (a.name, b.name) in known:
                basis = "guaranteed when " + known[(a.name, b.name)][0]
            else:
                basis = "observed only"
            rows.append(
                {
                    "fastpath": kind,
                    "if_passes": a.name,
                    "then_passes": b.name,
                    "support": int(passed_a.sum()),
                    "then_ever_failed": bool((~passed_b).any()),
                    "basis": basis,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["fastpath", "if_passes", "then_passes", "support", "then_ever_failed", "basis"],
    )
