"""The model version: a hash of exactly the code that decides a run's records.

That code is the import closure of the two entry points a run's result
depends on: :mod:`l4sim.simulation.worker` (one run) and
:mod:`l4sim.sweep.fastpath_designs` (the order or design a point's runs are
given), with every built-in workload and fastpath variant (imported by name).
Each module's source counts, with its Cython declarations (``.pxd``) where it
has them, and so does the outcome of the static scan of written fields
(:mod:`l4sim.design.immutability`) for the fields the built-in checks read:
the scan reads the whole package, and an edit anywhere that makes such a
field written (or no longer written) changes what a hoisted check may rest on.
The versions of the libraries that shape a result count too (numpy and SimPy
draw the random streams and run the clock; pydantic validates the keys).

The closure is found by reading the sources' import statements (any depth,
so imports inside functions count), not by importing them: a copy of the
package elsewhere can be hashed, and nothing is executed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from importlib.metadata import version
from pathlib import Path

from l4sim.design.immutability import scan_written_fields
from l4sim.kernel.ipc_checks import NOTIFY_CHECKS
from l4sim.kernel.state import PAPER_FASTPATHS
from l4sim.workloads.fastpath_variants import BUILTIN_VARIANTS, load_fastpath_variant
from l4sim.workloads.registry import BUILTIN

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = "l4sim"
ENTRY_POINTS = (
    "l4sim.simulation.worker",
    "l4sim.sweep.fastpath_designs",
    *BUILTIN.values(),
    *BUILTIN_VARIANTS.values(),
)
LIBRARIES = ("numpy", "simpy", "pydantic")
# the fields the built-in checks read: whether each is written decides what may be hoisted
READ_FIELDS = frozenset(
    field
    for checks in (
        *PAPER_FASTPATHS.values(),
        NOTIFY_CHECKS,
        *(c for name in BUILTIN_VARIANTS for c in load_fastpath_variant(name).values()),
    )
    for check in checks
    for field in check.reads
)


@functools.lru_cache(maxsize=1)
def model_version() -> str:
    """This package's model version (see the module's description)."""
    return source_digest(PACKAGE)


def source_digest(package: Path) -> str:
    """The model version of the package at ``package``."""
    digest = hashlib.sha256()
    for path in model_sources(package):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(" ".join(sorted(scan_written_fields(package) & READ_FIELDS)).encode() + b"\0")
    digest.update(" ".join(f"{name} {version(name)}" for name in LIBRARIES).encode())
    return digest.hexdigest()[:16]


def model_sources(package: Path = PACKAGE) -> list[Path]:
    """The sources (``.py``, and ``.pxd`` beside them) of the entry points' import closure."""
    seen: set[Path] = set()
    todo = [path for name in ENTRY_POINTS if (path := _source(package, name)) is not None]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imported(package, path))
    declarations = {path.with_suffix(".pxd") for path in seen}
    return sorted(seen | {path for path in declarations if path.is_file()})


def _imported(package: Path, path: Path) -> list[Path]:
    """The package's modules that ``path`` imports, anywhere in its source."""
    found: list[Path] = []
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from l4sim.x import y": y is a submodule or a name in l4sim.x
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.extend(source for name in names if (source := _source(package, name)) is not None)
    return found


def _source(package: Path, module: str) -> Path | None:
    """The source of ``module`` if it is one of the package's, else None.

    The package's own ``__init__`` holds its version and the names of its
    public API, not the model: it does not count.
    """
    parts = module.split(".")
    if parts[0] != ROOT or len(parts) == 1:
        return None
    base = package.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
