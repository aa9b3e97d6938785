"""Whose results an output folder holds: one scenario's, or one study's, never two.

An output folder holds the results of one thing: a scenario's sweep (``l4sim
run``, and ``l4sim report`` for each of its scenarios), a sensitivity study
(``l4sim sensitivity``) or a comparison with measurements (``l4sim compare``).
Writing another's results into it would replace its tables without a word and
leave its figures beside tables they were not drawn from, so it is refused in
one line, unless asked (``--overwrite``): then the previous results go first.
The cache of runs stays, as each run is filed under its own configuration and
can be mistaken for no other (:mod:`l4sim.sweep.cache`). The same scenario may
write its folder again, with other values (``--set``, an edited sweep): its runs
are then reused from the cache.

A figure is drawn from the tables beside it: when a run writes tables that
differ from those before them, the figures l4sim drew from the old ones are
removed (a figure is l4sim's when its metadata says so, see
:func:`l4sim.sweep.provenance.figure_metadata`), so no figure shows other data
than the tables beside it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from l4sim.sweep.cache import CacheError
from l4sim.sweep.provenance import FIGURE_CREATOR, of_table, read_file

# what each kind of result is called in a message
KINDS = {
    "run": "scenario",
    "sensitivity": "sensitivity study of",
    "compare": "comparison with",
}
KEPT = frozenset({"cache", ".lock"})  # what --overwrite leaves in a folder
# an SVG's creator, as matplotlib writes its metadata (l4sim's figures name l4sim)
SVG_CREATOR = re.compile(rb"<dc:creator>\s*<cc:Agent>\s*<dc:title>" + re.escape(FIGURE_CREATOR))
SVG_HEAD_BYTES = 16 * 1024  # the metadata comes first in the file


class FolderTaken(CacheError):
    """An output folder holding another scenario's or study's results (one line, exit 2)."""


def owner(out_dir: Path) -> tuple[str, str] | None:
    """(kind, name) of the results ``out_dir`` holds; None: none (or none l4sim can tell)."""
    out_dir = Path(out_dir)
    recorded = read_file(out_dir)
    if recorded is not None and recorded.get("kind") and recorded.get("scenario"):
        return str(recorded["kind"]), str(recorded["scenario"])
    table = out_dir / "points.parquet"
    found = of_table(table)
    if found is not None and found.scenario:
        return found.kind or "run", found.scenario
    if table.is_file():  # written before tables carried their provenance: the name column
        try:
            names = pq.read_table(table, columns=["name"]).column("name").unique().to_pylist()
        except (OSError, KeyError, pa.ArrowException):
            names = []
        if len(names) == 1:
            return "run", str(names[0])
    try:
        study = json.loads((out_dir / "study.json").read_text())
        return "sensitivity", str(study["scenario"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if (out_dir / "compare.csv").is_file():
        return "compare", "sel4bench"
    return None


def describe(kind: str, name: str) -> str:
    """'scenario 'linux'', 'sensitivity study of 'linux''."""
    return f"{KINDS.get(kind, kind)} '{name}'"


def claim(out_dir: Path, kind: str, name: str, overwrite: bool = False) -> None:
    """Make sure ``out_dir`` may take the results of ``kind`` ``name``.

    A folder holding another's results is refused (:class:`FolderTaken`), or,
    with ``overwrite``, emptied of them first. Nothing is written otherwise.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    holds = owner(out_dir)
    if holds is None or holds == (kind, name):
        return
    if not overwrite:
        raise FolderTaken(
            f"{out_dir}: holds the results of {describe(*holds)}, not of "
            f"{describe(kind, name)} (give another --out, or --overwrite to replace them)"
        )
    remove_results(out_dir)


def remove_results(out_dir: Path) -> None:
    """Remove the results ``out_dir`` holds: all but the cache of runs (and the lock)."""
    for path in Path(out_dir).iterdir():
        if path.name in KEPT:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def figures(out_dir: Path) -> list[Path]:
    """The figures l4sim drew in ``out_dir`` (PNG and SVG files that say so)."""
    return sorted(
        path
        for path in Path(out_dir).iterdir()
        if path.suffix in (".png", ".svg") and path.is_file() and is_l4sim_figure(path)
    )


def is_l4sim_figure(path: Path) -> bool:
    """Whether l4sim drew the figure at ``path`` (its metadata names l4sim as creator)."""
    try:
        if path.suffix == ".svg":
            with path.open("rb") as svg:
                return SVG_CREATOR.search(svg.read(SVG_HEAD_BYTES)) is not None
        from PIL import Image  # (matplotlib's own dependency)

        with Image.open(path) as image:
            text = getattr(image, "text", {}) or {}
            return str(text.get("Software", "")).startswith(FIGURE_CREATOR.decode())
    except (OSError, ValueError, SyntaxError):  # not a readable image: not one of ours
        return False


def remove_stale_figures(out_dir: Path) -> list[Path]:
    """Remove the figures l4sim drew in ``out_dir`` (its tables changed); the removed."""
    removed = figures(out_dir)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
