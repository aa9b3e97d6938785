"""The scaling figure: throughput and mean kernel-entry duration vs CPU count.

One panel column per wait factor; one line per (kernel locking strategy,
spinlock design): colour and marker by design, solid for fine-grained locks,
dashed with open markers for the big kernel lock. Bands are 95% t-intervals
over replications.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from l4sim.analysis.style import (
    CLIPPED,
    PALETTE,
    Curve,
    Drawn,
    band,
    curve,
    heading,
    merge_coinciding,
    number,
    replications_text,
    save,
)
from l4sim.kernel.decode import SYSCALL_EXCEPTION

COLOURS = dict(zip(("tas", "ticket", "mcs", "clh"), PALETTE, strict=False))
MARKERS = {"tas": "x", "ticket": "o", "mcs": "^", "clh": "s"}
STYLES = {"fine": "-", "big": "--"}
# designs closer than this share of the plotted range at every point are one line to the eye
COINCIDE_SHARE = 0.02
METRICS = ("throughput", "duration")


def per_replication(points: pd.DataFrame) -> pd.DataFrame:
    """Per (point, replication): syscall exceptions per Mcycle and mean entry duration.

    The duration is the mean over every kernel entry of the run (all kinds,
    weighted by their counts).
    """
    keys = ["kernel_lock", "lock", "wait_factor", "cpus", "replication"]
    rows = []
    for key, group in points.groupby(keys):
        entries = group["entries"].to_numpy()
        syscalls = group.loc[group["kind"] == SYSCALL_EXCEPTION, "entries_per_mcycle"]
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "throughput": float(syscalls.sum()),
                "duration": float(np.average(group["duration_mean"], weights=entries)),
            }
        )
    return pd.DataFrame(rows)


def coinciding_designs(data: pd.DataFrame, strategy: str) -> list[list[str]]:
    """The spinlock designs of one kernel locking strategy, those whose curves coincide grouped.

    At every CPU count and wait factor, in both rows, their means are closer than
    :data:`COINCIDE_SHARE` of the row's plotted range (on the log axis).
    """
    # a ufunc of a DataFrame is a DataFrame (pandas' __array_ufunc__); numpy's stubs say ndarray
    logs: pd.DataFrame = np.log10(  # type: ignore[assignment]
        data.groupby(["kernel_lock", "lock", "wait_factor", "cpus"])[list(METRICS)].mean()
    )
    span = logs.max() - logs.min()
    means = logs.loc[strategy]
    designs = sorted(
        means.index.get_level_values("lock").unique(),
        key=lambda d: (list(COLOURS).index(d) if d in COLOURS else len(COLOURS), d),
    )
    groups: list[list[str]] = []
    for design in designs:
        for group in groups:
            if all(_coincide(means.loc[member], means.loc[design], span) for member in group):
                group.append(design)
                break
        else:
            groups.append([design])
    return groups


def _coincide(a: pd.DataFrame | pd.Series, b: pd.DataFrame | pd.Series, span: pd.Series) -> bool:
    if not a.index.equals(b.index):
        return False
    return bool(((a - b).abs() <= COINCIDE_SHARE * span).to_numpy().all())


STRATEGIES = {"fine": "fine-grained locks", "big": "big kernel lock"}


def _label(strategy: str, members: list[str]) -> str:
    return f"{STRATEGIES.get(strategy, strategy)}, {' = '.join(members)}"


def scaling_figure(points: pd.DataFrame, out_dir: Path) -> Drawn:
    """Write ``scaling.png`` and ``scaling.svg``; returns them with their caption."""
    data = per_replication(points)
    factors = sorted(data["wait_factor"].unique())
    strategies = sorted(data["kernel_lock"].unique(), reverse=True)  # fine first
    groups = {strategy: coinciding_designs(data, strategy) for strategy in strategies}
    fig, axes = plt.subplots(
        2, len(factors), figsize=(4.6 * len(factors) + 2.4, 7.6), sharex=True, squeeze=False
    )
    apart: dict[str, float] = {}
    clipped = False
    for column, factor in enumerate(factors):
        subset = data[data["wait_factor"] == factor]
        for strategy in strategies:
            for row, metric in enumerate(METRICS):
                ax = axes[row][column]
                lines = [
                    curve(design, design, group, "cpus", metric, floor=0.0)
                    for design, group in subset[subset["kernel_lock"] == strategy].groupby("lock")
                ]
                clipped = clipped or any(line.clipped for line in lines)
                drawn, _ = merge_coinciding(lines, groups[strategy])
                for line in drawn:
                    members = line.members or [line.label]
                    relative = _relative_spread(lines, members)
                    if len(members) > 1:
                        key = " and ".join(members)
                        apart[key] = max(apart.get(key, 0.0), relative)
                    _draw(ax, line, strategy, members)
        axes[0][column].set_title(f"wait factor {number(factor)}", fontsize=9.5)
        axes[1][column].set_xlabel("CPUs, one worker each (log scale)", fontsize=8.5)
        for row in (0, 1):
            ax = axes[row][column]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.35)
            ax.grid(True, which="minor", alpha=0.12)
    axes[0][0].set_ylabel(
        "syscall exceptions per million cycles,\nall CPUs (log scale)", fontsize=9
    )
    axes[1][0].set_ylabel("mean kernel-entry duration,\ncycles (log scale)", fontsize=9)
    axes[0][-1].legend(
        title="kernel locking, spinlock",
        fontsize=7.5,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
    )
    title = heading(fig, "Scaling of the syscall benchmark with the CPU count", points, None)
    caption = [
        f"Mean of {replications_text(points)} per point",
        "Colour and marker: spinlock design; solid, filled: fine-grained kernel "
        "locks; dashed, open: one big kernel lock",
    ]
    caption += [
        f"{pair} coincide (at most {100 * share:.1f}% apart at any point): drawn as "
        "one line, its band covering both"
        for pair, share in apart.items()
    ]
    if clipped:
        caption.append(CLIPPED.capitalize())
    return save(
        fig, out_dir, "scaling", title, caption, bands="95% t-interval over replications", unit=None
    )


def _relative_spread(lines: list[Curve], members: list[str]) -> float:
    """The largest relative difference between the members' means at any x."""
    chosen = np.vstack([c.y for c in lines if c.label in members])
    return float(((chosen.max(axis=0) - chosen.min(axis=0)) / chosen.min(axis=0)).max())


def _draw(ax, line: Curve, strategy: str, members: list[str]) -> None:
    design = members[0]
    colour = COLOURS.get(design, "#000000")
    line.label = _label(strategy, members)
    band(ax, line, colour)
    ax.plot(
        line.x,
        line.y,
        marker=MARKERS.get(design, "o"),
        markersize=5,
        markerfacecolor="white" if strategy == "big" else colour,
        color=colour,
        linestyle=STYLES.get(strategy, ":"),
        label=line.label,
    )
