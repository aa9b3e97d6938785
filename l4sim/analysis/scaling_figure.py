"""The scaling figure: throughput and mean kernel-entry duration vs CPU count.

One panel column per wait factor; one line per (kernel locking strategy,
spinlock design): colour by design, solid for fine-grained locks, dashed for
the big kernel lock. Error bars are 95% t-intervals over replications.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from l4sim.analysis.figures import mean_half_width  # noqa: E402
from l4sim.kernel.kernel import SYSCALL_EXCEPTION  # noqa: E402

COLOURS = {"tas": "tab:red", "ticket": "tab:blue", "mcs": "tab:green", "clh": "tab:purple"}
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
        rows.append({**dict(zip(keys, key, strict=True)),
                     "throughput": float(syscalls.sum()),
                     "duration": float(np.average(group["duration_mean"], weights=entries))})
    return pd.DataFrame(rows)


def scaling_figure(points: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``scaling.png``; returns its path."""
    data = per_replication(points)
    factors = sorted(data["wait_factor"].unique())
    fig, axes = plt.subplots(2, len(factors), figsize=(4.6 * len(factors), 7.4),
                             sharex=True, squeeze=False)
    for column, factor in enumerate(factors):
        subset = data[data["wait_factor"] == factor]
        for (strategy, design), group in subset.groupby(["kernel_lock", "lock"]):
            for row, metric in enumerate(("throughput", "duration")):
                summary = group.groupby("cpus")[metric].apply(mean_half_width)
                x = summary.index.to_numpy()
                y = np.array([m for m, _ in summary])
                err = np.array([h for _, h in summary])
                axes[row][column].errorbar(
                    x, y, yerr=err, marker=MARKERS.get(design, "o"), markersize=5,
                    markerfacecolor="none", capsize=2,
                    color=COLOURS.get(design), linestyle=STYLES.get(strategy, ":"),
                    label=f"{strategy} / {design}")
        axes[0][column].set_title(f"wait factor {factor:g}")
        axes[1][column].set_xlabel("CPUs (one worker each)")
        for row in (0, 1):
            ax = axes[row][column]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("syscall exceptions per Mcycle (all CPUs)")
    axes[1][0].set_ylabel("mean kernel-entry duration (cycles)")
    axes[0][-1].legend(title="kernel_lock / lock", fontsize=8)
    profiles = ", ".join(sorted(points["profile"].unique()))
    fig.suptitle(f"syscall_bench scaling ({profiles}); 95% intervals over replications")
    fig.tight_layout()
    path = out_dir / "scaling.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
