"""What made a result: the program, its source, the model, the scenario, the seeds, the command.

Every table (Parquet key-value metadata, key ``l4sim.provenance``), figure (PNG
text chunks, SVG metadata and a footer line a reader can cite) and report (a
header block) carries it, so that a reader can cite a result and make it again:

- ``program``: ``l4sim`` and its version (the package's metadata: pyproject.toml);
- ``commit`` and ``tree``: the git commit of the source and whether its tracked
  files were modified (``clean``, ``modified``; ``unknown`` outside a git
  checkout or without git);
- ``model``: the model version (:mod:`l4sim.sweep.model_version`), the hash of
  exactly the code that decides a run's records;
- ``scenario``, ``scenario_file``, ``scenario_sha256``: the scenario's name, its
  file as given and a hash of its bytes;
- ``seeds``: the root seeds of its points, and the replications each runs (every
  random stream derives from them);
- ``command``: the command line, less the options that only say how or where to
  run (``--jobs``, ``--scheduler``, ``--quiet``, ``--force``, ``--overwrite``,
  ``--out``): a result is the same on any number of workers, in any folder, and
  so are its files.

The date is the one fact that differs between two runs of the same command on
the same source, so it is kept apart: in ``provenance.json`` beside the tables
(with the whole command line as typed and the Python that ran it). Tables and
SVG figures hold no date, and the same inputs give byte-identical files; to
compare two results, compare every file but ``provenance.json``. That file
also records each table's SHA-256, and :func:`read_table` reads a table only
if its bytes still match: a damaged or edited table is refused, never read
as results.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from l4sim.sweep.model_version import model_version

# the key of a table's provenance in its Parquet metadata
METADATA_KEY = b"l4sim.provenance"
# the file beside the tables with the date and the whole command line
FILE = "provenance.json"
DIGESTS = "sha256"  # provenance.json's record of each table's SHA-256, checked on reading
UNKNOWN = "unknown"
# how a figure's metadata names its creator: l4sim's version follows
FIGURE_CREATOR = b"l4sim "
# options that say how or where to run, not what: left out of the command the files
# record (with the number of values each takes)
EXECUTION_OPTIONS = {
    "--out": 1,
    "--results": 1,
    "--jobs": 1,
    "--scheduler": 1,
    "--quiet": 0,
    "--force": 0,
    "--overwrite": 0,
}
# the source tree the package was installed from (an editable install: a git checkout)
SOURCE_ROOT = Path(__file__).resolve().parents[2]
GIT_TIMEOUT_SECONDS = 10

# the command line of this process, as the user typed it (set by the command line
# interface; a library caller's is sys.argv)
_command: list[str] | None = None


def version() -> str:
    """l4sim's version, from the installed package's metadata (written in pyproject.toml)."""
    try:
        return package_version("l4sim")
    except PackageNotFoundError:
        return UNKNOWN


@functools.lru_cache(maxsize=1)
def source_state() -> tuple[str, str]:
    """(commit, tree) of the source this process runs.

    The git commit, and 'clean' or 'modified' (tracked files changed); 'unknown'
    where there is no git checkout or no git.
    """
    if not (SOURCE_ROOT / "pyproject.toml").is_file() or not (SOURCE_ROOT / ".git").exists():
        return UNKNOWN, UNKNOWN
    try:
        commit = _git("rev-parse", "HEAD")
        changes = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN, UNKNOWN
    return commit, "modified" if changes else "clean"


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(SOURCE_ROOT), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=True,
    )
    return done.stdout.strip()


def set_command(argv: Sequence[str] | None) -> list[str] | None:
    """Set the command line of this process, as typed; returns the one set before.

    ``argv``: the command line interface's arguments (None: none).
    """
    global _command
    previous = _command
    _command = None if argv is None else ["l4sim", *argv]
    return previous


def command_line() -> list[str]:
    """This process's command line, as typed.

    Called from Python rather than the command line (a script, a notebook, the
    tests), it is the program's name alone: its arguments are not l4sim's, and a
    notebook's kernel has a new one every session.
    """
    if _command is not None:
        return list(_command)
    return ["python", Path(sys.argv[0]).name or "-"]


def recorded_command(argv: Sequence[str]) -> str:
    """The command as the files record it: without the options that say how or where to run."""
    kept: list[str] = []
    skip = 0
    for argument in argv:
        if skip:
            skip -= 1
            continue
        option, equals, _ = argument.partition("=")
        if option in EXECUTION_OPTIONS:
            skip = 0 if equals else EXECUTION_OPTIONS[option]
            continue
        kept.append(argument)
    return shlex.join(kept)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes ('unknown' if it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return UNKNOWN


@dataclass(frozen=True)
class Provenance:
    """What made a result (see the module's description); no date: see :func:`write_file`."""

    program: str
    commit: str
    tree: str
    model: str
    command: str
    kind: str = ""  # what wrote the folder: run, sensitivity, compare, report
    scenario: str = ""
    scenario_file: str = ""
    scenario_sha256: str = ""
    seeds: str = ""

    @classmethod
    def current(cls, kind: str = "") -> Provenance:
        """This process: its program, source, model and command (no scenario)."""
        commit, tree = source_state()
        return cls(
            program=f"l4sim {version()}",
            commit=commit,
            tree=tree,
            model=model_version(),
            command=recorded_command(command_line()),
            kind=kind,
        )

    @classmethod
    def of_scenario(cls, scenario: Any, kind: str = "run") -> Provenance:
        """A scenario's result (a :class:`l4sim.sweep.scenario.Scenario`): its file and seeds."""
        points = scenario.points()
        return cls.of_points(
            points, kind, scenario.name, scenario.source if scenario.source else ""
        )

    @classmethod
    def of_points(
        cls, points: Sequence[Any], kind: str, name: str, source: str | Path = ""
    ) -> Provenance:
        """A result of ``points`` (each with ``seed`` and ``replications``), named ``name``."""
        seeds = sorted({int(point.seed) for point in points})
        replications = sorted({int(point.replications) for point in points})
        source = str(source)
        is_file = bool(source) and Path(source).is_file()
        return replace(
            cls.current(kind),
            scenario=name,
            scenario_file=source,
            scenario_sha256=file_sha256(source) if is_file else "",
            seeds=(
                f"{', '.join(map(str, seeds))} (x {'/'.join(map(str, replications))} replications)"
                if seeds
                else ""
            ),
        )

    def fields(self) -> dict[str, str]:
        """Every fact, by name (the files' metadata)."""
        return asdict(self)

    def source(self) -> str:
        """The source in a few words: 'commit 1a2b3c4d5e6f (modified)'."""
        if self.commit == UNKNOWN:
            return "commit unknown"
        return f"commit {self.commit[:12]}" + (" (modified)" if self.tree == "modified" else "")

    def footer(self) -> str:
        """One line to cite under a figure."""
        parts = [self.program, self.source(), f"model {self.model}"]
        if self.scenario:
            digest = f" sha256 {self.scenario_sha256[:12]}" if self.scenario_sha256 else ""
            parts.append(f"scenario {self.scenario}{digest}")
        if self.seeds:
            parts.append(f"seed {self.seeds}")
        return " · ".join(parts)

    def parquet_metadata(self) -> dict[bytes, bytes]:
        return {METADATA_KEY: json.dumps(self.fields(), sort_keys=True).encode()}


def figure_metadata(
    provenance: Provenance, title: str, caption: str, file_format: str
) -> dict[str, str | None]:
    """Matplotlib's ``metadata`` of a figure file (``png`` or ``svg``): its provenance.

    PNG text chunks (Title, Description, Software, Source: the provenance as
    JSON, Comment: the footer line) or SVG Dublin Core (Title, Description,
    Creator, Source, Identifier); no date, so the same figure is the same file.
    """
    import matplotlib

    creator = f"{provenance.program} (matplotlib {matplotlib.__version__})"
    source = json.dumps(provenance.fields(), sort_keys=True)
    if file_format == "svg":
        return {
            "Title": title,
            "Description": caption,
            "Creator": creator,
            "Source": source,
            "Identifier": provenance.footer(),
            "Date": None,
        }
    return {
        "Title": title,
        "Description": caption,
        "Software": creator,
        "Source": source,
        "Comment": provenance.footer(),
    }


def with_metadata(table: pa.Table, provenance: Provenance) -> pa.Table:
    """``table`` with the provenance in its schema's metadata (beside pandas' own)."""
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **provenance.parquet_metadata()}
    )


