"""Reading sel4bench results: the JSON Lines files of the public time series.

The format is that of ``seL4/sel4bench-results`` (https://github.com/seL4/sel4bench-results):
one file per kernel build of one board, one JSON object per line and run:
``ts`` (time of the run), ``sha`` (manifest), ``sha_kernel`` (seL4 commit),
``sha_bench`` (sel4bench commit), ``run_id``, and every other key a metric
whose value is ``[min, q1, median, mean, q3, max, stddev, n]`` (zeros where
only the mean, stddev and n were kept). Metrics are cycle counts, except
``smp_*``, calls per second. One key is l4sim's own: ``synthetic``, a text
saying what made a run that was not measured (example data carries it), so
that no comparison with it is ever presented as one with hardware.

A file's build comes from its name, as the series names them:
``BOARD_SMP_32.jsonl`` (the SMP build), ``BOARD_32.jsonl`` (uniprocessor),
``BOARD_32_nofastpath.jsonl`` (uniprocessor, fastpath off). The builds of
one run share its ``run_id``.

Every problem is a :class:`Sel4benchError` whose message is one line naming
the file and line, or the run, and what is wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

STATISTICS = ("min", "q1", "median", "mean", "q3", "max", "stddev", "n")
RUN_FIELDS = ("ts", "sha", "sha_kernel", "sha_bench", "run_id")
SYNTHETIC = "synthetic"  # a run not measured: what made it (never a metric)

SMP = "smp"
UNIPROCESSOR = "uniprocessor"
UNIPROCESSOR_NOFASTPATH = "uniprocessor_nofastpath"
SMP_NOFASTPATH = "smp_nofastpath"
BUILD_NAMES = {
    SMP: "SMP build (BOARD_SMP_32.jsonl)",
    UNIPROCESSOR: "uniprocessor build (BOARD_32.jsonl)",
    UNIPROCESSOR_NOFASTPATH: "uniprocessor build without fastpath (BOARD_32_nofastpath.jsonl)",
    SMP_NOFASTPATH: "SMP build without fastpath (BOARD_SMP_32_nofastpath.jsonl)",
}


class Sel4benchError(ValueError):
    """Bad sel4bench data: one line naming the file and line or the run, and the problem."""


def build_of(path: Path) -> str:
    """The kernel build a results file holds, from its name."""
    stem = path.stem.upper()
    smp = "_SMP" in stem or stem.startswith("SMP")
    nofastpath = stem.endswith("_NOFASTPATH")
    if smp:
        return SMP_NOFASTPATH if nofastpath else SMP
    return UNIPROCESSOR_NOFASTPATH if nofastpath else UNIPROCESSOR


@dataclass(frozen=True)
class Figure:
    """One metric of one run of one build, and where it was read."""

    values: tuple[float, ...]  # STATISTICS
    file: Path
    line: int

    @property
    def mean(self) -> float:
        return self.values[3]

    @property
    def n(self) -> int:
        return int(self.values[7])


@dataclass
class Run:
    """One run of the benchmark workflow: its commits and each build's metrics."""

    run_id: int
    ts: str
    sha: str
    sha_kernel: str
    sha_bench: str
    builds: dict[str, dict[str, Figure]] = field(default_factory=dict)
    files: dict[str, tuple[Path, int]] = field(default_factory=dict)  # build -> (file, line)
    synthetic: str = ""  # what made it, if it was not measured

    @property
    def date(self) -> str:
        return self.ts[:10]

    def describe(self) -> str:
        return f"run {self.run_id} ({self.date})"

    def has(self, build: str, metric: str) -> bool:
        """Whether the run has this metric in this build, measured (a mean above 0)."""
        figure = self.builds.get(build, {}).get(metric)
        return figure is not None and figure.mean > 0

    def figure(self, build: str, metric: str) -> Figure:
        """A measured metric; a missing or unmeasured one is a :class:`Sel4benchError`."""
        if build not in self.builds:
            raise Sel4benchError(
                f"{self.describe()}: not in any file of the "
                f"{BUILD_NAMES[build]}, which has the metric '{metric}'"
            )
        path, line = self.files[build]
        figure = self.builds[build].get(metric)
        if figure is None:
            raise Sel4benchError(f"{path}:{line}: {self.describe()}: no metric '{metric}'")
        if not figure.mean > 0:
            raise Sel4benchError(
                f"{path}:{line}: {self.describe()}: metric '{metric}' "
                f"was not measured (mean {figure.mean:g})"
            )
        return figure

    def mean(self, build: str, metric: str) -> float:
        return self.figure(build, metric).mean


