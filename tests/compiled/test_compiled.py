"""The compiled hot modules: used only when they match their source, and same results."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pandas as pd
import pytest

from l4sim.build import record_failure
from l4sim.compiled import (
    MANIFEST,
    PURE_ENV,
    CompiledFinder,
    extension_suffix,
    hot_modules,
    source_hash,
    status,
)
from l4sim.simulation.simulate import simulate
from l4sim.sweep.scenario import point_from_dict


def _fake_build(tmp_path, suffix=None):
    """A package with one hot module and a 'build' of it (any file stands for the binary)."""
    package = tmp_path / "pkg"
    (package / "kernel").mkdir(parents=True)
    source = package / "kernel" / "objects.py"
    source.write_text("X = 1\n")
    built = tmp_path / "built"
    built.mkdir()
    (built / "l4sim.kernel.objects.so").write_bytes(b"binary")
    (built / MANIFEST).write_text(
        json.dumps(
            {
                "suffix": suffix or extension_suffix(),
                "modules": {
                    "l4sim.kernel.objects": {
                        "file": "l4sim.kernel.objects.so",
                        "size": 6,
                        "source_sha256": source_hash(source),
                    }
                },
            }
        )
    )
    return package, source, built


def test_a_build_is_used_only_while_its_source_is_unchanged(tmp_path):
    package, source, built = _fake_build(tmp_path)
    finder = CompiledFinder(built, package)
    assert finder.binary("l4sim.kernel.objects") == built / "l4sim.kernel.objects.so"
    assert finder.binary("l4sim.kernel.scheduler") is None  # never built
    source.write_text("X = 2\n")  # edited after the build: the source runs
    assert finder.binary("l4sim.kernel.objects") is None
    assert finder.find_spec("l4sim.kernel.objects") is None


def test_its_declarations_are_part_of_its_source(tmp_path):
    package, source, built = _fake_build(tmp_path)
    source.with_suffix(".pxd").write_text("cdef class X:\n    pass\n")
    assert CompiledFinder(built, package).binary("l4sim.kernel.objects") is None


def test_a_build_that_compiled_in_a_changed_modules_declarations_is_not_used(tmp_path):
    """Its extension types' layout came from the other module's build.

    Python would refuse to import it (a size mismatch) next to that module
    running as source.
    """
    package, locks, built = _fake_build(tmp_path)
    (package / "sim").mkdir()
    spinlock = package / "sim" / "spinlock.py"
    spinlock.write_text("Y = 1\n")
    spinlock.with_suffix(".pxd").write_text(
        "from l4sim.kernel.objects cimport Thread\ncdef class SpinState:\n    pass\n"
    )
    (built / "l4sim.sim.spinlock.so").write_bytes(b"binary")
    manifest = json.loads((built / MANIFEST).read_text())
    manifest["modules"]["l4sim.sim.spinlock"] = {
        "file": "l4sim.sim.spinlock.so",
        "size": 6,
        "source_sha256": source_hash(spinlock),
    }
    (built / MANIFEST).write_text(json.dumps(manifest))
    finder = CompiledFinder(built, package)
    assert finder.binary("l4sim.sim.spinlock") == built / "l4sim.sim.spinlock.so"
    locks.write_text("X = 2\n")  # the cimported module edited: both run as source
    assert finder.binary("l4sim.kernel.objects") is None
    assert finder.binary("l4sim.sim.spinlock") is None
    assert finder.find_spec("l4sim.sim.spinlock") is None


def test_a_build_whose_binary_is_gone_or_cut_short_is_not_used(tmp_path):
    package, _, built = _fake_build(tmp_path)
    (built / "l4sim.kernel.objects.so").write_bytes(b"bin")  # a copy cut short
    assert CompiledFinder(built, package).binary("l4sim.kernel.objects") is None
    (built / "l4sim.kernel.objects.so").unlink()
    assert CompiledFinder(built, package).binary("l4sim.kernel.objects") is None


def test_a_build_for_another_python_is_not_used(tmp_path):
    package, _, built = _fake_build(tmp_path, suffix=".cpython-399-other.so")
    assert CompiledFinder(built, package).binary("l4sim.kernel.objects") is None


def test_no_manifest_means_nothing_compiled(tmp_path):
    assert CompiledFinder(tmp_path, tmp_path).built == {}


def test_a_failed_build_replaces_the_old_one_and_says_why(tmp_path):
    package, _, built = _fake_build(tmp_path)
    record_failure("no C compiler", built)
    finder = CompiledFinder(built, package)
    assert finder.built == {} and finder.failed == "no C compiler"
    assert not (built / "l4sim.kernel.objects.so").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "pkg"]  # no leftovers


def test_the_hot_modules_are_the_kernel_the_engine_and_the_workloads():
    names = hot_modules()
    assert "l4sim.sim.interpreter" in names and "l4sim.kernel.exception_fastpath" in names
    assert "l4sim.workloads.syscall_bench" in names
    assert all(name.split(".")[1] in ("kernel", "sim", "workloads") for name in names)
    # what runs once per run, never per kernel entry, is left to the interpreter
    assert "l4sim.kernel.config" not in names and "l4sim.kernel.costs" not in names
    assert "l4sim.sim.no_cython" not in names


POINTS = [
    {"workload": "syscall_bench", "cpus": 2, "threads": 4, "wait_factor": 100, "events": 600},
    {"workload": "ipc_bench", "cpus": 2, "clients": 4, "wait_factor": 10, "events": 600},
    {"workload": "linux", "cpus": 2, "events": 400},
    {
        "workload": "syscall_bench",
        "cpus": 4,
        "threads": 8,
        "lock": "tas",
        "events": 600,
        "kernel_lock": "big",
    },
    # beyond 8 CPUs the lookahead takes minima over a C array of next actions
    {
        "workload": "syscall_bench",
        "cpus": 16,
        "threads_per_cpu": 1,
        "fastpath_ipc": True,
        "wait_factor": 10,
        "events": 600,
    },
]


def _records(points: list[dict]) -> list[pd.DataFrame]:
    return [simulate(point_from_dict(point), seed=3).events for point in points]


if __name__ == "__main__":  # the pure-Python side of the comparison below
    modes = set(status().values())
    sys.stdout.buffer.write(pickle.dumps((modes, _records(json.loads(sys.argv[1])))))
    sys.exit(0)


@pytest.mark.skipif(
    all(state == "python" for state in status().values()),
    reason="nothing compiled here (no Cython build): nothing to compare",
)
@pytest.mark.slow
def test_compiled_and_pure_python_give_bit_identical_records():
    compiled = _records(POINTS)
    output = subprocess.run(
        [sys.executable, __file__, json.dumps(POINTS)],
        check=True,
        capture_output=True,
        env={**os.environ, PURE_ENV: "1"},
    ).stdout
    modes, pure = pickle.loads(output)
    assert modes == {"python"}  # the other side really ran the source
    for ours, theirs in zip(compiled, pure, strict=True):
        assert len(ours) > 100
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
