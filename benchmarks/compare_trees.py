"""This checkout's speed against another checkout's, interleaved in one run.

``make bench``'s figure (kernel entries per bare SimPy lock cycle, syscall
benchmark, 2 CPUs, 2 threads, wait factor 100) measured alternately in this
tree and in another one (for example a ``git worktree`` of an earlier
revision, compiled with ``python -m l4sim.build`` there), each measurement
in a fresh interpreter whose ``l4sim`` is that tree's. The ratio normalises
each measurement by the bare loop timed in the same process, and the rounds
alternate, so machine noise hits both trees alike.

``--instructions`` counts instead of timing: valgrind's callgrind counts
the instructions one simulated kernel entry costs (a run of 3000 measured
events minus one of 1000, so start-up cancels out), with ``PYTHONHASHSEED=0``
and one BLAS thread; the count is the same whatever else the machine does.

Run: ``.venv/bin/python benchmarks/compare_trees.py OTHER_TREE [--rounds N]``
or ``... OTHER_TREE --instructions [--wait-factor W] [--end-to-end]`` (``--end-to-end``:
the runs go through ``l4sim run``, so reading the scenario, filing the result
and writing the tables are counted too) or ``... OTHER_TREE --instructions
--case "ipc_bench clients=4 ipcfp=on wait_factor=100"`` (any case of ``make
bench``'s matrix, named as it prints it; per row of ``events.parquet``).
Count a copy of the tree you edit (a ``git worktree``, built there): a hot
module edited while it is counted runs as Python, and spoils the count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

MEASURE = r"""
import sys, time
sys.path.insert(0, "benchmarks")
from bench_speed import bare_simpy_rate
try:
    from l4sim import point_from_dict, simulate
except ImportError:  # a tree from before the public API
    from l4sim.simulation.simulate import simulate
    from l4sim.sweep.scenario import point_from_dict
point = point_from_dict({"workload": "syscall_bench", "cpus": 2, "threads": 2,
                         "wait_factor": CASE, "events": 20000, "fastpath_syscall": True})
best = 0.0
for _ in range(REPEATS):
    bare = bare_simpy_rate()
    start = time.perf_counter()
    result = simulate(point, seed=1, invariants=False)
    entries = result.total_entries / (time.perf_counter() - start)
    best = max(best, entries / bare)
print(best)
"""


def measure(tree: Path, case: float, repeats: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("L4SIM_CHECK_INVARIANTS", None)
    code = MEASURE.replace("CASE", repr(case)).replace("REPEATS", str(repeats))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True, text=True
    ).stdout
    return float(out.split()[-1])


ONE_RUN = r"""
import sys
try:
    from l4sim import point_from_dict, simulate
except ImportError:
    try:  # a tree from before the public API
        from l4sim.simulation.simulate import simulate
        from l4sim.sweep.scenario import point_from_dict
    except ImportError:  # a tree from before the layers were packages
        from l4sim.runner import simulate
        from l4sim.scenario import point_from_dict
point = point_from_dict({"workload": "syscall_bench", "cpus": 2, "threads": 2,
                         "wait_factor": float(sys.argv[1]), "events": int(sys.argv[2])})
simulate(point, seed=1)
"""


END_TO_END = r"""
import contextlib, io, sys, tempfile
from l4sim.cli import main
with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
    sys.exit(main(["run", "scenarios/syscall_bench.toml", "--out", out, "--quiet", "--jobs", "1",
                   "--set", "replications=1", "--set", "threads=2",
                   "--set", "fastpath_syscall=true",
                   "--set", f"wait_factor={sys.argv[1]}", "--set", f"events={sys.argv[2]}"]))
"""


MATRIX_CASE = r"""
import sys
sys.path.insert(0, "benchmarks")
from end_to_end import describe, l4sim_run, matrix
cases = {describe({**c.label, "group": c.group}): c for c in matrix()}
if sys.argv[1] not in cases:
    sys.exit(f"no case {sys.argv[1]!r} in the matrix; its cases: " + "; ".join(cases))
