"""The report's section "seL4: checks outside the big lock": a prediction for seL4's SMP kernel.

seL4's SMP build takes its big kernel lock at the C entry of a system call,
before any fastpath check, and releases it just before the return to user
(``NODE_LOCK_SYS`` in ``src/arch/arm/c_traps.c``). At four cores and short
delays sel4bench's SMP ping-pong saturates that lock, so every cycle of
checking that can run before it raises the ceiling. The section answers,
for seL4's own checks (:mod:`l4sim.workloads.sel4_fastpath`) and the profile
calibrated on the Sabre: which checks may leave the lock under seL4's own
guarantees and in a static system, which designs the search finds (each
verified before it ran), and what sel4bench's SMP benchmark and the IPC
benchmark with four clients would gain. No cost in it was fitted to a
design's rate.

It reads what ``make sel4checks`` wrote (``<results>/sel4_checks_*/``) and
runs nothing but the (filed) design lookups, so ``l4sim report`` stays as
fast as before and says how to get the section when the runs are missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from l4sim.analysis.document import Document, Table
from l4sim.analysis.fastpath_design_report import OPERATION_NAMES, describe
from l4sim.analysis.style import PALETTE, Drawn, curve, draw_curves, number, save
from l4sim.kernel.checks import Check, Stage
from l4sim.kernel.fastpath_design import hoistable, split_design_key
from l4sim.sweep.cache import ResultCache
from l4sim.sweep.execute import point_from_row
from l4sim.sweep.fastpath_designs import design_proposals
from l4sim.sweep.provenance import read_table
from l4sim.sweep.scenario import point_from_dict
from l4sim.sweep.stats import mean_ci
from l4sim.workloads.base import fastpaths_of
from l4sim.workloads.sel4_fastpath import CALL_ONLY, REPLY_RECV_ONLY, SEL4_IPC_CHECKS

HEADING = "seL4: checks outside the big lock"
# the runs of `make sel4checks`: scenarios/<name>.toml -> <results>/<name>/
SMP, SMP_STATIC = "sel4_checks_smp", "sel4_checks_smp_static"
IPC_BENCH, IPC_STATIC = "sel4_checks_ipc", "sel4_checks_ipc_static"
BAND = "sel4_checks_band"
SCENARIOS = (SMP, SMP_STATIC, IPC_BENCH, IPC_STATIC, BAND)
# the three kernels compared, as the tables name them
AS_IS = "seL4 as it is"
PROOFS = {"kernel": "seL4's guarantees", "static_system": "static system"}
DESIGNS = (AS_IS, *PROOFS.values())
CPUS = 4  # the prediction's core count
DELAYS = (0, 500, 1000)  # the ceiling (the lock never idle) and the two delays asked for
# the costs the calibration band varies
BAND_COSTS = ("costs.lock_handoff", "costs.sched_lock_lines")


def sel4_checks_section(document: Document, results: Path) -> None:
    """The section, from the runs in ``results`` (or how to make them)."""
    document.heading(HEADING)
    results = Path(results)
    missing = [name for name in SCENARIOS if not (results / name / "points.parquet").is_file()]
    if missing:
        document.text(
            "Not run in this folder yet: `make sel4checks` runs "
            + ", ".join(f"`scenarios/{name}.toml`" for name in missing)
            + " (about eight minutes on a shared two-core machine; see "
            "docs/background/sel4-big-lock.md), and `l4sim report` then adds this section."
        )
        return
    document.text(
        "seL4's SMP build takes its big kernel lock at the C entry of a system call, "
        'before any fastpath check. The variant `fastpath_checks = "sel4"` runs seL4\'s '
        "own `fastpath_call` and `fastpath_reply_recv` checks under the profile "
        "calibrated on the Sabre (`scenarios/profiles/sabre-2026-04-28.toml`). A "
        'fastpath design under `kernel_lock = "big"` takes the lock at its first '
        "locked step instead: the checks that need no lock, and those hoisted before "
        "it, run outside it. Two proofs decide what may be hoisted (`hoist_proof`): "
        f"*{PROOFS['kernel']}* (only what the calling core owns; the fields seL4 writes "
        "at run time through capability, TCB, domain and ASID invocations are excluded) "
        f"and a *{PROOFS['static_system']}* (the model's static scan: capabilities, "
        "priorities, affinities, domains and address spaces fixed after boot, as in a "
        "Microkit or CAmkES system and in sel4bench while it measures)."
    )
    document.table(Table(check_table(), raw=True))
    _designs(document, results)
    rates = smp_rates(results)
    band_points = read_table(results / BAND / "points.parquet")
    band = calibration_band(band_points)
    handoffs = sorted(int(value) for value in band_points["costs.lock_handoff"].unique())
    _prediction(document, rates, band, handoffs)
    document.figure(smp_figure(rates, band, results / SMP))
    document.heading("sel4bench's SMP benchmark, every point", 3)
    document.text(
        "Calls per second, all cores (mean of the replications, 95% interval); each "
        "design's change against seL4 as it is, paired per replication (the same "
        "random streams)."
    )
    document.table(Table(smp_table(rates), raw=True))
    document.heading("The IPC benchmark with four clients", 3)
    ipc = ipc_durations(results)
    document.text(
        "Four clients Call one server on core 0, one client per core (three of them "
        "on another core than the server: their Calls fail seL4's affinity check "
        "and take the slowpath, under the lock). Mean IPC duration in cycles, and "
        "each design's change against seL4 as it is (paired; negative: faster)."
    )
    document.table(Table(ipc_table(ipc), raw=True))


def check_table() -> pd.DataFrame:
    """seL4's checks in the variant's order: where each runs under each proof."""
    # the fields each proof takes as never written
    proofs = {name: point_proof(name) for name in PROOFS}
    rows = []
    for check in fastpaths_of("sel4")["ipc"]:
        row = {
            "check": f"`{check.name}`",
            "in": _operations(check.name),
            "what seL4 tests": check.why,
        }
        for proof, label in PROOFS.items():
            row[f"before the lock: {label}"] = _where(check, proofs[proof])
        rows.append(row)
    return pd.DataFrame(rows)


def _operations(name: str) -> str:
    """Which of seL4's two fastpath functions makes the check ``name``."""
    if name in CALL_ONLY:
        return "Call"
    if name in REPLY_RECV_ONLY:
        return "ReplyRecv"
    return "both"


