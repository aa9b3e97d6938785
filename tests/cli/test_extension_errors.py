"""A user's own workload, profile, cost overrides or fastpath variant, done wrong.

Each mistake ends with exit status 2 and one line naming the scenario, the
key and the problem (and the user's file where it is at fault), no
traceback, and nothing written.
"""

import subprocess
import sys

import pytest

from .in_process import l4sim

GOOD_PARAMS = """
from pydantic import Field
from l4sim.workloads import Point
class Params(Point):
    rate: int = Field(1, ge=1)
"""

RAISING = """
from pydantic import Field
from l4sim.kernel.decode import SYSCALL_EXCEPTION
from l4sim.kernel.kernel import Kernel
from l4sim.kernel.syscalls import Compute, RaiseException, ReplyWait, Wait
from l4sim.workloads import Point, Setup
class Params(Point):
    fail_after: int = Field(5, ge=0)
def worker(n):
    for i in range(100_000):
        if i == n:
            raise RuntimeError("a bug in my program")
        yield Compute(100)
        yield RaiseException("syscall", ())
def handler():
    message = yield Wait()
    while True:
        message = yield ReplyWait(message.sender, ())
def build(params, costs, seeds, config):
    kernel = Kernel(config, costs)
    h = kernel.create_thread("h", 0, 200, kernel.create_space("s"))
    w = kernel.create_thread("w", 0, 100, kernel.create_space("t"), handler=h)
    BUILD
    return Setup(kernel, {h: handler(), w: worker(params.fail_after)}, SYSCALL_EXCEPTION,
                 params.warmup_events, params.events)
"""

