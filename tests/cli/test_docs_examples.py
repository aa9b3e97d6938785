"""Every shell example of the README and of docs/ runs, as SimPy runs its documentation's.

The rules (docs/how-to/development.md, "Examples in the docs"): each ```sh block is
run with ``bash -e`` in a fresh copy of the repository, a page's blocks in
order; ``l4sim run`` and ``l4sim report`` get small sizes appended; a block's
exit status must be its ``# exit N`` comment (default 0); a block starting
with ``# not run: REASON`` is skipped.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every example in a subprocess

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
# README, then every page of the four parts (tutorial, how-to, reference, background)
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]
SMALL = "--set events=40 --set warmup_events=4 --set replications=2"
COPIED = (
    "README.md",
    "docs",
    "scenarios",
    "examples",
    "notebooks",
    "scripts",
    "benchmarks",
    "Makefile",
    "pyproject.toml",
)
BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SIZED = re.compile(r"(^|[\s/])l4sim (run|report)\b")


def shell_blocks(page: Path) -> list[str]:
    """The page's ```sh blocks, in order."""
    return [body for language, body in BLOCK.findall(page.read_text()) if language == "sh"]


def sized(block: str) -> str:
    """The block with small sizes appended to every 'l4sim run' and 'l4sim report'."""
    lines, out, command = block.splitlines(), [], ""
    for line in lines:
        command += line
        if line.rstrip().endswith("\\"):
            out.append(line)
            continue
        if SIZED.search(command) and not command.lstrip().startswith("#"):
            code, hash_, comment = line.partition(" #")
            line = f"{code.rstrip()} {SMALL}" + (f"  #{comment}" if hash_ else "")
        out.append(line)
        command = ""
    return "\n".join(out) + "\n"


def expected_status(block: str) -> int:
    found = re.search(r"^#\s*exit (\d+)", block, flags=re.MULTILINE)
    return int(found.group(1)) if found else 0


def _copy(destination: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                destination / name,
                ignore=shutil.ignore_patterns("results", "__pycache__", "_build", ".*"),
            )
        elif source.exists():
            shutil.copy2(source, destination / name)
    (destination / ".venv").symlink_to(ROOT / ".venv")


def _name(page: Path) -> str:
    """A page's path from the docs folder (``how-to/extending.md``), or README.md."""
    return page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name


def test_the_readme_is_a_front_door_and_the_project_stands_alone():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    index = (DOCS / "index.md").read_text()
    for page in PAGES[1:]:
        name = _name(page)
        assert f"(docs/{name})" in readme, name  # "Further documentation" links every page
        if name != "index.md":  # and the index too, and its table of contents
            assert f"({name})" in index, name
            assert f"\n{name.removesuffix('.md')}\n" in index, f"{name}: not in a toctree"
    for page in PAGES:  # no path into a folder beside the repository
        assert "../shared" not in page.read_text() and "/work/" not in page.read_text()


def test_every_page_is_found_and_the_rules_hold():
    assert ROOT / "README.md" in PAGES and len(PAGES) >= 5
    assert {page.parent.name for page in PAGES[1:]} >= {"tutorial", "how-to", "reference"}
    assert sized("l4sim run x.toml --jobs 1  # note\n") == (
        f"l4sim run x.toml --jobs 1 {SMALL}  # note\n"
    )
    assert sized(".venv/bin/l4sim report \\\n  --quiet\n").endswith(f"--quiet {SMALL}\n")
    assert sized("l4sim validate x.toml\n") == "l4sim validate x.toml\n"
    assert expected_status("l4sim run x\n# exit 3: a violation\n") == 3


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_the_shell_examples_of_a_page_run(page, tmp_path):
    blocks = shell_blocks(page)
    if not blocks:
        pytest.skip(f"{_name(page)} has no shell examples")
    _copy(tmp_path)
    environment = {**os.environ, "PATH": f"{tmp_path / '.venv' / 'bin'}:{os.environ['PATH']}"}
    for number, block in enumerate(blocks, 1):
        if block.lstrip().startswith("# not run:"):
            continue
        result = subprocess.run(
            ["bash", "-e", "-c", sized(block)],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == expected_status(block), (
            f"{_name(page)}, shell example {number} exited {result.returncode}:\n{block}\n"
            f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
        )
