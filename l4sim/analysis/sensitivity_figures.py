"""The figures of a sensitivity study: indices per output, and where each claim fails.

They follow :mod:`l4sim.analysis.style`: Okabe-Ito colours with distinct
markers (a figure still reads in grey), a title naming the scenario and the
method, a caption saying what the marks are, PNG and SVG.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist

from l4sim.analysis.sensitivity_params import NO_EFFECT
from l4sim.analysis.style import PALETTE, Drawn, number, save, words

SHOWN = 8  # parameters drawn per panel: the most influential
COLUMNS = 3
HOLDS, FAILS, BAND = PALETTE[0], PALETTE[1], PALETTE[2]
# (no asterisk: a caption is emphasised Markdown in the report)
INDEX_NAMES = {
    "ST": "total-order Sobol' index ST",
    "mu_star": "Morris' mu_star (mean absolute elementary effect)",
}
# the axis of each index (no table key: mu_star is a symbol, written as one)
INDEX_AXES = {"ST": "total-order Sobol' index ST", "mu_star": "Morris' \u03bc* (output's unit)"}
ST_MAX = 1.0  # a total-order index is a share of the variance: at most 1


def _grid(count: int, height: float):
    rows = max(1, math.ceil(count / COLUMNS))
    columns = min(COLUMNS, max(count, 1))
    figure, axes = plt.subplots(
        rows, columns, figsize=(5.4 * columns, height * rows + 1.6), squeeze=False
    )
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    return figure, list(axes.flat)


def _finish(
    figure,
    out_dir: Path,
    stem: str,
    title: str,
    subtitle: str,
    caption: list[str],
    bottom: float = 0.0,
) -> Drawn:
    figure.suptitle(f"{title}\n{subtitle}", fontsize=10.5)
    if bottom:  # room for a legend under the panels
        figure.tight_layout(rect=(0, bottom, 1, 1 - 2 * 0.24 / figure.get_figheight()))
    return save(
        figure, out_dir, stem, f"{title}; {subtitle}", caption, title_lines=2, layout=not bottom
    )


def indices_figure(indices: pd.DataFrame, column: str, out_dir: Path, subtitle: str) -> Drawn:
    """One panel per output: the most influential parameters, with the noise floor.

    Each parameter's ``column``, the total-order index ST (Sobol') or mu_star
    (Morris), with 95% intervals.
    """
    outputs = list(dict.fromkeys(indices["output"]))
    figure, axes = _grid(len(outputs), 2.6)
    floors: list[float] = []
    above: list[float] = []  # estimates of ST beyond what an index can be
    for axis, output in zip(axes, outputs, strict=False):
        rows = indices[indices["output"] == output]
        ranked = (
            rows[rows["parameter"] != NO_EFFECT]
            .dropna(subset=[column])
            .sort_values(column, ascending=False)
            .head(SHOWN)
            .iloc[::-1]
        )
        axis.set_title(_output_words(output), fontsize=9)
        if ranked.empty:
            axis.text(
                0.5,
                0.5,
                "constant over the sampled space",
                ha="center",
                va="center",
                transform=axis.transAxes,
                fontsize=8,
            )
            axis.set_xticks([])
            axis.set_yticks([])
            continue
        positions = np.arange(len(ranked))
        axis.barh(
            positions,
            ranked[column],
            xerr=ranked[f"{column}_conf"],
            color=HOLDS,
            height=0.7,
            error_kw={"elinewidth": 0.9, "capsize": 2, "ecolor": "#333333"},
        )
        axis.set_yticks(
            positions, [p.removeprefix("costs.") for p in ranked["parameter"]], fontsize=7
        )
        floor = rows[rows["parameter"] == NO_EFFECT]
        if not floor.empty and not floor[column].isna().all():
            level = float(floor[column].iloc[0] + floor[f"{column}_conf"].iloc[0])
            floors.append(level)
            axis.axvline(level, color=FAILS, linestyle="--", linewidth=1.0)
        axis.tick_params(axis="x", labelsize=7)
        axis.set_xlabel(INDEX_AXES.get(column, column), fontsize=8)
        axis.grid(True, axis="x", alpha=0.3)
        axis.set_xlim(left=0)  # an index is not negative; a bootstrap interval may reach below
        if column == "ST":
            reach = float((ranked[column] + ranked[f"{column}_conf"]).max())
            axis.set_xlim(0, max(1.05, 1.05 * reach))
            if float(ranked[column].max()) > ST_MAX:
                axis.axvline(ST_MAX, color="black", linestyle=":", linewidth=1.0)
                above.append(float(ranked[column].max()))
    name = INDEX_NAMES.get(column, column)
    floor_text = (
        "Dashed line: the noise floor, the index (plus interval) of a parameter "
        "applied to nothing" + (f", here at most {max(floors):.2g}" if floors else "")
    )
    unit = (
        "; mu_star is in the output's own unit (cycles, a share, a ratio)"
        if column == "mu_star"
        else ""
    )
    caption = [
        f"Bars: each output's {min(SHOWN, indices['parameter'].nunique() - 1)} most "
        f"influential parameters by {name}, with 95% bootstrap intervals (SALib); "
        f"costs are shown without their costs. prefix{unit}",
        floor_text,
    ]
    if above:
        samples = subtitle.split("N = ", 1)[-1].split(")", 1)[0] if "N = " in subtitle else ""
        caption.append(
            f"Dotted line: 1, the largest a total-order index can be (the share of the "
            f"output's variance a parameter takes part in); estimates up to "
            f"{number(max(above))} lie beyond it: they are sampling error of the estimator"
            + (f" at N = {samples}" if samples else "")
            + ", so the bars rank the "
            "parameters but their lengths are not shares; more samples shrink them"
        )
    return _finish(
        figure,
        out_dir,
        "sensitivity",
        f"Which parameters move each output: {name}",
        subtitle,
        caption,
    )


def robustness_figure(
    samples: pd.DataFrame, robustness: pd.DataFrame, out_dir: Path, subtitle: str
) -> Drawn:
    """One panel per claim: its quantity in every sample against its most influential parameter.

    The claim's band is shaded, the samples where it fails are marked apart.
    """
    sampled = samples[samples["sample"] >= 0]
    profile = samples[samples["sample"] == -1]
    figure, axes = _grid(len(robustness), 3.3)
    for axis, claim in zip(axes, robustness.to_dict("records"), strict=False):
        top = claim["top_parameters"].split(", ")[0] if claim["top_parameters"] else None
        values = sampled[claim["output"]].to_numpy(dtype=float)
        low, high = claim["band_low"], claim["band_high"]
        holds = (low <= values) & (values <= high)
        x = sampled[top].to_numpy(dtype=float) if top else np.arange(len(values))
        axis.scatter(
            x[holds],
            values[holds],
            s=10,
            color=HOLDS,
            marker="o",
            label="holds",
            alpha=0.8,
            linewidths=0,
        )
        axis.scatter(
            x[~holds], values[~holds], s=18, color=FAILS, marker="x", label="fails", linewidths=1.0
        )
        if top:
            axis.scatter(
                profile[top],
                profile[claim["output"]],
                marker="*",
                s=90,
                color="black",
                label="the profile",
                zorder=3,
            )
        bottom, top_y = axis.get_ylim()
        axis.axhspan(
            max(low, bottom), min(high, top_y), color=BAND, alpha=0.12, label="the claim's band"
        )
        axis.set_ylim(bottom, top_y)
        axis.set_xlabel(
            f"{words(top)}" + (" (cycles)" if top.startswith("costs.") else "")
            if top
            else "sample (no parameter moves it)",
            fontsize=8,
        )
        axis.set_ylabel(f"claim {claim['output']}", fontsize=8)
        text = "\n".join(textwrap.wrap(claim["text"], 62)[:2])
        axis.set_title(
            f"{claim['output']}: holds in {100 * claim['share_holding']:.0f}% "
            f"(band {claim['band']})\n{text}",
            fontsize=8,
        )
        axis.tick_params(labelsize=7)
        axis.grid(True, alpha=0.3)
    # one legend for every panel, under them (inside a panel it would cover samples);
    # an entry only for what some panel draws
    entries: dict[str, Artist] = {}  # label -> the first handle drawn with it
    for axis in axes[: len(robustness)]:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            if _draws(handle):
                entries.setdefault(label, handle)
    figure.legend(
        entries.values(),
        entries.keys(),
        loc="lower center",
        ncol=len(entries),
        fontsize=7.5,
        frameon=False,
    )
    caption = [
        "Each point is one sample of the study (every other parameter varies too, so "
        "the spread at one value of the parameter shows what the others do); "
        "x: the claim's most influential parameter, y: the claim's quantity; shaded: "
        "the claim's band; crosses: samples in which the claim fails; star: the "
        "profile's own values"
    ]
    return _finish(
        figure,
        out_dir,
        "robustness",
        "Claim robustness: each claim's quantity against its most influential parameter",
        subtitle,
        caption,
        bottom=0.5 / figure.get_figheight(),
    )


def _draws(artist) -> bool:
    """Whether a scatter (or any artist) has something to draw."""
    offsets = getattr(artist, "get_offsets", None)
    return offsets is None or len(offsets()) > 0


def _output_words(output: str) -> str:
    """A study's output as a panel title: a claim by its name (E3.1), a metric in words."""
    return output if "_" not in output else words(output)
