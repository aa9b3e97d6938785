"""The ``l4sim`` command line.

Its commands: run, validate, summarize, plot, report, checks, trace,
timeline, calibrate, compare, sensitivity.

A user's mistake (bad scenario, missing folder) ends with one line on stderr
and exit status 2, never a traceback, and nothing written. A simulated
kernel that breaks an invariant, deadlocks or stalls ends with exit status 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from l4sim.sweep.backends import BackendError
from l4sim.sweep.cache import CacheError
from l4sim.sweep.estimate import SizeError
from l4sim.sweep.output_folder import claim
from l4sim.sweep.provenance import Provenance, TableError, read_table, set_command
from l4sim.sweep.scenario import ScenarioError, load_scenario
from l4sim.workloads.user_files import UserCodeError


class UsageError(Exception):
    """A user's mistake outside the scenario file (reported like a ScenarioError)."""


class RunFailure(Exception):
    """The simulated kernel broke an invariant, deadlocked or stalled: exit status 3."""


def _raise_run_failure(error: Exception) -> None:
    """Turn a simulated kernel's failure into a RunFailure (other errors pass through)."""
    from l4sim.kernel.locks import LockOrderError
    from l4sim.sim.invariants import InvariantViolation
    from l4sim.sim.machine import SimulationStalled

    if isinstance(error, InvariantViolation):
        raise RunFailure(str(error)) from None
    if isinstance(error, LockOrderError):
        raise RunFailure(f"invariant violated: lock-order: {error}") from None
    if isinstance(error, SimulationStalled):
        raise RunFailure(f"run failed: {error}") from None


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported as one line like every other (exit 2).

    The line points to the help of the command it is about (``l4sim run
    --help``), an unknown option after a command included.
    """

    def error(self, message: str):
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.exit(2, f"l4sim: error: {shown} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = getattr(parsed, "command", None) or ""
            where = self._commands.choices.get(command, self) if self._commands else self
            where.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed

    _commands: argparse._SubParsersAction | None = None


class _Version(argparse.Action):
    """``--version``: the version (the package's metadata) and the source it runs."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw):
        super().__init__(option_strings, dest, nargs=0, default=default, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        from l4sim.sweep.provenance import source_state, version

        commit, tree = source_state()
        source = "" if commit == "unknown" else f" (commit {commit[:12]}, {tree})"
        print(f"l4sim {version()}{source}")
        parser.exit(0)


class _Deprecated(argparse.Action):
    """An option's old name: still taken, with one line saying the new one."""

    def __init__(self, option_strings, dest, new: str = "", **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.deprecated = (option_string, self.new)  # said (or refused) by main
        if isinstance(getattr(namespace, self.dest, None), list):
            getattr(namespace, self.dest).append(values)
        else:
            setattr(namespace, self.dest, values)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="l4sim",
        description="A discrete-event simulator of the SMP fastpaths of an L4 microkernel.",
    )
    parser.add_argument(
        "--version", action=_Version, help="print l4sim's version and its source's commit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser._commands = commands

    _run_parser(commands)

    summarize = commands.add_parser(
        "summarize",
        help="write DIR/summary.parquet: mean, std and 95%% t-interval across replications",
    )
    summarize.add_argument("dir", type=Path, help="a folder written by 'l4sim run'")

    plot = commands.add_parser(
        "plot",
        help="draw the figures of a run's folder (the paper's, "
        "or the scaling figure for a CPU-count sweep)",
    )
    plot.add_argument("dir", type=Path, help="a folder written by 'l4sim run'")

    validate = commands.add_parser("validate", help="check a scenario and print its size")
    validate.add_argument("scenario", help="scenario TOML file")
    _set_option(validate, "override a key, as for 'l4sim run'; repeatable")
    _report_parser(commands)
    checks = commands.add_parser(
        "checks",
        help="which fastpath checks fail, implied checks, "
        "and (with --optimize) the optimal check order of a run",
    )
    checks.add_argument("dir", type=Path, help="a folder written by 'l4sim run'")
    checks.add_argument(
        "--optimize",
        action="store_true",
        help="compute the order minimising expected cycles per attempt and "
        "write DIR/check_order.json (needs a run with check_profile = true)",
    )
    _sensitivity_parser(commands)
    _trace_parsers(commands)
    _measurement_parsers(commands)
    completion = commands.add_parser(
        "completion", help="print a shell completion script (bash or zsh)"
    )
    completion.add_argument(
        "shell",
        choices=["bash", "zsh"],
        help='the shell: in ~/.bashrc, eval "$(l4sim completion bash)" (zsh: in ~/.zshrc)',
    )
    return parser


def _set_option(command: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE``, repeatable: a scenario key overridden (into ``overrides``)."""
    command.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


def _overwrite_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--overwrite",
        action="store_true",
        help="replace another scenario's (or study's) results in the output folder "
        "(refused otherwise; the cache of runs is kept)",
    )


def _run_parser(commands) -> None:
    """'run': a scenario's sweep."""
    run = commands.add_parser(
        "run",
        help="run a scenario's sweep (what DIR/cache lacks) into "
        "DIR/points.parquet, events.parquet, summary.parquet",
    )
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--out", type=Path, help="output folder (default results/<name>)")
    run.add_argument(
        "--jobs", type=int, default=None, help="local worker processes (default: all cores)"
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask distributed scheduler at ADDRESS "
        "(e.g. tcp://host:8786) instead of local processes",
    )
    run.add_argument("--force", action="store_true", help="recompute every run, ignoring DIR/cache")
    _set_option(
        run, "override a key, TOML value syntax (e.g. events=500, sweep.threads=[1,2]); repeatable"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _overwrite_option(run)
    run.add_argument(
        "--check-invariants",
        action="store_true",
        help="run the SMP invariant checker; a violation ends with exit status 3",
    )


def _report_parser(commands) -> None:
    """'report': the paper's scenarios, every claim held against them."""
    report = commands.add_parser(
        "report",
        help="run the paper's scenarios and write "
        "OUT/report.md: every claim, simulated value, band, verdict",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="output folder: the report, and a folder per scenario (default results/)",
    )
    report.add_argument(
        "--results",
        dest="out",
        type=Path,
        action=_Deprecated,
        new="--out",
        help=argparse.SUPPRESS,  # (the old name of --out)
    )
    report.add_argument(
        "--scenarios",
        type=Path,
        default=Path("scenarios"),
        help="folder with the report's eight scenarios (syscall_bench, linux, "
        "ipc_bench, check_order, check_order_linux, notify, fastpath_design, "
        "fastpath_design_linux)",
    )
    report.add_argument(
        "--jobs", type=int, default=None, help="local worker processes (default: all cores)"
    )
    report.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on an existing Dask scheduler instead of local processes",
    )
    report.add_argument("--force", action="store_true", help="recompute every run")
    _set_option(report, "override a key in every scenario (e.g. replications=3 for a quick report)")
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    _overwrite_option(report)


def _measurement_parsers(commands) -> None:
    """'calibrate' and 'compare': the model against real measurements (sel4bench results)."""
    calibrate = commands.add_parser(
        "calibrate",
        help="write a cost profile calibrated from one run of sel4bench results, "
        "and the model's residuals (docs/how-to/calibration.md)",
    )
    compare = commands.add_parser(
        "compare",
        help="calibrate every run of sel4bench results, simulate the SMP benchmark "
        "and set it beside the measured multi-core figures (docs/how-to/calibration.md)",
    )
    for command in (calibrate, compare):
        command.add_argument("format", choices=["sel4bench"], help="the data's format")
        command.add_argument(
            "data",
            nargs="+",
            type=Path,
            help="a board's folder of sel4bench-results as published, several, the folder "
            "of all boards, or .jsonl files",
        )
        command.add_argument(
            "--events", type=int, default=4000, help="Calls per simulation (default 4000)"
        )
        command.add_argument(
            "--jobs", type=int, default=None, help="local worker processes (default: all cores)"
        )
    calibrate.add_argument(
        "--run",
        type=int,
        default=None,
        metavar="RUN_ID",
        help="the run to calibrate, by run_id (default: the last)",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PROFILE.toml",
        help="the profile to write; its residuals go beside it (PROFILE.residuals.md); "
        "data of several SMP builds: PROFILE.BOARD.BUILD.toml each",
    )
    compare.add_argument(
        "--out",
        type=Path,
        default=Path("results/sel4bench_compare"),
        help="output folder (default results/sel4bench_compare)",
    )
    compare.add_argument(
        "--change",
        dest="changes",
        action="append",
        default=None,
        metavar="DATE=WHAT",
        help="a change to mark and predict the effect of "
        "(repeatable; default: the 2026 series' two, seL4 on "
        "2026-05-05 and sel4bench on 2026-06-26)",
    )
    compare.add_argument(
        "--scenario",
        type=Path,
        default=Path("scenarios/sel4bench_smp.toml"),
        help="the SMP benchmark's scenario (default scenarios/sel4bench_smp.toml)",
    )
    _overwrite_option(compare)


def _sensitivity_parser(commands) -> None:
    """'sensitivity': which costs decide each result (SALib), and how robust each claim is."""
    study = commands.add_parser(
        "sensitivity",
        help="global sensitivity of a scenario's "
        "results and claims to its costs (Sobol' or Morris, SALib)",
    )
    study.add_argument(
        "scenario",
        help="scenario TOML file (its [sensitivity] table, if any, "
        "gives defaults for the options below)",
    )
    study.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="a cost (costs.NAME) or numeric key and "
        "its range; bounds as numbers or -30%%:+30%%; costs.* for every cost; "
        "repeatable",
    )
    study.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this cost out of costs.* (e.g. a fitted one); repeatable",
    )
    study.add_argument("--method", default=None, help="sobol (default) or morris")
    study.add_argument(
        "--samples",
        type=int,
        default=None,
        help="SALib's base sample size N (sobol: a power of 2; default 64)",
    )
    study.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        default=[],
        metavar="METRIC",
        help="a points.parquet metric to analyse per kind "
        "(default: duration_mean, fast_fraction, lock_wait_mean, "
        "entries_per_mcycle and the workload's throughput); repeatable",
    )
    study.add_argument(
        "--output",
        dest="metrics",
        action=_Deprecated,
        new="--metric",
        metavar="METRIC",
        help=argparse.SUPPRESS,  # (the old name of --metric)
    )
    study.add_argument("--out", type=Path, help="output folder (default results/<name>)")
    study.add_argument(
        "--jobs", type=int, default=None, help="local worker processes (default: all cores)"
    )
    study.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on the Dask distributed scheduler at ADDRESS",
    )
    study.add_argument("--force", action="store_true", help="recompute every run")
    _set_option(study, "override a scenario key (e.g. events=500)")
    study.add_argument("--quiet", action="store_true", help="no progress bar")
    _overwrite_option(study)


