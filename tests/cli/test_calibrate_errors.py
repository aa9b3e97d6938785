"""Bad sel4bench data: one line naming the file and line or the run, exit 2, nothing written."""

import json
import re
from pathlib import Path

import pytest

from tests.analysis import sel4bench_files as files
from tests.cli.in_process import l4sim

SCENARIO = Path(__file__).parents[2] / "scenarios" / "sel4bench_smp.toml"


def good(folder):
    return files.write(
        folder, [files.records(11, 1, files.Truth()), files.records(12, 2, files.Truth())]
    )


def line_of(path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def without(path, number: int, metric: str) -> None:
    record = json.loads(path.read_text().splitlines()[number - 1])
    del record[metric]
    line_of(path, number, json.dumps(record))


def not_json(folder):
    line_of(folder / files.SMP_FILE, 2, '{"ts": "2026-03-02", "run_id": 12,')
    return [folder], rf"{files.SMP_FILE}:2: not JSON Lines"


def not_an_object(folder):
    line_of(folder / files.UP_FILE, 1, "[1, 2, 3]")
    return [folder], rf"{files.UP_FILE}:1: not a JSON object"


def bad_metric(folder):
    record = json.loads((folder / files.SMP_FILE).read_text().splitlines()[0])
    record["ipc_call"] = [1, 2, 3]
    line_of(folder / files.SMP_FILE, 1, json.dumps(record))
    return [folder], rf"{files.SMP_FILE}:1: metric 'ipc_call': not a list of 8 numbers"


def missing_metric(folder):
    without(folder / files.SMP_FILE, 2, "ipc_reply_intra")
    return [folder], rf"{files.SMP_FILE}:2: run 12 \(2026-03-02\): no metric 'ipc_reply_intra'"


def missing_build(folder):
    (folder / files.UP_FILE).unlink()
    return (
        [folder / files.SMP_FILE],
        r"run 11 \(2026-03-01\): not in any file of the uniprocessor build .*'null_syscall'",
    )


def unknown_run(folder):
    return [folder, "--run", 99], r"no run with run_id 99 \(2 runs"


def empty_folder(folder):
    for path in folder.iterdir():
        path.unlink()
    return [folder], r"no \.jsonl files here"


def empty_file(folder):
    (folder / files.SMP_FILE).write_text("\n")
    return [folder], rf"{files.SMP_FILE}: no runs \(an empty file\)"


def no_such_path(folder):
    return [folder / "nowhere.jsonl"], r"nowhere\.jsonl: no such file or folder"


def run_id_not_integer(folder):
    record = json.loads((folder / files.SMP_FILE).read_text().splitlines()[0])
    record["run_id"] = "11"
    line_of(folder / files.SMP_FILE, 1, json.dumps(record))
    return [folder], rf"{files.SMP_FILE}:1: 'run_id' must be an integer"


def negative_statistic(folder):
    record = json.loads((folder / files.SMP_FILE).read_text().splitlines()[0])
    record["ipc_call_intra"] = [-458, -458, *record["ipc_call_intra"][2:]]
    line_of(folder / files.SMP_FILE, 1, json.dumps(record))
    return [folder], rf"{files.SMP_FILE}:1: metric 'ipc_call_intra': a negative statistic"


CASES = [
    negative_statistic,
    not_json,
    not_an_object,
    bad_metric,
    missing_metric,
    missing_build,
    unknown_run,
    empty_folder,
    empty_file,
    no_such_path,
    run_id_not_integer,
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_bad_data_is_one_line_exit_2_and_nothing_written(case, tmp_path):
    data = good(tmp_path / "data")
    arguments, message = case(data)
    out = tmp_path / "out"
    out.mkdir()
    done = l4sim(
        "calibrate",
        "sel4bench",
        *arguments,
        "--out",
        out / "board.toml",
        "--events",
        50,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("l4sim: error: ")
    assert re.search(message, done.stderr), done.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("case", [missing_metric, empty_folder], ids=lambda c: c.__name__)
def test_compare_refuses_bad_data_before_writing_anything(case, tmp_path):
    data = good(tmp_path / "data")
    arguments, message = case(data)
    out = tmp_path / "out"
    done = l4sim(
        "compare",
        "sel4bench",
        *arguments,
        "--out",
        out,
        "--events",
        50,
        "--scenario",
        SCENARIO,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert re.search(message, done.stderr), done.stderr
    assert not out.exists()


def test_compare_refuses_a_scenario_of_another_workload_before_writing_anything(tmp_path):
    data = good(tmp_path / "data")
    out = tmp_path / "out"
    other = Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml"
    done = l4sim("compare", "sel4bench", data, "--out", out, "--scenario", other, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert (
        "--scenario" in done.stderr and "workload syscall_bench, not sel4bench_smp" in done.stderr
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--out", "board.txt"], r"--out board\.txt: a profile is a \.toml file"),
        (["--out", "missing/board.toml"], r"folder missing does not exist"),
        (["--out", "board.toml", "--events", "0"], r"--events 0: must be between 1 and 10,000,000"),
        (["--out", "board.toml", "--jobs", "0"], r"--jobs 0: must be >= 1"),
    ],
)
def test_bad_options_are_one_line(option, message, tmp_path):
    data = good(tmp_path / "data")
    done = l4sim("calibrate", "sel4bench", data, *option, cwd=tmp_path)
    assert done.returncode == 2
    assert re.search(message, done.stderr), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    "change, message",
    [
        ("2026-13-01=x", r"--change 2026-13-01=x: give DATE=WHAT, DATE as YYYY-MM-DD"),
        ("2026-05-05", r"--change 2026-05-05: give DATE=WHAT \(what changed"),
    ],
)
def test_a_bad_change_is_one_line_before_anything_runs(change, message, tmp_path):
    data = good(tmp_path / "data")
    done = l4sim(
        "compare",
        "sel4bench",
        data,
        "--out",
        tmp_path / "out",
        "--change",
        change,
        "--scenario",
        SCENARIO,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert re.search(message, done.stderr), done.stderr
    assert not (tmp_path / "out").exists()
