"""The figures of the paper's experiments, drawn from a run's tables.

- Syscall benchmark (E3, E4): contention (lock-wait cycles per syscall
  exception; the paper's Fig. 2a), the share of entries that waited, and the
  mean duration (Fig. 2b) against the wait factor, one curve per thread
  count, a panel per fastpath setting.
- Paravirtualized Linux (E1, E2): the distribution of cycles per syscall
  exception and per IPC, fastpaths on and off (Figs. 1a, 1b), on a log scale:
  the interrupts' long tail would squash the part that matters.
- IPC benchmark (E5): mean IPC duration against the wait factor per client
  count, IPC fastpath on and off.

Any other key a sweep varies becomes part of a curve's label, so nothing is
averaged away. Bands are 95% t-intervals over replications; see
:mod:`l4sim.analysis.style` for how lines are told apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from l4sim.analysis.style import (
    CLIPPED,
    PALETTE,
    Curve,
    Drawn,
    coinciding_groups,
    curve,
    draw_curves,
    heading,
    merge_coinciding,
    number,
    replications_text,
    save,
    uses_colour_bar,
    words,
)
from l4sim.analysis.style import colour_bar as add_colour_bar
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.simulation.records import METRICS
from l4sim.sweep.stats import metric_columns

NOT_KEYS = {
    *METRICS,
    "replication",
    "kind",
    "measured_cycles",
    "name",
    "seed",
    "replications",
    "events",
    "warmup_events",
}
WAIT_FACTOR_LABEL = "wait factor: busy-loop iterations between calls, x uniform[0,1)"


def varying_keys(data: pd.DataFrame, *fixed: str) -> list[str]:
    """The scenario keys that take more than one value in ``data`` (besides ``fixed``)."""
    metrics = set(metric_columns(data))  # a workload's own metrics are no keys either
    return [
        c
        for c in data.columns
        if c not in NOT_KEYS
        and c not in fixed
        and c not in metrics
        and data[c].nunique(dropna=False) > 1
    ]


def curves_of(
    data: pd.DataFrame, x: str, metric: str, by: list[str], scale: float = 1.0
) -> list[Curve]:
    """One curve per combination of the ``by`` keys, labelled by its values."""
    if not by:
        return [curve("all", 0, data, x, metric, scale, floor=0.0)]
    drawn: list[Curve] = []
    for values, group in data.groupby(by, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        if len(by) == 1:
            label = _shown(values[0])
        else:
            label = ", ".join(f"{words(k)} {_shown(v)}" for k, v in zip(by, values, strict=True))
        drawn.append(
            curve(label, values[0] if len(by) == 1 else label, group, x, metric, scale, floor=0.0)
        )  # (cycles and shares: never negative)
    return drawn


def _shown(value) -> str:
    return number(value) if isinstance(value, float) else str(value)


MAX_FACET_ROWS = 6  # rows of panels for the other swept keys; beyond, they join the labels


def _sweep_figure(
    data: pd.DataFrame,
    out_dir: Path,
    stem: str,
    metric: str,
    scale: float,
    ylabel: str,
    what: str,
    reference: str | None,
    x: str,
    xlabel: str,
    panel_key: str | None,
    panel_text,
    first_key: str,
    unit: str,
) -> Drawn:
    """Curves of ``metric`` against ``x``: a column of panels per value of ``panel_key``.

    Curves are one per value of ``first_key`` (or of the first other swept
    key); any further swept key gives a row of panels per value, so that
    nothing is averaged away and every legend stays one key.
    """
    columns, others, by, rows = _grid(data, x, panel_key, first_key)
    panels = [(row, column) for row in rows for column in columns]

    def subset(row, column) -> pd.DataFrame:
        mask = pd.Series(True, index=data.index)
        for key, value in zip(others, row, strict=True):
            mask &= data[key] == value
        if column is not None:
            mask &= data[panel_key] == column
        return data[mask]

    all_curves = {panel: curves_of(subset(*panel), x, metric, by, scale) for panel in panels}
    values = np.concatenate([c.y for cs in all_curves.values() for c in cs])
    span = float(values.max() - values.min()) if len(values) else 0.0
    # merging needs one key per curve (a label range '2-8' means something); a colour
    # bar shows every curve
    many = any(uses_colour_bar(cs) for cs in all_curves.values())
    groups = coinciding_groups(list(all_curves.values()), span) if len(by) == 1 and not many else []
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(5.2 * len(columns) + 1.8, 1.2 + 3.4 * len(rows)),
        sharey=True,
        sharex=True,
        squeeze=False,
    )
    apart: dict[str, float] = {}
    colour_bar = None
    # a range of more than 20x on a linear axis would squash its lower values to the edge
    logarithmic = bool(data[x].min() > 0 and data[x].max() / data[x].min() > 20)
    for (row, column), ax in zip(panels, axes.flat, strict=True):
        shown, merged = merge_coinciding(all_curves[(row, column)], groups)
        for label, distance in merged.items():
            apart[label] = max(distance, apart.get(label, 0.0))
        colour_bar = draw_curves(ax, shown) or colour_bar
        parts = [f"{words(k)} {_shown(v)}" for k, v in zip(others, row, strict=True)]
        if column is not None:
            parts.insert(0, panel_text(column))
        ax.set_title(", ".join(parts), fontsize=9.5)
        if logarithmic:
            ax.set_xscale("log")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
    for ax in axes[-1]:
        ax.set_xlabel(f"{xlabel} (log scale)" if logarithmic else xlabel, fontsize=8.5)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=9)
    legend_title = words(by[0]) if len(by) == 1 else ("curves" if by else "")
    if colour_bar is None and by:
        axes[0][-1].legend(
            title=legend_title,
            fontsize=7.5,
            title_fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
        )
    title = heading(fig, what, data, reference)
    clipped = colour_bar is None and any(c.clipped for cs in all_curves.values() for c in cs)
    notes = _notes(data, apart, legend_title, unit, clipped)
    if colour_bar is None:
        return save(
            fig, out_dir, stem, title, notes, bands="95% t-interval over replications", unit=unit
        )
    # tight_layout cannot place a colour bar: the layout keeps room for it
    notes.append(
        f"Colour: {legend_title}; the 95% intervals are in summary.parquet (too "
        "many curves to shade them)"
    )
    bottom, top = 0.1, 1 - 0.8 / fig.get_figheight()
    fig.subplots_adjust(bottom=bottom, top=top, hspace=0.35)
    add_colour_bar(fig, colour_bar, legend_title, bottom, top)
    return save(fig, out_dir, stem, title, notes, layout=False)


def _grid(
    data: pd.DataFrame, x: str, panel_key: str | None, first_key: str
) -> tuple[list[Any], list[str], list[str], list[tuple[object, ...]]]:
    """The panels' grid: (column values, the keys of the rows, the curves' keys, row values).

    A column per value of ``panel_key``; curves one per value of ``first_key``
    (or of the first other swept key); a row per value of any further swept
    key, unless there would be more than ``MAX_FACET_ROWS`` rows (then those
    keys join the curve labels).
    """
    columns = (
        sorted(data[panel_key].unique(), reverse=True)
        if panel_key and panel_key in data
        else [None]
    )
    others = varying_keys(data, x, panel_key or "", first_key)
    by = [first_key] if first_key in data and data[first_key].nunique() > 1 else []
    if not by and others:
        by, others = [others[0]], others[1:]
    rows: list[tuple[object, ...]] = [()]  # the other keys' values of each row of panels
    if others:
        rows = list(
            data[others].drop_duplicates().sort_values(others).itertuples(index=False, name=None)
        )
        if len(rows) > MAX_FACET_ROWS:  # too many panels: the keys join the curve labels
            by, others, rows = by + others, [], [()]
    return columns, others, by, rows


def _notes(
    data: pd.DataFrame, apart: dict[str, float], legend_title: str, unit: str, clipped: bool
) -> list[str]:
    """The caption's sentences: replications, curves merged because they coincide, clipping."""
    notes = [f"Mean of {replications_text(data)} per point"]
    if apart:
        groups_text = "; ".join(
            f"{label} (at most {number(distance)}{unit} apart)" for label, distance in apart.items()
        )
        notes.append(
            f"{legend_title.capitalize()} {groups_text} lie on top of each other: "
            "each group is drawn as one line, its band covering its members"
        )
    if clipped:
        notes.append(CLIPPED.capitalize())
    return notes


