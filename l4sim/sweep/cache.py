"""The result cache: one file per (point, replication), so a sweep can resume.

A result is filed under ``DIR/cache/<model>/<key>.parquet``. ``<model>`` is the
model version: a hash of the source of exactly the code a run executes (the
kernel, the simulator, the workloads, the runner; see :data:`SIMULATION_CODE`)
and of the versions of the libraries that shape a result (numpy and SimPy
draw the random streams and run the clock; pydantic validates the keys), so
a change to that code leaves old results unused, while editing the analysis,
the figures, the command line or the documentation reuses them. ``<key>``
hashes the point's full configuration, its replication and the model
version, and the contents of every file the point names: a user's workload
or fastpath-variant file, its check-order file, and the profile as resolved
(every cost, base profiles included). ``name`` and ``replications`` are left
out: they label or repeat a run but do not change one result, so renaming a
scenario or adding replications reuses what is there.

A file is the events table of the run, with the per-kind summary rows and the
run's measured cycles as JSON in the Parquet metadata (JSON floats round-trip
exactly). Files are written to a temporary name and renamed, so a killed run
leaves either a whole result or none.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from l4sim.kernel.costs import load_profile
from l4sim.sweep.model_version import model_version
from l4sim.workloads.base import Point, is_path
from l4sim.workloads.user_files import file_digest

# keys that do not change the result of one (point, replication)
UNKEYED = frozenset({"name", "replications"})
META = b"l4sim"
# a SHA-256 of the record's metadata, beside it: a changed byte in it is found, as a
# changed byte in the events is by the pages' checksums (both checked on every read)
META_DIGEST = b"l4sim.sha256"
# A cache file is the Parquet file, then SEAL and the SHA-256 of the Parquet bytes:
# a byte changed anywhere (the footer's schema and offsets too, which no page
# checksum covers) is found when the file is read, and the run computed again.
SEAL = b"l4sim-sha256"
SEALED = len(SEAL) + 32
# rows per Parquet row group of events.parquet: a long run's table is written a
# group at a time, with little memory beyond the table itself
ROW_GROUP_ROWS = 64 * 1024


class CacheError(Exception):
    """An unusable output folder or cache file (reported as one line, exit 2)."""


def task_key(config: dict, replication: int, model: str) -> str:
    """Stable name of one (point, replication) result under one model version."""
    return _key({"model": model, "point": _keyed(config), "replication": replication})


def derived_key(name: str, config: dict, model: str) -> str:
    """Stable name of a result derived from a whole point (``name``: what it is)."""
    return _key({"model": model, "point": _keyed(config), "derived": name})


def _keyed(config: dict) -> dict:
    """What a result depends on: the point's keys that matter and its files' contents."""
    keyed = {k: v for k, v in config.items() if k not in UNKEYED}
    keyed["files"] = file_contents(config)
    return keyed


def _unsealed(sealed: bytes) -> pa.BufferReader:
    """The Parquet file a sealed cache file holds, its SHA-256 checked (ValueError)."""
    data, seal, digest = sealed[:-SEALED], sealed[-SEALED:-32], sealed[-32:]
    if len(sealed) < SEALED or seal != SEAL or hashlib.sha256(data).digest() != digest:
        raise ValueError("its bytes do not match its checksum")
    return pa.BufferReader(data)


def _schema(path: Path) -> pa.Schema:
    """The schema (and metadata) of a sealed cache file, read from its end alone.

    The whole file's checksum is checked where its events are read
    (:meth:`ResultCache.get`); the metadata has a checksum of its own.
    """
    with pa.memory_map(str(path)) as mapped:
        size = mapped.size()
        if size < SEALED or mapped.read_at(len(SEAL), size - SEALED) != SEAL:
            raise ValueError("not a sealed l4sim result")
        return pq.read_schema(pa.BufferReader(mapped.read_at(size - SEALED, 0)))


def _meta(metadata: dict[bytes, bytes] | None) -> dict:
    """A cached record's metadata, checked against its digest (ValueError: changed)."""
    if not metadata or META not in metadata:
        raise KeyError("no l4sim record")
    text = metadata[META]
    if metadata.get(META_DIGEST) != hashlib.sha256(text).hexdigest().encode():
        raise ValueError("its record does not match its checksum")
    found = json.loads(text)
    if not isinstance(found, dict):
        raise ValueError("not an l4sim record")
    return found


def _identity(config: dict) -> str:
    """A point's configuration as a cached record stores it, as JSON.

    Less the keys that do not change a result; JSON, so that a record read back
    compares equal to the configuration it was made from.
    """
    return json.dumps({k: v for k, v in config.items() if k not in UNKEYED}, sort_keys=True)


def _reason(error: BaseException) -> str:
    """An error in a few words, on one line of printable characters."""
    text = str(error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in first)


def _key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def file_contents(config: dict[str, Any]) -> dict[str, Any]:
    """What the files a point names contain: hashes of user code, the resolved costs."""
    defaults = Point.model_fields
    profile = config.get("profile", defaults["profile"].default)
    workload = config.get("workload", defaults["workload"].default)
    contents: dict[str, Any] = {"profile": asdict(load_profile(profile))}
    if is_path(workload):
        contents["workload"] = file_digest(workload)
    for key in ("fastpath_checks", "check_order_file"):
        # (a built-in variant, named without a path, is part of the model version)
        if config.get(key) and (key != "fastpath_checks" or is_path(config[key])):
            contents[key] = file_digest(config[key])
    return contents


