"""Each claim of the paper (E1..E5), computed from simulated tables.

A claim is evaluated on per-replication statistics (replications of points
that differ only in kernel options share their random streams, so they are
paired): the simulated value is their mean, with a 95% t-interval, and it
holds when the value lies in the claim's band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from l4sim.sweep.stats import mean_ci

EXCEPTION = "syscall_exception"
IPC = "ipc"


@dataclass
class Claim:
    """One row of the claims table."""

    id: str
    text: str
    paper: str
    band: tuple[float, float]  # inclusive; +-inf for one-sided bands
    value: float
    ci: tuple[float, float]
    fitted: bool = False
    unit: str = ""
    band_label: str | None = None  # how to print the band, when the numbers would mislead

    @property
    def holds(self) -> bool:
        """The simulated value lies in the band."""
        return self.band[0] <= self.value <= self.band[1]

    @property
    def verdict(self) -> str:
        """Holds (the whole 95% interval in the band), inconclusive (only the mean), or not."""
        inside = self.band[0] <= self.ci[0] and self.ci[1] <= self.band[1]
        if self.holds and inside:
            return "holds"
        return "inconclusive (interval leaves the band)" if self.holds else "**does not hold**"

    def band_text(self) -> str:
        if self.band_label:
            return self.band_label
        low, high = self.band
        if math.isinf(low):
            return f"<= {high:g}{self.unit}"
        if math.isinf(high):
            return f">= {low:g}{self.unit}"
        return f"{low:g} .. {high:g}{self.unit}"


def _per_replication(points: pd.DataFrame, kind: str, on: dict, off: dict) -> pd.Series:
    """Per replication: mean duration with ``off`` settings / with ``on`` settings."""
    rows = points[points["kind"] == kind]

    def select(settings: dict) -> pd.Series:
        mask = np.logical_and.reduce([rows[k] == v for k, v in settings.items()])
        return rows[mask].set_index("replication")["duration_mean"]

    return select(off) / select(on)


def linux_claims(points: pd.DataFrame) -> list[Claim]:
    """E1 and E2 from the Linux scenario's points (fastpaths both on vs both off)."""
    on = {"fastpath_syscall": True, "fastpath_ipc": True}
    off = {"fastpath_syscall": False, "fastpath_ipc": False}
    claims = []
    e1, e1_ci = mean_ci(_per_replication(points, EXCEPTION, on, off))
    claims.append(
        Claim(
            "E1",
            "syscall-exception speedup under Linux (mean cycles, off / on)",
            "> 1.6x",
            (1.45, 1.75),
            e1,
            e1_ci,
            fitted=True,
            unit="x",
        )
    )
    exceptions = points[
        (points["kind"] == EXCEPTION) & (points["fastpath_syscall"]) & (points["fastpath_ipc"])
    ]
    used, used_ci = mean_ci(exceptions["fast_fraction"])
    claims.append(
        Claim(
            "E1",
            "share of syscall exceptions taking the fastpath",
            "used exclusively",
            (0.99, 1.0),
            used,
            used_ci,
        )
    )
    e2, e2_ci = mean_ci(_per_replication(points, IPC, on, off))
    claims.append(
        Claim(
            "E2",
            "IPC speedup under Linux (mean cycles, off / on)",
            "about 1.3x",
            (1.15, 1.45),
            e2,
            e2_ci,
            fitted=True,
            unit="x",
        )
    )
    return claims


def syscall_claims(points: pd.DataFrame) -> list[Claim]:
    """E3 and E4 from the syscall benchmark's points."""
    rows = points[points["kind"] == EXCEPTION]
    fast = rows[rows["fastpath_syscall"]]
    claims = []
    two = fast[fast["threads"] == 2]
    for metric, label, band in (
        ("lock_wait_mean", "lock-wait cycles per entry", (0.99, 1.0)),
        ("contended_fraction", "share of contended entries", (0.99, 1.0)),
    ):
        rs = [
            stats.pearsonr(g[metric], g["duration_mean"])[0]
            for _, g in two.groupby("replication")
            if g[metric].nunique() > 1
        ]
        value, ci = mean_ci(rs)
        claims.append(
            Claim(
                "E3",
                f"2 threads: Pearson r of contention ({label}) and duration across wait factors",
                "r = 0.9998",
                band,
                value,
                ci,
            )
        )
    rise = [
        g.sort_values("lock_wait_mean")["duration_mean"].iloc[-1]
        / g.sort_values("lock_wait_mean")["duration_mean"].iloc[0]
        for _, g in two.groupby("replication")
    ]
    value, ci = mean_ci(rise)
    claims.append(
        Claim(
            "E3",
            "2 threads: duration at heaviest / lightest contention",
            "rises visibly",
            (1.05, math.inf),
            value,
            ci,
            unit="x",
        )
    )
    one = fast[fast["threads"] == 1]
    spread = [
        (g["duration_mean"].max() - g["duration_mean"].min()) / g["duration_mean"].mean()
        for _, g in one.groupby("replication")
    ]
    value, ci = mean_ci(np.array(spread) * 100)
    claims.append(
        Claim(
            "E4",
            "1 thread: duration spread across wait factors (% of mean)",
            "horizontal line",
            (0.0, 5.0),
            value,
            ci,
            unit="%",
        )
    )
    gaps = []
    for _, g in fast.groupby("replication"):
        table = g.pivot_table(index="wait_factor", columns="threads", values="duration_mean")
        others = table.drop(columns=1)
        gaps.append(float((others.min(axis=1) - table[1]).min()))
    value, ci = mean_ci(gaps)
    claims.append(
        Claim(
            "E4",
            "1 thread: smallest gap below any other thread count (cycles)",
            "just below all others",
            (1e-9, math.inf),
            value,
            ci,
            unit=" cycles",
            band_label="> 0 cycles",
        )
    )
    return claims


