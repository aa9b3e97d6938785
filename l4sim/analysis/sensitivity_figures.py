"""The figures of a sensitivity study: indices per output, and where each claim fails."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from l4sim.analysis.sensitivity_params import NO_EFFECT  # noqa: E402

SHOWN = 8  # parameters drawn per panel: the most influential
COLUMNS = 3


def _grid(count: int, height: float):
    rows = max(1, math.ceil(count / COLUMNS))
    columns = min(COLUMNS, max(count, 1))
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, height * rows),
                                squeeze=False)
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    return figure, list(axes.flat)


def indices_figure(indices: pd.DataFrame, column: str, path: Path) -> Path:
    """One panel per output: the most influential parameters' ``column``, the total-order
    index ST (Sobol') or mu_star (Morris), with 95% intervals; the dashed line is the
    no-effect parameter's."""
    outputs = list(dict.fromkeys(indices["output"]))
    figure, axes = _grid(len(outputs), 2.6)
    for axis, output in zip(axes, outputs, strict=False):
        rows = indices[indices["output"] == output]
        ranked = (rows[rows["parameter"] != NO_EFFECT].dropna(subset=[column])
                  .sort_values(column, ascending=False).head(SHOWN).iloc[::-1])
        axis.set_title(output, fontsize=9)
        if ranked.empty:
            axis.text(0.5, 0.5, "constant over the sampled space", ha="center",
                      va="center", transform=axis.transAxes, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
            continue
        positions = np.arange(len(ranked))
        axis.barh(positions, ranked[column], xerr=ranked[f"{column}_conf"], color="#4c72b0",
                  error_kw={"elinewidth": 0.8, "capsize": 2})
        axis.set_yticks(positions, [p.removeprefix("costs.") for p in ranked["parameter"]],
                        fontsize=7)
        floor = rows[rows["parameter"] == NO_EFFECT]
        if not floor.empty and not floor[column].isna().all():
            axis.axvline(float(floor[column].iloc[0] + floor[f"{column}_conf"].iloc[0]),
                         color="grey", linestyle="--", linewidth=0.8)
        axis.tick_params(axis="x", labelsize=7)
        axis.set_xlim(left=0)  # an index is not negative; a bootstrap interval may reach below
        if column == "ST":
            axis.set_xlim(0, max(1.05, float((ranked[column] + ranked[f"{column}_conf"]).max())))
    label = "total-order Sobol' index ST" if column == "ST" else "Morris mu*"
    figure.suptitle(f"{label} with 95% bootstrap intervals (costs.* shown by name; dashed: "
                    "the no-effect parameter)", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def robustness_figure(samples: pd.DataFrame, robustness: pd.DataFrame, path: Path) -> Path:
    """One panel per claim: its quantity in every sample against its most influential
    parameter, the claim's band shaded, samples where it fails in red."""
    sampled = samples[samples["sample"] >= 0]
    profile = samples[samples["sample"] == -1]
    figure, axes = _grid(len(robustness), 3.2)
    for axis, claim in zip(axes, robustness.itertuples(), strict=False):
        top = claim.top_parameters.split(", ")[0] if claim.top_parameters else None
        values = sampled[claim.output].to_numpy(dtype=float)
        low, high = claim.band_low, claim.band_high
        holds = (low <= values) & (values <= high)
        x = sampled[top].to_numpy(dtype=float) if top else np.arange(len(values))
        axis.scatter(x[holds], values[holds], s=6, color="#4c72b0", label="holds")
        axis.scatter(x[~holds], values[~holds], s=6, color="#c44e52", label="fails")
        if top:
            axis.scatter(profile[top], profile[claim.output], marker="*", s=60, color="black",
                         label="profile", zorder=3)
        bottom, top_y = axis.get_ylim()
        axis.axhspan(max(low, bottom), min(high, top_y), color="#55a868", alpha=0.12)
        axis.set_ylim(bottom, top_y)
        axis.set_xlabel(top.removeprefix("costs.") if top
                        else "sample (no parameter moves it)", fontsize=8)
        text = textwrap.shorten(claim.text, 70, placeholder="...")
        axis.set_title(f"{claim.output}: holds in {100 * claim.share_holding:.0f}% "
                       f"(band {claim.band})\n{text}", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6, loc="best")
    figure.suptitle("Claim robustness: each claim's quantity against its most influential "
                    "parameter (shaded: the claim's band)", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
