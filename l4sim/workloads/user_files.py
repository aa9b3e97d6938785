"""Loading a user's Python file (a workload or a fastpath variant) as a module.

Each file is imported once per process under a name derived from its path,
so two files of the same name do not clash, and a file that cannot be
imported (a syntax error, an exception at import, a missing file) is one
line naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PREFIX = "l4sim_user_"  # the module names users' files are imported under


def is_path(value: str) -> bool:
    """A workload, profile or fastpath variant given as a file rather than by name."""
    return "/" in value or value.endswith((".py", ".toml"))


class UserFileError(ValueError):
    """A user's file that cannot be used: the message is one line naming the file."""


class UserCodeError(ValueError):
    """A user's own code (a workload, a check) raised while it ran.

    One line naming the file and line, and the exception. Picklable: it
    crosses from worker processes.
    """


def load_python_file(path: str | Path) -> ModuleType:
    """Import the Python file at ``path`` (absolute, or relative to the current folder)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise UserFileError(f"{path}: file not found")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    name = f"{PREFIX}{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    # a loader for Python source whatever the file's suffix (.py is only a convention)
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # (a source file)
    sys.modules[name] = module  # (dataclasses and pydantic look their module up)
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except SyntaxError as error:
        del sys.modules[name]
        raise UserFileError(f"{path}: syntax error at line {error.lineno}: {error.msg}") from None
    except Exception as error:  # whatever the user's code raises at import: one line
        del sys.modules[name]
        where = _user_line(error, path)
        raise UserFileError(
            f"{path}:{where} importing it raised {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from None
    return module


def file_digest(path: str | Path) -> str:
    """A hash of a file's contents (part of a cached result's key)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _user_line(error: BaseException, path: Path) -> str:
    """`` line N:`` of the deepest frame in the user's file, if any."""
    line = ""
    trace = error.__traceback__
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename).resolve() == path:
            line = f" line {trace.tb_lineno}:"
        trace = trace.tb_next
    return line


def raised_in_user_code(error: BaseException) -> UserCodeError | None:
    """The one-line error for an exception raised in a user's file (None: it was not).

    The deepest frame that belongs to a user's file names the place; the
    exception SimPy re-raises for a failed process keeps the original as its cause.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        where = None
        trace = error.__traceback__
        while trace is not None:
            if trace.tb_frame.f_globals.get("__name__", "").startswith(PREFIX):
                where = f"{trace.tb_frame.f_code.co_filename}:{trace.tb_lineno}"
            trace = trace.tb_next
        if where is not None:
            text = str(error).splitlines()[0] if str(error) else ""
            return UserCodeError(f"{where}: your code raised {type(error).__name__}: {text}")
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return None
