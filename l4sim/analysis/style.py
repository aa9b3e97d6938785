"""How every l4sim figure looks: lines a reader can tell apart, visible intervals, honest titles.

- Colours are the Okabe-Ito palette (safe for the common kinds of colour
  blindness), and each curve has its own marker and line style as well, so a
  figure still reads in grey.
- A curve's 95% confidence interval over replications is a shaded band
  around it, not error bars a few pixels wide. A band narrower than its line
  cannot be seen: the caption then says so, with how wide the bands are
  (:func:`l4sim.analysis.figure_review.hidden_bands` measures them as drawn).
- Curves that lie on top of each other are drawn once, as one line with
  their range shaded, and the caption says which coincide and within how
  much; otherwise a legend would list entries nobody can find in the plot.
  Curves are merged only when they coincide in every panel, so one legend
  serves them all.
- Beyond a handful of curves a colour bar replaces the legend.
- Titles and captions come from the run itself: the scenario's name and what
  is fixed in it (lock design, kernel locking, profile, CPUs), in words, never
  a table's column name. A reference to the paper's figures is given only by
  the caller that drew the paper's own scenario.
- A log axis says so in its label and has at least three labelled ticks.
- Legends sit beside the panels, never over data.
- Every figure is written as PNG (for reading) and SVG (for a paper). The
  caption is not drawn into the image (a paper sets its own; the report prints
  it once, under the figure): it travels in the files' metadata (PNG text
  chunk and SVG ``dc:description``, both "Description").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, Normalize

from l4sim.analysis.figure_review import FOOTER_ID
from l4sim.sweep.provenance import Provenance, figure_metadata, of_folder
from l4sim.sweep.stats import mean_ci

# Okabe & Ito, "Color universal design" (2008): distinguishable with any
# common colour-vision deficiency
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", "-.", ":")
MAX_LEGEND = 8  # curves beyond which a colour bar replaces the legend
COLOUR_MAP = "viridis"  # perceptually uniform, readable in grey and by the colour blind
DPI = 150
# the height of the provenance footer under every figure
FOOTER_INCHES = 0.16
# curves closer than this share of the plotted range (or than their own
# intervals) at every x are one line to the eye
COINCIDE_SHARE = 0.02
MIN_LOG_TICKS = 3  # labelled ticks of a log axis, at least
# what a run fixes, in the order a caption names it
SETTING_KEYS = (
    ("profile", "profile {}"),
    ("cpus", "{} CPUs"),
    ("lock", "{} spinlocks"),
    ("kernel_lock", "{}"),
)
KERNEL_LOCKS = {"fine": "fine-grained kernel locks", "big": "one big kernel lock"}
# the table's keys, metrics and kinds of entry in words (others: underscores as spaces)
WORDS = {
    "wait_factor": "wait factor",
    "kernel_lock": "kernel locking",
    "lock": "spinlock",
    "cpus": "CPUs",
    "fastpath_syscall": "syscall-exception fastpath",
    "fastpath_ipc": "IPC fastpath",
    "fastpath_notify": "notification fastpath",
    "irq_forward": "IRQ forwarding",
    "hold_mean": "mean lock hold (cycles)",
    "delay_cycles": "delay (cycles)",
    "duration_mean": "mean duration (cycles)",
    "duration_p50": "median duration (cycles)",
    "duration_p99": "99th-percentile duration (cycles)",
    "fast_fraction": "share taking the fastpath",
    "lock_wait_mean": "mean lock wait (cycles)",
    "contended_fraction": "share that waited for a lock",
    "entries_per_mcycle": "entries per million cycles",
    "acquisitions_per_mcycle": "acquisitions per million cycles",
    "wait_mean": "mean wait (cycles)",
    "utilization": "lock utilization",
    "calls_per_second": "calls per second",
    "call_cycles": "Call (cycles)",
    "reply_recv_cycles": "ReplyRecv (cycles)",
}
# kinds of kernel entry (a study's output ipc.duration_mean is KIND.METRIC)
KINDS = {
    "ipc": "IPC",
    "syscall_exception": "syscall exception",
    "irq": "interrupt",
    "irq_latency": "interrupt latency",
    "lock": "lock acquisition",
    "scheduler": "scheduler",
    "notify": "notification",
}


@dataclass
class Curve:
    """One line of a figure: its value of the curve key, and mean with interval per x."""

    label: str
    value: object
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray
    members: list[str] = field(default_factory=list)  # curves merged into this one
    clipped: bool = False  # an interval cut at the quantity's floor (see curve)


@dataclass
class Drawn:
    """A figure written to disk: its PNG and SVG, title and caption (for the report)."""

    png: Path
    svg: Path
    title: str
    caption: str


def words(name: str) -> str:
    """A table's key, metric or kind of entry as a reader says it.

    ``wait_factor`` -> 'wait factor', ``ipc.duration_mean`` -> 'IPC: mean duration (cycles)'.
    """
    if name in WORDS:
        return WORDS[name]
    if name.startswith("costs."):
        return f"cost {name.removeprefix('costs.').replace('_', ' ')}"
    kind, dot, metric = name.partition(".")
    if dot and kind in KINDS:
        return f"{KINDS[kind]}: {words(metric)}"
    return KINDS.get(name, name.replace("_", " "))


def curve(
    label: str,
    value,
    frame: pd.DataFrame,
    x: str,
    y: str,
    scale: float = 1.0,
    floor: float | None = None,
) -> Curve:
    """Mean and 95% interval over replications of ``y`` at each ``x`` of ``frame``.

    ``floor``: the least value the quantity can take (0 for cycles and shares). A
    t-interval is symmetric, so from few replications of a value near its floor it
    reaches below it; the interval is cut there (``clipped`` says so, for the caption).
    """
    xs, means, lows, highs = [], [], [], []
    for x_value, group in frame.groupby(x, sort=True):
        mean, (low_here, high_here) = mean_ci(group[y].to_numpy())
        xs.append(x_value)
        means.append(mean * scale)
        lows.append(low_here * scale)
        highs.append(high_here * scale)
    low = np.array(lows)
    clipped = False
    if floor is not None and (low < floor).any():
        low, clipped = np.maximum(low, floor), True
    return Curve(label, value, np.array(xs), np.array(means), low, np.array(highs), clipped=clipped)


CLIPPED = (
    "where an interval would reach below 0 it is cut at 0 (the quantity cannot be "
    "negative; a t-interval from few replications is symmetric)"
)


def coinciding_groups(panels: list[list[Curve]], span: float) -> list[list[str]]:
    """Labels of neighbouring curves (in the given order) that coincide in every panel.

    Two curves coincide when at every shared x their means differ by less than
    ``COINCIDE_SHARE`` of ``span`` (the plotted range): closer than a reader can
    tell apart. The
    same groups hold in every panel, so one legend serves them all.
    """
    by_label = [{c.label: c for c in panel} for panel in panels]
    labels = [c.label for c in panels[0]] if panels else []
    groups: list[list[str]] = []
    for label in labels:
        group = groups[-1] if groups else None
        if group and all(
            label in curves
            and all(
                member in curves and _coincide(curves[member], curves[label], span)
                for member in group
            )
            for curves in by_label
        ):
            group.append(label)
        else:
            groups.append([label])
    return groups


def merge_coinciding(
    curves: list[Curve], groups: list[list[str]]
) -> tuple[list[Curve], dict[str, float]]:
    """The curves with each group of ``groups`` merged into one.

    A merged curve is the mean of its members, its band their whole range.
    Returns the curves to draw and, per merged curve, how far apart its
    members' means are at most (for the caption).
    """
    by_label = {c.label: c for c in curves}
    merged = [[by_label[label] for label in group if label in by_label] for group in groups]
    merged += [[c] for c in curves if not any(c.label in group for group in groups)]
    drawn, apart = [], {}
    for group in filter(None, merged):
        if len(group) == 1:
            drawn.append(group[0])
            continue
        ys = np.vstack([c.y for c in group])
        low = np.vstack([c.low for c in group]).min(axis=0)
        high = np.vstack([c.high for c in group]).max(axis=0)
        label = (
            f"{group[0].label}-{group[-1].label}"
            if len(group) > 2
            else f"{group[0].label}, {group[-1].label}"
        )
        apart[label] = float((ys.max(axis=0) - ys.min(axis=0)).max())
        drawn.append(
            Curve(
                label,
                group[0].value,
                group[0].x,
                ys.mean(axis=0),
                low,
                high,
                [c.label for c in group],
                any(c.clipped for c in group),
            )
        )
    return drawn, apart


def _coincide(a: Curve, b: Curve, span: float) -> bool:
    if len(a.x) != len(b.x) or not np.array_equal(a.x, b.x):
        return False
    # closer than the eye can tell apart at this scale, everywhere
    return bool(np.all(np.abs(a.y - b.y) <= COINCIDE_SHARE * span))


def draw_curves(ax, curves: list[Curve], style_offset: int = 0):
    """Lines with markers and bands; returns a colour bar's mappable when there are many."""
    many = uses_colour_bar(curves)
    norm = None
    if many:
        values = np.array([float(c.value) for c in curves])  # type: ignore[arg-type]  # (a curve's value: a number)
        positive = values.min() > 0 and values.max() / values.min() > 20
        norm = (LogNorm if positive else Normalize)(values.min(), values.max())
        colours = plt.get_cmap(COLOUR_MAP)
    for index, line in enumerate(curves):
        order = index + style_offset
        colour = colours(norm(float(line.value))) if many else PALETTE[order % len(PALETTE)]  # type: ignore[arg-type, misc]
        if not many:  # dozens of overlapping bands would hide the lines
            band(ax, line, colour)
        ax.plot(
            line.x,
            line.y,
            color=colour,
            linewidth=1.4 if not many else 1.0,
            linestyle="-" if many else LINE_STYLES[order % len(LINE_STYLES)],
            marker=None if many else MARKERS[order % len(MARKERS)],
            markersize=4.5,
            markerfacecolor="white" if order % 2 else colour,
            label=line.label,
        )
    if many:
        return plt.cm.ScalarMappable(norm=norm, cmap=COLOUR_MAP)
    return None