def ipc_bench_claims(points: pd.DataFrame) -> list[Claim]:
    """E5 from the IPC benchmark's points (IPC fastpath on vs off)."""
    rows = points[points["kind"] == IPC]
    on, off = {"fastpath_ipc": True}, {"fastpath_ipc": False}
    claims = []

    def speedups(clients: int, wait_factor: float) -> pd.Series:
        subset = rows[(rows["clients"] == clients) & (rows["wait_factor"] == wait_factor)]
        return _per_replication(subset, IPC, on, off)

    factors = sorted(rows["wait_factor"].unique())
    per_factor = {wf: mean_ci(speedups(1, wf)) for wf in factors}
    worst = min(per_factor, key=lambda wf: per_factor[wf][0])
    claims.append(
        Claim(
            "E5",
            "1 client: smallest IPC speedup over wait factors (off / on)",
            "large improvement",
            (1.2, math.inf),
            per_factor[worst][0],
            per_factor[worst][1],
            unit="x",
        )
    )
    many = int(rows["clients"].max())
    heavy, heavy_ci = mean_ci(speedups(many, factors[0]))
    claims.append(
        Claim(
            "E5",
            f"{many} clients, heaviest contention (wait factor {factors[0]:g}): speedup (off / on)",
            "fastpath worse",
            (-math.inf, 1.0 - 1e-9),
            heavy,
            heavy_ci,
            unit="x",
            band_label="< 1x",
        )
    )
    light = 1.0 / speedups(many, factors[-1]) - 1.0  # on / off - 1
    value, ci = mean_ci(light * 100)
    claims.append(
        Claim(
            "E5",
            f"{many} clients, lightest contention (wait factor "
            f"{factors[-1]:g}): fastpath duration vs slowpath (%)",
            "marginal difference",
            (-15.0, 15.0),
            value,
            ci,
            unit="%",
        )
    )
    return claims


def decimals(value: float, ci: tuple[float, float]) -> int:
    """Decimals that show a value to its precision.

    The first significant digit of its interval's half-width (at most 4), or
    three significant digits without a spread.
    """
    half = (ci[1] - ci[0]) / 2
    if half > 0 and math.isfinite(half):
        return min(4, max(0, -math.floor(math.log10(half))))
    if not value or not math.isfinite(value):
        return 0
    return min(4, max(0, 2 - math.floor(math.log10(abs(value)))))


def claims_frame(claims: list[Claim]) -> pd.DataFrame:
    """The claims as table cells: value and interval to the digits that tell them apart."""
    rows = []
    for c in claims:
        digits = decimals(c.value, c.ci)
        value = f"{c.value:.{digits}f} ({c.ci[0]:.{digits}f} .. {c.ci[1]:.{digits}f})"
        verdict = c.verdict + (" (fitted)" if c.fitted else "")
        rows.append(
            {
                "#": c.id,
                "claim": c.text,
                "paper": c.paper,
                "band": c.band_text(),
                "simulated (95% CI)": value,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(
        rows, columns=["#", "claim", "paper", "band", "simulated (95% CI)", "verdict"]
    )


def scaling_claims(points: pd.DataFrame) -> list[Claim]:
    """Big kernel lock against fine-grained locking on a CPU-count sweep of syscall_bench.

    The crossover is the smallest swept CPU count from which the fine-grained
    kernel handles more syscall exceptions per Mcycle than the big-lock one at
    every larger swept count (twice the largest if it never does).
    """
    rows = points[points["kind"] == EXCEPTION]
    counts = sorted(rows["cpus"].unique())
    crossovers, one, two = [], [], []
    for _, g in rows.groupby("replication"):
        table = g.pivot_table(index="cpus", columns="kernel_lock", values="entries_per_mcycle")
        better = (table["fine"] > table["big"]).reindex(counts).to_numpy()
        crossover = 2 * counts[-1]
        for count, ahead in zip(reversed(counts), reversed(better), strict=True):
            if not ahead:
                break
            crossover = count
        crossovers.append(crossover)
        if 1 in table.index:
            one.append(table.loc[1, "big"] / table.loc[1, "fine"])  # type: ignore[operator]  # (numbers: pandas-stubs say any scalar)
        if 2 in table.index:
            two.append(table.loc[2, "fine"] / table.loc[2, "big"])  # type: ignore[operator]
    value, ci = mean_ci(crossovers)
    claims = [
        Claim(
            "S1",
            "CPU count from which fine-grained locking outperforms the big "
            "kernel lock (syscall exceptions per Mcycle)",
            "from 2 CPUs (docs/background/scaling.md)",
            (1.0, 2.0),
            value,
            ci,
            unit=" CPUs",
        )
    ]
    # the margins on either side of the crossover: what moves it
    if one:
        claims.append(
            Claim(
                "S1",
                "1 CPU: big-lock / fine-grained throughput",
                "big lock cheaper (docs/background/scaling.md)",
                (1.0 + 1e-9, math.inf),
                *mean_ci(one),
                unit="x",
                band_label="> 1x",
            )
        )
    if two:
        claims.append(
            Claim(
                "S1",
                "2 CPUs: fine-grained / big-lock throughput",
                "fine ahead (docs/background/scaling.md)",
                (1.0 + 1e-9, math.inf),
                *mean_ci(two),
                unit="x",
                band_label="> 1x",
            )
        )
    return claims