print("ENTRIES", l4sim_run(cases[sys.argv[1]], int(sys.argv[2]))[0])
"""


def counted(tree: Path, code: str, *args: str, hash_seed: int = 0) -> tuple[int, str]:
    """(instructions, standard output) of ``python -c code args`` in ``tree`` under callgrind.

    With ``PYTHONHASHSEED=hash_seed`` and one BLAS thread, the count is the
    same on every run.

    The hash seed moves where the interpreter's objects land in memory, and with
    them the collisions in its type-attribute cache: the same code counts up to
    about 3% apart under two seeds, so a change is judged on several.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PYTHONHASHSEED": str(hash_seed),
        "OPENBLAS_NUM_THREADS": "1",
        "L4SIM_CHECK_INVARIANTS": "",
    }
    with tempfile.TemporaryDirectory() as work:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={work}/cg.out",
                sys.executable,
                "-c",
                code,
                *args,
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
    if run.returncode:  # the run's own last words, not valgrind's summary
        said = [line for line in run.stderr.splitlines() if not line.startswith("==")]
        sys.exit(said[-1] if said else f"the run exited with status {run.returncode}")
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1)), run.stdout


def case_instructions_per_entry(tree: Path, case: str, hash_seed: int = 0) -> float:
    """Instructions per recorded entry of one matrix case through ``l4sim run`` (callgrind)."""
    counts = {}
    for events in (1000, 3000):
        instructions, out = counted(tree, MATRIX_CASE, case, str(events), hash_seed=hash_seed)
        counts[events] = (instructions, int(re.search(r"ENTRIES (\d+)", out).group(1)))
    (short, short_rows), (long, long_rows) = counts[1000], counts[3000]
    return (long - short) / (long_rows - short_rows)


def instructions_per_entry(
    tree: Path, wait_factor: float, end_to_end: bool = False, hash_seed: int = 0
) -> float:
    """Instructions per simulated kernel entry (callgrind), start-up subtracted.

    ``end_to_end``: through ``l4sim run`` (reading the scenario, the cache, the
    tables written) instead of ``simulate()`` alone.
    """
    code = END_TO_END if end_to_end else ONE_RUN
    counts = {
        events: counted(tree, code, str(wait_factor), str(events), hash_seed=hash_seed)[0]
        for events in (1000, 3000)
    }
    return (counts[3000] - counts[1000]) / (2 * 2000)  # two kernel entries per event


def hash_seeds(text: str) -> list[int]:
    """``--hash-seeds``: a comma-separated list of integers."""
    try:
        return [int(seed) for seed in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of integers") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (compiled there)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=2, help="best of N per measurement")
    parser.add_argument("--wait-factor", type=float, default=100.0)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per entry with valgrind instead of timing",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="with --instructions: through `l4sim run`, tables written",
    )
    parser.add_argument(
        "--case", help="with --instructions: this case of make bench's matrix (through `l4sim run`)"
    )
    parser.add_argument(
        "--hash-seeds",
        type=hash_seeds,
        default="0,1",
        help="with --instructions: count under each of these PYTHONHASHSEEDs "
        "and compare the means (memory layout moves a count by up to 3%%)",
    )
    args = parser.parse_args()
    trees = {"this": HERE, "other": args.other.resolve()}
    if args.instructions:
        if shutil.which("valgrind") is None:
            sys.exit("compare_trees: --instructions needs valgrind")
        per_seed: dict[str, list[float]] = {name: [] for name in trees}
        for seed in args.hash_seeds:
            for name, tree in trees.items():
                per_seed[name].append(
                    case_instructions_per_entry(tree, args.case, seed)
                    if args.case
                    else instructions_per_entry(tree, args.wait_factor, args.end_to_end, seed)
                )
        counts = {name: statistics.mean(values) for name, values in per_seed.items()}
        for name, count in counts.items():
            each = ", ".join(f"{value:,.0f}" for value in per_seed[name])
            print(
                f"{name:5} ({trees[name]}): {count:,.0f} instructions per kernel entry "
                f"(mean of hash seeds {', '.join(map(str, args.hash_seeds))}: {each})"
            )
        print(f"this vs other: {counts['this'] / counts['other'] - 1:+.1%} instructions")
        return
    ratios: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
        for name in order:
            ratios[name].append(measure(trees[name], args.wait_factor, args.repeats))
        print(
            f"round {round_ + 1}: " + ", ".join(f"{n} {ratios[n][-1]:.3f}" for n in trees),
            flush=True,
        )
    for name, values in ratios.items():
        print(
            f"{name:5} ({trees[name]}): median {statistics.median(values):.3f}, "
            f"best {max(values):.3f} entries per bare lock cycle"
        )
    change = statistics.median(ratios["this"]) / statistics.median(ratios["other"]) - 1
    print(f"this vs other (medians): {change:+.1%}")


if __name__ == "__main__":
    main()
