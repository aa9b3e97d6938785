"""The report's robustness section: which costs decide each claim, from the studies' tables.

It reads what ``make sensitivity`` wrote (``<results>/sensitivity_*/``); it
runs nothing, so ``l4sim report`` stays as fast as before and says how to get
the section when the studies have not been run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from l4sim.analysis.document import Document, Table
from l4sim.analysis.sensitivity import influence_column, noise_floor
from l4sim.analysis.style import Drawn
from l4sim.sweep.provenance import read_table

# the paper's studies, in the report's order: scenarios/<name>.toml -> <results>/<name>/
STUDIES = ("sensitivity_linux", "sensitivity_syscall", "sensitivity_ipc", "sensitivity_scaling")
HEADING = "Robustness: which costs decide each claim"


def sensitivity_section(document: Document, results: Path) -> None:
    """Per study: each claim's robustness share, its most influential costs, the figures."""
    document.heading(HEADING)
    found = [
        Path(results) / name
        for name in STUDIES
        if (Path(results) / name / "robustness.parquet").is_file()
    ]
    if not found:
        document.text(
            "No sensitivity study in this folder yet: `make sensitivity` runs them "
            "(see docs/how-to/sensitivity.md), and `l4sim report` then adds this section."
        )
        return
    document.text(
        "Each study varies every cost of the profile by +-30% except the two "
        "fitted ones (`fp_copy_exception_state`, `fp_ipc_transfer`), the clock and "
        "the timeslice. *Holds in*: the share of the study's samples in which the "
        "claim's value lies in its band. *Most influential*: the costs with the "
        "largest index above the noise floor (the index of a parameter applied to "
        "nothing); Morris' `mu_star` is in the claim's own unit. See docs/how-to/sensitivity.md "
        "for the method."
    )
    for folder in found:
        study = json.loads((folder / "study.json").read_text())
        robustness = read_table(folder / "robustness.parquet")
        indices = read_table(folder / "sensitivity.parquet")
        column = influence_column(study["method"])
        document.heading(f"`{study['scenario']}`", 3)
        document.text(
            f"{study['method']} (N = {study['samples']}; index `{column}`), "
            f"{len(study['parameters'])} parameters, {study['sampled']} samples x "
            f"{study['points_per_sample']} points x {study['replications']} "
            f"replication(s) of {study['events']} events "
            f"({study['distinct_runs']} distinct runs); noise floor (the index of "
            f"the no-effect parameter, with its interval): "
            f"{noise_floor(indices, study['method']):.3g}."
        )
        document.table(Table(robustness_rows(robustness), percent=("holds in",)))
        for figure in study.get("figures", []):
            document.figure(
                Drawn(
                    folder / figure["png"],
                    folder / figure["svg"],
                    figure["title"],
                    figure["caption"],
                )
            )


def robustness_rows(robustness: pd.DataFrame) -> pd.DataFrame:
    """The robustness table as the report shows it: one row per claim."""
    rows = []
    for row in robustness.itertuples():
        names = row.top_parameters.split(", ") if row.top_parameters else []  # type: ignore[arg-type, union-attr]  # (a table row)
        values = row.top_indices.split(", ") if row.top_indices else []  # type: ignore[arg-type, union-attr]
        top = ", ".join(
            f"`{name.removeprefix('costs.')}` ({value})"
            for name, value in zip(names, values, strict=False)
        )
        rows.append(
            {
                "claim": row.output,
                "what": row.text,
                "band": row.band,
                "at the profile": float(row.at_profile),  # type: ignore[arg-type]
                "holds in": float(row.share_holding),  # type: ignore[arg-type]
                "most influential (index)": top or "none above the floor",
                "where it fails": row.fails_where,
            }
        )
    return pd.DataFrame(rows)
