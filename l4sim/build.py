"""Compile l4sim's hot modules with Cython: ``python -m l4sim.build`` (``make venv`` runs it).

Plain Cython on the unchanged source (annotations are not turned into C
types), so the compiled modules behave exactly as the Python ones; see
:mod:`l4sim.compiled` for how and when they are used. Without Cython or a C
compiler it says so in one line and l4sim runs as pure Python.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from l4sim.compiled import DIRECTORY, MANIFEST, hot_modules, source_hash, summary


def build(directory: Path = DIRECTORY, jobs: int | None = None) -> int:
    """Compile every hot module into ``directory``; returns how many were built."""
    from Cython.Build import cythonize  # only the build needs Cython and a C compiler
    from setuptools import Distribution, Extension

    jobs = jobs or os.cpu_count() or 1
    modules = hot_modules()
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        extensions = cythonize(
            [Extension(name, [str(path)]) for name, path in modules.items()],
            build_dir=str(work / "c"), nthreads=jobs, quiet=True,
            # plain Python semantics: annotations are documentation, not C types
            compiler_directives={"language_level": 3, "annotation_typing": False})
        command = Distribution({"ext_modules": extensions}).get_command_obj("build_ext")
        command.build_lib = str(work / "lib")
        command.build_temp = str(work / "temp")
        command.parallel = jobs
        command.ensure_finalized()
        command.run()
        staged = work / "out"
        staged.mkdir()
        entries = {}
        for name, path in modules.items():
            parts = name.split(".")
            built = (work / "lib").joinpath(*parts[:-1], parts[-1] + suffix)
            file = name + suffix
            shutil.copy2(built, staged / file)
            entries[name] = {"file": file, "source_sha256": source_hash(path)}
        import Cython

        (staged / MANIFEST).write_text(json.dumps(
            {"cython": Cython.__version__, "python": sys.version.split()[0],
             "modules": entries}, indent=1, sort_keys=True))
        # replace the whole directory at once: never a manifest naming missing files
        if directory.exists():
            shutil.rmtree(directory)
        shutil.copytree(staged, directory)
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m l4sim.build",
        description="Compile l4sim's hot modules with Cython (same source, same results).")
    parser.add_argument("--status", action="store_true", help="only say how they run now")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiler jobs")
    args = parser.parse_args(argv)
    if not args.status:
        try:
            count = build(jobs=args.jobs)
        except ImportError as error:
            print(f"l4sim: not compiled ({error}); it runs as pure Python", file=sys.stderr)
            return 0
        except Exception as error:  # a compiler missing or failing: Python still works
            print(f"l4sim: compiling failed ({type(error).__name__}: {error}); "
                  "it runs as pure Python", file=sys.stderr)
            return 0
        print(f"l4sim: compiled {count} hot modules into {DIRECTORY}")
        return 0
    print(summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