def syscall_figures(points: pd.DataFrame, out_dir: Path, paper: bool = False) -> list[Drawn]:
    """The contention, contended-share and duration figures of a syscall-benchmark run.

    ``paper``: the run is the paper's own scenario, so titles name its figures.
    """
    data = points[points["kind"] == SYSCALL_EXCEPTION]
    if data.empty:
        raise ValueError("no syscall_exception rows in points.parquet")
    x = "wait_factor" if data["wait_factor"].nunique() > 1 else "threads"
    xlabel = WAIT_FACTOR_LABEL if x == "wait_factor" else "user threads"
    figures = [
        (
            "syscall_contention",
            "lock_wait_mean",
            1.0,
            "lock-wait cycles per syscall exception",
            "Contention on the syscall-exception path",
            "paper Fig. 2a",
            " cycles",
        ),
        (
            "syscall_contended_fraction",
            "contended_fraction",
            100.0,
            "% of syscall exceptions that waited for a lock",
            "Share of syscall exceptions that waited for a lock",
            None,
            " percentage points",
        ),
        (
            "syscall_duration",
            "duration_mean",
            1.0,
            "mean syscall-exception duration (cycles)",
            "Syscall-exception duration",
            "paper Fig. 2b",
            " cycles",
        ),
    ]
    return [
        _sweep_figure(
            data,
            out_dir,
            stem,
            metric,
            scale,
            ylabel,
            what,
            reference if paper else None,
            x,
            xlabel,
            "fastpath_syscall",
            lambda on: f"syscall-exception fastpath {'on' if on else 'off'}",
            "threads" if x != "threads" else "",
            unit,
        )
        for stem, metric, scale, ylabel, what, reference, unit in figures
    ]


