"""Compile l4sim's hot modules with Cython: ``python -m l4sim.build`` (``make venv`` runs it).

Plain Cython on the unchanged source (annotations are not turned into C
types; only the engine's explicit ``@cython.locals`` declarations are, for
cycle counts that are whole numbers far below 2**63 and the engine's own
extension types), so the compiled modules behave exactly as the Python ones; see
:mod:`l4sim.compiled` for how and when they are used. The new build replaces
the old one by renames, so an importer sees one or the other, whole. Without
Cython or a C compiler, or if compiling fails, it says so in one line (the
compiler's output is in ``l4sim/_compiled.log``), leaves a manifest that
records why (``--status`` tells), and every module runs as pure Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from l4sim.compiled import (
    DIRECTORY,
    MANIFEST,
    extension_suffix,
    hot_modules,
    source_hash,
    summary,
)

# No debug information, although Python's own compiler flags ask for it (-g): it
# does not change the code gcc and clang make, and writing it took about a quarter of
# the build's time. MSVC takes no such flag.
NO_DEBUG_INFO = [] if os.name == "nt" else ["-g0"]


def build(directory: Path = DIRECTORY, jobs: int | None = None, log=None) -> int:
    """Compile every hot module into ``directory``; returns how many were built.

    ``log``, if given, is a file that takes the compiler's output.
    """
    from Cython.Build import cythonize  # only the build needs Cython and a C compiler
    from setuptools import Distribution, Extension

    jobs = jobs or os.cpu_count() or 1
    modules = hot_modules()
    suffix = extension_suffix()
    with tempfile.TemporaryDirectory() as folder, _output_to(log):
        work = Path(folder)
        extensions = cythonize(
            [
                Extension(name, [str(path)], extra_compile_args=NO_DEBUG_INFO)
                for name, path in modules.items()
            ],
            build_dir=str(work / "c"),
            nthreads=jobs,
            quiet=True,
            # plain Python semantics: annotations are documentation, not C types
            compiler_directives={"language_level": 3, "annotation_typing": False},
        )
        command = Distribution({"ext_modules": extensions}).get_command_obj("build_ext")
        command.build_lib = str(work / "lib")
        command.build_temp = str(work / "temp")
        command.parallel = jobs
        command.ensure_finalized()
        command.run()
        entries = {}
        staged = _staging(directory)
        for name, path in modules.items():
            parts = name.split(".")
            built = (work / "lib").joinpath(*parts[:-1], parts[-1] + suffix)
            file = name + suffix
            shutil.copyfile(built, staged / file)
            entries[name] = {
                "file": file,
                "source_sha256": source_hash(path),
                "size": (staged / file).stat().st_size,
            }
        import Cython

        _write_manifest(staged, {"cython": Cython.__version__, "modules": entries})  # type: ignore[attr-defined]
        _swap_in(staged, directory)
    return len(entries)


def record_failure(reason: str, directory: Path = DIRECTORY) -> None:
    """Replace any build by an empty one that says why: everything runs as Python."""
    staged = _staging(directory)
    _write_manifest(staged, {"failed": reason, "modules": {}})
    _swap_in(staged, directory)


def _staging(directory: Path) -> Path:
    staged = directory.with_name(directory.name + ".new")
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    return staged


def _write_manifest(staged: Path, fields: dict) -> None:
    manifest = {"python": sys.version.split()[0], "suffix": extension_suffix(), **fields}
    (staged / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _swap_in(staged: Path, directory: Path) -> None:
    """Put the staged build in place with renames: an importer sees the old one or the new."""
    old = directory.with_name(directory.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if directory.exists():
        directory.rename(old)
    staged.rename(directory)
    if old.exists():
        shutil.rmtree(old)


@contextmanager
def _output_to(log):
    """Send this process's and its children's (the compiler's) output to ``log``."""
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m l4sim.build",
        description="Compile l4sim's hot modules with Cython (same source, same results).",
    )
    parser.add_argument("--status", action="store_true", help="only say how they run now")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiler jobs")
    args = parser.parse_args(argv)
    if args.status:
        print(summary())
        return 0
    log_path = DIRECTORY.with_name(DIRECTORY.name + ".log")
    try:
        with open(log_path, "w") as log:
            count = build(jobs=args.jobs, log=log)
    except Exception as error:  # no Cython, no compiler, a compiler error, a full disk
        first = str(error).splitlines()[0] if str(error) else ""
        reason = (
            first
            if isinstance(error, ImportError)
            else f"{type(error).__name__}: {first[:120]}; the compiler's output is in {log_path}"
        )
        with contextlib.suppress(OSError):  # nothing writable: the finder then finds no build
            record_failure(reason)
        print(
            f"l4sim: not compiled ({reason}); every module runs as pure Python "
            "(same results, slower)",
            file=sys.stderr,
        )
        return 0
    print(f"l4sim: compiled {count} hot modules into {DIRECTORY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
