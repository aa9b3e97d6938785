"""The result cache: one file per (point, replication), so a sweep can resume.

A result is filed under ``DIR/cache/<model>/<key>.parquet``. ``<model>`` is the
model version: a hash of every source file of the ``l4sim`` package (and of
the numpy and SimPy versions, which draw the random streams and run the
clock), so any code change leaves old results unused. ``<key>`` hashes the
point's full configuration, its replication and the model version. ``name``
and ``replications`` are left out: they label or repeat a run but do not
change one result, so renaming a scenario or adding replications reuses what
is there.

A file is the events table of the run, with the per-kind summary rows and the
run's measured cycles as JSON in the Parquet metadata (JSON floats round-trip
exactly). Files are written to a temporary name and renamed, so a killed run
leaves either a whole result or none.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import l4sim

# keys that do not change the result of one (point, replication)
UNKEYED = frozenset({"name", "replications"})
META = b"l4sim"


class CacheError(Exception):
    """An unusable output folder or cache file (reported as one line, exit 2)."""


@functools.lru_cache(maxsize=1)
def model_version() -> str:
    """Hash of the package's source files and of the libraries that shape results."""
    import numpy
    import simpy

    root = Path(l4sim.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".pxd", ".toml")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(f"numpy {numpy.__version__} simpy {simpy.__version__}".encode())
    return digest.hexdigest()[:16]


def task_key(config: dict, replication: int, model: str) -> str:
    """Stable name of one (point, replication) result under one model version."""
    keyed = {k: v for k, v in config.items() if k not in UNKEYED}
    if config.get("check_order_file"):  # the file's contents, not only its name
        from l4sim.check_order import order_file_digest

        keyed["check_order_file_contents"] = order_file_digest(config["check_order_file"])
    text = json.dumps({"model": model, "point": keyed, "replication": replication},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Record:
    """One cached result: summary rows per kind, measured cycles, events table."""

    rows: list[dict]
    measured_cycles: int
    events: pa.Table


class ResultCache:
    """The results of one model version under an output folder."""

    def __init__(self, out_dir: Path, model: str | None = None):
        self.model = model or model_version()
        self.folder = Path(out_dir) / "cache" / self.model

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.parquet"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, key: str, record: dict) -> None:
        """File a worker's record atomically (temporary file, then rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"rows": record["rows"], "measured_cycles": record["measured_cycles"],
                "config": record.get("config"), "replication": record.get("replication")}
        table = pa.table(record["events"])
        table = table.replace_schema_metadata({META: json.dumps(meta).encode()})
        final = self.path(key)
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, final)

    def get(self, key: str) -> Record:
        path = self.path(key)
        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[META])
        except (OSError, KeyError, ValueError, pa.ArrowException) as error:
            raise CacheError(f"{path}: unreadable cached result ({error}); "
                             f"delete it or rerun with --force") from None
        return Record(meta["rows"], meta["measured_cycles"], table.replace_schema_metadata())

    def remove_stale_temporaries(self) -> None:
        """Temporary files left by a killed run (call while holding the folder lock)."""
        if self.folder.is_dir():
            for leftover in self.folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)


class FolderLock:
    """Exclusive use of an output folder by one run; the OS drops it if the run dies."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / ".lock"
        self.handle = None

    def __enter__(self) -> FolderLock:
        self.handle = open(self.path, "a")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CacheError(f"{self.path.parent}: another l4sim run is writing "
                             f"this folder") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
