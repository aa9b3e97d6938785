"""Scenario files: flat TOML, validated, expanded into a sweep of points.

Every parameter is a top-level key; cost overrides are ``costs.NAME`` keys
(``costs.lock_handoff = 30``, or a ``[costs]`` table). A ``[sweep]`` table
gives lists of values for any of those keys (``"costs.lock_handoff" = [30,
60]`` too); the sweep is their cartesian product. ``--set`` overrides use
TOML value syntax (``--set events=500``, ``--set sweep.threads=[1,2]``,
``--set costs.lock_handoff=30``); setting a plain key that is also swept pins
it. A key naming a file (``workload``, ``profile``, ``fastpath_checks``,
``check_order_file``) is taken relative to the scenario file, or, given with
``--set``, to the current folder.

Every problem is a :class:`ScenarioError` whose message is one line naming
the file, the key and the problem.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from l4sim.kernel.costs import COST_KEYS, cost_problem
from l4sim.workloads.base import COSTS_PREFIX, PATH_KEYS, RUN_KEYS, Point, is_path, plain_name
from l4sim.workloads.registry import Workload, WorkloadError, find_workload

DEFAULT_WORKLOAD = "syscall_bench"


class ScenarioError(ValueError):
    """A bad scenario: the message is one line naming file, key and problem."""


class Scenario(BaseModel):
    """A scenario: base values of every key plus the swept keys' value lists."""

    base: dict
    sweep: dict[str, list]
    source: str = "<scenario>"
    # where a key's value came from when not the file: '--set KEY=VALUE'
    origins: dict[str, str] = {}
    # a ``[sensitivity]`` table: the study ``l4sim sensitivity`` runs on this scenario
    # (l4sim.analysis.sensitivity reads it; ``l4sim run`` runs the scenario itself)
    study: dict = {}

    def points(self) -> list[Point]:
        """The cartesian product of the sweep, each point validated."""
        keys = list(self.sweep)
        points = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            data = _with_values(self.base, dict(zip(keys, values, strict=True)))
            points.append(_validate_point(data, self.source, origins=self.origins))
        return points

    @property
    def name(self) -> str:
        """The scenario's name, and its output folder's (``results/<name>/``)."""
        return self.base["name"]


def _with_values(base: dict, values: dict) -> dict:
    """``base`` with some keys set; a ``costs.NAME`` key sets that cost override."""
    data = {**base, "costs": dict(base.get("costs", {}))}
    for key, value in values.items():
        if key.startswith(COSTS_PREFIX):
            data["costs"][key.removeprefix(COSTS_PREFIX)] = value
        else:
            data[key] = value
    return data


def workload_of(data: dict, source: str) -> Workload:
    """The workload a scenario's data names (its Params validates the keys)."""
    try:
        return find_workload(data.get("workload", DEFAULT_WORKLOAD))
    except WorkloadError as error:
        raise ScenarioError(f"{source}: key 'workload': {error}") from None


def _validate_point(
    data: dict, source: str, where: str = "", origins: dict[str, str] | None = None
) -> Point:
    """A point of the scenario; an error names the file, or the ``--set`` a key came from."""
    origins = origins or {}
    model = workload_of(data, origins.get("workload", source)).Params
    _check_costs(data.get("costs", {}), source, where, origins)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        key = ".".join(str(part) for part in first["loc"])
        if not key:  # a rule across keys: name the key its message starts with
            named = re.match(r"\w+", message)
            key = named.group(0) if named and named.group(0) in model.model_fields else "(scenario)"
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        value = first.get("input")
        quiet = (
            first["type"] in ("extra_forbidden", "missing") or not first["loc"] or key in PATH_KEYS
        )
        shown = "" if quiet or "(got " in message else f" (got {value!r})"
        source = origins.get(key, origins.get(key.split(".")[0], source))
        raise ScenarioError(f"{source}: {where}key '{key}': {message}{shown}") from None


def _check_costs(
    costs, source: str, where: str = "", origins: dict[str, str] | None = None
) -> None:
    if not isinstance(costs, dict):
        raise ScenarioError(
            f"{source}: {where}key 'costs': must be a table of cost overrides (costs.NAME = cycles)"
        )
    for name, value in costs.items():
        key = f"{COSTS_PREFIX}{name}"
        origin = (origins or {}).get(key, source)
        if name not in COST_KEYS:
            raise ScenarioError(
                f"{origin}: {where}key '{key}': unknown cost (known: {', '.join(COST_KEYS)})"
            )
        problem = cost_problem(name, value)
        if problem:
            raise ScenarioError(f"{origin}: {where}key '{key}': {problem}")


def parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with a TOML value; a bare word is taken as a string."""
    if "=" not in text:
        raise ScenarioError(f"--set {text}: expected KEY=VALUE")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key:
        raise ScenarioError(f"--set {text}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw and all(ch.isalnum() or ch in "_-./" for ch in raw):
            value = raw
        else:
            raise ScenarioError(
                f"--set {text}: value {raw!r} is not valid TOML (quote strings: KEY='\"...\"')"
            ) from None
    return key, value


def resolve_path(value, folder: Path, key: str):
    """A file-naming key's value made absolute (relative to ``folder``); names stay names."""
    if not isinstance(value, str) or not value:
        return value
    if key in ("workload", "profile", "fastpath_checks") and not is_path(value):
        return value  # a built-in or installed name
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (folder / path).resolve())


