"""Property: whatever a user writes in a scenario or passes with --set, l4sim takes or refuses.

A refusal is one line with exit status 2, never a traceback, and nothing
written.

Hypothesis writes scenario files (known keys of every workload with values
of every type, unknown keys, tables, garbage text, a byte-order mark) and
``--set`` options (well-formed or not). ``validate`` is tried on many;
``run`` on fewer, with the sizes pinned small so a valid one runs quickly.
"""

import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4sim.workloads.registry import find_workload

from .in_process import l4sim

WORKLOADS = ["syscall_bench", "ipc_bench", "linux", "lock_microbench", "smp_pingpong"]
KEYS = sorted(
    {key for name in WORKLOADS for key in find_workload(name).Params.model_fields}
    | {"costs.lock_handoff", "costs.timeslice", "costs.nosuch", "nosuch", "sweep"}
)

scalars = st.one_of(
    st.integers(min_value=-3, max_value=70),
    st.integers(),  # beyond 64 bits too
    st.sampled_from([0, 1, 2, 64, 65, 10**7, 10**7 + 1, 2**63 - 1, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -0.0, 0.5, 1e8, 1e8 + 1]),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        [
            *WORKLOADS,
            "ticket",
            "tas",
            "mcs",
            "clh",
            "big",
            "fine",
            "..",
            ".x",
            "a/b",
            "vmxl4-pandaboard",
            "sel4-sabre",
            "./no.toml",
            "paper",
            "optimized",
            "send",
            "notify",
        ]
    ),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["lock_handoff", "x"]), scalars, max_size=2),
)


def toml_value(value) -> str:
    """A value in TOML syntax (inline arrays and tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def scenario_text(draw) -> bytes:
    lines = [f"workload = {json.dumps(draw(st.sampled_from(WORKLOADS)))}"]
    for key, value in draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=4)).items():
        lines.append(f"{json.dumps(key) if '.' in key else key} = {toml_value(value)}")
    sweep = draw(st.dictionaries(st.sampled_from(KEYS), st.lists(scalars, max_size=3), max_size=2))
    if sweep:
        lines.append("[sweep]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in sweep.items()]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()) and draw(st.booleans()):
        text = draw(st.text(max_size=40))  # not a scenario at all
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data  # a byte-order mark
    if draw(st.integers(0, 19)) == 0:
        data += b"\xff"  # not UTF-8
    return data


overrides = st.lists(
    st.one_of(
        st.builds(lambda k, v: f"{k}={toml_value(v)}", st.sampled_from(KEYS), values),
        st.builds(
            lambda k, v: f"sweep.{k}={toml_value(v)}",
            st.sampled_from(KEYS),
            st.lists(scalars, max_size=3),
        ),
        st.text(max_size=15),
    ),
    max_size=2,
)


def check_contract(result, folder: Path, before: set[str]) -> None:
    assert result.returncode in (0, 2), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("l4sim: error: "), result.stderr
        assert {p.name for p in folder.iterdir()} == before, "something was written"


def fuzz(examples: int):
    return settings(
        deadline=None,
        max_examples=examples,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


@fuzz(150)
@given(scenario_text(), overrides)
def test_validate_takes_or_refuses_in_one_line(text, sets):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "s.toml").write_bytes(text)
        arguments = [a for option in sets for a in ("--set", option)]
        result = l4sim("validate", "s.toml", *arguments, cwd=folder)
        check_contract(result, folder, {"s.toml"})


@fuzz(30)
@given(scenario_text(), overrides)
def test_run_takes_or_refuses_in_one_line(text, sets):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "s.toml").write_bytes(text)
        arguments = [a for option in sets for a in ("--set", option)]
        small = ["--set", "events=5", "--set", "warmup_events=0", "--set", "replications=1"]
        result = l4sim(
            "run", "s.toml", *arguments, *small, "--jobs", "1", "--quiet", "--out", "o", cwd=folder
        )
        check_contract(result, folder, {"s.toml"})
        if result.returncode == 0:
            assert (folder / "o" / "points.parquet").is_file()


# values a user would plausibly write, so that many generated runs are valid and
# actually run (near the limits too), and some are not
PLAUSIBLE = {
    "cpus": st.sampled_from([1, 2, 3, 64, 65]),
    "lock": st.sampled_from(["ticket", "tas", "mcs", "clh", "spin"]),
    "kernel_lock": st.sampled_from(["fine", "big"]),
    "fastpath_syscall": st.booleans(),
    "fastpath_ipc": st.booleans(),
    "threads": st.integers(min_value=0, max_value=9),
    "clients": st.integers(min_value=0, max_value=5),
    "wait_factor": st.sampled_from([0, 10, 1e5, 1e8, 1e8 + 1, float("nan")]),
    "seed": st.sampled_from([0, 2015, 2**63 - 1, 2**64]),
    "stress_jitter": st.sampled_from([0, 100]),
    "costs.lock_handoff": st.sampled_from([0, 30, 10**10, 10**10 + 1]),
}


@st.composite
def plausible_scenario(draw) -> bytes:
    workload = draw(st.sampled_from(["syscall_bench", "ipc_bench"]))
    keys = draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=4, unique=True))
    lines = [f'workload = "{workload}"']
    lines += [
        f"{json.dumps(k) if '.' in k else k} = {toml_value(draw(PLAUSIBLE[k]))}"
        for k in keys
        if k != ("clients" if workload == "syscall_bench" else "threads")
    ]
    return ("\n".join(lines) + "\n").encode()


@fuzz(25)
@given(plausible_scenario())
def test_plausible_runs_finish_or_are_refused_in_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "s.toml").write_bytes(text)
        small = ["--set", "events=5", "--set", "warmup_events=0", "--set", "replications=1"]
        result = l4sim("run", "s.toml", *small, "--jobs", "1", "--quiet", "--out", "o", cwd=folder)
        check_contract(result, folder, {"s.toml"})
        if result.returncode == 0:
            assert (folder / "o" / "points.parquet").is_file()


# an output folder as a user may leave it: its cached runs damaged, deleted or swapped,
# another scenario's or study's results in it; the run repairs it or refuses in one line
SCENARIO = Path(__file__).parents[2] / "scenarios" / "syscall_bench.toml"
FOLDER_RUN = [
    "run",
    str(SCENARIO),
    *("--set", "events=60", "--set", "warmup_events=4", "--set", "replications=2"),
    *("--set", "sweep.threads=[1,2]", "--set", "sweep.wait_factor=[10]"),
    *("--jobs", "1", "--quiet", "--out", "o"),
]
TABLES = ("points.parquet", "events.parquet", "summary.parquet")
_reference: dict[str, bytes] = {}


def _reference_folder(into: Path) -> None:
    """A whole run's folder at ``into/o`` (computed once, copied after that)."""
    if not _reference:
        done = l4sim(*FOLDER_RUN, cwd=into)
        assert done.returncode == 0, done.stderr
        _reference.update(
            {
                str(p.relative_to(into)): p.read_bytes()
                for p in (into / "o").rglob("*")
                if p.is_file()
            }
        )
        return
    for name, data in _reference.items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)


