"""The paper's figures for the syscall benchmark, drawn from ``points.parquet``.

Figure 2a: contention (cycles spent waiting for locks per syscall exception)
vs wait factor; a companion figure shows the share of entries that waited.
Figure 2b: mean syscall-exception duration vs wait factor.
One line per thread count; fastpath on and off side by side; error bars are
95% t-intervals over replications.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from l4sim.kernel.kernel import SYSCALL_EXCEPTION  # noqa: E402
from l4sim.sweep.stats import mean_ci  # noqa: E402


def mean_half_width(values: pd.Series) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (0 for a single value), for error bars."""
    mean, (_, high) = mean_ci(values)
    return mean, high - mean


def _panel(ax, data: pd.DataFrame, metric: str, scale: float) -> None:
    for threads, group in data.groupby("threads"):
        summary = group.groupby("wait_factor")[metric].apply(mean_half_width)
        x = summary.index.to_numpy()
        y = np.array([m for m, _ in summary]) * scale
        err = np.array([h for _, h in summary]) * scale
        ax.errorbar(x, y, yerr=err, marker="o", markersize=3, capsize=2, label=f"{threads}")
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)


def syscall_figures(points: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write the contention and duration figures; returns their paths."""
    data = points[points["kind"] == SYSCALL_EXCEPTION]
    if data.empty:
        raise ValueError("no syscall_exception rows in points.parquet")
    written = []
    figures = [("contention", "lock_wait_mean", 1.0,
                "contention (lock-wait cycles per syscall exception)",
                "Contention on the syscall-exception path (paper Fig. 2a)"),
               ("contended_fraction", "contended_fraction", 100.0,
                "% of syscall exceptions that waited for a lock",
                "Share of contended syscall exceptions"),
               ("duration", "duration_mean", 1.0,
                "mean syscall-exception duration (cycles)",
                "Syscall-exception duration (paper Fig. 2b)")]
    settings = sorted(data["fastpath_syscall"].unique(), reverse=True)
    for stem, metric, scale, ylabel, title in figures:
        fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4.2),
                                 sharey=True, squeeze=False)
        for ax, fastpath in zip(axes[0], settings, strict=True):
            _panel(ax, data[data["fastpath_syscall"] == fastpath], metric, scale)
            ax.set_title(f"fastpath {'on' if fastpath else 'off'}")
            ax.set_xlabel("wait factor (busy-loop iterations x uniform[0,1))")
        axes[0][0].set_ylabel(ylabel)
        axes[0][-1].legend(title="threads", fontsize=8, ncols=2)
        cpus = ", ".join(str(c) for c in sorted(data["cpus"].unique()))
        fig.suptitle(f"{title}; {cpus} CPUs")
        fig.tight_layout()
        path = out_dir / f"syscall_{stem}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def _cdf(ax, values: np.ndarray, label: str, style: str) -> None:
    ordered = np.sort(values)
    ax.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), style, label=label)


def linux_figure(events: pd.DataFrame, out_dir: Path) -> Path:
    """E1/E2: distribution of cycles per kernel entry, fastpaths on vs off (Linux load)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, kind, title in ((axes[0], "syscall_exception", "Syscall exceptions (paper Fig. 1a)"),
                            (axes[1], "ipc", "IPC (paper Fig. 1b)")):
        for on, label, style in ((True, "fastpaths on", "-"), (False, "fastpaths off", "--")):
            chosen = events[(events["kind"] == kind) & (events["fastpath_syscall"] == on)
                            & (events["fastpath_ipc"] == on)]
            if len(chosen):
                _cdf(ax, chosen["duration"].to_numpy(), f"{label} (mean "
                     f"{chosen['duration'].mean():.0f})", style)
        ax.set_title(title)
        ax.set_xlabel("cycles per kernel entry")
        ax.set_ylabel("cumulative share of entries")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Paravirtualized Linux load: cycles per kernel entry")
    fig.tight_layout()
    path = out_dir / "linux_durations.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def ipc_bench_figure(points: pd.DataFrame, out_dir: Path) -> Path:
    """E5: mean IPC duration vs wait factor per client count, IPC fastpath on and off."""
    data = points[points["kind"] == "ipc"]
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (clients, group) in enumerate(data.groupby("clients")):
        for on, style, marker in ((True, "-", "o"), (False, "--", "x")):
            sub = group[group["fastpath_ipc"] == on]
            summary = sub.groupby("wait_factor")["duration_mean"].apply(mean_half_width)
            x = summary.index.to_numpy()
            ax.errorbar(x, [m for m, _ in summary], yerr=[h for _, h in summary],
                        linestyle=style, marker=marker, markersize=4, capsize=2,
                        color=colors[index % len(colors)],
                        label=f"{clients} client{'s' if clients > 1 else ''}, "
                              f"fastpath {'on' if on else 'off'}")
    ax.set_xscale("log")
    ax.set_xlabel("wait factor (busy-loop iterations x uniform[0,1))")
    ax.set_ylabel("mean IPC duration (cycles)")
    ax.set_title("IPC benchmark (paper E5)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    path = out_dir / "ipc_bench_duration.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