def point_proof(proof: str) -> frozenset[str]:
    """The fields hoisted checks may rest on under ``proof``, for seL4's variant."""
    return point_from_dict(
        {"workload": "sel4bench_smp", "fastpath_checks": "sel4", "hoist_proof": proof}
    ).proven_immutable()


def _where(check: Check[Any], proven: frozenset[str]) -> str:
    if check.stage == Stage.LOCK_FREE:
        return "yes: needs no lock"
    if hoistable(check, proven):
        return "yes: hoisted"
    return "no (a precheck at most)"


def _designs(document: Document, results: Path) -> None:
    """The designs the search found at the prediction's points, with their verdicts."""
    document.heading("The designs found", 3)
    lines, verdicts = [], []
    for folder, where in ((SMP, "delay_cycles"), (SMP_STATIC, "delay_cycles")):
        points = read_table(results / folder / "points.parquet")
        found = _found(results / folder, points[points["cpus"] == CPUS], where)
        for (proof, key, steps), delays in found.items():
            name = OPERATION_NAMES.get(split_design_key(key)[1] or "", key)
            lines.append((proof, name, steps, delays))
        verdicts += _verdicts(results / folder, points)
    for folder in (IPC_BENCH, IPC_STATIC, BAND):
        verdicts += _verdicts(results / folder, read_table(results / folder / "points.parquet"))
    rejected = [v for v in verdicts if v is not None]
    document.text(
        f"Each optimized design was checked before it ran (the invariant checker under "
        f"stress jitter on 2 and 4 CPUs, the same messages as with the fastpaths off): "
        f"{len(verdicts) - len(rejected)} of {len(verdicts)} accepted"
        + (f"; rejected: {'; '.join(sorted(set(rejected)))}" if rejected else "")
        + f". At {CPUS} cores (sel4bench's SMP benchmark), per operation:"
    )
    checks = SEL4_IPC_CHECKS
    for proof, name, steps, delays in lines:
        document.text(
            f"**{PROOFS[proof]}, {name}** (delay "
            + ", ".join(number(d) for d in sorted(delays))
            + "):"
        )
        document.steps(describe(list(steps), checks, big_lock=True))


