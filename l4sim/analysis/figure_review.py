"""What a reviewer would return a figure for, found with matplotlib's own geometry.

:func:`review` lays a figure out as it is drawn and lists its defects, each
as one sentence:

- a legend covering data: its box (in display coordinates) meets a line, a
  band, a bar or a marker of any panel;
- a legend entry naming nothing drawn (an entry needs a visible artist of the
  same label with data in view);
- a raw column name (``duration_mean``, ``ipc.duration_mean``,
  ``slow:slow_wait``) in a title, an axis label, a legend or a text in the
  plot: a reader should not have to decode the table's keys;
- a log axis whose label does not say so, or with fewer than
  :data:`MIN_LOG_TICKS` labelled ticks in view (a reader cannot read a value
  off an axis with two numbers on it);
- bands narrower than their lines (:func:`hidden_bands`) that the caption
  does not call too narrow to see, or a caption calling bands "shaded" when
  none can be seen;
- for a quantity that cannot be negative (cycles, shares: ``nonnegative``),
  an interval (band or error bar) reaching below zero: a t-interval from too
  few replications, drawn as if it meant something.

The drawing functions of :mod:`l4sim.analysis` call :func:`hidden_bands` to
word their captions, and the test suite runs :func:`review` on every figure
they make; it works on any figure, a notebook's too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure, SubFigure
from matplotlib.transforms import Bbox

MIN_LOG_TICKS = 3  # labelled ticks a log axis needs in view
# the identifier (gid) of the provenance footer under a figure: a citation, not a label
FOOTER_ID = "l4sim-provenance"
# how far (points) a band must reach beyond its line, on both sides together, to be seen
BAND_MARGIN_POINTS = 2.0
# the words a caption uses for bands it cannot show
HIDDEN_WORDS = "too narrow to see"
# a word with an underscore is a table's key to a reader: duration_mean, ipc.duration_mean,
# slow:slow_wait (file names and paths are names a reader types: scenarios/x_y.toml)
WORD = re.compile(r"[^\s,;()\[\]{}'\"=]+")
FILE_NAME = re.compile(r"(/|\.(toml|parquet|csv|json|png|svg|py|md)$)")


@dataclass(frozen=True)
class Band:
    """A shaded interval as drawn: its axes' title, label and widths."""

    panel: str
    label: str
    pixels: float  # its greatest height (display pixels) at any x
    needed: float  # the height it needs to show beyond its line (pixels)
    width: float  # its greatest height in data units

    @property
    def visible(self) -> bool:
        return self.pixels >= self.needed


def review(
    fig: Figure, caption: str = "", allowed: Iterable[str] = (), nonnegative: bool = False
) -> list[str]:
    """The figure's defects, one sentence each (an empty list: none found).

    ``caption`` is the text printed under the figure (the report's);
    ``allowed`` are names that may appear as they are (a scenario's name);
    ``nonnegative``: every panel's y is a quantity that cannot be negative.
    """
    fig.canvas.draw()
    problems = []
    problems += legend_overlaps(fig)
    problems += legend_entries_not_drawn(fig)
    problems += raw_names(fig, allowed)
    problems += log_axes(fig)
    problems += band_wording(fig, caption)
    if nonnegative:
        problems += negative_intervals(fig)
    return problems


@runtime_checkable
class _RenderingCanvas(Protocol):
    """A canvas that keeps the renderer it drew with.

    Agg and its interactive subclasses, Cairo, PGF do; the base canvas of a
    bare ``Figure()`` does not.
    """

    def get_renderer(self) -> RendererBase: ...


def _renderer(fig: Figure | SubFigure) -> RendererBase:
    """The renderer that laid ``fig`` out: extents in display pixels come from it."""
    canvas = fig.canvas
    if not isinstance(canvas, _RenderingCanvas):
        raise TypeError(f"a {type(canvas).__name__} keeps no renderer to measure the figure with")
    return canvas.get_renderer()


def _panel(ax) -> str:
    return ax.get_title() or ax.get_title(loc="left") or ax.get_ylabel() or "a panel"


def _legends(fig: Figure) -> list:
    found = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return found + list(fig.legends)


def _data_artists(ax) -> list:
    """What a panel draws from data: lines, collections (bands, scatter), patches (bars)."""
    return [a for a in (*ax.lines, *ax.collections, *ax.patches) if a.get_visible()]


