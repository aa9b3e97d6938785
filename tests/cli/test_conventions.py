"""The command line's conventions.

One name per option across commands, help on every option, the command's own
help in errors, shell completion, defaults under results/.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from l4sim.cli import _parser

from .in_process import l4sim


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_and_argument_has_help():
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in {"l4sim": _parser(), **_commands()}.items()
        for action in command._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_the_output_folder_is_out_and_a_metric_is_metric_everywhere():
    for name, command in _commands().items():
        options = {option for action in command._actions for option in action.option_strings}
        visible = {
            option
            for action in command._actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings
        }
        assert not visible & {"--results", "--output", "--output-dir"}, name
        if name in ("run", "report", "sensitivity", "compare", "trace", "timeline", "calibrate"):
            assert "--out" in options, name
    assert "--metric" in {o for a in _commands()["sensitivity"]._actions for o in a.option_strings}


def test_the_old_names_are_taken_with_a_deprecation_line(tmp_path):
    done = l4sim("report", "--results", "r", "--scenarios", "nowhere", cwd=tmp_path)
    assert done.stderr.splitlines()[0] == "l4sim: warning: --results is deprecated: use --out"
    assert done.returncode == 2 and "nowhere" in done.stderr  # (then it reads its scenarios)
    done = l4sim("sensitivity", "none.toml", "--output", "x", cwd=tmp_path)
    assert done.stderr.splitlines()[0] == "l4sim: warning: --output is deprecated: use --metric"


@pytest.mark.parametrize("given", [["--out", "a", "--results", "b"], ["--results", "b", "--out=a"]])
def test_an_old_name_and_its_new_one_together_are_refused(tmp_path, given):
    done = l4sim("report", *given, "--scenarios", "nowhere", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "l4sim: error: --results and --out both given: give --out alone\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "help_of"),
    [
        (["run", "s.toml", "--nosuch"], "l4sim run"),
        (["report", "--jobz", "2"], "l4sim report"),
        (["timeline", "s.toml", "--start"], "l4sim timeline"),
        (["--nosuch"], "l4sim"),
        (["nosuch"], "l4sim"),
    ],
)
def test_a_usage_mistake_points_to_the_commands_own_help(tmp_path, args, help_of):
    done = l4sim(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"(see '{help_of} --help')"), done.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_name_every_command_and_option(tmp_path, shell):
    done = l4sim("completion", shell, cwd=tmp_path)
    assert done.returncode == 0
    for name, command in _commands().items():
        assert f"        {name})" in done.stdout
        for action in command._actions:
            if action.help != argparse.SUPPRESS:
                for option in action.option_strings:
                    assert option in done.stdout
    assert "--results" not in done.stdout  # (old names are not offered)


@pytest.mark.slow
def test_bash_completes_commands_options_and_choices(tmp_path):
    """The script, loaded in bash, completes as a user's TAB would."""
    script = subprocess.run(
        [sys.executable, "-m", "l4sim.cli", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def complete(*words: str) -> list[str]:
        line = " ".join(["l4sim", *words])
        probe = (
            f"{script}\nCOMP_WORDS=(l4sim {' '.join(words)}); COMP_CWORD={len(words)}; "
            f'COMP_LINE="{line}"; _l4sim_complete; printf "%s\\n" "${{COMPREPLY[@]}}"'
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert "report" in complete("re") and "run" not in complete("re")
    assert complete("run", "s.toml", "--ov") == ["--overwrite"]
    assert complete("sensitivity", "s.toml", "--metr") == ["--metric"]
    assert {"bash", "zsh"} <= set(complete("completion", ""))
    assert complete("completion", "z") == ["zsh"]


def test_trace_and_timeline_write_under_results_by_default(tmp_path):
    (tmp_path / "s.toml").write_text('name = "mine"\nworkload = "syscall_bench"\nthreads = 2\n')
    for command, written in (("trace", "mine-trace.json"), ("timeline", "mine-timeline.png")):
        done = l4sim(command, "s.toml", "--events", "20", "--cycles", "3000", cwd=tmp_path)
        if command == "trace":
            done = l4sim(command, "s.toml", "--events", "20", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "results" / written).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "s.toml"]


ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_docs_call_the_installed_command_not_a_bare_one():
    """``l4sim`` is in .venv/bin, not on a user's PATH: a shell example says so."""
    bare = [
        f"{page.relative_to(ROOT)}: {line}"
        for page in PAGES
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.DOTALL)
        for line in block.splitlines()
        if re.match(r"\s*l4sim\s", line)
    ]
    assert bare == []


def test_the_docs_count_the_reports_scenarios_as_it_runs_them():
    from l4sim.analysis.report import BEYOND, DESIGN, SCENARIOS

    count = len(SCENARIOS + BEYOND + DESIGN)
    words = {8: "eight"}[count]
    assert f"report's {words} scenarios" in (ROOT / "README.md").read_text()
    assert f"report's {words} scenarios" in (ROOT / "docs/reference/commands.md").read_text()
    report = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    scenarios = next(
        a for a in report.choices["report"]._actions if "--scenarios" in a.option_strings
    )
    assert f"the report's {words} scenarios" in scenarios.help
    assert all(name in scenarios.help for name in SCENARIOS + BEYOND + DESIGN)


def test_the_license_and_citation_are_there_and_the_version_has_one_home():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert "cff-version:" in citation and "license: MIT" in citation
    assert "\nversion:" not in citation  # the version is pyproject.toml's alone
    assert "[LICENSE](LICENSE)" in (ROOT / "README.md").read_text()