def _found(folder: Path, points: pd.DataFrame, where: str) -> dict:
    """(proof, design key, steps) -> the values of ``where`` at which it was found."""
    cache = ResultCache(folder)
    found: dict = {}
    for _, row in (
        points[points["fastpath_design"] == "optimized"].drop_duplicates(where).iterrows()
    ):
        point = point_from_row(row.to_dict())
        for key, entry in design_proposals(point, cache.derived).items():
            chosen = entry["optimized"] if entry["verdict"] is None else entry["reordered"]
            found.setdefault((point.hoist_proof, key, tuple(chosen["design"])), []).append(
                row[where]
            )
    return found


def _verdicts(folder: Path, points: pd.DataFrame) -> list[str | None]:
    cache = ResultCache(folder)
    keys = [
        c
        for c in ("cpus", "delay_cycles", "wait_factor", "hoist_proof", *BAND_COSTS)
        if c in points.columns
    ]
    verdicts = []
    for _, row in points[points["fastpath_design"] == "optimized"].drop_duplicates(keys).iterrows():
        point = point_from_row(row.to_dict())
        verdicts += [entry["verdict"] for entry in design_proposals(point, cache.derived).values()]
    return verdicts


def smp_rates(results: Path) -> pd.DataFrame:
    """Calls per second per (cpus, delay, replication), one column per kernel."""
    keys = ["cpus", "delay_cycles", "replication"]
    runs = read_table(results / SMP / "points.parquet")
    static = read_table(results / SMP_STATIC / "points.parquet")
    rate = "calls_per_second"
    frame = pd.DataFrame(
        {
            AS_IS: runs[runs["fastpath_design"] == "paper"].set_index(keys)[rate],
            PROOFS["kernel"]: runs[runs["fastpath_design"] == "optimized"].set_index(keys)[rate],
            PROOFS["static_system"]: static.set_index(keys)[rate],
        }
    )
    return frame.reset_index()


def gain(rates: pd.DataFrame, design: str) -> tuple[float, tuple[float, float]]:
    """The mean paired gain (%) of ``design`` over seL4 as it is, with its 95% interval."""
    return mean_ci(((rates[design] / rates[AS_IS] - 1) * 100).to_numpy())


def calibration_band(points: pd.DataFrame) -> pd.DataFrame:
    """Per (delay, proof): the least and greatest mean gain (%) over the band's profiles."""
    points = points[points["cpus"] == CPUS]
    corners = list(BAND_COSTS)
    keys = ["delay_cycles", *corners, "replication"]
    as_is = points[
        (points["fastpath_design"] == "paper") & (points["hoist_proof"] == "kernel")
    ].set_index(keys)["calls_per_second"]
    rows = []
    for proof, label in PROOFS.items():
        chosen = points[
            (points["fastpath_design"] == "optimized") & (points["hoist_proof"] == proof)
        ]
        gains = (chosen.set_index(keys)["calls_per_second"] / as_is - 1) * 100
        means = gains.groupby(level=["delay_cycles", *corners]).mean()
        for delay, group in means.groupby(level="delay_cycles"):
            rows.append(
                {"delay_cycles": delay, "design": label, "low": group.min(), "high": group.max()}
            )
    return pd.DataFrame(rows)


def _ci_text(values: np.ndarray, digits: int = 0, sign: bool = False, suffix: str = "") -> str:
    mean, (low, high) = mean_ci(values)
    form = f"{'+' if sign else ''},.{digits}f"
    return f"{mean:{form}}{suffix} ({low:{form}} .. {high:{form}})"


