"""Reading sel4bench results: the JSON Lines files of the public time series, as published.

The format is that of ``seL4/sel4bench-results`` (https://github.com/seL4/sel4bench-results):
one folder per board, one file per kernel build of that board, one JSON
object per line and run: ``ts`` (time of the run), ``sha`` (manifest),
``sha_kernel`` (seL4 commit), ``sha_bench`` (sel4bench commit), ``run_id``
(the same in every file of one run), and every other key a metric whose
value is ``[min, q1, median, mean, q3, max, stddev, n]`` (zeros where only
the mean, stddev and n were kept). Metrics are counts of the benchmark's
cycle counter, except ``smp_*``, calls per second. One key is l4sim's own:
``synthetic``, a text saying what made a run that was not measured (example
data carries it), so that no comparison with it is ever presented as one
with hardware.

A file's build comes from its name, as the series names them: ``SMP`` (the
SMP build, with the ``smp_*`` figures), ``MCS`` (mixed-criticality
scheduling), ``32`` or ``64`` (the word size), ``nofastpath`` (fastpath off),
``noksw`` (x86: no kernel stack switch); the other parts name the board
(``SABRE_SMP_32.jsonl``, ``PC99_SMP_64_haswell3.jsonl``,
``SABRE_32_nofastpath.jsonl``).

:func:`read` takes a board's folder as published, several, the folder of
all boards (one data set per board and SMP build), or the files themselves.
What the model is calibrated on is seL4's SMP build with the fastpath (the
big kernel lock, CLH) and, for the trap's cost, the uniprocessor build of the
same word size: those files are read; every other file is left aside, and
each board says which and why. Where a board has an SMP build of each word
size (x86), each is a data set of its own.

Every problem with the data is a :class:`Sel4benchError` whose message is one
line naming the file and line, or the run, and what is wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

STATISTICS = ("min", "q1", "median", "mean", "q3", "max", "stddev", "n")
RUN_FIELDS = ("ts", "sha", "sha_kernel", "sha_bench", "run_id")
SYNTHETIC = "synthetic"  # a run not measured: what made it (never a metric)

# The roles of the files a data set reads.
SMP = "smp"
UNIPROCESSOR = "uniprocessor"
BUILD_NAMES = {
    SMP: "SMP build (BOARD_SMP_32.jsonl)",
    UNIPROCESSOR: "uniprocessor build of the same word size (BOARD_32.jsonl)",
}
SMP_PREFIX = "smp_"  # the SMP benchmark's figures (calls per second)
# the parts of a file name that name the build; the rest name the board
_BUILD_PARTS = {"SMP", "MCS", "32", "64", "NOFASTPATH", "NOKSW"}


class Sel4benchError(ValueError):
    """Bad sel4bench data: one line naming the file and line or the run, and the problem."""


@dataclass(frozen=True)
class BuildName:
    """What a results file's name says: the board and the kernel build."""

    board: str
    smp: bool
    mcs: bool
    bits: int | None
    fastpath: bool = True
    kernel_stack_switch: bool = True

    @classmethod
    def of(cls, path: Path) -> BuildName:
        parts = path.stem.split("_")
        upper = [part.upper() for part in parts]
        bits = next((int(part) for part in upper if part in ("32", "64")), None)
        board = "_".join(
            part for part, up in zip(parts, upper, strict=True) if up not in _BUILD_PARTS
        )
        return cls(
            board=board or "BOARD",
            smp="SMP" in upper,
            mcs="MCS" in upper,
            bits=bits,
            fastpath="NOFASTPATH" not in upper,
            kernel_stack_switch="NOKSW" not in upper,
        )

    @property
    def label(self) -> str:
        """The build in the series' words: ``SMP_64``, ``32``, ``MCS_64_noksw``..."""
        parts = (["SMP"] if self.smp else []) + (["MCS"] if self.mcs else [])
        parts += [str(self.bits)] if self.bits else []
        parts += [] if self.fastpath else ["nofastpath"]
        parts += [] if self.kernel_stack_switch else ["noksw"]
        return "_".join(parts) or "default"

    @property
    def describe(self) -> str:
        """The build in words: "SMP, 64-bit", "uniprocessor, 32-bit, fastpath off"..."""
        words = ["SMP" if self.smp else "uniprocessor"] + (["MCS"] if self.mcs else [])
        words += [f"{self.bits}-bit"] if self.bits else []
        words += [] if self.fastpath else ["fastpath off"]
        words += [] if self.kernel_stack_switch else ["no kernel stack switch"]
        return ", ".join(words)

    @property
    def standard(self) -> bool:
        """seL4's default configuration: the fastpath on, no MCS, the kernel stack switch."""
        return self.fastpath and not self.mcs and self.kernel_stack_switch

    def why_not_used(self) -> str:
        """Why a file of this build is left aside (for a non-standard build)."""
        if self.mcs:
            return (
                "the mixed-criticality (MCS) kernel: another IPC path than the SMP "
                "benchmark's build"
            )
        if not self.fastpath:
            return "fastpath off: the SMP benchmark's build has it on"
        return "built without the kernel stack switch: not the SMP build's configuration"


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
    def fastest(self) -> float:
        """The fastest sample where the file kept it, else the mean."""
        return self.values[0] if self.values[0] > 0 else self.mean

    @property
    def n(self) -> int:
        return int(self.values[7])


