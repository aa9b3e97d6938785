"""Every kind of bad input: exit status 2, one line naming file and key, nothing written."""

import subprocess
import sys

import pytest

from .in_process import l4sim

BAD = {
    "unknown_key": ('name = "x"\nwait_factr = 3\n', "wait_factr", "unknown key"),
    "wrong_type": ('name = "x"\nthreads = "2"\n', "threads", "valid integer"),
    "impossible_value": ('name = "x"\nthreads = 0\n', "threads", "greater than or equal to 1"),
    "toml_syntax": ('name = "x"\nthreads = [\n', "TOML syntax error", "line 2"),
    "toml_syntax_mid_file": (
        'name = "x"\nthreads = 3 3\nevents = 5\n',
        "TOML syntax error",
        "line 2",
    ),
    "empty_sweep": ('name = "x"\n[sweep]\nthreads = []\n', "sweep.threads", "non-empty list"),
    "bad_sweep_value": (
        'name = "x"\n[sweep]\nthreads = [1, 0]\n',
        "threads",
        "greater than or equal to 1",
    ),
    "unknown_sweep_key": ('name = "x"\n[sweep]\nthreadz = [1]\n', "sweep.threadz", "unknown key"),
    "unknown_workload": ('name = "x"\nworkload = "nope"\n', "workload", "unknown workload"),
    "unknown_profile": ('name = "x"\nprofile = "nope"\n', "profile", "unknown profile"),
    "unknown_lock": ('name = "x"\nlock = "spin"\n', "lock", "ticket"),
    "float_for_int": ('name = "x"\nevents = 1.5\n', "events", "integer"),
    "unknown_kernel_lock": ('name = "x"\nkernel_lock = "giant"\n', "kernel_lock", "fine"),
    "unknown_distribution": (
        'name = "x"\nworkload = "lock_microbench"\nthink_dist = "normal"\n',
        "think_dist",
        "exponential",
    ),
    "more_threads_than_cpus": (
        'name = "x"\nworkload = "lock_microbench"\ncpus = 2\nthreads = 4\n',
        "threads",
        "must not exceed cpus",
    ),
    "negative_seed": ('name = "x"\nseed = -1\n', "seed", "greater than or equal to 0"),
    "zero_replications": (
        'name = "x"\nreplications = 0\n',
        "replications",
        "greater than or equal to 1",
    ),
    "zero_events": ('name = "x"\nevents = 0\n', "events", "greater than or equal to 1"),
    "bad_name": ('name = "a b"\n', "name", "plain folder name"),
    "unknown_table": ('name = "x"\n[other]\na = 1\n', "other", "unknown key"),
    "sweep_not_a_table": ('name = "x"\nsweep = 3\n', "sweep", "table of lists"),
    "sweep_scalar": ('name = "x"\n[sweep]\nthreads = 3\n', "sweep.threads", "non-empty list"),
    "sweep_repeated": (
        'name = "x"\n[sweep]\nwait_factor = [10, 10.0]\n',
        "sweep.wait_factor",
        "repeated values",
    ),
    "sweep_run_key": ('name = "x"\n[sweep]\nseed = [1, 2]\n', "sweep.seed", "cannot be swept"),
    "sweep_wrong_type": ('name = "x"\n[sweep]\nthreads = [[1]]\n', "threads", "valid integer"),
    # numbers that would validate and then crash a run or never let it end
    "nan": ('name = "x"\nwait_factor = nan\n', "wait_factor", "must be a finite number"),
    "inf": ('name = "x"\nwait_factor = inf\n', "wait_factor", "must be a finite number"),
    "negative_inf": ('name = "x"\nwait_factor = -inf\n', "wait_factor", "finite number"),
    "nan_in_sweep": (
        'name = "x"\n[sweep]\nwait_factor = [10, nan]\n',
        "wait_factor",
        "finite number",
    ),
    "inf_work": ('name = "x"\nworkload = "linux"\ncpu_gap = inf\n', "cpu_gap", "finite number"),
    "beyond_64_bits": ('name = "x"\nseed = 100000000000000000000000\n', "seed", "64-bit integer"),
    "beyond_64_bits_negative": (
        'name = "x"\nthreads = -100000000000000000000000\n',
        "threads",
        "64-bit integer",
    ),
    "endless_wait_factor": (
        'name = "x"\nwait_factor = 1e300\n',
        "wait_factor",
        "less than or equal to 100000000",
    ),
    "endless_events": (
        'name = "x"\nevents = 1000000000000\n',
        "events",
        "less than or equal to 10000000",
    ),
    "endless_warmup": (
        'name = "x"\nwarmup_events = 1000000000000\n',
        "warmup_events",
        "less than or equal to 10000000",
    ),
    "too_many_cpus": ('name = "x"\ncpus = 65\n', "cpus", "less than or equal to 64"),
    "endless_gap": (
        'name = "x"\nworkload = "linux"\nio_gap = 1e300\n',
        "io_gap",
        "less than or equal to",
    ),
    "endless_delay": (
        'name = "x"\nworkload = "smp_pingpong"\ndelay_cycles = 10000000000000\n',
        "delay_cycles",
        "less than or equal to",
    ),
    "huge_cost": (
        'name = "x"\ncosts.kernel_entry = 100000000000000000000000\n',
        "costs.kernel_entry",
        "at most 10,000,000,000",
    ),
    "zero_timeslice": ('name = "x"\ncosts.timeslice = 0\n', "costs.timeslice", "at least 1"),
    # a scenario's name is its output folder under results/: never outside it
    "name_dot_dot": ('name = ".."\n', "name", "plain folder name"),
    "name_dot": ('name = "."\n', "name", "plain folder name"),
    "name_hidden": ('name = ".hidden"\n', "name", "plain folder name"),
    "name_path": ('name = "a/b"\n', "name", "plain folder name"),
    "name_parent_path": ('name = "../x"\n', "name", "plain folder name"),
    "unknown_fastpath_design": (
        'name = "x"\nfastpath_design = "best"\n',
        "fastpath_design",
        "optimized",
    ),
    "design_and_order": (
        'name = "x"\nfastpath_design = "optimized"\ncheck_order = "optimized"\n',
        "fastpath_design",
        "excludes",
    ),
}


