"""Every kind of bad input: exit status 2, one line naming file and key, nothing written."""

import subprocess
import sys

import pytest

BAD = {
    "unknown_key": ('name = "x"\nwait_factr = 3\n', "wait_factr", "unknown key"),
    "wrong_type": ('name = "x"\nthreads = "2"\n', "threads", "valid integer"),
    "impossible_value": ('name = "x"\nthreads = 0\n', "threads", "greater than or equal to 1"),
    "toml_syntax": ('name = "x"\nthreads = [\n', "TOML syntax error", "line"),
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
    result = _l4sim(command, str(scenario), *extra, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "bad.toml" in lines[0] and key in lines[0] and problem in lines[0], lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_missing_file(tmp_path):
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
    result = _l4sim("run", str(scenario), "--set", override, "--out", str(tmp_path / "o"),
                    cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr
    assert not (tmp_path / "o").exists()


def test_plot_without_results(tmp_path):
    result = _l4sim("plot", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "no points.parquet" in result.stderr
