"""The parameters of a sensitivity study: which key varies, over which range.

A parameter is a profile cost (``costs.NAME``) or a numeric key of the
scenario's workload (``hold_mean``, ``wait_factor``), with a range
``LOW:HIGH``. Each bound is either a number in the key's own unit (cycles
for a cost) or a change relative to the scenario's value, ``-30%`` or
``+30%``. ``costs.*`` stands for every cost of the profile at once, except
those given by name (their own range wins), those fixed (``--fix``: the
fitted costs, say) and those whose value is 0 (a relative range around 0 is
empty).

Costs and integer keys are whole numbers: a sampled value is rounded to the
nearest one, and a range must hold at least two. A range must stay inside
the key's valid domain (a cost's limits, as
:func:`l4sim.kernel.costs.cost_problem` gives them; a workload key's own),
checked at both ends on every point of the scenario. Every problem is a
:class:`StudyError`: one line naming the option, the parameter and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from l4sim.kernel.costs import COST_KEYS, cost_problem
from l4sim.sweep.scenario import Scenario
from l4sim.workloads.base import COSTS_PREFIX, RUN_KEYS, Point

ALL_COSTS = f"{COSTS_PREFIX}*"
# a parameter every study samples and applies to nothing: its index is the noise floor
NO_EFFECT = "(no effect)"
# keys that size a run or name one: what a study measures with, not a model parameter
NOT_PARAMETERS = RUN_KEYS | {"events", "warmup_events", "stream_key"}
_RELATIVE = re.compile(r"^([+-]?\d+(?:\.\d+)?)%$")


class StudyError(ValueError):
    """A bad study: the message is one line naming the option, the parameter and the problem."""


@dataclass(frozen=True)
class Parameter:
    """One varied key and its range (in the key's unit, before rounding)."""

    name: str  # as given: costs.lock_handoff, hold_mean
    low: float
    high: float
    value: float  # the scenario's own value (the centre of a relative range)
    integer: bool  # a cost or an integer key: sampled values are rounded

    def applied(self, sampled: float):
        """The value a point gets for a sampled number (a whole one where the key needs it)."""
        return round(sampled) if self.integer else float(sampled)

    @property
    def cost(self) -> str | None:
        """The cost's name, for a ``costs.NAME`` parameter."""
        return self.name.removeprefix(COSTS_PREFIX) if self.name.startswith(COSTS_PREFIX) else None


def parse_parameters(
    specs: list[str], fixed: list[str], scenario: Scenario, option: str = "--param"
) -> list[Parameter]:
    """The parameters ``specs`` (``NAME=LOW:HIGH``) name, checked against the scenario."""
    points = scenario.points()
    parsed: dict[str, tuple[str, str, str]] = {}
    for spec in specs:
        name, low, high = _split(spec, option)
        if name in parsed and name != ALL_COSTS:
            raise StudyError(f"{option} {spec}: parameter '{name}' given twice")
        parsed[name] = (spec, low, high)
    fixed_names = set()
    for name in fixed:
        if not _known(name, points[0]):
            raise StudyError(f"--fix {name}: unknown parameter ({_known_text(points[0])})")
        fixed_names.add(name)
    names: list[tuple[str, str, str, str]] = []
    for name, (spec, low, high) in parsed.items():
        if name == ALL_COSTS:
            for cost in COST_KEYS:
                key = f"{COSTS_PREFIX}{cost}"
                if key in parsed or key in fixed_names or key in scenario.sweep:
                    continue
                if _values(key, points) == {0}:
                    continue  # nothing to vary relatively; give it a range by name
                names.append((key, spec, low, high))
        elif name in fixed_names:
            raise StudyError(f"{option} {spec}: parameter '{name}' is also fixed (--fix)")
        else:
            names.append((name, spec, low, high))
    if not names:
        raise StudyError(f"{option}: no parameter to vary (give --param NAME=LOW:HIGH)")
    return [
        _parameter(name, spec, low, high, scenario, points, option)
        for name, spec, low, high in names
    ]


def _split(spec: str, option: str) -> tuple[str, str, str]:
    if "=" not in spec or ":" not in spec.split("=", 1)[1]:
        raise StudyError(
            f"{option} {spec}: expected NAME=LOW:HIGH (e.g. costs.lock_handoff="
            "30:90 or costs.*=-30%:+30%)"
        )
    name, bounds = (part.strip() for part in spec.split("=", 1))
    low, high = (part.strip() for part in bounds.split(":", 1))
    return name, low, high


def _known(name: str, point: Point) -> bool:
    if name.startswith(COSTS_PREFIX):
        return name.removeprefix(COSTS_PREFIX) in COST_KEYS
    return name in _numeric_keys(point)


def _numeric_keys(point: Point) -> list[str]:
    return [
        key
        for key, field in type(point).model_fields.items()
        if field.annotation in (int, float) and key not in NOT_PARAMETERS
    ]


def _known_text(point: Point) -> str:
    return (
        f"a cost costs.NAME, costs.*, or a numeric key of workload {point.workload}: "
        f"{', '.join(_numeric_keys(point))}"
    )


def _values(name: str, points: list[Point]) -> set:
    """The parameter's value on each point of the scenario."""
    if name.startswith(COSTS_PREFIX):
        cost = name.removeprefix(COSTS_PREFIX)
        return {getattr(p.cost_profile(), cost) for p in points}
    return {getattr(p, name) for p in points}


def _bound(text: str, value: float, spec: str, option: str) -> float:
    relative = _RELATIVE.match(text)
    if relative:
        return value * (1 + float(relative.group(1)) / 100)
    try:
        return float(text)
    except ValueError:
        raise StudyError(
            f"{option} {spec}: bound {text!r} is neither a number nor a percentage (-30%, +30%)"
        ) from None


def _parameter(
    name: str,
    spec: str,
    low_text: str,
    high_text: str,
    scenario: Scenario,
    points: list[Point],
    option: str,
) -> Parameter:
    where = f"{option} {spec}" + ("" if spec.split("=", 1)[0].strip() == name else f" ({name})")
    if not _known(name, points[0]):
        raise StudyError(f"{where}: unknown parameter ({_known_text(points[0])})")
    if name in scenario.sweep:
        raise StudyError(
            f"{where}: the scenario sweeps '{name}'; a key is either swept or varied by the study"
        )
    values = _values(name, points)
    relative = bool(_RELATIVE.match(low_text) or _RELATIVE.match(high_text))
    if relative and len(values) > 1:
        raise StudyError(
            f"{where}: its value differs between the scenario's points; give an absolute range"
        )
    value = float(next(iter(values)))
    low, high = (_bound(t, value, spec, option) for t in (low_text, high_text))
    integer = name.startswith(COSTS_PREFIX) or type(points[0]).model_fields[name].annotation is int
    if not low < high:
        raise StudyError(f"{where}: LOW ({low:g}) must be below HIGH ({high:g})")
    if integer and round(low) == round(high):
        raise StudyError(
            f"{where}: the range {low:g}..{high:g} holds a single whole number; widen it"
        )
    parameter = Parameter(name, low, high, value, integer)
    for bound in (low, high):
        for point in points:
            try:
                with_value(point, {parameter: bound})
            except (ValidationError, ValueError) as error:
                raise StudyError(
                    f"{where}: {bound:g} leaves the parameter's valid domain ({_reason(error)})"
                ) from None
    return parameter


def with_value(point: Point, values: dict[Parameter, float], stream_key: str = "") -> Point:
    """``point`` with each parameter at its (rounded) value, validated."""
    data = point.model_dump()
    data["costs"] = dict(data["costs"])
    for parameter, sampled in values.items():
        value = parameter.applied(sampled)
        if parameter.cost is not None:
            problem = cost_problem(parameter.cost, value)
            if problem:
                raise ValueError(f"costs.{parameter.cost} {problem}")
            data["costs"][parameter.cost] = value
        else:
            data[parameter.name] = value
    if stream_key:
        data["stream_key"] = stream_key
    return type(point).model_validate(data)


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return first["msg"].removeprefix("Value error, ")
    return str(error)