CASES = {
    # a user's workload that fails while it runs
    "program_raises": (
        {"w.py": RAISING.replace("BUILD", "pass")},
        'workload = "./w.py"\n',
        "w.py:",
        "your code raised RuntimeError: a bug in my program",
    ),
    "program_fractional_cycles": (
        {"w.py": RAISING.replace("BUILD", "pass").replace("Compute(100)", "Compute(100.5)")},
        'workload = "./w.py"\n',
        "w.py:",
        "thread w: Compute(100.5): cycles must be a whole",
    ),
    "program_negative_cycles": (
        {"w.py": RAISING.replace("BUILD", "pass").replace("Compute(100)", "Compute(-3)")},
        'workload = "./w.py"\n',
        "w.py:",
        "thread w: Compute(-3): cycles must not be negative",
    ),
    "program_yields_no_action": (
        {
            "w.py": RAISING.replace("BUILD", "pass").replace(
                "yield Compute(100)", 'yield "nonsense"'
            )
        },
        'workload = "./w.py"\n',
        "w.py",
        "thread w: unknown action 'nonsense'",
    ),
    "build_raises": (
        {"w.py": RAISING.replace("BUILD", "kernel.create_thread('x', 9, 1, None)")},
        'workload = "./w.py"\n',
        "w.py:",
        "your code raised ValueError",
    ),
    "build_returns_nothing": (
        {"w.py": RAISING.replace("BUILD", "return None")},
        'workload = "./w.py"\n',
        "w.py",
        "build returned NoneType",
    ),
    # workloads
    "workload_syntax_error": (
        {"w.py": "def build(:\n"},
        'workload = "./w.py"\n',
        "w.py",
        "syntax error at line 1",
    ),
    "workload_raises_on_import": (
        {"w.py": "import nonexistent_package_xyz\n"},
        'workload = "./w.py"\n',
        "w.py",
        "ModuleNotFoundError",
    ),
    "workload_without_build": (
        {"w.py": GOOD_PARAMS},
        'workload = "./w.py"\n',
        "w.py",
        "defines no build",
    ),
    "workload_without_params": (
        {"w.py": "def build(*a):\n    pass\n"},
        'workload = "./w.py"\n',
        "w.py",
        "defines no Params",
    ),
    "params_not_a_point": (
        {
            "w.py": "from pydantic import BaseModel\n"
            "class Params(BaseModel):\n    x: int = 1\n"
            "def build(*a):\n    pass\n"
        },
        'workload = "./w.py"\n',
        "w.py",
        "subclass of l4sim.workloads.Point",
    ),
    "params_bad_default": (
        {
            "w.py": GOOD_PARAMS.replace("Field(1, ge=1)", "Field(0, ge=1)")
            + "def build(*a):\n    pass\n"
        },
        'workload = "./w.py"\n',
        "key 'rate'",
        "a valid default",
    ),
    "params_bad_value": (
        {"w.py": GOOD_PARAMS + "def build(*a):\n    pass\n"},
        'workload = "./w.py"\nrate = 0\n',
        "rate",
        "greater than or equal to 1",
    ),
    "workload_file_missing": ({}, 'workload = "./nowhere.py"\n', "nowhere.py", "file not found"),
    # profiles
    "profile_file_missing": (
        {},
        'profile = "./nowhere.toml"\n',
        "profile",
        "profile file not found",
    ),
    "profile_unknown_key": (
        {"p.toml": 'base = "sel4-sabre"\nline_transfr = 3\n'},
        'profile = "./p.toml"\n',
        "line_transfr",
        "unknown key",
    ),
    "profile_bad_value": (
        {"p.toml": 'base = "sel4-sabre"\nline_transfer = -3\n'},
        'profile = "./p.toml"\n',
        "line_transfer",
        "non-negative integer",
    ),
    "profile_unknown_base": (
        {"p.toml": 'base = "sel5"\n'},
        'profile = "./p.toml"\n',
        "base",
        "unknown profile",
    ),
    "profile_base_circle": (
        {"p.toml": 'base = "./q.toml"\n', "q.toml": 'base = "./p.toml"\n'},
        'profile = "./p.toml"\n',
        "base",
        "circle",
    ),
    "profile_incomplete": (
        {"p.toml": "line_transfer = 3\n"},
        'profile = "./p.toml"\n',
        "p.toml",
        "missing costs",
    ),
    "profile_syntax": (
        {"p.toml": "base = \n"},
        'profile = "./p.toml"\n',
        "p.toml",
        "TOML syntax error",
    ),
    # cost overrides
    "unknown_cost": ({}, "costs.line_transfr = 3\n", "costs.line_transfr", "unknown cost"),
    "negative_cost": (
        {},
        "costs.line_transfer = -3\n",
        "costs.line_transfer",
        "non-negative integer",
    ),
    "float_cost": (
        {},
        "costs.line_transfer = 2.5\n",
        "costs.line_transfer",
        "non-negative integer",
    ),
    "unknown_swept_cost": (
        {},
        '[sweep]\n"costs.nope" = [1, 2]\n',
        "sweep.costs.nope",
        "unknown cost",
    ),
    "workload_file_not_dot_py": (
        {"w.txt": "def build(:\n"},
        'workload = "./w.txt"\n',
        "w.txt",
        "syntax error at line 1",
    ),
    "params_default_of_wrong_type": (
        {"w.py": GOOD_PARAMS.replace("Field(1, ge=1)", '"abc"') + "def build(*a):\n    pass\n"},
        'workload = "./w.py"\n',
        "key 'rate'",
        "valid integer",
    ),
    "params_of_the_wrong_kind": (
        {
            "w.py": "from pydantic import BaseModel\n"
            "class Params(BaseModel):\n    x: int = 1\n"
            "def build(*a):\n    pass\n"
        },
        'workload = "./w.py"\n',
        "w.py",
        "Params is not a subclass",
    ),
    "variant_not_a_dict": (
        {
            "v.py": "from l4sim.kernel.ipc_checks import IPC_CHECKS\n"
            "FASTPATH_CHECKS = [IPC_CHECKS]\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "must be a dict",
    ),
    "variant_needs_a_string": (
        {
            "v.py": "from l4sim.kernel.checks import Check, Stage\n"
            "FASTPATH_CHECKS = {'ipc': (Check('x', Stage.LOCK_FREE, "
            "'check_bitmap', lambda c: True, 'why', needs='y'),)}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "needs must be a tuple",
    ),
    "variant_needs_unknown": (
        {
            "v.py": "from l4sim.kernel.checks import Check, Stage\n"
            "FASTPATH_CHECKS = {'ipc': (Check('x', Stage.LOCK_FREE, "
            "'check_bitmap', lambda c: True, 'why', needs=('y',)),)}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "needs y, which is not",
    ),
    "variant_duplicate_name": (
        {
            "v.py": "from l4sim.kernel.ipc_checks import IPC_CHECKS\n"
            "FASTPATH_CHECKS = {'ipc': (IPC_CHECKS[0], *IPC_CHECKS)}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "more than one check is named simple_message",
    ),
    "empty_order_file": (
        {"o.json": "{}"},
        'check_order = "optimized"\ncheck_order_file = "./o.json"\n',
        "check_order_file",
        "names no fastpath",
    ),
    "bad_swept_cost": (
        {},
        '[sweep]\n"costs.line_transfer" = [1, -2]\n',
        "costs.line_transfer",
        "non-negative integer",
    ),
    # fastpath variants
    "variant_without_lists": (
        {"v.py": "X = 1\n"},
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "defines no FASTPATH_CHECKS",
    ),
    "variant_unknown_fastpath": (
        {
            "v.py": "from l4sim.kernel.ipc_checks import IPC_CHECKS\n"
            "FASTPATH_CHECKS = {'rpc': IPC_CHECKS}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "unknown fastpath",
    ),
    "variant_not_checks": (
        {"v.py": "FASTPATH_CHECKS = {'ipc': (1, 2)}\n"},
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "is not a Check",
    ),
    "variant_bad_dependency": (
        {
            "v.py": "from l4sim.kernel.ipc_checks import IPC_CHECKS\n"
            "FASTPATH_CHECKS = {'ipc': IPC_CHECKS[::-1]}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "depends on",
    ),
    "variant_unknown_cost": (
        {
            "v.py": "from l4sim.kernel.checks import Check, Stage\n"
            "FASTPATH_CHECKS = {'ipc': (Check('x', Stage.LOCK_FREE, "
            "'free_lunch', lambda c: True, 'why'),)}\n"
        },
        'fastpath_checks = "./v.py"\n',
        "v.py",
        "unknown cost",
    ),
}


RUNTIME = {
    "program_raises",
    "program_fractional_cycles",
    "program_negative_cycles",
    "program_yields_no_action",
    "build_raises",
    "build_returns_nothing",
}  # name the user's file


@pytest.mark.parametrize("case", ["build_raises", "build_returns_nothing"])
def test_validate_builds_every_point(tmp_path, case):
    """A failing build shows at once (a program's failure only when it runs)."""
    files, scenario_text, _key, problem = CASES[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "bad.toml").write_text('name = "x"\nevents = 20\n' + scenario_text)
    result = l4sim("validate", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2 and problem in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _l4sim(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "l4sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_mistake_in_a_users_extension_is_one_line(tmp_path, case):
    files, scenario_text, key, problem = CASES[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    scenario = tmp_path / "bad.toml"
    scenario.write_text('name = "x"\nevents = 20\n' + scenario_text)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = l4sim("run", str(scenario), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert (
        ("bad.toml" in lines[0] or case in RUNTIME) and key in lines[0] and problem in lines[0]
    ), lines[0]
    # nothing written: no output folder, no cache (a compiled .pyc is not ours to write)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == before


def test_set_profile_is_relative_to_the_current_folder(tmp_path):
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "mine.toml").write_text('base = "sel4-sabre"\nline_transfer = 30\n')
    scenario = tmp_path / "elsewhere" / "s.toml"
    scenario.parent.mkdir()
    scenario.write_text('name = "x"\nevents = 20\n')
    ok = l4sim("validate", str(scenario), "--set", "profile=boards/mine.toml", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    wrong = l4sim(
        "validate", str(scenario), "--set", "profile=boards/mine.toml", cwd=scenario.parent
    )
    assert wrong.returncode == 2 and "profile file not found" in wrong.stderr


@pytest.mark.slow
def test_a_broken_workload_file_as_a_real_command(tmp_path):
    """The real command in a subprocess: one line, exit 2, no traceback, nothing written."""
    (tmp_path / "w.py").write_text("def build(:\n")
    (tmp_path / "bad.toml").write_text('workload = "./w.py"\n')
    result = _l4sim("run", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"l4sim: error: bad.toml: key 'workload': {tmp_path / 'w.py'}: syntax error at line 1: "
        "invalid syntax"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "w.py"]
