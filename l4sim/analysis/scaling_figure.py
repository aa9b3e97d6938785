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
    PALETTE,
    Drawn,
    caption_lines,
    curve,
    footnote,
    heading,
    plain_log_ticks,
    replications_text,
    save,
)
from l4sim.kernel.decode import SYSCALL_EXCEPTION

COLOURS = dict(zip(("tas", "ticket", "mcs", "clh"), PALETTE, strict=False))
# tas and the queue locks nearly coincide (both have a constant handoff): markers tell them apart
MARKERS = {"tas": "x", "ticket": "o", "mcs": "^", "clh": "s"}
STYLES = {"fine": "-", "big": "--"}


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


def scaling_figure(points: pd.DataFrame, out_dir: Path) -> Drawn:
    """Write ``scaling.png`` and ``scaling.svg``; returns them with their caption."""
    data = per_replication(points)
    factors = sorted(data["wait_factor"].unique())
    fig, axes = plt.subplots(
        2, len(factors), figsize=(4.6 * len(factors) + 1.8, 7.6), sharex=True, squeeze=False
    )
    for column, factor in enumerate(factors):
        subset = data[data["wait_factor"] == factor]
        for (strategy, design), group in subset.groupby(["kernel_lock", "lock"]):
            for row, metric in enumerate(("throughput", "duration")):
                line = curve(f"{strategy} / {design}", design, group, "cpus", metric)
                colour = COLOURS.get(design, "#000000")
                ax = axes[row][column]
                ax.fill_between(line.x, line.low, line.high, color=colour, alpha=0.18, linewidth=0)
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
        axes[0][column].set_title(f"wait factor {factor:g}", fontsize=9.5)
        axes[1][column].set_xlabel("CPUs (one worker each)", fontsize=8.5)
        for row in (0, 1):
            ax = axes[row][column]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            plain_log_ticks(ax.xaxis, base=2)
            plain_log_ticks(ax.yaxis)
            ax.grid(True, which="major", alpha=0.35)
            ax.grid(True, which="minor", alpha=0.12)
    axes[0][0].set_ylabel("syscall exceptions per Mcycle (all CPUs)", fontsize=9)
    axes[1][0].set_ylabel("mean kernel-entry duration (cycles)", fontsize=9)
    axes[0][-1].legend(
        title="kernel_lock / lock",
        fontsize=7.5,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
    )
    title = heading(fig, "Scaling of the syscall benchmark with the CPU count", points, None)
    caption = [
        f"Mean of {replications_text(points)} per point; shaded: 95% t-interval over "
        "replications. Colour and marker: spinlock design; solid, filled: fine-grained "
        "kernel locks; dashed, open: one big kernel lock. tas and clh nearly coincide "
        "(both hand over at a constant cost)"
    ]
    text = " ".join(caption)
    lines = caption_lines(fig, text)
    return save(fig, out_dir, "scaling", title, footnote(fig, caption), lines)