def _l4sim(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "l4sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario(tmp_path, case, command):
    text, key, problem = BAD[case]
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command == "run" else []
    result = l4sim(command, str(scenario), *extra, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "bad.toml" in lines[0] and key in lines[0] and problem in lines[0], lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.slow
def test_missing_file_as_a_real_command(tmp_path):
    """The real command in a subprocess: the same one line, exit 2, nothing written."""
    result = _l4sim("run", "nowhere.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "l4sim: error: nowhere.toml: file not found"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "override,fragment",
    [
        ("threads", "expected KEY=VALUE"),
        ("threads=[1,", "not valid TOML"),
        ("sweep.threads=[]", "non-empty list"),
        ("nosuch=1", "unknown key"),
    ],
)
def test_bad_override(tmp_path, override, fragment):
    scenario = tmp_path / "ok.toml"
    scenario.write_text('name = "ok"\n')
    result = l4sim(
        "run", str(scenario), "--set", override, "--out", str(tmp_path / "o"), cwd=tmp_path
    )
    assert result.returncode == 2 and fragment in result.stderr
    assert not (tmp_path / "o").exists()


def test_not_utf8(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b'name = "x\xff"\n')
    result = l4sim("run", "bin.toml", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "l4sim: error: bin.toml: not a UTF-8 text file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin.toml"]


@pytest.mark.parametrize(
    "options,fragment",
    [
        (["--jobs", "0"], "--jobs 0: must be >= 1"),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler tcp://127.0.0.1:1: cannot connect"),
        (["--scheduler", "nonsense:::x"], "invalid address"),
    ],
)
def test_bad_run_options(tmp_path, options, fragment):
    (tmp_path / "ok.toml").write_text('name = "ok"\nevents = 10\n')
    result = l4sim("run", "ok.toml", "--out", "o", *options, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


def test_out_is_a_file(tmp_path):
    (tmp_path / "ok.toml").write_text('name = "ok"\nevents = 10\n')
    (tmp_path / "o").write_text("")
    result = l4sim("run", "ok.toml", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "l4sim: error: --out o: exists and is not a folder"


def test_validate_prints_the_sweep_size(tmp_path):
    (tmp_path / "ok.toml").write_text(
        'name = "ok"\nevents = 100\nwarmup_events = 10\n'
        "replications = 3\n[sweep]\nthreads = [1, 2]\n"
        'lock = ["ticket", "tas"]\n'
    )
    result = l4sim("validate", "ok.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 4 points x 3 replications of 110 syscall exceptions, each with its reply: 2 x 1,320 entries
    assert result.stdout.startswith(
        "ok.toml: ok: 4 points x 3 replications = 12 runs, "
        "1,320 measured kernel entries to simulate "
        "(warm-up included, about 2,640 kernel entries in all): under a second on "
    )
    assert "MB of memory per worker, 52 kB on disk" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


@pytest.mark.parametrize("command", ["plot", "summarize"])
def test_folder_without_results(tmp_path, command):
    result = l4sim(command, str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "no points.parquet" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_folder_given_as_the_scenario_says_it_is_a_folder(tmp_path):
    (tmp_path / "scenarios").mkdir()
    result = l4sim("run", "scenarios", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "l4sim: error: scenarios: is a folder, not a scenario file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenarios"]


def test_a_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b'\xef\xbb\xbfname = "bom"\nevents = 10\n')
    result = l4sim("validate", "bom.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bom.toml: ok: 1 point x 1 replication = 1 run")


def test_a_file_name_with_spaces_gives_a_plain_scenario_name(tmp_path):
    (tmp_path / "my first scenario.toml").write_text("events = 20\nwarmup_events = 2\n")
    result = l4sim("run", "my first scenario.toml", "--jobs", "1", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results" / "my_first_scenario" / "points.parquet").is_file()
    assert "results/my_first_scenario/points.parquet" in result.stdout


@pytest.mark.parametrize(
    "override,expected",
    [
        ("threads=0", "--set threads=0: key 'threads': Input should be greater than or equal to 1"),
        ("wait_factor=nan", "--set wait_factor=nan: key 'wait_factor': must be a finite number"),
        ("wait_factor=1e300", "--set wait_factor=1e300: key 'wait_factor': Input should be less"),
        ("costs.lock_handoff=-1", "--set costs.lock_handoff=-1: key 'costs.lock_handoff': must be"),
        ("sweep.threads=[1,0]", "--set sweep.threads=[1,0]: sweep key 'threads': Input should"),
        ("sweep.threads=[1,1]", "--set sweep.threads=[1,1]: key 'sweep.threads': repeated values"),
        ("sweep.nosuch=[1]", "--set sweep.nosuch=[1]: key 'sweep.nosuch': unknown key"),
        ("name=..", "--set name=..: key 'name': must be a plain folder name"),
        ("workload=nope", "--set workload=nope: key 'workload': unknown workload"),
    ],
)
def test_an_error_from_set_names_set_not_the_file(tmp_path, override, expected):
    (tmp_path / "ok.toml").write_text('name = "ok"\n')
    result = l4sim("validate", "ok.toml", "--set", override, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"l4sim: error: {expected}"), result.stderr
    assert "ok.toml" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


def test_a_scenario_named_dot_dot_writes_nothing_above_results(tmp_path):
    (tmp_path / "up.toml").write_text('name = ".."\nevents = 10\n')
    result = l4sim("run", "up.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "plain folder name" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.toml"]