def _prediction(
    document: Document, rates: pd.DataFrame, band: pd.DataFrame, handoffs: list[int]
) -> None:
    """The prediction's table and words; ``handoffs``: the band's values of the handoff."""
    document.heading("The prediction", 3)
    rows = []
    for delay in DELAYS:
        here = rates[(rates["cpus"] == CPUS) & (rates["delay_cycles"] == delay)]
        if here.empty:
            continue
        row = {
            "4 cores": "delay 0 (the lock never idle)" if delay == 0 else f"delay {delay}",
            f"{AS_IS} (calls/s)": _ci_text(here[AS_IS].to_numpy()),
        }
        for label in PROOFS.values():
            low, high = band[(band["delay_cycles"] == delay) & (band["design"] == label)][
                ["low", "high"]
            ].iloc[0]
            row[f"{label}: gain (%)"] = _ci_text(
                ((here[label] / here[AS_IS] - 1) * 100).to_numpy(), 2, sign=True
            )
            row[f"{label}: calibration band (%)"] = f"{low:+.2f} .. {high:+.2f}"
        rows.append(row)
    document.text(
        "**Prediction** (stated before any board has run a seL4 changed this way): on "
        "the i.MX6 Sabre, sel4bench's SMP benchmark on four cores, seL4 changed to take "
        "its big lock after the checks the design moves (and nothing else changed), "
        "alternated with seL4 as it is on the same board. The gain is paired per "
        "replication; its interval is the simulation's, which is near zero (the only "
        "randomness is the entry jitter): the honest uncertainty is the calibration's, "
        "the *calibration band*: the gain recomputed with the lowest and highest "
        f"per-run fit of the lock's handoff ({' and '.join(map(str, handoffs))} cycles) "
        "and with 2 or 4 cache lines following the lock (`scenarios/sel4_checks_band.toml`), "
        "each design searched anew under each profile. At delay 0 every other core "
        "spins on the lock, and each one spinning slows a grant (the profile's "
        "`lock_spinner_drag`): the rate there can lie below the rate at delay 500."
    )
    document.table(Table(pd.DataFrame(rows), raw=True))
    here = rates[(rates["cpus"] == CPUS) & (rates["delay_cycles"] == 500)]
    kernel_gain, (kernel_low, kernel_high) = gain(here, PROOFS["kernel"])
    static_gain, (static_low, static_high) = gain(here, PROOFS["static_system"])
    document.text(
        f"In words: at delay 500 on four cores, moving seL4's message-info check out of "
        f"the lock (all that seL4's own guarantees allow) raises the rate by "
        f"{kernel_gain:+.2f}% ({kernel_low:+.2f} .. {kernel_high:+.2f}); in a static "
        f"system, where six more checks may leave it, by {static_gain:+.2f}% "
        f"({static_low:+.2f} .. {static_high:+.2f}). One core is unchanged to the "
        "cycle (the same work, moved: the single-core Call and ReplyRecv stay the "
        "calibrated 433 and 491 cycles). *What would falsify it*: the measured 4-core "
        "ratio at delay 500 (patched over unpatched, mean of alternated runs with its "
        "interval) outside the calibration band; or the patched kernel's single-core "
        "Call or ReplyRecv moving by more than a few cycles. Not modelled: the cycles "
        "seL4's SMP build spends on per-core indirections, a stall IPI arriving while "
        "a core waits for the lock (seL4 then restarts the system call, and the checks "
        "made before the lock with it), and any cache effect of the reordering."
    )


