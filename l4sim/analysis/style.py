"""How every l4sim figure looks: lines a reader can tell apart, visible intervals, honest titles.

- Colours are the Okabe-Ito palette (safe for the common kinds of colour
  blindness), and each curve has its own marker and line style as well, so a
  figure still reads in grey.
- A curve's 95% confidence interval over replications is a shaded band
  around it, not error bars a few pixels wide.
- Curves that lie on top of each other are drawn once, as one line with
  their range shaded, and the caption says which coincide and within how
  much; otherwise a legend would list entries nobody can find in the plot.
  Curves are merged only when they coincide in every panel, so one legend
  serves them all.
- Beyond a handful of curves a colour bar replaces the legend.
- Titles and captions come from the run itself: the scenario's name and what
  is fixed in it (lock design, kernel locking, profile, CPUs). A reference to
  the paper's figures is given only by the caller that drew the paper's own
  scenario.
- Every figure is written as PNG (for reading) and SVG (for a paper).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, Normalize

from l4sim.sweep.stats import mean_ci

# Okabe & Ito, "Color universal design" (2008): distinguishable with any
# common colour-vision deficiency
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", "-.", ":")
MAX_LEGEND = 8  # curves beyond which a colour bar replaces the legend
COLOUR_MAP = "viridis"  # perceptually uniform, readable in grey and by the colour blind
DPI = 150
# curves closer than this share of the plotted range (or than their own
# intervals) at every x are one line to the eye
COINCIDE_SHARE = 0.02
# what a run fixes, in the order a caption names it
SETTING_KEYS = (
    ("profile", "profile {}"),
    ("cpus", "{} CPUs"),
    ("lock", "lock {}"),
    ("kernel_lock", "kernel_lock {}"),
)


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


@dataclass
class Drawn:
    """A figure written to disk: its PNG and SVG, title and caption (for the report)."""

    png: Path
    svg: Path
    title: str
    caption: str


def curve(label: str, value, frame: pd.DataFrame, x: str, y: str, scale: float = 1.0) -> Curve:
    """Mean and 95% interval over replications of ``y`` at each ``x`` of ``frame``."""
    xs, means, lows, highs = [], [], [], []
    for x_value, group in frame.groupby(x, sort=True):
        mean, (low, high) = mean_ci(group[y].to_numpy())
        xs.append(x_value)
        means.append(mean * scale)
        lows.append(low * scale)
        highs.append(high * scale)
    return Curve(label, value, np.array(xs), np.array(means), np.array(lows), np.array(highs))


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
            )
        )
    return drawn, apart


def _coincide(a: Curve, b: Curve, span: float) -> bool:
    if len(a.x) != len(b.x) or not np.array_equal(a.x, b.x):
        return False
    # closer than the eye can tell apart at this scale, everywhere
    return bool(np.all(np.abs(a.y - b.y) <= COINCIDE_SHARE * span))


def draw_curves(ax, curves: list[Curve], key_title: str, style_offset: int = 0):
    """Lines with markers and bands; returns a colour bar's mappable when there are many."""
    many = uses_colour_bar(curves)
    norm = None
    if many:
        values = np.array([float(c.value) for c in curves])
        positive = values.min() > 0 and values.max() / values.min() > 20
        norm = (LogNorm if positive else Normalize)(values.min(), values.max())
        colours = plt.get_cmap(COLOUR_MAP)
    for index, line in enumerate(curves):
        order = index + style_offset
        colour = colours(norm(float(line.value))) if many else PALETTE[order % len(PALETTE)]
        if not many:  # dozens of overlapping bands would hide the lines
            ax.fill_between(line.x, line.low, line.high, color=colour, alpha=0.18, linewidth=0)
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


def footnote(fig, sentences: list[str]) -> str:
    """The caption under the axes; returns it as one paragraph."""
    text = " ".join(s.rstrip(".") + "." for s in sentences if s)
    if text:
        width = max(60, int(fig.get_figwidth() * 15))
        fig.text(
            0.01,
            0.01,
            "\n".join(textwrap.wrap(text, width)),
            fontsize=7.5,
            va="bottom",
            ha="left",
            color="#333333",
        )
    return text


def caption_room(fig, lines: int) -> float:
    """The share of the figure's height its caption of ``lines`` lines needs."""
    return min(0.4, (0.08 + 0.125 * lines) / fig.get_figheight())


def save(
    fig,
    out_dir: Path,
    stem: str,
    title: str,
    caption: str,
    caption_lines: int = 0,
    title_lines: int = 0,
) -> Drawn:
    """Lay the figure out, write PNG and SVG, close it.

    The layout leaves room for the caption below and, when given, for a
    title of ``title_lines`` lines above.
    """
    top = 1 - title_lines * 0.24 / fig.get_figheight() if title_lines else 1
    fig.tight_layout(rect=(0, caption_room(fig, caption_lines), 1, top))
    out_dir = Path(out_dir)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    fig.savefig(png, dpi=DPI)
    fig.savefig(svg)
    plt.close(fig)
    return Drawn(png, svg, title, caption)


def caption_lines(fig, text: str) -> int:
    """How many lines :func:`footnote` wraps ``text`` into."""
    width = max(60, int(fig.get_figwidth() * 15))
    return len(textwrap.wrap(text, width)) if text else 0


def plain_log_ticks(axis, base: int = 10) -> None:
    """Tick labels of a log axis as plain numbers (500, 1,000, 2,000), not 5 x 10^2."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=base, subs=(1.0, 2.0, 5.0) if base == 10 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
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