damages = st.lists(
    st.tuples(
        st.integers(0, 7),  # which cached run
        st.sampled_from(["truncate", "flip", "garbage", "swap", "delete", "empty"]),
        st.integers(0, 10**6),  # where
    ),
    max_size=3,
)


@fuzz(15)
@given(damages, st.sampled_from([None, "other", "study"]), st.booleans())
def test_a_damaged_or_taken_output_folder_is_repaired_or_refused(damage, owner, overwrite):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _reference_folder(folder)
        runs = sorted((folder / "o" / "cache").glob("*/*.parquet"))
        for which, how, where in damage:
            path = runs[which % len(runs)]
            if not path.exists():
                continue
            data = path.read_bytes()
            if how == "truncate":
                path.write_bytes(data[: where % max(len(data), 1)])
            elif how == "flip" and data:
                at = where % len(data)
                path.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :])
            elif how == "garbage":
                path.write_bytes(where.to_bytes(4, "little") * 10)
            elif how == "swap":
                path.write_bytes(runs[(which + 1) % len(runs)].read_bytes())
            elif how == "delete":
                path.unlink()
            elif how == "empty":
                path.write_bytes(b"")
        if owner == "other":
            recorded = json.loads((folder / "o" / "provenance.json").read_text())
            (folder / "o" / "provenance.json").write_text(json.dumps({**recorded, "scenario": "x"}))
        elif owner == "study":
            (folder / "o" / "provenance.json").write_text(
                json.dumps({"kind": "sensitivity", "scenario": "syscall_bench"})
            )
        before = {p: p.read_bytes() for p in (folder / "o").rglob("*") if p.is_file()}
        result = l4sim(*FOLDER_RUN, *(["--overwrite"] if overwrite else []), cwd=folder)
        assert "Traceback" not in result.stderr
        if owner is not None and not overwrite:
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2 and len(lines) == 1, result.stderr
            assert "holds the results of" in lines[0]
            after = {p: p.read_bytes() for p in (folder / "o").rglob("*") if p.is_file()}
            assert after == before, "a refused run changed the folder"
            return
        assert result.returncode == 0, result.stderr
        assert all(line.startswith("l4sim: warning: ") for line in result.stderr.splitlines())
        for name in TABLES:  # repaired: the same tables as a whole run's
            assert (folder / "o" / name).read_bytes() == _reference[f"o/{name}"], name