def _resolve_paths(values: dict, folder: Path, sweep: bool = False) -> dict:
    resolved = dict(values)
    for key in PATH_KEYS:
        if key in resolved:
            value = resolved[key]
            resolved[key] = (
                [resolve_path(v, folder, key) for v in value]
                if sweep and isinstance(value, list)
                else resolve_path(value, folder, key)
            )
    return resolved


def _flat_sweep(sweep: dict, source: str) -> dict:
    """``[sweep.costs]`` or ``costs.NAME = [...]`` in ``[sweep]`` as flat ``costs.NAME`` keys."""
    flat = {}
    for key, values in sweep.items():
        if key == "costs":
            if not isinstance(values, dict):
                raise ScenarioError(
                    f"{source}: key 'sweep.costs': must be a table of lists (costs.NAME = [...])"
                )
            flat.update({f"{COSTS_PREFIX}{name}": v for name, v in values.items()})
        else:
            flat[key] = values
    return flat


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario file (raises :class:`ScenarioError`)."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ScenarioError(f"{source}: is a folder, not a scenario file")
    if not path.is_file():
        raise ScenarioError(f"{source}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no syntax error
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: {_syntax_error(error, text)}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: not a UTF-8 text file") from None
    except OSError as error:
        raise ScenarioError(f"{source}: cannot read ({error.strerror})") from None
    sweep = data.pop("sweep", {})
    if not isinstance(sweep, dict):
        raise ScenarioError(f"{source}: key 'sweep': must be a table of lists")
    study = data.pop("sensitivity", {})
    if not isinstance(study, dict):
        raise ScenarioError(f"{source}: key 'sensitivity': must be a table")
    folder = path.resolve().parent
    data = _resolve_paths(data, folder)
    sweep = _resolve_paths(_flat_sweep(sweep, source), folder, sweep=True)
    if "costs" in data:
        _check_costs(data["costs"], source)
    data["costs"] = dict(data.get("costs", {}))
    origins: dict[str, str] = {}  # key -> the --set it came from
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("sweep."):
            key = key.removeprefix("sweep.")
            sweep[key] = _resolve_paths({key: value}, Path.cwd(), sweep=True)[key]
        else:
            value = _resolve_paths({key: value}, Path.cwd())[key]
            if key.startswith(COSTS_PREFIX):
                data["costs"][key.removeprefix(COSTS_PREFIX)] = value
            elif key == "costs":
                _check_costs(value, f"--set {text}")
                data["costs"].update(value)
                origins.update({f"{COSTS_PREFIX}{name}": f"--set {text}" for name in value})
            else:
                data[key] = value
            sweep.pop(key, None)
        origins[key] = f"--set {text}"
    data.setdefault("name", plain_name(path.stem))
    keys = workload_of(data, origins.get("workload", source)).Params.model_fields
    for key, values in sweep.items():
        origin = origins.get(key, source)
        if key.startswith(COSTS_PREFIX) and key.removeprefix(COSTS_PREFIX) not in COST_KEYS:
            raise ScenarioError(
                f"{origin}: key 'sweep.{key}': unknown cost (known: {', '.join(COST_KEYS)})"
            )
        if key not in keys and not key.startswith(COSTS_PREFIX):
            raise ScenarioError(f"{origin}: key 'sweep.{key}': unknown key")
        if key in RUN_KEYS | {"workload", "costs"}:
            raise ScenarioError(f"{origin}: key 'sweep.{key}': cannot be swept")
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{origin}: key 'sweep.{key}': must be a non-empty list")
    _validate_point(data, source, origins=origins)
    for key, values in sweep.items():
        # compared once validated: 10 and 10.0 are the same wait_factor
        seen = [
            _validate_point(
                _with_values(data, {key: value}), source, where="sweep ", origins=origins
            ).flat()[key]
            for value in values
        ]
        if len({json.dumps(v) for v in seen}) != len(seen):
            raise ScenarioError(f"{origins.get(key, source)}: key 'sweep.{key}': repeated values")
    return Scenario(base=data, sweep=sweep, source=source, origins=origins, study=study)


def _syntax_error(error: tomllib.TOMLDecodeError, text: str) -> str:
    """'TOML syntax error at line N: problem' (tomllib omits the line at end of file)."""
    message = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(found.group(1)) if found else max(1, len(text.splitlines()))
    problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return f"TOML syntax error at line {line}: {problem}"


def point_from_dict(values: dict) -> Point:
    """A point from keyword values (defaults for the rest): for notebooks and benchmarks.

    ``costs.NAME`` keys set cost overrides; paths are relative to the current folder.
    """
    plain = {k: v for k, v in values.items() if not k.startswith(COSTS_PREFIX)}
    data = _with_values(
        _resolve_paths({"name": "adhoc", **plain}, Path.cwd()),
        {k: v for k, v in values.items() if k.startswith(COSTS_PREFIX)},
    )
    return _validate_point(data, "<point>")


def point_keys(points: list[Point]) -> list[str]:
    """The table columns of these points' keys, in declaration order (costs.NAME flat)."""
    keys: list[str] = []
    for point in points:
        keys.extend(k for k in point.flat() if k not in keys)
    return keys
