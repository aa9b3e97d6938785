"""What the docs point at exists: files, modules and names of the code, and pages.

A page that names ``l4sim/sweep/runner.py`` or ``l4sim.sweep.runner.simulate``
after the code moved sends its reader nowhere; so does a comment or a
message naming a page of the docs that moved.
"""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")]
PAGES = [page for page in PAGES if "_build" not in page.parts]
# made by a build, not in git
GENERATED = {"l4sim/_compiled", "l4sim/_compiled.log"}
PATH = re.compile(r"`((?:l4sim|tests|benchmarks|scripts|examples|scenarios|notebooks)/[\w/.-]*)`")
NAME = re.compile(r"`(l4sim(?:\.\w+)+)`")
PAGE = re.compile(r"\bdocs/[\w/-]+\.md")
# where the code, the scenarios and the build name pages of the docs
NAMING_PAGES = ["l4sim/**/*.py", "l4sim/profiles/*.toml", "scenarios/*.toml", "tests/**/*.py"]


def _current(page: Path) -> str:
    """The page's text; of CHANGELOG.md, the items that tell no move (``old -> new``)."""
    text = page.read_text()
    if page.name == "CHANGELOG.md":  # an item is a "- " line and the lines indented below
        items = re.split(r"\n(?=\s*- )", text)
        text = "\n".join(item for item in items if "->" not in item)
    return text


def resolves(dotted: str) -> bool:
    """``dotted`` is a module of the package, or a name in one (any depth)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(value, attribute):
                return False
            value = getattr(value, attribute)
        return True
    return False


def test_every_path_a_page_names_exists():
    for page in PAGES:
        for path in PATH.findall(_current(page)):
            path = path.rstrip("/.")
            if re.search(r"[A-Z]{3,}", path) or path in GENERATED:  # a placeholder: NAME.toml
                continue
            assert (ROOT / path).exists(), f"{page.name}: {path}"


def test_every_module_and_name_a_page_names_resolves():
    for page in PAGES:
        for dotted in NAME.findall(_current(page)):
            assert resolves(dotted), f"{page.name}: {dotted}"


def test_every_page_named_in_the_code_exists():
    for pattern in NAMING_PAGES:
        for path in ROOT.glob(pattern):
            for page in PAGE.findall(path.read_text()):
                assert (ROOT / page).is_file(), f"{path.relative_to(ROOT)}: {page}"
    for path in [ROOT / "Makefile", *PAGES]:
        for page in PAGE.findall(_current(path)):
            assert (ROOT / page).is_file(), f"{path.name}: {page}"