def _trace_parsers(commands) -> None:
    """'trace' (Chrome trace JSON) and 'timeline' (PNG): one short run, to look at."""
    for name, what, suffix in (
        ("trace", "write a run's timeline as a Chrome trace (Perfetto)", "trace.json"),
        ("timeline", "draw a run's timeline as a PNG", "timeline.png"),
    ):
        command = commands.add_parser(name, help=what)
        command.add_argument("scenario", help="scenario TOML file (its first point is run)")
        _set_option(
            command,
            "override a key, as for 'l4sim run' (pin a swept key to pick a point); repeatable",
        )
        command.add_argument(
            "--out",
            type=Path,
            default=None,
            help=f"the file to write (default results/NAME-{suffix}, NAME the scenario's)",
        )
        command.add_argument(
            "--events",
            type=int,
            default=100,
            help="measured-kind kernel entries to simulate (default 100)",
        )
        command.add_argument(
            "--replication",
            type=int,
            default=0,
            help="which replication's random streams (default 0)",
        )
        if name == "timeline":
            command.add_argument("--start", type=int, default=0, help="first cycle drawn")
            command.add_argument("--cycles", type=int, default=5000, help="cycles drawn")


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as for Ctrl-C (workers stopped, finished runs kept, the lock released)."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(arguments)
    if getattr(args, "deprecated", None) is not None:
        old, new = args.deprecated
        if any(given == new or given.startswith(f"{new}=") for given in arguments):
            return _refuse(f"{old} and {new} both given: give {new} alone")
        print(f"l4sim: warning: {old} is deprecated: use {new}", file=sys.stderr)
    command = set_command(arguments)
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    try:
        return _dispatch(args)
    finally:
        set_command(command[1:] if command else None)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _dispatch(args) -> int:
    try:
        try:
            return COMMANDS[args.command](args)
        except Exception as error:
            _raise_run_failure(error)
            raise
    except (
        ScenarioError,
        UsageError,
        CacheError,
        BackendError,
        UserCodeError,
        TableError,
    ) as error:
        return _refuse(str(error))
    except SizeError as error:
        return _refuse(f"{getattr(args, 'scenario', 'the sweep')}: too large: {error}")
    except OSError as error:  # a file that cannot be written: a full disk, no permission
        where = f"{error.filename}: " if error.filename else ""
        return _refuse(f"{where}{error.strerror or error}")
    except RunFailure as error:  # a broken invariant, a deadlock, a stall
        print(f"l4sim: {error}", file=sys.stderr)
        return 3
    except Terminated:
        print(
            "l4sim: terminated (finished runs are kept: the same command resumes)", file=sys.stderr
        )
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(
            "l4sim: interrupted (finished runs are kept: the same command resumes)", file=sys.stderr
        )
        return 130


