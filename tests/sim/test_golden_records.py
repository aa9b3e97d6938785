"""Golden records: what the model computes must not change when the code is reorganised.

Each point runs one replication and its kernel-entry records (every column of
the events table), its summary rows and its measured cycles are hashed. The
hashes were recorded before the package was restructured; a change of any
record, however small, changes its hash. A deliberate change of the model
(a new cost, a fixed bug) must update them, and say why in its commit.
"""

import hashlib
import json

import numpy as np
import pytest

from l4sim.simulation.simulate import simulate
from l4sim.sweep.fastpath_designs import resolve_design
from l4sim.sweep.scenario import point_from_dict

# name: (point keys, invariant checker on)
POINTS = {
    "syscall_ticket_fine": (
        {"workload": "syscall_bench", "threads": 2, "wait_factor": 30.0, "events": 600},
        False,
    ),
    "syscall_tas_slow_checked": (
        {
            "workload": "syscall_bench",
            "threads": 3,
            "lock": "tas",
            "fastpath_syscall": False,
            "events": 400,
        },
        True,
    ),
    "syscall_big_mcs_4cpu": (
        {
            "workload": "syscall_bench",
            "threads": 4,
            "cpus": 4,
            "lock": "mcs",
            "kernel_lock": "big",
            "events": 400,
        },
        False,
    ),
    "syscall_optimized_profiled": (
        {
            "workload": "syscall_bench",
            "threads": 2,
            "wait_factor": 10.0,
            "check_order": "optimized",
            "check_profile": True,
            "events": 400,
        },
        False,
    ),
    "syscall_uniprocessor_1cpu_checked": (
        {
            "workload": "syscall_bench",
            "threads": 1,
            "cpus": 1,
            "fastpath_variant": "uniprocessor",
            "events": 300,
        },
        True,
    ),
    "syscall_16cpu_ticket": (
        {"workload": "syscall_bench", "threads_per_cpu": 1, "cpus": 16, "events": 600},
        False,
    ),
    # contended hand-overs ahead of the clock: a waiter queued and a lock handed over
    # at a CPU's local time while no other CPU can act (test-and-set draws its winner)
    "syscall_64cpu_tas": (
        {
            "workload": "syscall_bench",
            "threads_per_cpu": 1,
            "cpus": 64,
            "lock": "tas",
            "events": 600,
        },
        False,
    ),
    "lock_microbench_tas_16cpu_checked": (
        {"workload": "lock_microbench", "threads": 16, "cpus": 16, "lock": "tas", "events": 600},
        True,
    ),
    "syscall_stress_checked": (
        {"workload": "syscall_bench", "threads": 2, "stress_jitter": 200, "events": 300},
        True,
    ),
    "ipc_4clients_fast_checked": (
        {
            "workload": "ipc_bench",
            "clients": 4,
            "fastpath_ipc": True,
            "wait_factor": 10.0,
            "events": 400,
        },
        True,
    ),
    "ipc_1client_big_clh": (
        {"workload": "ipc_bench", "clients": 1, "lock": "clh", "kernel_lock": "big", "events": 400},
        False,
    ),
    "linux_send": ({"workload": "linux", "events": 300, "warmup_events": 50}, False),
    "linux_notify_checked": (
        {
            "workload": "linux",
            "irq_forward": "notify",
            "fastpath_notify": True,
            "fastpath_ipc": True,
            "events": 200,
            "warmup_events": 50,
        },
        True,
    ),
    "lock_microbench_ticket_4cpu": (
        {"workload": "lock_microbench", "threads": 4, "cpus": 4, "events": 600},
        False,
    ),
    "lock_microbench_tas_deterministic": (
        {
            "workload": "lock_microbench",
            "threads": 2,
            "lock": "tas",
            "hold_dist": "deterministic",
            "events": 600,
        },
        False,
    ),
    # a point whose fastpath design is searched and verified before it runs
    "ipc_design_optimized_2clients": (
        {
            "workload": "ipc_bench",
            "clients": 2,
            "fastpath_ipc": True,
            "fastpath_design": "optimized",
            "wait_factor": 10.0,
            "events": 400,
        },
        False,
    ),
    "syscall_design_reordered": (
        {
            "workload": "syscall_bench",
            "threads": 2,
            "wait_factor": 10.0,
            "fastpath_design": "reordered",
            "events": 400,
        },
        False,
    ),
    "sel4bench_smp_sabre_4cpu": (
        {"workload": "sel4bench_smp", "cpus": 4, "profile": "sel4-sabre", "events": 400},
        False,
    ),
    # the same point on the random streams it had before the workload gained its version
    # keys (delay_distribution, delay_overhead_cycles), which enter every point's stream
    # key: the records of those streams are what they were
    "sel4bench_smp_sabre_4cpu_streams_before": (
        {
            "workload": "sel4bench_smp",
            "cpus": 4,
            "profile": "sel4-sabre",
            "events": 400,
            "stream_key": "2cc2691b89d9506100b8968527556d33",
        },
        False,
    ),
    "sel4bench_smp_exponential_drag_4cpu": (
        {
            "workload": "sel4bench_smp",
            "cpus": 4,
            "profile": "sel4-sabre",
            "events": 400,
            "delay_distribution": "exponential",
            "delay_overhead_cycles": 100,
            "costs": {"lock_spinner_drag": 10},
        },
        False,
    ),
    "smp_pingpong_sabre_4cpu": (
        {
            "workload": "smp_pingpong",
            "cpus": 4,
            "delay_cycles": 100,
            "profile": "sel4-sabre",
            "events": 400,
        },
        False,
    ),
}