def band(ax, line: Curve, colour) -> None:
    """The 95% interval of ``line``, shaded (labelled for :func:`save`'s caption)."""
    ax.fill_between(
        line.x,
        line.low,
        line.high,
        color=colour,
        alpha=0.18,
        linewidth=0,
        label=f"_band {line.label}",
    )


def uses_colour_bar(curves: list[Curve]) -> bool:
    """Whether :func:`draw_curves` draws these curves against a colour bar (many, numeric)."""
    return len(curves) > MAX_LEGEND and all(
        isinstance(c.value, int | float | np.number) and not isinstance(c.value, bool)
        for c in curves
    )


def colour_bar(fig, mappable, label: str, bottom: float, top: float):
    """A colour bar in its own axes at the right (the panels keep their places)."""
    from matplotlib.ticker import FuncFormatter

    fig.subplots_adjust(right=0.86)
    axis = fig.add_axes((0.89, bottom, 0.018, top - bottom))
    if isinstance(mappable.norm, LogNorm):
        label = f"{label} (log scale)"
    bar = fig.colorbar(mappable, cax=axis, label=label)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    return bar


def setting(points: pd.DataFrame) -> str:
    """What the run fixes, for a subtitle: 'profile vmxl4-pandaboard, 2 CPUs, lock ticket, ...'."""
    parts = []
    for key, text in SETTING_KEYS:
        if key in points.columns:
            values = list(points[key].dropna().unique())
            if all(isinstance(v, int | np.integer) for v in values) and len(values) > 2:
                shown = f"{min(values)}..{max(values)}"  # a swept count: its range
            else:
                shown = "/".join(str(v) for v in sorted(values, key=str))
            if key == "kernel_lock":
                shown = " or ".join(
                    KERNEL_LOCKS.get(v, f"kernel locking {v}") for v in sorted(values, key=str)
                )
            parts.append(text.format(shown))
    return ", ".join(parts)