def _covers(artist, box: Bbox, renderer) -> bool:
    """Whether ``artist`` (as drawn) has ink inside ``box`` (display coordinates)."""
    from matplotlib.lines import Line2D

    if isinstance(artist, Line2D):
        path = artist.get_transform().transform_path(artist.get_path())
        vertices = np.asarray(path.vertices)
        if len(vertices) == 0:
            return False
        if artist.axes is None:  # a line outside every panel is no panel's data
            return False
        clip = artist.axes.bbox
        if artist.get_linestyle() not in ("None", "", " ") and artist.get_linewidth() > 0:
            clipped = Bbox.intersection(box, clip)
            if clipped is not None and path.intersects_bbox(clipped, filled=False):
                return True
        if artist.get_marker() not in (None, "None", "", " "):
            inside = [clip.contains(x, y) and box.contains(x, y) for x, y in vertices]
            return any(inside)
        return False
    if isinstance(artist, PolyCollection):
        if artist.axes is None:  # a band outside every panel is no panel's data
            return False
        clip = artist.axes.bbox
        clipped = Bbox.intersection(box, clip)
        if clipped is None:
            return False
        transform = artist.get_transform()
        return any(
            transform.transform_path(path).intersects_bbox(clipped, filled=True)
            for path in artist.get_paths()
        )
    extent = artist.get_window_extent(renderer)
    clipped = Bbox.intersection(extent, artist.axes.bbox) if artist.axes else extent
    return (
        clipped is not None
        and clipped.width > 0
        and clipped.height > 0
        and Bbox.intersection(clipped, box) is not None
    )


def legend_overlaps(fig: Figure) -> list[str]:
    """A legend whose box meets data of any panel, or runs off the figure."""
    renderer = _renderer(fig)
    problems = []
    for legend in _legends(fig):
        box = legend.get_window_extent(renderer)
        name = legend.get_title().get_text() or ", ".join(
            t.get_text() for t in legend.get_texts()[:2]
        )
        for ax in fig.axes:
            covered = [a for a in _data_artists(ax) if _covers(a, box, renderer)]
            if covered:
                what = covered[0].get_label()
                what = "" if what.startswith("_") else f" ({what})"
                problems.append(f"the legend '{name}' covers data of '{_panel(ax)}'{what}")
        if not fig.bbox.contains(box.x0, box.y0) or not fig.bbox.contains(box.x1, box.y1):
            problems.append(f"the legend '{name}' runs off the figure")
    return problems


def _in_view(artist) -> bool:
    """Whether ``artist`` draws something inside its axes' view."""
    from matplotlib.lines import Line2D

    ax = artist.axes
    if ax is None:
        return False
    if isinstance(artist, Line2D):
        points = np.asarray(artist.get_xydata())
        if len(points) == 0:
            return False
        shown = artist.get_transform().transform(points)  # (axvline: y in axes units)
        box = ax.bbox
        return bool(
            (
                (shown[:, 0] >= box.x0 - 0.5)
                & (shown[:, 0] <= box.x1 + 0.5)
                & (shown[:, 1] >= box.y0 - 0.5)
                & (shown[:, 1] <= box.y1 + 0.5)
            ).any()
        )
    extent = artist.get_window_extent(_renderer(artist.figure))
    return Bbox.intersection(extent, ax.bbox) is not None


def legend_entries_not_drawn(fig: Figure) -> list[str]:
    """Legend entries with no visible artist of that label in view (a proxy for nothing)."""
    drawn: dict[object, object] = {}  # label -> the first artist drawn with it
    for ax in fig.axes:
        for artist in _data_artists(ax):
            if _in_view(artist):
                drawn.setdefault(artist.get_label(), artist)
        for container in ax.containers:  # bars: the label is the container's
            if any(_in_view(patch) for patch in container if hasattr(patch, "get_visible")):
                drawn.setdefault(container.get_label(), container)
    problems = []
    for legend in _legends(fig):
        for text in legend.get_texts():
            if text.get_text() not in drawn:
                problems.append(f"the legend entry '{text.get_text()}' names nothing drawn")
    return problems


