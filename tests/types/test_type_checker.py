"""The type checker catches what a run would only find as an AttributeError.

mypy runs once, with the project's configuration (pyproject.toml), on small
files that use the kernel's API, and each test asserts what it reports for
its file: a misspelt attribute of a kernel object or of a check's context is
an error (``attr-defined``), and correct code (a user's fastpath variant)
passes. The project's own cache (``make test`` runs mypy first) is copied in,
so the package itself is not checked again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "producer_consumer" / "my_fastpath.py"

pytestmark = pytest.mark.skipif(
    shutil.which("mypy", path=str(Path(sys.executable).parent)) is None
    and not (Path(sys.executable).parent / "mypy").exists(),
    reason="mypy is not installed (dev extras)",
)


@dataclass
class Report:
    """What mypy said about one file."""

    errors: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.errors)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Mypy's errors per file, one run over every file the tests below check."""
    folder = tmp_path_factory.mktemp("typed")
    paths = {name: folder / f"{name}.py" for name in SOURCES}
    for name, path in paths.items():
        path.write_text(textwrap.dedent(SOURCES[name]))
    paths["example"] = EXAMPLE
    cache = folder / ".mypy_cache"
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", cache)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            *map(str, paths.values()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy itself failed
    errors = [line for line in result.stdout.splitlines() if " error: " in line]
    found = {path.resolve(): Report([]) for path in paths.values()}
    for line in errors:
        where = (ROOT / line.split(":", 1)[0]).resolve()  # mypy names a file as it was given
        assert where in found, f"an error in a file not checked here: {line}"
        found[where].errors.append(line)
    return {name: found[path.resolve()] for name, path in paths.items()}


PATH_WITH_TYPOS = """
    from l4sim.kernel.effects import KernelPath, Spend
    from l4sim.kernel.objects import Thread
    from l4sim.kernel.state import KernelState


    def my_path(kernel: KernelState, cpu: int, current: Thread) -> KernelPath[None]:
        yield Spend(kernel.costs.kernel_entry)
        if current.stae is None:
            kernel.scheduer.make_ready(current)
"""


def test_a_misspelt_attribute_of_a_kernel_object_is_an_error(reports: dict[str, Report]) -> None:
    report = reports["path_with_typos"]
    assert '"Thread" has no attribute "stae"' in report.text
    assert '"KernelState" has no attribute "scheduer"' in report.text
    assert report.text.count("[attr-defined]") == 2, report.text


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


def test_a_misspelt_attribute_in_a_users_check_is_an_error(reports: dict[str, Report]) -> None:
    report = reports["checks_with_typos"]
    for typo in ('"wrods"', '"cpuu"', '"handlr"'):
        assert typo in report.text, report.text
    # one line each (the operation's typo is reported once per kind of operation)
    lines = {line.split(":")[1] for line in report.errors}
    assert len(lines) == 3, report.text


WRONG_FASTPATH = """
        from l4sim.kernel.checks import Check, Stage
        from l4sim.kernel.exception_checks import ExceptionContext
        from l4sim.workloads.fastpath_variants import FastpathChecks

        MINE = Check[ExceptionContext](
            "mine", Stage.LOCK_FREE, "check_load_compare", lambda c: c.handler is None, "why"
        )
        FASTPATH_CHECKS: FastpathChecks = {"ipc": (MINE,)}
    """
SOURCES = {
    "path_with_typos": PATH_WITH_TYPOS,
    "checks_with_typos": CHECKS_WITH_TYPOS,
    "wrong_fastpath": WRONG_FASTPATH,
}


def test_a_check_of_the_wrong_fastpath_is_an_error(reports: dict[str, Report]) -> None:
    report = reports["wrong_fastpath"]
    assert report.errors, "no error reported"
    assert "ExceptionContext" in report.text and "IpcContext" in report.text


def test_the_example_fastpath_variant_type_checks(reports: dict[str, Report]) -> None:
    assert reports["example"].errors == []