@dataclass
class Sel4benchData:
    """The runs of one board, in time order, from one or more results files."""

    source: str
    runs: list[Run]

    @property
    def files(self) -> list[Path]:
        """The files the runs were read from, in order."""
        return sorted({path for run in self.runs for path, _ in run.files.values()})

    @property
    def synthetic(self) -> str:
        """What made the data, if any run of it was not measured ('' if all were)."""
        return next((run.synthetic for run in self.runs if run.synthetic), "")

    def run(self, run_id: int | None = None) -> Run:
        """A run by its ``run_id``; None: the last one."""
        if run_id is None:
            return self.runs[-1]
        for run in self.runs:
            if run.run_id == run_id:
                return run
        raise Sel4benchError(
            f"{self.source}: no run with run_id {run_id} "
            f"({len(self.runs)} runs, {self.runs[0].date} .. "
            f"{self.runs[-1].date}; e.g. {self.runs[-1].run_id})"
        )


def read(paths: list[Path] | Path) -> Sel4benchData:
    """Read a folder of results files, or the files themselves."""
    paths = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    if not paths:
        raise Sel4benchError("no sel4bench data given (a folder or .jsonl files)")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise Sel4benchError(
                    f"{path}: no .jsonl files here (sel4bench results, e.g. SABRE_SMP_32.jsonl)"
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise Sel4benchError(f"{path}: no such file or folder")
    by_build: dict[str, Path] = {}
    for path in files:
        build = build_of(path)
        if build in by_build:
            raise Sel4benchError(
                f"{path}: a second file of the {BUILD_NAMES[build]} besides "
                f"{by_build[build]} (give the files of one board)"
            )
        by_build[build] = path
    runs: dict[int, Run] = {}
    order: list[tuple[str, int, int]] = []
    for build, path in by_build.items():
        for line, record in _records(path):
            run_id = record["run_id"]
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = Run(
                    run_id, record["ts"], record["sha"], record["sha_kernel"], record["sha_bench"]
                )
                order.append((run.ts, len(order), run_id))
            if build in run.builds:
                first = run.files[build][1]
                raise Sel4benchError(
                    f"{path}:{line}: run_id {run_id} again (first on line {first})"
                )
            run.files[build] = (path, line)
            run.synthetic = run.synthetic or record.get(SYNTHETIC, "")
            run.builds[build] = {
                key: Figure(tuple(value), path, line)
                for key, value in record.items()
                if key not in RUN_FIELDS and key != SYNTHETIC
            }
    source = ", ".join(str(p) for p in paths)
    return Sel4benchData(source, [runs[run_id] for _, _, run_id in sorted(order)])


def _records(path: Path):
    """(line number, record) of every non-blank line of a results file, each checked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Sel4benchError(f"{path}: not a UTF-8 text file") from None
    except OSError as error:
        raise Sel4benchError(f"{path}: cannot read ({error.strerror})") from None
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise Sel4benchError(
                f"{where}: not JSON Lines ({error.msg} at column {error.colno})"
            ) from None
        if not isinstance(record, dict):
            raise Sel4benchError(f"{where}: not a JSON object (one run per line)")
        for key in RUN_FIELDS:
            if key not in record:
                raise Sel4benchError(f"{where}: no '{key}' (every run has {', '.join(RUN_FIELDS)})")
        if type(record["run_id"]) is not int:
            raise Sel4benchError(f"{where}: 'run_id' must be an integer (got {record['run_id']!r})")
        for key in RUN_FIELDS[:-1]:
            if not isinstance(record[key], str):
                raise Sel4benchError(f"{where}: '{key}' must be a string")
        if SYNTHETIC in record and not (
            isinstance(record[SYNTHETIC], str) and record[SYNTHETIC].strip()
        ):
            raise Sel4benchError(f"{where}: '{SYNTHETIC}' must say what made the run (a text)")
        for key, value in record.items():
            if key in RUN_FIELDS or key == SYNTHETIC:
                continue
            if (
                not isinstance(value, list)
                or len(value) != len(STATISTICS)
                or not all(type(v) in (int, float) and math.isfinite(v) for v in value)
            ):
                raise Sel4benchError(
                    f"{where}: metric '{key}': not a list of 8 numbers [{', '.join(STATISTICS)}]"
                )
        count += 1
        yield number, record
    if not count:
        raise Sel4benchError(f"{path}: no runs (an empty file)")
