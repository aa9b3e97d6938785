"""The public API: ``from l4sim import ...``, held against its reference page.

Every name of ``l4sim.__all__`` resolves, is documented (its own docstring,
and a place in ``docs/reference/api.md``, which documents nothing else), and
is imported only when first used, so that a worker process's ``import
l4sim.kernel...`` stays as cheap as the package itself.
"""

import ast
import importlib.metadata
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import l4sim

ROOT = Path(__file__).parents[2]
API_PAGE = ROOT / "docs" / "reference" / "api.md"
# a documented object: ".. autofunction:: l4sim.simulate", ".. py:data:: l4sim.IPC"
ENTRY = re.compile(r"^\.\. (auto\w+|py:\w+):: l4sim\.(\w+)", re.MULTILINE)


def documented() -> list[tuple[str, str]]:
    """(directive, name) of every object the API page documents, in order."""
    return ENTRY.findall(API_PAGE.read_text())


def test_every_exported_name_resolves():
    for name in l4sim.__all__:
        assert getattr(l4sim, name) is not None, name
    assert set(l4sim.__all__) <= set(dir(l4sim))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = l4sim.no_such_name
    with pytest.raises(ImportError):
        exec("from l4sim import no_such_name", {})


def test_all_is_what_the_api_reference_documents():
    names = [name for _, name in documented()]
    assert len(names) == len(set(names)), "a name documented twice"
    assert set(names) == set(l4sim.__all__), set(names) ^ set(l4sim.__all__)


def test_every_exported_name_is_documented():
    text = API_PAGE.read_text()
    for directive, name in documented():
        value = getattr(l4sim, name)
        if directive.startswith("auto"):  # documented by its own docstring
            doc = value.__doc__ or ""
            generated = f"{value.__name__}("  # what a dataclass without one gets
            assert doc.strip() and not doc.startswith(generated), f"{name}: no docstring"
        else:  # data: the page describes it, below its directive
            block = text[text.index(f":: l4sim.{name}\n") :].split("\n\n")[1]
            assert block.strip() and not block.lstrip().startswith(".."), f"{name}: no text"


def test_type_checkers_see_the_same_names_from_the_same_modules():
    """The ``if TYPE_CHECKING:`` imports and the lazy table name the same objects."""
    tree = ast.parse((ROOT / "l4sim" / "__init__.py").read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    seen = {
        alias.asname: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == l4sim._PUBLIC
    for name, module in l4sim._PUBLIC.items():
        assert getattr(importlib.import_module(module), name) is getattr(l4sim, name)


def test_a_deep_import_loads_none_of_the_public_api():
    """``import l4sim.kernel.costs`` (every worker process) imports no other layer."""
    code = (
        "import sys, l4sim.kernel.costs\n"
        "print(' '.join(m for m in sys.modules if m.startswith('l4sim.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "l4sim.kernel.costs" in loaded
    for layer in ("sweep", "simulation", "workloads", "sim", "analysis", "cli", "design"):
        assert not [m for m in loaded if m.startswith(f"l4sim.{layer}.")], layer


def test_the_package_imports_no_public_name_from_its_root():
    """Inside the package, names come from their modules.

    The model version hashes the import closure of a run by reading import
    statements (``l4sim.sweep.model_version``), and the package's root is
    left out of it: ``from l4sim import simulate`` there would hide a module
    from the closure.
    """
    for path in (ROOT / "l4sim").rglob("*.py"):
        if path.name == "__init__.py" and path.parent.name == "l4sim":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "l4sim" and node.level == 0:
                public = [a.name for a in node.names if a.name in l4sim._PUBLIC]
                assert not public, f"{path.relative_to(ROOT)}: from l4sim import {public}"


def test_the_version_is_written_once():
    written = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert l4sim.__version__ == importlib.metadata.version("l4sim") == written
    source = inspect.getsource(l4sim)
    assert written not in source
