"""The report's robustness section: which costs decide each claim, from the studies' tables.

It reads what ``make sensitivity`` wrote (``<results>/sensitivity_*/``); it
runs nothing, so ``l4sim report`` stays as fast as before and says how to get
the section when the studies have not been run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from l4sim.analysis.sensitivity import influence_column, noise_floor

# the paper's studies, in the report's order: scenarios/<name>.toml -> <results>/<name>/
STUDIES = ("sensitivity_linux", "sensitivity_syscall", "sensitivity_ipc",
           "sensitivity_scaling")


def sensitivity_section(results: Path) -> str:
    """Markdown: per study, each claim's robustness share and most influential costs."""
    lines = ["", "## Robustness: which costs decide each claim", ""]
    found = [results / name for name in STUDIES
             if (results / name / "robustness.parquet").is_file()]
    if not found:
        lines.append("No sensitivity study in this folder yet: `make sensitivity` runs them "
                     "(see docs/sensitivity.md), and `l4sim report` then adds this section.")
        return "\n".join(lines) + "\n"
    lines += ["Each study varies every cost of the profile by +-30% except the two fitted "
              "ones (`fp_copy_exception_state`, `fp_ipc_transfer`), the clock and the "
              "timeslice. *Holds in*: the share of the study's samples in which the claim's "
              "value lies in its band. *Most influential*: the costs with the largest index "
              "above the noise floor (the index of a parameter applied to nothing); Morris' "
              "mu* is in the claim's own unit. See docs/sensitivity.md for the method.", ""]
    for folder in found:
        study = json.loads((folder / "study.json").read_text())
        robustness = pd.read_parquet(folder / "robustness.parquet")
        indices = pd.read_parquet(folder / "sensitivity.parquet")
        column = influence_column(study["method"])
        lines += [f"### `{study['scenario']}`", "",
                  f"{study['method']} (N = {study['samples']}), {len(study['parameters'])} "
                  f"parameters, {study['sampled']} samples x {study['points_per_sample']} "
                  f"points x {study['replications']} replication(s) of {study['events']} "
                  f"events ({study['distinct_runs']} distinct runs); noise floor "
                  f"({column} of the no-effect parameter, with its interval): "
                  f"{noise_floor(indices, study['method']):.3g}.", "",
                  f"| claim | what | band | at the profile | holds in | most influential "
                  f"({column}) | where it fails |", "|---|---|---|---|---|---|---|"]
        for row in robustness.itertuples():
            top = ", ".join(f"`{name.removeprefix('costs.')}` ({value})" for name, value in
                            zip(row.top_parameters.split(", "), row.top_indices.split(", "),
                                strict=False)) if row.top_parameters else "none above the floor"
            lines.append(f"| {row.output} | {row.text} | {row.band} | {row.at_profile:.4g} | "
                         f"{100 * row.share_holding:.0f}% | {top} | {row.fails_where} |")
        lines += ["", f"Figures: [indices]({folder.name}/sensitivity.png), "
                  f"[robustness]({folder.name}/robustness.png).", ""]
    return "\n".join(lines) + "\n"