def replications_text(points: pd.DataFrame) -> str:
    """'10 replications of 3,000 measured entries' (the sizes a reader needs to trust a band)."""
    replications = points["replication"].nunique() if "replication" in points else 1
    events = sorted(points["events"].unique()) if "events" in points else []
    size = f" of {'/'.join(f'{e:,}' for e in events)} measured entries" if events else ""
    return f"{replications} replication{'s' if replications != 1 else ''}{size}"


def heading(fig, what: str, points: pd.DataFrame, reference: str | None) -> str:
    """The figure's title (what, the scenario, the paper's figure if any) and subtitle."""
    name = points["name"].iloc[0] if "name" in points else "?"
    title = f"{what} ({reference})" if reference else what
    fig.suptitle(f"{title}\nscenario {name}: {setting(points)}", fontsize=10.5)
    return f"{title}; scenario {name}: {setting(points)}"


def bands_sentence(
    fig, what: str = "95% t-interval over replications", unit: str | None = ""
) -> str:
    """What the figure's shaded bands are, as they can be seen once laid out.

    Bands narrower than their lines are called too narrow to see, with the
    widest of them in the data's ``unit`` (None: panels of different units,
    no width given); "shaded" only names bands that show.
    """
    from l4sim.analysis.figure_review import HIDDEN_WORDS, hidden_bands

    bands = hidden_bands(fig)
    if not bands:
        return ""
    hidden = [b for b in bands if not b.visible]
    if not hidden:
        return f"Shaded: {what}"
    widest = max(b.width for b in hidden)
    if widest == 0:  # no spread at all: nothing to shade
        if len(hidden) == len(bands):
            return f"No band shows: every replication gave the same value ({what}: none)"
        return f"Shaded: {what}; where no band shows, every replication gave the same value"
    how_wide = "" if unit is None else f"at most {number(widest)}{unit} wide, "
    if len(hidden) == len(bands):
        return f"No band shows: the {what} is {HIDDEN_WORDS} ({how_wide}narrower than a line)"
    return (
        f"Shaded: {what}; where no band shows, it is {HIDDEN_WORDS} ({how_wide}"
        "narrower than the line)"
    )


