"""Every make target the project promises is there and documented in 'make help' and the README."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # make in a subprocess

ROOT = Path(__file__).parents[2]
TARGETS = ["venv", "figures", "sweep", "report", "notebooks", "bench", "test", "docs", "clean"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_help_lists_every_target():
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = re.findall(r"^\s+make (\S+)", shown, flags=re.MULTILINE)
    assert set(TARGETS) <= set(listed), listed
    readme = (ROOT / "README.md").read_text()
    for target in TARGETS:
        assert f"`make {target}" in readme, target
