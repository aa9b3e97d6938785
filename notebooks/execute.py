"""Execute the notebooks headless with nbclient, as a reader's Jupyter would.

The notebooks are stored without outputs (git diffs stay readable); this runs
each one in a fresh kernel with the notebooks folder as working directory and
writes the executed copy to ``OUT`` (default ``results/notebooks/``). Used by
``make notebooks`` and by ``tests/test_notebooks.py``.

    python notebooks/execute.py [NOTEBOOK ...] [--out OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT = 600  # seconds per cell


def notebooks() -> list[Path]:
    return sorted(HERE.glob("[0-9][0-9]-*.ipynb"))


# with --review: a cell first, so that every figure is reviewed as it is drawn
# (l4sim.analysis.figure_review), and one last, failing if any figure had a defect
REVIEW_FIRST = """\
from pathlib import Path as _Path
from l4sim.analysis.figure_review import watch as _watch
_scenarios = {p.stem for p in (_Path.cwd().parent / "scenarios").glob("*.toml")}
_problems = _watch(get_ipython(), _scenarios, nonnegative=True)"""
REVIEW_LAST = "assert not _problems, '\\n'.join(_problems)"


def execute(path: Path, out_dir: Path | None = None, timeout: int = TIMEOUT, review: bool = False):
    """Run every cell of ``path``; raises nbclient's CellExecutionError on a failing cell.

    ``review``: every figure the notebook draws must pass the figure review (a
    quantity a notebook plots is never negative: cycles, shares); the copy
    written to ``out_dir`` is then without the two added cells.
    """
    notebook = nbformat.read(path, as_version=4)
    if review:
        notebook.cells = [
            nbformat.v4.new_code_cell(REVIEW_FIRST),
            *notebook.cells,
            nbformat.v4.new_code_cell(REVIEW_LAST),
        ]
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
    ).execute()
    if review:
        notebook.cells = notebook.cells[1:-1]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out_dir / path.name)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "notebooks")
    args = parser.parse_args(argv)
    for path in args.notebooks or notebooks():
        start = time.monotonic()
        execute(path, args.out)
        print(f"{path.name}: ok in {time.monotonic() - start:.0f} s -> {args.out / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
