"""Write the synthetic sel4bench results of this example (``data/``), in the real format.

Not measurements: three runs of a made-up board, Sabre-like (about 1 GHz,
seL4's SMP-build fastpath Call about 433 cycles), made from the parameters
below so that every single-core figure is exactly what one round of
sel4bench's SMP benchmark gives: ``clock / (2 x delay + loop + Call +
ReplyRecv)`` calls per second on one core. The first two runs have 4-core
figures; the third, whose IPC is 25 and 20 cycles slower (as after a kernel
change), has none, as if withheld: ``l4sim compare sel4bench`` predicts them.

    python examples/sel4bench/make_data.py     # rewrites examples/sel4bench/data/
"""

import json
from pathlib import Path

HERE = Path(__file__).parent / "data"
MARK = "made up by examples/sel4bench/make_data.py: not measurements"
CLOCK = 996e6  # cycles per second
# run_id, date, seL4 commit, Call, ReplyRecv (SMP build, one address space), null
# syscall (uniprocessor build), the benchmark's own loop per round (cycles), and the
# 4-core calls per second at delays 500 and 32000 (None: withheld)
RUNS = [
    (101, "2026-01-12", "a1b2c3d4", 433, 491, 113, 520, (938_400, 60_890)),
    (102, "2026-02-09", "a1b2c3d4", 433, 492, 113, 522, (938_900, 60_870)),
    (103, "2026-03-16", "e5f60718", 458, 511, 114, 521, None),
]


def figure(mean: float, n: int) -> list:
    """sel4bench's [min, q1, median, mean, q3, max, stddev, n], a figure without spread."""
    return [mean, mean, mean, mean, mean, mean, 0.0, n]


def main() -> None:
    HERE.mkdir(exist_ok=True)
    smp, uniprocessor = [], []
    for run_id, date, kernel, call, reply, null, loop, four in RUNS:
        head = {
            "ts": f"{date}T10:00:00Z",
            "sha": f"{run_id:08x}",
            "sha_kernel": kernel,
            "sha_bench": "05b75695",
            "run_id": run_id,
            # l4sim's mark of data that was not measured: no comparison with it is
            # presented as one with hardware
            "synthetic": MARK,
        }
        rates = {
            delay: round(CLOCK / (2 * delay + loop + call + reply), 1) for delay in (500, 32000)
        }
        record = {
            **head,
            "ipc_call_intra": figure(call, 16),
            "ipc_reply_intra": figure(reply, 16),
            "smp_1core_c500": figure(rates[500], 10),
            "smp_1core_c32000": figure(rates[32000], 10),
        }
        if four is not None:
            record["smp_4core_c500"] = figure(four[0], 10)
            record["smp_4core_c32000"] = figure(four[1], 10)
        smp.append(record)
        uniprocessor.append({**head, "null_syscall": figure(null, 16)})
    for name, records in (("SYNTHETIC_SMP_32.jsonl", smp), ("SYNTHETIC_32.jsonl", uniprocessor)):
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in records))


if __name__ == "__main__":
    main()
