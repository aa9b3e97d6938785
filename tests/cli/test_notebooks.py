"""The notebooks run from a fresh checkout: every cell, in a real kernel (nbclient).

Their results go to a temporary folder (``L4SIM_RESULTS``), so the test neither
needs nor touches ``results/``.
"""

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # executes the notebooks

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
spec = importlib.util.spec_from_file_location("execute", NOTEBOOKS / "execute.py")
execute = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute)


def test_both_notebooks_are_there():
    assert [p.name for p in execute.notebooks()] == ["01-reproduce-paper.ipynb", "02-explore.ipynb"]


@pytest.mark.parametrize("path", execute.notebooks(), ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)


@pytest.mark.parametrize("path", execute.notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("L4SIM_RESULTS", str(tmp_path / "results"))
    notebook = execute.execute(path, timeout=240, review=True)  # every figure reviewed
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure drawn"
    assert any((tmp_path / "results").rglob("summary.parquet"))
    # everything it wrote is under results/notebooks/: the report's figures stay
    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    outside = [p for p in written if (tmp_path / "results" / "notebooks") not in p.parents]
    assert written and not outside, outside