def _is_labels(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind)
    )


def _compact(values: np.ndarray | pd.Categorical) -> pa.Array:
    """A column of a cached result: strings dictionary-encoded (a few labels, many rows).

    A categorical keeps its codes and labels; other strings are factorized
    straight from the objects, never expanded into one string buffer for all rows.
    """
    if isinstance(values, pd.Categorical):
        return pa.DictionaryArray.from_arrays(
            pa.array(values.codes.astype(np.int32)),
            pa.array(np.asarray(values.categories, dtype=object), type=pa.string()),
        )
    values = np.asarray(values)
    if values.dtype != object:
        return pa.array(values)
    codes, labels = pd.factorize(values)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(labels, type=pa.string())
    )


@dataclass
class Record:
    """One cached result: summary rows per kind, measured cycles, events table.

    The events' string columns (kind, path, exit point, thread name) are
    dictionary-encoded: a handful of labels, each row an index.
    """

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
        meta = {
            "rows": record["rows"],
            "measured_cycles": record["measured_cycles"],
            "config": record.get("config"),
            "replication": record.get("replication"),
            "model": self.model,
        }
        table = pa.table({name: _compact(values) for name, values in record["events"].items()})
        text = json.dumps(meta).encode()
        table = table.replace_schema_metadata(
            {META: text, META_DIGEST: hashlib.sha256(text).hexdigest().encode()}
        )
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, write_page_checksum=True)
        data = sink.getvalue().to_pybytes()
        sealed = data + SEAL + hashlib.sha256(data).digest()
        self._file(self.path(key), lambda temporary: temporary.write_bytes(sealed))

    def get(self, key: str) -> Record:
        path = self.path(key)
        try:
            data = _unsealed(path.read_bytes())
            strings = [field.name for field in pq.read_schema(data) if _is_labels(field.type)]
            table = pq.read_table(data, read_dictionary=strings)
            meta = _meta(table.schema.metadata)
        except (OSError, KeyError, ValueError, pa.ArrowException) as error:
            raise CacheError(
                f"{path}: unreadable cached result ({_reason(error)}); "
                "delete it or rerun with --force"
            ) from None
        return Record(meta["rows"], meta["measured_cycles"], table.replace_schema_metadata())

    def check(self, key: str, config: dict, replication: int) -> str | None:
        """Why the file under ``key`` is not this run's result (None: it is).

        The run: ``config``, replication ``replication``, this model version.
        A file is trusted only once its own record says which run it is: a file
        copied or renamed into the cache, or damaged, is not read as another run's.
        """
        path = self.path(key)
        try:
            meta = _meta(_schema(path).metadata)
            stored, rows, cycles = meta["config"], meta["rows"], meta["measured_cycles"]
            replication_stored = meta["replication"]
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as error:
            return f"unreadable ({_reason(error)})"
        if not isinstance(stored, dict) or not isinstance(rows, list) or type(cycles) is not int:
            return "not a result of l4sim"
        if meta.get("model", self.model) != self.model:
            return f"a result of model {meta.get('model')}, not {self.model}"
        if replication_stored != replication or _identity(stored) != _identity(config):
            return "the result of another run"
        return None

    def discard(self, key: str) -> None:
        """Remove a result that cannot be used."""
        self.path(key).unlink(missing_ok=True)

    def summary(self, key: str) -> tuple[list[dict], int]:
        """A cached result's summary rows and measured cycles, without reading its events."""
        path = self.path(key)
        try:
            meta = _meta(_schema(path).metadata)
        except (OSError, KeyError, ValueError, pa.ArrowException) as error:
            raise CacheError(
                f"{path}: unreadable cached result ({_reason(error)}); "
                "delete it or rerun with --force"
            ) from None
        return meta["rows"], meta["measured_cycles"]

    def derived(self, name: str, config: dict, compute):
        """A result derived from a whole point, computed once per model version and point.

        ``compute()`` makes it the first time; it is filed beside the runs
        (pickled, written atomically) and read back after that, so that a
        report made again from cached runs does not redo, say, the profiling
        run, search and verification behind a point's fastpath designs. An
        unreadable file is computed and filed again.
        """
        path = self.folder / f"{derived_key(name, config, self.model)}.{name}.pickle"
        try:
            with path.open("rb") as stored:
                return pickle.load(stored)
        except FileNotFoundError:
            pass
        except (
            OSError,
            pickle.UnpicklingError,
            EOFError,
            AttributeError,
            ImportError,
            ValueError,
            TypeError,
        ):
            path.unlink(missing_ok=True)
        value = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._file(path, lambda temporary: temporary.write_bytes(data))
        return value

    @staticmethod
    def _file(final: Path, write) -> None:
        """``write(temporary)``, then the temporary file renamed to ``final``: atomically."""
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            write(temporary)
            os.replace(temporary, final)
        except BaseException:  # a full disk: no half-written file stays behind
            temporary.unlink(missing_ok=True)
            raise

    def remove_stale_temporaries(self) -> None:
        """Temporary files left by a killed run (call while holding the folder lock)."""
        if self.folder.is_dir():
            for leftover in self.folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)


class FolderLock:
    """Exclusive use of an output folder by one run; the OS drops it if the run dies."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / ".lock"
        self.handle: TextIO = None  # type: ignore[assignment]  # (open while held)

    def __enter__(self) -> FolderLock:
        self.handle = open(self.path, "a")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CacheError(
                f"{self.path.parent}: another l4sim run is writing this folder"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
