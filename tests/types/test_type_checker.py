"""The type checker catches what a run would only find as an AttributeError.

Each test runs mypy, with the project's configuration (pyproject.toml), on a
small file that uses the kernel's API, and asserts what mypy reports: a
misspelt attribute of a kernel object or of a check's context is an error
(``attr-defined``), and correct code (a user's fastpath variant) passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "producer_consumer" / "my_fastpath.py"

pytestmark = pytest.mark.skipif(
    shutil.which("mypy", path=str(Path(sys.executable).parent)) is None
    and not (Path(sys.executable).parent / "mypy").exists(),
    reason="mypy is not installed (dev extras)",
)


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """mypy, configured as the project is, on ``source`` (a file of its own)."""
    path = tmp_path / "user_code.py"
    path.write_text(textwrap.dedent(source))
    return run_mypy(path, tmp_path)


def run_mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache / ".mypy_cache"),
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


PATH_WITH_TYPOS = """
    from l4sim.kernel.effects import KernelPath, Spend
    from l4sim.kernel.objects import Thread
    from l4sim.kernel.state import KernelState


    def my_path(kernel: KernelState, cpu: int, current: Thread) -> KernelPath[None]:
        yield Spend(kernel.costs.kernel_entry)
        if current.stae is None:
            kernel.scheduer.make_ready(current)
"""


def test_a_misspelt_attribute_of_a_kernel_object_is_an_error(tmp_path: Path) -> None:
    result = mypy(tmp_path, PATH_WITH_TYPOS)
    assert result.returncode == 1, result.stdout
    assert '"Thread" has no attribute "stae"' in result.stdout
    assert '"KernelState" has no attribute "scheduer"' in result.stdout
    assert result.stdout.count("[attr-defined]") == 2, result.stdout


CHECKS_WITH_TYPOS = """
    from l4sim.kernel.checks import Check, Stage
    from l4sim.kernel.exception_checks import ExceptionContext
    from l4sim.kernel.ipc_checks import IpcContext
    from l4sim.workloads.fastpath_variants import FastpathChecks

    SHORT: Check[IpcContext] = Check(
        "short", Stage.LOCK_FREE, "check_load_compare", lambda c: c.op.wrods <= 2, "why"
    )
    NEAR = Check[IpcContext](
        "near", Stage.SCHEDULER, "check_load_compare", lambda c: c.dest.cpu == c.cpuu, "why"
    )
    FASTPATH_CHECKS: FastpathChecks = {
        "ipc": (SHORT, NEAR),
        "syscall_exception": (
            Check[ExceptionContext](
                "mine", Stage.LOCK_FREE, "check_load_compare", lambda c: c.handlr is None, "why"
            ),
        ),
    }
"""


def test_a_misspelt_attribute_in_a_users_check_is_an_error(tmp_path: Path) -> None:
    result = mypy(tmp_path, CHECKS_WITH_TYPOS)
    assert result.returncode == 1, result.stdout
    for typo in ('"wrods"', '"cpuu"', '"handlr"'):
        assert typo in result.stdout, result.stdout
    # one line each (the operation's typo is reported once per kind of operation)
    lines = {line.split(":")[1] for line in result.stdout.splitlines() if " error: " in line}
    assert len(lines) == 3, result.stdout


def test_a_check_of_the_wrong_fastpath_is_an_error(tmp_path: Path) -> None:
    source = """
        from l4sim.kernel.checks import Check, Stage
        from l4sim.kernel.exception_checks import ExceptionContext
        from l4sim.workloads.fastpath_variants import FastpathChecks

        MINE = Check[ExceptionContext](
            "mine", Stage.LOCK_FREE, "check_load_compare", lambda c: c.handler is None, "why"
        )
        FASTPATH_CHECKS: FastpathChecks = {"ipc": (MINE,)}
    """
    result = mypy(tmp_path, source)
    assert result.returncode == 1, result.stdout
    assert "ExceptionContext" in result.stdout and "IpcContext" in result.stdout


def test_the_example_fastpath_variant_type_checks(tmp_path: Path) -> None:
    result = run_mypy(EXAMPLE, tmp_path)
    assert result.returncode == 0, result.stdout
