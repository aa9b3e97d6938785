"""Do a study's reduced event counts move its indices? The same study at two run lengths.

The paper's studies run fewer events per sample than the report's scenarios
(500 or 1000 against 3000). This runs the syscall study's four most
influential costs (Morris, 6 trajectories) at its reduced length and at the
full 3000 events, with the same samples and streams, and prints per output
whether each parameter's mu* intervals overlap and whether the ranking
changes. Run: ``.venv/bin/python scripts/sensitivity_events_check.py [--jobs N]``
(about 400 runs; results in ``results/events_check/``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from l4sim import load_scenario
from l4sim.analysis.sensitivity import NO_EFFECT, run_study, study_from

SCENARIO = Path(__file__).parents[1] / "scenarios" / "sensitivity_syscall.toml"
PARAMS = [
    f"costs.{name}=-30%:+30%"
    for name in ("context_switch", "lock_handoff", "kernel_entry", "line_transfer")
]
LENGTHS = {"reduced": [], "full": ["events=3000", "warmup_events=300"]}


def compare(reduced: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """Per (output, parameter): both mu*, whether their 95% intervals overlap, both ranks."""
    both = reduced.merge(full, on=["output", "parameter"], suffixes=("_reduced", "_full"))
    both = both[both["parameter"] != NO_EFFECT].dropna(subset=["mu_star_reduced"])
    low = {k: both[f"mu_star_{k}"] - both[f"mu_star_conf_{k}"] for k in LENGTHS}
    high = {k: both[f"mu_star_{k}"] + both[f"mu_star_conf_{k}"] for k in LENGTHS}
    both["overlap"] = (low["reduced"] <= high["full"]) & (low["full"] <= high["reduced"])
    for k in LENGTHS:
        both[f"rank_{k}"] = both.groupby("output")[f"mu_star_{k}"].rank(ascending=False)
    return both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    indices = {}
    for length, overrides in LENGTHS.items():
        study = study_from(load_scenario(SCENARIO, overrides), PARAMS, [], "morris", 6)
        out = Path("results") / "events_check" / f"syscall_{length}"
        indices[length] = run_study(study, out, jobs=args.jobs).indices
    table = compare(indices["reduced"], indices["full"])
    columns = [
        "output",
        "parameter",
        "mu_star_reduced",
        "mu_star_conf_reduced",
        "mu_star_full",
        "mu_star_conf_full",
        "overlap",
        "rank_reduced",
        "rank_full",
    ]
    with pd.option_context("display.width", 200):
        print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    tops = table[table["rank_reduced"] == 1].set_index("output")["rank_full"]
    print(
        f"\nintervals overlapping: {int(table['overlap'].sum())} of {len(table)}; "
        f"most influential parameter unchanged in {int((tops == 1).sum())} of {len(tops)} "
        "outputs"
    )


if __name__ == "__main__":
    main()