def save(
    fig,
    out_dir: Path,
    stem: str,
    title: str,
    sentences: list[str],
    bands: str | None = None,
    unit: str | None = "",
    title_lines: int = 0,
    layout: bool = True,
    provenance: Provenance | None = None,
) -> Drawn:
    """Lay the figure out, word its caption, write PNG and SVG, close it.

    ``sentences`` are the caption's; when ``bands`` names what the shaded
    bands are, a sentence saying so (or that they are too narrow to see, in
    ``unit``) comes first. ``title_lines``: room kept above for a title of so
    many lines; ``layout=False`` keeps a layout the caller made (a colour bar).
    The caption is written into the files' metadata, not drawn. ``provenance``
    (default: that of the tables in ``out_dir``, which the figure is drawn from)
    goes into the metadata too, and into a footer line under the figure.
    """
    provenance = provenance or of_folder(out_dir)
    log_ticks(fig)
    footer = FOOTER_INCHES / fig.get_figheight()
    if layout:
        top = 1 - title_lines * 0.24 / fig.get_figheight() if title_lines else 1
        fig.tight_layout(rect=(0, footer, 1, top))
    log_ticks(fig)  # the layout may change the limits: once more, for good
    first = bands_sentence(fig, bands, unit) if bands else ""
    caption = " ".join(s.rstrip(".") + "." for s in (first, *sentences) if s)
    out_dir = Path(out_dir)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    write_figure(fig, png, title, caption, provenance)
    write_figure(fig, svg, title, caption, provenance)
    plt.close(fig)
    return Drawn(png, svg, title, caption)


def write_figure(fig, path: Path, title: str, caption: str, provenance: Provenance) -> Path:
    """Write ``fig`` to ``path`` (PNG or SVG) with its provenance: metadata and a footer.

    No date or random identifier goes into the file: the same figure of the same
    tables is the same file.
    """
    path = Path(path)
    if not any(text.get_gid() == FOOTER_ID for text in fig.texts):
        fig.text(
            0.005,
            0.005,
            provenance.footer(),
            fontsize=5.5,
            color="0.45",
            ha="left",
            va="bottom",
            gid=FOOTER_ID,
        )
    file_format = "svg" if path.suffix == ".svg" else "png"
    # SVG identifiers (clip paths, glyphs) are hashes salted with this, not with a
    # random number: the same figure gives the same file
    with matplotlib.rc_context({"svg.hashsalt": "l4sim"}):
        fig.savefig(
            path,
            dpi=DPI,
            format=file_format,
            metadata=figure_metadata(provenance, title, caption, file_format),
        )
    return path


def log_ticks(fig) -> None:
    """Give every log axis of ``fig`` at least :data:`MIN_LOG_TICKS` labelled ticks in view.

    The labels are plain numbers (500, 1,000, 2,000; not 5 x 10^2).

    Decades first, then 1-2-5 steps, then every integer multiple; an axis
    spanning less than that gets evenly spaced ticks (in the log) rounded to
    two significant digits.
    """
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() == "log":
                _log_ticks(axis, *sorted(limits))


def _log_ticks(axis, low: float, high: float) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    base = getattr(axis.get_transform(), "base", 10)
    choices = (
        ((1.0,),)
        if base != 10
        else (
            (1.0,),
            (1.0, 2.0, 5.0),
            (1.0, 2.0, 3.0, 5.0, 7.0),
            tuple(float(i) for i in range(1, 10)),
        )
    )
    ticks: list[float] = []
    for subs in choices:  # the sparsest steps that give a reader four values, or three
        found = [
            t for t in LogLocator(base=base, subs=subs).tick_values(low, high) if low <= t <= high
        ]
        if len(found) > len(ticks) and (len(ticks) < MIN_LOG_TICKS or len(found) <= 8):
            ticks = found
        if len(ticks) > MIN_LOG_TICKS:
            break
    if len(ticks) < MIN_LOG_TICKS and low > 0:
        spaced = np.geomspace(low, high, MIN_LOG_TICKS + 2)[1:-1]
        ticks = sorted({float(f"{t:.2g}") for t in spaced})
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda value, _: number(value)))
    axis.set_minor_formatter(NullFormatter())


def number(value: float) -> str:
    """A number to the precision a reader needs (3 significant digits, no trailing zeros)."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    digits = max(0, 2 - int(np.floor(np.log10(magnitude))))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
