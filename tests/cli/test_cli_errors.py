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
    "toml_syntax_mid_file": ('name = "x"\nthreads = 3 3\nevents = 5\n', "TOML syntax error",
                             "line 2"),
    "empty_sweep": ('name = "x"\n[sweep]\nthreads = []\n', "sweep.threads", "non-empty list"),
    "bad_sweep_value": ('name = "x"\n[sweep]\nthreads = [1, 0]\n', "threads",
                        "greater than or equal to 1"),
    "unknown_sweep_key": ('name = "x"\n[sweep]\nthreadz = [1]\n', "sweep.threadz", "unknown key"),
    "unknown_workload": ('name = "x"\nworkload = "nope"\n', "workload", "unknown workload"),
    "unknown_profile": ('name = "x"\nprofile = "nope"\n', "profile", "unknown profile"),
    "unknown_lock": ('name = "x"\nlock = "spin"\n', "lock", "ticket"),
    "float_for_int": ('name = "x"\nevents = 1.5\n', "events", "integer"),
    "unknown_kernel_lock": ('name = "x"\nkernel_lock = "giant"\n', "kernel_lock", "fine"),
    "unknown_distribution": ('name = "x"\nworkload = "lock_microbench"\nthink_dist = "normal"\n',
                             "think_dist", "exponential"),
    "more_threads_than_cpus": ('name = "x"\nworkload = "lock_microbench"\ncpus = 2\nthreads = 4\n',
                               "threads", "must not exceed cpus"),
    "negative_seed": ('name = "x"\nseed = -1\n', "seed", "greater than or equal to 0"),
    "zero_replications": ('name = "x"\nreplications = 0\n', "replications",
                          "greater than or equal to 1"),
    "zero_events": ('name = "x"\nevents = 0\n', "events", "greater than or equal to 1"),
    "bad_name": ('name = "a b"\n', "name", "pattern"),
    "unknown_table": ('name = "x"\n[other]\na = 1\n', "other", "unknown key"),
    "sweep_not_a_table": ('name = "x"\nsweep = 3\n', "sweep", "table of lists"),
    "sweep_scalar": ('name = "x"\n[sweep]\nthreads = 3\n', "sweep.threads", "non-empty list"),
    "sweep_repeated": ('name = "x"\n[sweep]\nwait_factor = [10, 10.0]\n', "sweep.wait_factor",
                       "repeated values"),
    "sweep_run_key": ('name = "x"\n[sweep]\nseed = [1, 2]\n', "sweep.seed", "cannot be swept"),
    "sweep_wrong_type": ('name = "x"\n[sweep]\nthreads = [[1]]\n', "threads", "valid integer"),
    "unknown_fastpath_design": ('name = "x"\nfastpath_design = "best"\n', "fastpath_design",
                                "optimized"),
    "design_and_order": ('name = "x"\nfastpath_design = "optimized"\n'
                         'check_order = "optimized"\n', "fastpath_design", "excludes"),
}


def _l4sim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "l4sim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


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


@pytest.mark.parametrize("override,fragment", [
    ("threads", "expected KEY=VALUE"),
    ("threads=[1,", "not valid TOML"),
    ("sweep.threads=[]", "non-empty list"),
    ("nosuch=1", "unknown key"),
])
def test_bad_override(tmp_path, override, fragment):
    scenario = tmp_path / "ok.toml"
    scenario.write_text('name = "ok"\n')
    result = l4sim("run", str(scenario), "--set", override, "--out", str(tmp_path / "o"),
                    cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr
    assert not (tmp_path / "o").exists()


def test_not_utf8(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b'name = "x\xff"\n')
    result = l4sim("run", "bin.toml", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "l4sim: error: bin.toml: not a UTF-8 text file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin.toml"]


@pytest.mark.parametrize("options,fragment", [
    (["--jobs", "0"], "--jobs 0: must be >= 1"),
    (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler tcp://127.0.0.1:1: cannot connect"),
    (["--scheduler", "nonsense:::x"], "invalid address"),
])
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
    assert result.stderr.strip() == "l4sim: error: o: exists and is not a folder"


def test_validate_prints_the_sweep_size(tmp_path):
    (tmp_path / "ok.toml").write_text('name = "ok"\nevents = 100\nwarmup_events = 10\n'
                                      'replications = 3\n[sweep]\nthreads = [1, 2]\n'
                                      'lock = ["ticket", "tas"]\n')
    result = l4sim("validate", "ok.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 4 points x 3 replications; each syscall exception and its reply: 2 x 110 entries
    assert result.stdout.strip() == ("ok.toml: ok: 4 points x 3 replications = 12 runs, "
                                     "about 2,640 kernel entries to simulate "
                                     "(warm-up included)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


@pytest.mark.parametrize("command", ["plot", "summarize"])
def test_folder_without_results(tmp_path, command):
    result = l4sim(command, str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "no points.parquet" in result.stderr
    assert list(tmp_path.iterdir()) == []