@dataclass
class Run:
    """One run of the benchmark workflow: its commits and each role's metrics."""

    run_id: int
    ts: str
    sha: str
    sha_kernel: str
    sha_bench: str
    builds: dict[str, dict[str, Figure]] = field(default_factory=dict)
    files: dict[str, tuple[Path, int]] = field(default_factory=dict)  # role -> (file, line)
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

    def fastest(self, build: str, metric: str) -> float:
        return self.figure(build, metric).fastest


@dataclass
class Sel4benchData:
    """The runs of one board's SMP build (with its uniprocessor partner), in time order."""

    source: str
    runs: list[Run]
    board: str = "BOARD"
    build: str = "SMP"  # the SMP build's label, e.g. SMP_64
    files: dict[str, Path] = field(default_factory=dict)  # role -> file

    @property
    def name(self) -> str:
        """``board`` alone, or ``board build`` (how tables and figures name a data set)."""
        return f"{self.board} {self.build}"

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


@dataclass
class Board:
    """One board's folder: the data sets read from it, and every file left aside, with why."""

    name: str
    data: list[Sel4benchData]
    read: list[tuple[Path, str]]  # (file, the role it was read for)
    left_aside: list[tuple[Path, str]]  # (file, why)
    problem: str = ""  # why none of it can be calibrated (no SMP build, no smp_* figures)

    def summary(self) -> list[str]:
        """What was read and what was left aside, a line per file."""
        lines = [f"read {path.name}: {role}" for path, role in self.read]
        lines += [f"left aside {path.name}: {why}" for path, why in self.left_aside]
        return lines + ([f"nothing to calibrate: {self.problem}"] if self.problem else [])


@dataclass
class Sel4benchSet:
    """Everything a command was given: the boards, each with its data sets."""

    source: str
    boards: list[Board]

    @property
    def data_sets(self) -> list[Sel4benchData]:
        return [data for board in self.boards for data in board.data]

    @property
    def files(self) -> list[Path]:
        """The files the data sets were read from, in order."""
        return sorted({path for data in self.data_sets for path in data.files.values()})

    @property
    def synthetic(self) -> str:
        """What made the data, if any run of it was not measured ('' if all were)."""
        return next((data.synthetic for data in self.data_sets if data.synthetic), "")

    def only(self) -> Sel4benchData:
        """The one data set there is (one board, one SMP build)."""
        found = self.data_sets
        if len(found) != 1:
            raise Sel4benchError(
                f"{self.source}: {len(found)} SMP builds "
                f"({', '.join(d.name for d in found)}): give one"
            )
        return found[0]


def read(paths: list[Path] | Path) -> Sel4benchSet:
    """Read boards' folders as published, the folder of all boards, or results files.

    Raises :class:`Sel4benchError` on bad data, and when no board has an SMP
    build with the SMP benchmark's figures (naming each board's reason).
    """
    paths = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    if not paths:
        raise Sel4benchError("no sel4bench data given (a folder or .jsonl files)")
    groups: dict[str, list[Path]] = {}  # board -> its files
    for path in paths:
        if path.is_dir():
            for board, files in _folders(path):
                groups.setdefault(board, []).extend(files)
        elif path.is_file():
            groups.setdefault(BuildName.of(path).board, []).append(path)
        else:
            raise Sel4benchError(f"{path}: no such file or folder")
    boards = [_board(name, files) for name, files in groups.items()]
    source = ", ".join(str(p) for p in paths)
    found = Sel4benchSet(source, boards)
    if not found.data_sets:
        reasons = "; ".join(f"{board.name}: {board.problem}" for board in boards)
        raise Sel4benchError(f"{source}: nothing to calibrate ({reasons})")
    return found


def _folders(folder: Path) -> list[tuple[str, list[Path]]]:
    """A board's folder (its .jsonl files), or a folder of boards' folders."""
    files = sorted(folder.glob("*.jsonl"))
    if files:
        return [(folder.resolve().name, files)]
    boards = [
        (sub.name, sorted(sub.glob("*.jsonl"))) for sub in sorted(folder.iterdir()) if sub.is_dir()
    ]
    boards = [(name, found) for name, found in boards if found]
    if not boards:
        raise Sel4benchError(
            f"{folder}: no .jsonl files here (sel4bench results, "
            "e.g. SABRE_SMP_32.jsonl, or a folder of boards' folders)"
        )
    return boards