GOLDEN = {
    "syscall_ticket_fine": "6de40e60a11b293b518b",  # 1200 records
    "syscall_tas_slow_checked": "6c5fa98988c87357954e",  # 800 records
    "syscall_big_mcs_4cpu": "680f6c670bf8345c7914",  # 800 records
    "syscall_optimized_profiled": "74d4ce44779486de6da8",  # 800 records
    "syscall_uniprocessor_1cpu_checked": "bb6ca232b3fd5c158812",  # 599 records
    "syscall_16cpu_ticket": "a776b145182a18ff0c76",  # 1208 records
    "syscall_64cpu_tas": "c873a8ef153d390fdcc6",  # 1182 records
    "lock_microbench_tas_16cpu_checked": "397722410710eae901dd",  # 600 records
    "syscall_stress_checked": "029922e58de9233e911b",  # 600 records
    "ipc_4clients_fast_checked": "76da8cbb2869f673d524",  # 400 records
    "ipc_1client_big_clh": "24596157ed684a652eda",  # 400 records
    "linux_send": "f97e31e0e149892f2c9d",  # 956 records
    "linux_notify_checked": "a1902bdac37c190e8448",  # 636 records
    "lock_microbench_ticket_4cpu": "52b672b52bf54129f35f",  # 600 records
    "lock_microbench_tas_deterministic": "fcf5a1c247a31087c100",  # 600 records
    "smp_pingpong_sabre_4cpu": "6e2dab4027534d475075",  # 800 records
    "ipc_design_optimized_2clients": "4a2cc31841e66dbd55e9",  # 400 records
    "syscall_design_reordered": "5f4d6ecfdfe5d6104fca",  # 800 records
    "sel4bench_smp_sabre_4cpu": "b5fbf2bf6733d41b3e70",  # 800 records
    "sel4bench_smp_sabre_4cpu_streams_before": "b6c373762905f3a1fd15",  # 800 records
    "sel4bench_smp_exponential_drag_4cpu": "9529d233cf4f0cdbbcba",  # 800 records
}


def record_digest(result) -> str:
    """A hash of a run's records: every events column in order, summary rows, measured cycles."""
    digest = hashlib.sha256()
    for name, column in result.events.items():
        values = (
            column.astype(str).to_numpy() if str(column.dtype) == "category" else column.to_numpy()
        )
        digest.update(name.encode() + b"\0")
        if values.dtype.kind in "iu":
            digest.update(np.ascontiguousarray(values, dtype=np.int64).tobytes())
        else:
            digest.update("\0".join(map(str, values)).encode())
    digest.update(
        json.dumps(
            {"rows": result.rows, "measured": int(result.measured_cycles)}, sort_keys=True
        ).encode()
    )
    return digest.hexdigest()[:20]


def test_golden_points_cover_every_workload_locking_and_checker_mode():
    keys = [keys for keys, _ in POINTS.values()]
    assert {k["workload"] for k in keys} == {
        "syscall_bench",
        "ipc_bench",
        "linux",
        "lock_microbench",
        "smp_pingpong",
        "sel4bench_smp",
    }
    assert {k.get("kernel_lock", "fine") for k in keys} == {"fine", "big"}
    assert {k.get("lock", "ticket") for k in keys} == {"ticket", "tas", "mcs", "clh"}
    assert {check for _, check in POINTS.values()} == {True, False}


@pytest.mark.parametrize("name", sorted(POINTS))
def test_records_are_identical_to_the_golden_ones(name):
    keys, check = POINTS[name]
    point = point_from_dict(keys)
    result = simulate(point, 1, invariants=check, resolution=resolve_design(point))
    assert record_digest(result) == GOLDEN[name]