def _texts(fig: Figure) -> list[tuple[str, str]]:
    """(where, text) of every word a reader sees besides tick labels."""
    found = [("the title", fig.get_suptitle())]
    # (the provenance footer names the scenario's file and hashes, as a citation does)
    found += [("a text of the figure", t.get_text()) for t in fig.texts if t.get_gid() != FOOTER_ID]
    for ax in fig.axes:
        panel = _panel(ax)
        found += [
            (f"the title of '{panel}'", ax.get_title(loc=loc))
            for loc in ("left", "center", "right")
        ]
        found += [
            (f"the x label of '{panel}'", ax.get_xlabel()),
            (f"the y label of '{panel}'", ax.get_ylabel()),
        ]
        found += [(f"a text in '{panel}'", t.get_text()) for t in ax.texts]
    for legend in _legends(fig):
        found.append(("a legend's title", legend.get_title().get_text()))
        found += [("a legend entry", t.get_text()) for t in legend.get_texts()]
    return [(where, text) for where, text in found if text]


def raw_names_in(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The table keys in ``text``: snake_case, dotted or path:exit names.

    File names and the ``allowed`` ones are not counted.
    """
    allowed = set(allowed)
    words = (word.strip(".:!?`*") for word in WORD.findall(text))
    return [
        word for word in words if "_" in word and word not in allowed and not FILE_NAME.search(word)
    ]


def raw_names(fig: Figure, allowed: Iterable[str] = ()) -> list[str]:
    """Titles, labels, legends and texts that show a raw column name."""
    problems = []
    for where, text in _texts(fig):
        names = raw_names_in(text, allowed)
        if names:
            problems.append(
                f"{where} shows the raw name{'s' if len(names) > 1 else ''} "
                f"{', '.join(names)}: {text!r}"
            )
    return problems


def log_axes(fig: Figure) -> list[str]:
    """Log axes whose label does not say so, or with too few labelled ticks."""
    problems = []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.has_data():
            continue
        for name, axis, limits in (("x", ax.xaxis, ax.get_xlim()), ("y", ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log":
                continue
            label = axis.get_label_text()
            family = _family(ax, name)
            if not any("log" in getattr(a, f"get_{name}label")().lower() for a in family):
                problems.append(
                    f"the {name} axis of '{_panel(ax)}' is logarithmic but its "
                    f"label does not say so: {label!r}"
                )
            low, high = sorted(limits)
            labelled = max(
                _labelled_ticks(getattr(a, f"{name}axis"), low, high)
                for a in family
                if getattr(a, f"get_{name}scale")() == "log"
            )
            if labelled < MIN_LOG_TICKS:
                problems.append(
                    f"the log {name} axis of '{_panel(ax)}' has {labelled} "
                    f"labelled ticks (at least {MIN_LOG_TICKS})"
                )
    return problems


def _family(ax, name: str) -> list:
    """The panels whose ``name`` axis a reader reads ``ax``'s from.

    ``ax``, those sharing it, and those in its grid row (y) or column (x), where one label
    serves them all.
    """
    shared = getattr(ax, f"get_shared_{name}_axes")()
    spec = ax.get_subplotspec()
    family = [ax]
    for other in ax.figure.axes:
        if other is ax or other.get_subplotspec() is None or spec is None:
            continue
        same = (
            other.get_subplotspec().rowspan == spec.rowspan
            if name == "y"
            else other.get_subplotspec().colspan == spec.colspan
        )
        if shared.joined(ax, other) or (
            same and other.get_subplotspec().get_gridspec() is spec.get_gridspec()
        ):
            family.append(other)
    return family


def _labelled_ticks(axis, low: float, high: float) -> int:
    return sum(
        1
        for t in axis.get_major_ticks()
        if t.label1.get_visible() and t.label1.get_text() and low <= t.get_loc() <= high
    )


def hidden_bands(fig: Figure) -> list[Band]:
    """Every shaded band (``fill_between``) as drawn, with whether it can be seen.

    A band shows only where it reaches beyond its line: it must be taller, at
    some x, than the widest line of its panel plus :data:`BAND_MARGIN_POINTS`.
    Call after the figure is laid out (positions are final).
    """
    bands = []
    for ax in fig.axes:
        widths = [
            line.get_linewidth()
            for line in ax.lines
            if line.get_linestyle() not in ("None", "", " ")
        ]
        needed = (max(widths, default=0.0) + BAND_MARGIN_POINTS) * fig.dpi / 72
        for collection in ax.collections:
            if not isinstance(collection, PolyCollection) or not collection.get_paths():
                continue
            name = collection.get_label()
            if not isinstance(name, str) or not name.startswith("_band"):
                continue
            pixels, width = 0.0, 0.0
            for path in collection.get_paths():
                vertices = np.asarray(path.vertices)
                shown = ax.transData.transform(vertices)
                pixels = max(pixels, _height(vertices[:, 0], shown[:, 1]))
                width = max(width, _height(vertices[:, 0], vertices[:, 1]))
            label = name.removeprefix("_band").strip()
            bands.append(Band(_panel(ax), label, pixels, needed, width))
    return bands


def _height(xs: np.ndarray, ys: np.ndarray) -> float:
    """The greatest vertical extent of a polygon at any of its vertices' x."""
    order = np.lexsort((ys, xs))
    xs, ys = xs[order], ys[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    lows = np.minimum.reduceat(ys, starts)
    highs = np.maximum.reduceat(ys, starts)
    return float((highs - lows).max()) if len(starts) else 0.0


def band_wording(fig: Figure, caption: str) -> list[str]:
    """Bands that cannot be seen must be called so; bands called shaded must show."""
    bands = hidden_bands(fig)
    if not bands:
        return []
    text = caption.lower()
    problems = []
    hidden = [b for b in bands if not b.visible]
    spread = [b for b in hidden if b.width > 0]  # a band of no width has nothing to show
    if spread and HIDDEN_WORDS not in text:
        problems.append(
            f"{len(spread)} of {len(bands)} bands are narrower than their lines "
            f"(at most {max(b.pixels for b in spread):.1f} px of the "
            f"{spread[0].needed:.1f} px needed) and the caption does not say "
            f"they are {HIDDEN_WORDS}"
        )
    if "shaded" in text and len(hidden) == len(bands):
        problems.append("the caption calls bands shaded but none can be seen")
    return problems


def negative_intervals(fig: Figure) -> list[str]:
    """Bands and vertical error bars reaching below zero."""
    from matplotlib.container import ErrorbarContainer

    problems = []
    for ax in fig.axes:
        lows: list[tuple[object, float]] = []  # (label, lowest end)
        for collection in ax.collections:
            name = collection.get_label()
            if (
                isinstance(collection, PolyCollection)
                and isinstance(name, str)
                and name.startswith("_band")
            ):
                lows += [
                    (
                        name.removeprefix("_band").strip(),
                        min(
                            np.asarray(path.vertices)[:, 1].min() for path in collection.get_paths()
                        ),
                    )
                ]
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer) and container.has_yerr:
                bars = container.lines[2][-1]  # the y error bars' LineCollection
                ends = [segment[:, 1].min() for segment in bars.get_segments()]
                lows.append((container.get_label(), min(ends, default=0.0)))
        for label, low in lows:
            if low < 0:
                problems.append(
                    f"an interval of '{label}' in '{_panel(ax)}' reaches "
                    f"{low:,.3g}, below 0, for a quantity that cannot be negative"
                )
    return problems


def watch(shell, allowed: Iterable[str] = (), nonnegative: bool = False) -> list[str]:
    """Review every figure an IPython session draws, as it draws it.

    Returns the list the problems go to ("figure NAME: problem").

    Figures written to PNG are reviewed as they are saved (with the caption in their metadata);
    figures left open are reviewed after each cell, before the inline backend shows and closes
    them (call this before matplotlib is set up in the session: callbacks run in the order
    registered).
    """
    import matplotlib.figure

    found: list[str] = []
    allowed = set(allowed)
    save = matplotlib.figure.Figure.savefig

    def reviewing(
        figure: Figure, name: str | os.PathLike[Any] | IO[Any], *args: Any, **options: Any
    ) -> None:
        if str(name).endswith(".png"):
            caption = (options.get("metadata") or {}).get("Description", "")
            found.extend(
                f"figure {name}: {problem}"
                for problem in review(figure, caption, allowed, nonnegative)
            )
        return save(figure, name, *args, **options)

    def after_cell():
        import matplotlib.pyplot as plt

        for number in plt.get_fignums():
            found.extend(
                f"figure {number}: {problem}"
                for problem in review(plt.figure(number), "", allowed, nonnegative)
            )

    # a deliberate patch (matplotlib has no hook on saving): mypy forbids replacing a method
    matplotlib.figure.Figure.savefig = reviewing  # type: ignore[method-assign, assignment]
    shell.events.register("post_execute", after_cell)
    return found