def _board(name: str, files: list[Path]) -> Board:
    """Choose a board's files by build and read its SMP builds (one data set each)."""
    named: dict[BuildName, Path] = {}
    for path in files:
        build = BuildName.of(path)
        key = BuildName(
            board="",
            smp=build.smp,
            mcs=build.mcs,
            bits=build.bits,
            fastpath=build.fastpath,
            kernel_stack_switch=build.kernel_stack_switch,
        )
        if key in named:
            raise Sel4benchError(
                f"{path}: a second file of the {key.label} build besides "
                f"{named[key]} (give the files of one board)"
            )
        named[key] = path
    read_files: list[tuple[Path, str]] = []
    left: list[tuple[Path, str]] = []
    used: set[Path] = set()
    data: list[Sel4benchData] = []
    problems: list[str] = []
    smp_builds = sorted((b for b in named if b.smp and b.standard), key=lambda b: b.bits or 0)
    for build, path in sorted(named.items(), key=lambda item: item[1].name):
        if not build.standard:
            left.append((path, build.why_not_used()))
            used.add(path)
    for build in smp_builds:
        path = named[build]
        used.add(path)
        partner = next(
            (p for b, p in named.items() if not b.smp and b.standard and b.bits == build.bits), None
        )
        runs = _runs({SMP: path, **({UNIPROCESSOR: partner} if partner else {})})
        if not any(
            key.startswith(SMP_PREFIX) and figure.mean > 0
            for run in runs
            for key, figure in run.builds.get(SMP, {}).items()
        ):
            left.append(
                (path, "no smp_* figures in any run: the SMP benchmark did not run in this build")
            )
            problems.append(f"{path.name} has no smp_* figures")
            continue
        read_files.append((path, f"{build.describe}: IPC costs and the SMP benchmark's rates"))
        if partner is not None:
            used.add(partner)
            read_files.append(
                (
                    partner,
                    f"uniprocessor, {build.bits}-bit: the null system "
                    f"call (the trap) for {build.label}"
                    if build.bits
                    else f"uniprocessor: the null system call (the trap) for {build.label}",
                )
            )
        data.append(
            Sel4benchData(
                ", ".join(str(p) for p in (path, partner) if p),
                runs,
                board=name,
                build=build.label,
                files={SMP: path, **({UNIPROCESSOR: partner} if partner else {})},
            )
        )
    for build, path in sorted(named.items(), key=lambda item: item[1].name):
        if path not in used:  # a uniprocessor build of a word size without an SMP build
            left.append((path, f"{build.describe}: no SMP build of that word size beside it"))
    if not smp_builds:
        problems.append("no SMP build (no file named like BOARD_SMP_32.jsonl)")
    return Board(name, data, read_files, sorted(left), "; ".join(problems) if not data else "")


def _runs(files: dict[str, Path]) -> list[Run]:
    """The runs of a data set's files (role -> file), in time order."""
    runs: dict[int, Run] = {}
    order: list[tuple[str, int, int]] = []
    for role, path in files.items():
        for line, record in _records(path):
            run_id = record["run_id"]
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = Run(
                    run_id, record["ts"], record["sha"], record["sha_kernel"], record["sha_bench"]
                )
                order.append((run.ts, len(order), run_id))
            if role in run.builds:
                first = run.files[role][1]
                raise Sel4benchError(
                    f"{path}:{line}: run_id {run_id} again (first on line {first})"
                )
            run.files[role] = (path, line)
            run.synthetic = run.synthetic or record.get(SYNTHETIC, "")
            run.builds[role] = {
                key: Figure(tuple(value), path, line)
                for key, value in record.items()
                if key not in RUN_FIELDS and key != SYNTHETIC
            }
    return [runs[run_id] for _, _, run_id in sorted(order)]


def _impossible(value: list[float]) -> str:
    """What no sample can be: a negative figure ('' if none).

    Statistics out of their order are read as published: they occur in the
    public series (a maximum with a digit missing, below its own minimum), in
    figures calibration does not read, and refusing them would refuse a board.
    """
    if min(value) < 0:
        return "a negative statistic (no count, time or rate is below 0)"
    return ""


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
            problem = _impossible(value)
            if problem:
                raise Sel4benchError(f"{where}: metric '{key}': {problem}")
        count += 1
        yield number, record
    if not count:
        raise Sel4benchError(f"{path}: no runs (an empty file)")