def ipc_bench_figure(points: pd.DataFrame, out_dir: Path, paper: bool = False) -> Drawn:
    """E5: mean IPC duration against the wait factor per client count, fastpath on and off."""
    data = points[points["kind"] == "ipc"]
    if data.empty:
        raise ValueError("no ipc rows in points.parquet")
    return _sweep_figure(
        data,
        out_dir,
        "ipc_bench_duration",
        "duration_mean",
        1.0,
        "mean IPC duration (cycles)",
        "IPC duration per client count",
        "paper E5" if paper else None,
        "wait_factor",
        WAIT_FACTOR_LABEL,
        "fastpath_ipc",
        lambda on: f"IPC fastpath {'on' if on else 'off'}",
        "clients",
        " cycles",
    )


def linux_figure(
    events: pd.DataFrame, out_dir: Path, points: pd.DataFrame | None = None, paper: bool = False
) -> Drawn:
    """E1/E2: distribution of cycles per kernel entry, fastpaths on and off (Linux load).

    The x axis is logarithmic: interrupts and cross-CPU wake-ups put a tail of
    entries ten times the median, which a linear axis would stretch over most
    of the width.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0))
    settings = ((True, "fastpaths on", "-", 0), (False, "fastpaths off", "--", 1))
    for ax, kind, what in (
        (axes[0], "syscall_exception", "syscall exceptions"),
        (axes[1], "ipc", "IPC"),
    ):
        for on, label, style, index in settings:
            chosen = events[
                (events["kind"] == kind)
                & (events["fastpath_syscall"] == on)
                & (events["fastpath_ipc"] == on)
            ]["duration"].to_numpy()
            if not len(chosen):
                continue
            ordered = np.sort(chosen)
            share = np.arange(1, len(ordered) + 1) / len(ordered)
            ax.step(
                ordered,
                share,
                where="post",
                linestyle=style,
                color=PALETTE[index],
                linewidth=1.5,
                label=f"{label}: median {number(np.median(ordered))}, "
                f"mean {number(ordered.mean())}, "
                f"p99 {number(np.percentile(ordered, 99))}",
            )
            ax.axvline(
                np.median(ordered), color=PALETTE[index], linewidth=0.7, linestyle=":", alpha=0.8
            )
        ax.set_xscale("log")
        ax.set_title(
            f"{what} ({'paper Fig. 1a' if kind != 'ipc' else 'paper Fig. 1b'})" if paper else what,
            fontsize=9.5,
        )
        ax.set_xlabel("cycles per kernel entry (log scale)", fontsize=8.5)
        ax.set_ylabel("share of entries at most this long", fontsize=9)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        # below the panel: inside, it would hide the bottom of a distribution
        ax.legend(
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            borderaxespad=0,
            frameon=False,
        )
    frame = points if points is not None else events
    title = heading(fig, "Paravirtualized Linux load: cycles per kernel entry", frame, None)
    caption = [
        "Cumulative distribution of every measured entry of all replications, "
        "dotted: medians. Fastpaths on means both the syscall-exception and the IPC "
        "fastpath, off neither. Log x axis, so that the rare long entries "
        "(interrupts, cross-CPU wake-ups) do not squash the bulk"
    ]
    return save(fig, out_dir, "linux_durations", title, caption)
