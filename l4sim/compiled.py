"""Compiled builds of the hot modules: the same Python source, compiled by Cython.

The kernel, the engine and the workload programs run once per simulated
kernel entry; compiled (plain Cython, annotations not used as C types, so the
same semantics as the interpreter; .pxd files beside the sources make the
engine's parts and the Scheduler extension types, and the engine's hottest
generators declare their cycle counts C integers with ``@cython.locals``,
no-ops in plain Python) they run about 1.5x faster. ``make venv``
builds them into ``l4sim/_compiled/`` (``python -m l4sim.build``); the
import finder below loads a compiled module only if it was built from the
source file as it is now (its SHA-256 is in the build's manifest, with the
file's size and the interpreter's extension suffix), so an edited module runs
as Python until the next build, and so does every module whose build compiled
in its declarations (a ``cimport`` in its .pxd: the extension types' layout
would no longer match). Nothing else changes:
results are bit-identical either way (tested). ``L4SIM_PURE_PYTHON=1``
turns the compiled modules off.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DIRECTORY = PACKAGE / "_compiled"
MANIFEST = "manifest.json"
PURE_ENV = "L4SIM_PURE_PYTHON"
# the modules a simulated kernel entry runs through: every module of these sub-packages
HOT_PACKAGES = ("kernel", "sim", "workloads")
# but these, which run once per run or per scenario and never per kernel entry
# (cost profiles, the check-order and fastpath-design searches, the static scan of
# immutable fields, the workload registry and user files), and the stand-in for a
# missing Cython (never imported where there is a build): compiling them would
# only lengthen the build
COLD_MODULES = frozenset(
    {
        "l4sim.kernel.costs",
        "l4sim.kernel.config",
        "l4sim.kernel.fastpath_design",
        "l4sim.workloads.registry",
        "l4sim.workloads.user_files",
        "l4sim.sim.no_cython",
    }
)


def hot_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Module name -> source file of every module that gets compiled."""
    modules = {
        f"l4sim.{sub}.{path.stem}": path
        for sub in HOT_PACKAGES
        for path in sorted((package / sub).glob("*.py"))
        if path.stem != "__init__"
    }
    return {name: path for name, path in modules.items() if name not in COLD_MODULES}


def source_hash(path: Path) -> str:
    """What a build was made from: the module's source and its Cython declarations (.pxd)."""
    digest = hashlib.sha256(path.read_bytes())
    declarations = path.with_suffix(".pxd")
    if declarations.is_file():
        digest.update(declarations.read_bytes())
    return digest.hexdigest()


CIMPORT = re.compile(r"\s*(?:from\s+([\w.]+)\s+cimport\b|cimport\s+([\w.]+))")


def cimported(path: Path) -> set[str]:
    """The modules whose declarations the build of ``path`` compiles in (its .pxd's cimports)."""
    declarations = path.with_suffix(".pxd")
    try:
        lines = declarations.read_text().splitlines()
    except OSError:
        return set()
    return {match.group(1) or match.group(2) for match in map(CIMPORT.match, lines) if match}


def _manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def extension_suffix() -> str:
    """The file suffix of this interpreter's extension modules (its ABI)."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled build of a hot module, if it matches the module's source."""

    def __init__(self, directory: Path = DIRECTORY, package: Path = PACKAGE) -> None:
        self.directory = directory
        self.sources = hot_modules(package)
        manifest = _manifest(directory)
        # a build for another interpreter (another venv, tox, a worker) is not ours
        ours = manifest.get("suffix") == extension_suffix()
        self.built = manifest.get("modules", {}) if ours else {}
        self.failed = manifest.get("failed")

    def binary(self, name: str, _deciding: frozenset = frozenset()) -> Path | None:
        """The compiled file of module ``name``, or None.

        None: not built, stale, built for another Python, or a module whose
        declarations it compiled in runs as Python.
        """
        path = self._own_binary(name)
        if path is None:
            return None
        for other in cimported(self.sources[name]):
            if (
                other in self.sources
                and other not in _deciding
                and self.binary(other, _deciding | {name}) is None
            ):
                return None
        return path

    def _own_binary(self, name: str) -> Path | None:
        """The compiled file of module ``name`` if it matches its own source (and .pxd)."""
        entry = self.built.get(name)
        source = self.sources.get(name)
        if entry is None or source is None:
            return None
        path = self.directory / entry["file"]
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if size != entry["size"] or entry["source_sha256"] != source_hash(source):
            return None  # cut short, or built from another version of the source
        return path

    def find_spec(self, name, path=None, target=None):
        if name not in self.built:
            return None
        binary = self.binary(name)
        if binary is None:
            return None  # the ordinary finders take the source
        loader = importlib.machinery.ExtensionFileLoader(name, str(binary))
        return importlib.util.spec_from_file_location(name, binary, loader=loader)


def pure_python_requested() -> bool:
    """Whether ``L4SIM_PURE_PYTHON`` turns the compiled modules off."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def install() -> None:
    """Put the finder first on the import path (unless turned off, or already there)."""
    if pure_python_requested():
        return
    if any(isinstance(finder, CompiledFinder) for finder in sys.meta_path):
        return
    finder = CompiledFinder()
    if finder.built:
        sys.meta_path.insert(0, finder)


def status() -> dict[str, str]:
    """For every hot module: how it runs now ("compiled" or "python") in this process."""
    state = {}
    for name in hot_modules():
        module = sys.modules.get(name)
        if module is None:
            module = importlib.import_module(name)
        loader = getattr(module, "__loader__", None)
        state[name] = (
            "compiled" if isinstance(loader, importlib.machinery.ExtensionFileLoader) else "python"
        )
    return state


def summary() -> str:
    """One line: how many hot modules run compiled."""
    state = status()
    compiled = sum(value == "compiled" for value in state.values())
    if compiled == len(state):
        return f"all {compiled} hot modules compiled (Cython)"
    if compiled == 0:
        failed = CompiledFinder().failed
        if pure_python_requested():
            why = f"{PURE_ENV} is set"
        elif failed:
            why = f"the last build failed: {failed}"
        else:
            why = "not built for this Python: python -m l4sim.build"
        return f"pure Python ({why})"
    return (
        f"{compiled} of {len(state)} hot modules compiled; the others changed since "
        "the build (python -m l4sim.build)"
    )
