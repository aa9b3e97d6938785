"""The reference tables made from the code, so that no list of names is written twice.

Two MyST directives:

- ``{l4sim-keys} MODULE.MODEL``: a table of a pydantic model's scenario keys
  (:class:`l4sim.workloads.base.Point`, a workload's ``Params``): key, values,
  default, meaning. ``:own:`` keeps the keys the model declares itself (a
  workload's keys, and the common keys whose defaults it changes).
- ``{l4sim-costs}``: a table of every cost of :class:`l4sim.kernel.costs.Costs`
  with its meaning and its value in each built-in profile.

A key's or a cost's meaning is the docstring below its declaration (read from
the source, as autodoc reads an attribute's); one that has none fails the
build.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from docutils import nodes
from docutils.statemachine import StringList
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from sphinx.errors import ExtensionError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

ROLE = re.compile(r":\w+:`~?([^`]+)`")
PACKAGE = Path(importlib.import_module("l4sim").__file__).parent


def _analyzer(module: str) -> ModuleAnalyzer:
    """The source analyzer of ``module``: the package's own from its source file.

    A module of the package may run compiled (``l4sim.compiled``), its
    ``__file__`` a build without source.
    """
    if module.startswith("l4sim."):
        source = PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")
        return ModuleAnalyzer.for_file(str(source), module)
    return ModuleAnalyzer.for_module(module)


def attribute_doc(owner: type, name: str) -> str | None:
    """The docstring below attribute ``name`` in the class body of ``owner`` or of a base."""
    for cls in owner.__mro__:
        if cls is BaseModel or cls is object:
            break
        try:
            docs = _analyzer(cls.__module__).find_attr_docs()
        except Exception:  # a class without source (built in, or a user's compiled module)
            continue
        lines = docs.get((cls.__qualname__, name))
        if lines:
            return "\n".join(lines).strip()
    return None


def markdown(doc: str) -> str:
    """A docstring (reStructuredText inline markup) as one line of Markdown, for a table cell."""
    text = " ".join(line.strip() for line in doc.splitlines() if line.strip())
    text = ROLE.sub(r"`\1`", text).replace("``", "`")
    return text.replace("|", "\\|")


def toml_value(value: Any) -> str:
    """A default as a scenario file writes it (TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value.is_integer():
            return toml_value(int(value)) + ".0"
        return repr(value)
    if isinstance(value, str):
        return f'"{value}"'
    if value == {}:
        return "{}"
    return repr(value)


def _bounds(metadata: list) -> str:
    low = high = ""
    for rule in metadata:
        if isinstance(rule, annotated_types.Ge):
            low = toml_value(rule.ge)
        elif isinstance(rule, annotated_types.Gt):
            low = f"> {toml_value(rule.gt)}"
        elif isinstance(rule, annotated_types.Le):
            high = toml_value(rule.le)
        elif isinstance(rule, annotated_types.Lt):
            high = f"< {toml_value(rule.lt)}"
    if low and high and not low.startswith(">") and not high.startswith("<"):
        return f"{low} .. {high}"
    if low and high:
        return f"{low}, {high}"
    if low:
        return low if low.startswith(">") else f">= {low}"
    return f"<= {high}" if high else ""


def values(annotation: Any, metadata: list) -> str:
    """What a key takes: its type, the names it allows, its range."""
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{toml_value(choice)}`" for choice in get_args(annotation))
    optional = type(None) in get_args(annotation)
    if optional:
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    name = {bool: "boolean", int: "integer", float: "number", str: "text"}.get(annotation)
    if name is None:
        name = "table of costs" if get_origin(annotation) is dict else str(annotation)
    bounds = _bounds(metadata)
    shown = f"{name}, {bounds}" if bounds else name
    return f"{shown}, or unset" if optional else shown


def default(field: Any) -> str:
    """A key's default as a scenario writes it; a dash where the loader supplies it."""
    if field.default_factory is not None:
        return f"`{toml_value(field.default_factory())}`"
    if field.default is PydanticUndefined:
        return "-"
    if field.default is None:
        return "unset"
    return f"`{toml_value(field.default)}`"


def keys_table(model: type[BaseModel], own: bool = False) -> list[str]:
    """The Markdown table of ``model``'s keys (``own``: those it declares itself)."""
    names = list(model.model_fields)
    if own:
        declared = vars(model).get("__annotations__", {})
        names = [name for name in names if name in declared and name != "workload"]
    rows = ["| key | values | default | meaning |", "|---|---|---|---|"]
    for name in names:
        field = model.model_fields[name]
        doc = attribute_doc(model, name)
        if doc is None:
            raise ExtensionError(
                f"{model.__module__}.{model.__qualname__}.{name}: a scenario key without a "
                "docstring below its declaration (its meaning in the reference)"
            )
        meaning = markdown(doc)
        rows.append(
            f"| `{name}` | {values(field.annotation, field.metadata)} | {default(field)} "
            f"| {meaning} |"
        )
    return rows


def costs_table() -> list[str]:
    """The Markdown table of every cost: meaning, and its value in each built-in profile."""
    from l4sim.kernel.costs import COST_KEYS, Costs, load_profile

    profiles = sorted(path.stem for path in _profile_dir().glob("*.toml"))
    loaded = [load_profile(name) for name in profiles]
    declared = {f.name: f for f in fields(Costs)}
    header = "| cost | meaning | " + " | ".join(f"`{name}`" for name in profiles) + " |"
    rows = [header, "|---|---|" + "---|" * len(profiles)]
    for name in COST_KEYS:
        doc = attribute_doc(Costs, name)
        if doc is None:
            raise ExtensionError(
                f"l4sim.kernel.costs.Costs.{name}: a cost without a docstring below its "
                "declaration (its meaning in the reference)"
            )
        meaning = markdown(doc)
        if declared[name].default is not MISSING:
            meaning += f" Optional (default {declared[name].default})."
        cells = " | ".join(f"{getattr(costs, name):,}" for costs in loaded)
        rows.append(f"| `{name}` | {meaning} | {cells} |")
    return rows


def _profile_dir():
    from l4sim.kernel.costs import PROFILE_DIR

    return PROFILE_DIR


class _Table(SphinxDirective):
    """A directive whose content is a generated Markdown table."""

    def table(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        lines = self.table()
        self.state.nested_parse(StringList(lines, self.get_source_info()[0]), 0, container)
        return container.children


class KeysDirective(_Table):
    """``{l4sim-keys} module.Model``: the model's scenario keys."""

    required_arguments = 1
    option_spec = {"own": lambda argument: True}  # noqa: RUF012 (docutils' interface)

    def table(self) -> list[str]:
        module, _, name = self.arguments[0].rpartition(".")
        model = getattr(importlib.import_module(module), name)
        return keys_table(model, own="own" in self.options)


class CostsDirective(_Table):
    """``{l4sim-costs}``: every cost name."""

    def table(self) -> list[str]:
        return costs_table()


def setup(app: Any) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("l4sim-keys", KeysDirective)
    app.add_directive("l4sim-costs", CostsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