def parquet_table(frame: pd.DataFrame, provenance: Provenance | None) -> pa.Table:
    """``frame`` (no index) as an Arrow table with its provenance in the metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if frame.attrs:  # as pandas' own to_parquet keeps them, to read them back
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(frame.attrs).encode()}
        )
    return table if provenance is None else with_metadata(table, provenance)


def write_parquet(frame: pd.DataFrame, path: Path, provenance: Provenance | None) -> Path:
    """Write ``frame`` (no index) with its provenance, whole or not at all.

    A temporary file, then a rename.
    """
    path = Path(path)
    table = parquet_table(frame, provenance)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:  # a full disk: no half-written file stays behind
        temporary.unlink(missing_ok=True)
        raise
    _record_digest(path)
    return path


def of_table(path: Path) -> Provenance | None:
    """The provenance a table written by l4sim carries (None: none, or not readable)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        return _from_fields(json.loads(metadata[METADATA_KEY]))
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
        return None


def _from_fields(fields: dict[str, Any]) -> Provenance:
    known = Provenance.__dataclass_fields__
    return Provenance(**{k: str(v) for k, v in fields.items() if k in known})


def write_file(out_dir: Path, provenance: Provenance, **more: Any) -> Path:
    """Write ``out_dir/provenance.json``.

    The provenance, the date, the whole command line as typed, and ``more``.
    """
    path = Path(out_dir) / FILE
    digests = dict(_digests(out_dir))  # a table written since, and not named now, keeps its own
    for name in more.get("tables", ()):
        if (Path(out_dir) / name).is_file():
            digests[name] = file_sha256(Path(out_dir) / name)
    record = {
        **provenance.fields(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command_line": shlex.join(command_line()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **more,
        DIGESTS: digests,
    }
    return _write_record(path, record)


def _write_record(path: Path, record: dict[str, Any]) -> Path:
    """Write a provenance file whole or not at all (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _digests(out_dir: Path) -> dict[str, str]:
    """The SHA-256 of each table, as ``out_dir/provenance.json`` records them."""
    found = (read_file(out_dir) or {}).get(DIGESTS)
    if not isinstance(found, dict):
        return {}
    return {str(name): str(digest) for name, digest in found.items()}


def _record_digest(path: Path) -> None:
    """Record a table just rewritten in its folder's provenance file, if it has one."""
    recorded = read_file(path.parent)
    if recorded is None:
        return
    recorded[DIGESTS] = {**_digests(path.parent), path.name: file_sha256(path)}
    _write_record(path.parent / FILE, recorded)


class TableError(ValueError):
    """A results table that is not what l4sim wrote: damaged, changed, or no table."""


def read_table(path: Path, **options: Any) -> pd.DataFrame:
    """A results table (``pandas.read_parquet``), read only if it is the one l4sim wrote.

    Its bytes are checked against the SHA-256 its folder's ``provenance.json``
    records, so a damaged or edited table is refused rather than read as
    numbers that were never simulated (a flipped byte in a column's values
    can still decode). A folder without the record is read as it is.
    """
    path = Path(path)
    recorded = _digests(path.parent).get(path.name)
    if recorded is not None and path.is_file() and file_sha256(path) != recorded:
        raise TableError(
            f"{path}: not the table l4sim wrote (its SHA-256 differs from the one "
            f"{FILE} records): damaged or changed since; run the command that made it again"
        )
    try:
        return pd.read_parquet(path, **options)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pa.ArrowException) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TableError(f"{path}: not a readable Parquet table ({first})") from None


def read_file(out_dir: Path) -> dict[str, Any] | None:
    """What ``out_dir/provenance.json`` says (None: no such file, or unreadable)."""
    try:
        found = json.loads((Path(out_dir) / FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def of_folder(out_dir: Path) -> Provenance:
    """The provenance of the results in ``out_dir``: what a figure drawn from it carries.

    Its tables', else its file's, or this process's where it has none.
    """
    out_dir = Path(out_dir)
    for table in ("points.parquet", "summary.parquet"):
        found = of_table(out_dir / table)
        if found is not None:
            return found
    recorded = read_file(out_dir)
    if recorded is not None:
        return _from_fields(recorded)
    return Provenance.current()