def smp_table(rates: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (cpus, delay), here in rates.groupby(["cpus", "delay_cycles"], sort=True):
        row = {
            "cores": cpus,
            "delay": delay,
            f"{AS_IS} (calls/s)": _ci_text(here[AS_IS].to_numpy()),
        }
        for label in PROOFS.values():
            row[f"{label} (%)"] = _ci_text(
                ((here[label] / here[AS_IS] - 1) * 100).to_numpy(), 2, sign=True
            )
        rows.append(row)
    return pd.DataFrame(rows)


def ipc_durations(results: Path) -> pd.DataFrame:
    """Mean IPC duration per (wait factor, replication), one column per kernel."""
    keys = ["wait_factor", "replication"]
    runs = read_table(results / IPC_BENCH / "points.parquet")
    static = read_table(results / IPC_STATIC / "points.parquet")
    runs, static = runs[runs["kind"] == "ipc"], static[static["kind"] == "ipc"]
    duration = "duration_mean"
    return pd.DataFrame(
        {
            AS_IS: runs[runs["fastpath_design"] == "paper"].set_index(keys)[duration],
            PROOFS["kernel"]: runs[runs["fastpath_design"] == "optimized"].set_index(keys)[
                duration
            ],
            PROOFS["static_system"]: static.set_index(keys)[duration],
        }
    ).reset_index()


def ipc_table(durations: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for factor, here in durations.groupby("wait_factor", sort=True):
        row = {
            "wait factor": number(float(factor)),  # type: ignore[arg-type]  # (a wait factor)
            f"{AS_IS} (cycles)": _ci_text(here[AS_IS].to_numpy(), 1),
        }
        for label in PROOFS.values():
            row[f"{label} (%)"] = _ci_text(
                ((here[label] / here[AS_IS] - 1) * 100).to_numpy(), 2, sign=True
            )
        rows.append(row)
    return pd.DataFrame(rows)


def smp_figure(rates: pd.DataFrame, band: pd.DataFrame, out_dir: Path) -> Drawn:
    """4-core calls per second against the delay, and each design's gain with its band."""
    four = rates[(rates["cpus"] == CPUS) & (rates["delay_cycles"] > 0)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.8))
    draw_curves(
        left,
        [curve(label, label, four, "delay_cycles", label, scale=1e-3) for label in DESIGNS],
    )
    left.set_ylabel("thousand calls per second, all four cores", fontsize=9)
    gains = four.assign(
        **{label: (four[label] / four[AS_IS] - 1) * 100 for label in PROOFS.values()}
    )
    draw_curves(
        right,
        [curve(label, label, gains, "delay_cycles", label) for label in PROOFS.values()],
        style_offset=1,
    )
    for index, label in enumerate(PROOFS.values(), start=1):
        mine = band[(band["design"] == label) & (band["delay_cycles"] > 0)]
        at = mine["delay_cycles"] * (1.05 if index == 2 else 0.95)
        right.vlines(
            at,
            mine["low"],
            mine["high"],
            color=PALETTE[index],
            linewidth=2.5,
            alpha=0.7,
            label=f"calibration band, {label}",
        )
        for end in ("low", "high"):  # its ends, marked
            right.plot(at, mine[end], "_", color=PALETTE[index], markersize=9, alpha=0.7)
    right.set_ylabel(f"gain over {AS_IS} (%)", fontsize=9)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("delay per round, cycles (log scale)", fontsize=9)
        ax.grid(True, which="major", alpha=0.35)
    handles, labels = left.get_legend_handles_labels()
    more, names = right.get_legend_handles_labels()
    extra = [(h, n) for h, n in zip(more, names, strict=True) if n.startswith("calibration")]
    right.legend(
        handles + [h for h, _ in extra],
        labels + [n for _, n in extra],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
    )
    title = "seL4's fastpath checks outside its big lock: sel4bench's SMP benchmark, 4 cores"
    fig.suptitle(
        f"{title}\nprediction; profile calibrated on the Sabre (2026-04-28), big kernel "
        "lock (CLH), seL4's checks",
        fontsize=10.5,
    )
    replications = rates["replication"].nunique()
    caption = [
        f"Means of {replications} replications of 4,000 measured Calls per point",
        "Left: calls per second; right: each design's gain over seL4 as it is, paired "
        "per replication",
        "Bars at delays 500 and 1000: the calibration band (the gain with the lowest "
        "and highest per-run fit of the lock's handoff and 2 or 4 cache lines following "
        "the lock); at 1000 the cores' rounds are near the lock's saturation, where the "
        "rate depends most on the profile",
        "Delay 0 is in the table above",
    ]
    return save(
        fig,
        out_dir,
        "sel4_checks",
        title,
        caption,
        bands="95% t-interval over replications",
        unit=None,
        title_lines=2,
    )