def writable_folder(path: Path, what: str) -> Path:
    """``path`` if it is, or can be made, a folder this process may write (else UsageError).

    Checked before anything runs: a sweep must not compute for an hour and then
    find it cannot write its tables.
    """
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path}: exists and is not a folder")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{what} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: cannot write in {existing} (permission denied)")
    if os.statvfs(existing).f_blocks == 0:  # /proc, /sys: a kernel's view, not a disk
        raise UsageError(f"{what} {path}: {existing} holds no files (a virtual filesystem)")
    return path


def _jobs(args) -> None:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be >= 1")
    if args.jobs is not None and args.scheduler:
        raise UsageError("--jobs and --scheduler: give one (Dask workers set the parallelism)")


def _fits(points, out: Path, jobs: int | None):
    """The estimate of running ``points``.

    Refused (SizeError) if it cannot fit in memory or on disk.
    """
    from l4sim.sweep.backends import default_jobs
    from l4sim.sweep.estimate import check_fits, estimate

    sized = estimate(list(points))
    check_fits(sized, out, jobs or default_jobs())
    return sized


def _refuse(message: str) -> int:
    """A user's mistake: one line on stderr (control characters a user typed escaped), exit 2."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    print(f"l4sim: error: {shown}", file=sys.stderr)
    return 2


def _run(args) -> int:
    from l4sim.sweep.execute import describe, run_sweep

    scenario = load_scenario(args.scenario, args.overrides)
    _jobs(args)
    out = writable_folder(args.out or Path("results") / scenario.name, "--out")
    _fits(scenario.points(), out, args.jobs)
    with _nothing_left_if_user_code_fails(out):
        run = run_sweep(
            scenario,
            out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            force=args.force,
            progress=False if args.quiet else None,
            invariants=True if args.check_invariants else None,
            overwrite=args.overwrite,
        )
    print(describe(run))
    return 0


@contextmanager
def _nothing_left_if_user_code_fails(out: Path):
    """Remove the first folder of ``out`` this command makes if a user's code raises."""
    created = next(
        (
            folder
            for folder in (*reversed(out.absolute().parents), out.absolute())
            if not folder.exists()
        ),
        None,
    )
    try:
        yield
    except UserCodeError:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def run_folder(folder: Path, *tables: str) -> Path:
    """A folder written by 'l4sim run' that holds ``tables`` and can take new files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: a file, not a folder (give one written by 'l4sim run')")
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder (give one written by 'l4sim run')")
    for name in tables:
        if not (folder / name).is_file():
            raise UsageError(f"{folder}: no {name} here (run 'l4sim run' first)")
        try:
            pq.read_schema(folder / name)
        except (OSError, pa.ArrowException):
            raise UsageError(
                f"{folder / name}: not a table written by 'l4sim run' (rerun the scenario)"
            ) from None
    return writable_folder(folder, "folder")


def _summarize(args) -> int:
    from l4sim.sweep.stats import write_summary

    run_folder(args.dir, "points.parquet")
    print(write_summary(args.dir))
    return 0


def _plot(args) -> int:
    from l4sim.analysis.figures import ipc_bench_figure, linux_figure, syscall_figures
    from l4sim.analysis.scaling_figure import scaling_figure
    from l4sim.sweep.execute import load_points

    run_folder(args.dir, "points.parquet")
    points = load_points(args.dir)
    workload = points["workload"].iloc[0]
    if workload == "syscall_bench" and points["cpus"].nunique() > 1:  # a CPU-count sweep
        drawn = [scaling_figure(points, args.dir)]
    elif workload == "syscall_bench":
        drawn = syscall_figures(points, args.dir)
    elif workload == "ipc_bench" and points["wait_factor"].nunique() > 1:
        drawn = [ipc_bench_figure(points, args.dir)]
    elif workload == "linux" and (args.dir / "events.parquet").is_file():
        events = read_table(args.dir / "events.parquet")
        for key in ("fastpath_syscall", "fastpath_ipc"):  # unswept keys: from the points
            if key not in events:
                events[key] = points[key].iloc[0]
        drawn = [linux_figure(events, args.dir, points)]
    else:
        raise UsageError(f"{args.dir}: no figures for workload {workload} with this sweep")
    for figure in drawn:
        print(f"{figure.png} (and {figure.svg.name})")
    return 0


def _validate(args) -> int:
    from l4sim.simulation.simulate import check_build
    from l4sim.sweep.backends import default_jobs

    scenario = load_scenario(args.scenario, args.overrides)
    points = scenario.points()
    for point in points:  # a workload whose build fails says so now
        check_build(point)
    replications = points[0].replications  # not sweepable: the same for every point
    sized = _fits(points, Path("results") / scenario.name, None)

    def count(n: int, what: str) -> str:
        return f"{n:,} {what}" + ("" if n == 1 else "s")

    print(
        f"{scenario.source}: ok: {count(len(points), 'point')} x "
        f"{count(replications, 'replication')} = {count(len(points) * replications, 'run')}, "
        f"{sized.describe(default_jobs())}"
    )
    return 0


def _report(args) -> int:
    from l4sim.analysis.report import build_report, report_scenarios

    _jobs(args)
    writable_folder(args.out, "--out")
    scenarios = report_scenarios(args.scenarios, args.overrides)
    for scenario in scenarios.values():  # before anything runs: each scenario's own folder
        claim(args.out / scenario.name, "run", scenario.name, args.overwrite)
    _fits(
        [point for scenario in scenarios.values() for point in scenario.points()],
        args.out,
        args.jobs,
    )
    written = build_report(
        args.scenarios,
        args.out,
        args.overrides,
        jobs=args.jobs,
        progress=False if args.quiet else None,
        force=args.force,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
    )
    print(written.describe())
    return 0


def _sensitivity(args) -> int:
    from l4sim.analysis.sensitivity import console_table, describe, run_study, study_from
    from l4sim.analysis.sensitivity_params import StudyError

    scenario = load_scenario(args.scenario, args.overrides)
    _jobs(args)
    out = writable_folder(args.out or Path("results") / scenario.name, "--out")
    try:
        study = study_from(scenario, args.params, args.fix, args.method, args.samples, args.metrics)
    except StudyError as error:
        raise UsageError(str(error)) from None
    _fits(study.points(), out, args.jobs)
    with _nothing_left_if_user_code_fails(out):
        result = run_study(
            study,
            out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            force=args.force,
            progress=False if args.quiet else None,
            overwrite=args.overwrite,
        )
    print(console_table(result))
    print(describe(result))
    return 0


def _checks(args) -> int:
    import pandas as pd

    from l4sim.analysis.checks_report import build

    run_folder(args.dir, "points.parquet", "events.parquet")
    try:
        result = build(args.dir, args.optimize)
    except ValueError as error:
        raise UsageError(f"{args.dir}: {error}") from None
    table = result["table"]
    summary = (
        table.groupby(
            ["fastpath", "position", "check", "stage", "locks_held_at_failure"], sort=True
        )
        .agg(
            reached=("reached", "sum"),
            failed=("failed", "sum"),
            cycles_before_failure=("cycles_before_failure", "mean"),
        )
        .reset_index()
    )
    summary["fail_rate"] = summary["failed"] / summary["reached"].clip(lower=1)
    with pd.option_context(
        "display.width", 160, "display.max_columns", 20, "display.max_rows", 200
    ):
        print("Check profile (all points; per point in checks.parquet):")
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if "pairs" in result:
            pairs = result["pairs"]
            nontrivial = pairs[pairs["then_ever_failed"]]
            print(
                f"\nImplied pairs: {len(pairs)} (A passed => B passed in every attempt); "
                f"{len(nontrivial)} where B failed at least once"
                + (":" if len(nontrivial) else ".")
            )
            if len(nontrivial):
                print(
                    nontrivial.drop_duplicates(["fastpath", "if_passes", "then_passes"])[
                        ["fastpath", "if_passes", "then_passes", "support", "basis"]
                    ].to_string(index=False)
                )
            never = pairs[~pairs["then_ever_failed"]].drop_duplicates(["fastpath", "then_passes"])[
                ["fastpath", "then_passes", "basis"]
            ]
            print("\nChecks that never failed in this run:")
            print(never.rename(columns={"then_passes": "check"}).to_string(index=False))
    for kind, entry in result.get("orders", {}).items():
        gain = entry["expected_cycles_paper"] - entry["expected_cycles_optimized"]
        print(
            f"\n{kind}: optimal order ({entry['attempts']} attempts): "
            f"{', '.join(entry['order'])}\n  expected cycles per attempt: paper "
            f"{entry['expected_cycles_paper']:.1f}, optimized "
            f"{entry['expected_cycles_optimized']:.1f} (saves {gain:.1f})"
        )
        if "design" in entry:
            rejected = entry.get("rejected")
            print(
                f"  fastpath design: {', '.join(entry['design'])}"
                + (
                    f"\n  (the searched design {', '.join(rejected['design'])} was rejected: "
                    f"{rejected['violation']})"
                    if rejected
                    else ""
                )
            )
    written = [args.dir / "checks.parquet", result["figure"]]
    if "pairs" in result:
        written.append(args.dir / "implied_checks.parquet")
    if "order_file" in result:
        written.append(result["order_file"])
    print("\n-> " + ", ".join(map(str, written)))
    return 0


def _traced_run(args):
    """Run the scenario's first point briefly under the monitor; returns its Timeline.

    A violation still writes the timeline (marked) before ending with status 3.
    """
    from l4sim.analysis.timeline import Timeline
    from l4sim.sim.invariants import InvariantViolation
    from l4sim.simulation.simulate import build_machine, run_machine
    from l4sim.workloads.base import MAX_EVENTS

    scenario = load_scenario(args.scenario, args.overrides)
    if args.out is None:  # results/NAME-trace.json, results/NAME-timeline.png
        suffix = "trace.json" if args.command == "trace" else "timeline.png"
        args.out = Path("results") / f"{scenario.name}-{suffix}"
        writable_folder(args.out.parent, "--out")
    writable_folder(args.out.parent, "--out")  # below a file, or no permission
    if not args.out.parent.is_dir() and args.out.parent != RESULTS:
        raise UsageError(f"--out {args.out}: folder {args.out.parent} does not exist")
    if args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a folder (give a file name)")
    if args.command == "timeline" and args.out.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--out {args.out}: a timeline is a .png or .svg file")
    for option, value, low, high in (
        ("--events", args.events, 1, MAX_EVENTS),
        ("--replication", args.replication, 0, MAX_REPLICATION),
        ("--start", getattr(args, "start", 0), 0, MAX_CYCLE),
        ("--cycles", getattr(args, "cycles", 1), 1, MAX_CYCLE),
    ):
        if not low <= value <= high:
            raise UsageError(f"{option} {value}: must be between {low} and {high:,}")
    points = scenario.points()
    point = points[0].model_copy(update={"events": args.events, "warmup_events": 0})
    if len(points) > 1:
        swept = ", ".join(f"{k}={point.flat()[k]}" for k in scenario.sweep)
        print(
            f"l4sim: {len(points)} points in the sweep; tracing the first ({swept})",
            file=sys.stderr,
        )
    timeline = Timeline(point.cpus, point.cost_profile().clock_hz)
    machine = build_machine(point, args.replication, invariants=True, recorder=timeline)
    failure = None
    try:
        run_machine(machine)
    except InvariantViolation as error:
        failure = error
    args.out.parent.mkdir(exist_ok=True)  # (results/, by default)
    args.provenance = dataclasses.replace(  # one run: its seed and replication
        Provenance.of_points([point], args.command, scenario.name, scenario.source),
        seeds=f"{int(point.seed)} (replication {args.replication})",
    )
    return timeline, machine, failure


def _trace(args) -> int:
    timeline, machine, failure = _traced_run(args)
    timeline.write_chrome(args.out, args.provenance)
    print(
        f"{args.out}: {machine.env.now} cycles, {len(timeline.kernel_segments)} kernel "
        f"segments, {len(timeline.flows)} IPC hand-offs"
    )
    if failure is not None:
        raise failure
    return 0


def _timeline(args) -> int:
    timeline, machine, failure = _traced_run(args)
    if args.start >= machine.env.now:
        raise UsageError(
            f"--start {args.start}: the run ends at cycle {machine.env.now:,} "
            "(start before it, or simulate more with --events)"
        )
    timeline.draw(args.out, args.start, args.cycles, args.provenance)
    print(f"{args.out}: cycles {args.start}..{args.start + args.cycles} of {machine.env.now}")
    if failure is not None:
        raise failure
    return 0


# where l4sim writes by default (made if missing, unlike any other folder a user names)
RESULTS = Path("results")
# the largest --replication (as for a scenario's replications) and cycle of a timeline
MAX_REPLICATION = 10_000
MAX_CYCLE = 2**62


def _measurement_options(args) -> int:
    """The worker count of 'calibrate' and 'compare', after checking their options."""
    from l4sim.sweep.backends import default_jobs
    from l4sim.workloads.base import MAX_EVENTS

    if not 1 <= args.events <= MAX_EVENTS:
        raise UsageError(f"--events {args.events}: must be between 1 and {MAX_EVENTS:,}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be >= 1")
    return args.jobs or default_jobs()


def _calibrate(args) -> int:
    from l4sim.analysis import calibration
    from l4sim.analysis.sel4bench import Sel4benchError, read

    jobs = _measurement_options(args)
    if args.out.suffix != ".toml":
        raise UsageError(f"--out {args.out}: a profile is a .toml file")
    if args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a folder (give a file name)")
    writable_folder(args.out.parent, "--out")  # below a file, or no permission
    if not args.out.parent.is_dir() and args.out.parent != RESULTS:
        raise UsageError(f"--out {args.out}: folder {args.out.parent} does not exist")
    try:
        result = calibration.calibrate(read(args.data), args.run, args.events, jobs=jobs)
    except Sel4benchError as error:
        raise UsageError(str(error)) from None
    print(calibration.residuals_markdown(result))
    args.out.parent.mkdir(exist_ok=True)  # (results/: made if missing)
    paths = calibration.write(
        result, args.out, calibration.command_line(args.data, result, args.events)
    )
    print("-> " + ", ".join(map(str, paths)))
    return 0


def _changes(given: list[str] | None) -> tuple[tuple[str, str], ...]:
    """The --change options as (date, what), each date checked; the default if none."""
    import datetime

    from l4sim.analysis.sel4bench_compare import CHANGES

    if given is None:
        return CHANGES
    changes = []
    for text in given:
        date, equals, what = text.partition("=")
        try:
            datetime.date.fromisoformat(date.strip())
        except ValueError:
            raise UsageError(f"--change {text}: give DATE=WHAT, DATE as YYYY-MM-DD") from None
        if not equals or not what.strip():
            raise UsageError(f"--change {text}: give DATE=WHAT (what changed on that date)")
        changes.append((date.strip(), what.strip()))
    return tuple(sorted(changes))


def _compare(args) -> int:
    from l4sim.analysis.sel4bench import Sel4benchError, read
    from l4sim.analysis.sel4bench_compare import COMPARED, compare

    jobs = _measurement_options(args)
    changes = _changes(args.changes)
    scenario = load_scenario(args.scenario)  # a bad scenario: before anything runs
    workloads = sorted({point.workload for point in scenario.points()})
    if workloads != ["sel4bench_smp"]:
        raise UsageError(
            f"--scenario {args.scenario}: workload {', '.join(workloads)}, not "
            "sel4bench_smp (compare runs sel4bench's SMP benchmark with each run's profile)"
        )
    try:
        data = read(args.data)  # bad data: before anything is written
        writable_folder(args.out, "--out")
        claim(args.out, "compare", COMPARED, args.overwrite)
        paths = compare(data, scenario, args.out, args.events, jobs, args.data, changes)
    except Sel4benchError as error:
        raise UsageError(str(error)) from None
    print((args.out / "compare.md").read_text())
    print("-> " + ", ".join(map(str, paths)))
    return 0


def _completion(args) -> int:
    from l4sim.completion import script

    print(script(_parser(), args.shell), end="")
    return 0


COMMANDS = {
    "completion": _completion,
    "run": _run,
    "plot": _plot,
    "validate": _validate,
    "summarize": _summarize,
    "report": _report,
    "checks": _checks,
    "trace": _trace,
    "timeline": _timeline,
    "calibrate": _calibrate,
    "compare": _compare,
    "sensitivity": _sensitivity,
}

if __name__ == "__main__":
    sys.exit(main())
