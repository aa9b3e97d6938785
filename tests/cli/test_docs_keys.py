"""The table of common scenario keys (docs/scenarios.md) states the defaults the model has."""

import re
from pathlib import Path

from l4sim.workloads.base import Point

README = Path(__file__).parents[2] / "docs" / "scenarios.md"


def _table() -> dict[str, str]:
    text = README.read_text()
    start = text.index("Keys every workload has")
    rows = {}
    for line in text[start:].splitlines()[4:]:
        if not line.startswith("| `"):
            break
        keys, default, _ = (cell.strip() for cell in line.strip("|").split("|", 2))
        for key, value in zip(re.findall(r"`(\w+)`", keys), default.split(", "), strict=False):
            rows[key] = value
    return rows


def _shown(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    return str(value)


def test_every_common_key_is_listed_with_its_default():
    table = _table()
    fields = Point.model_fields
    assert set(table) == set(fields), set(table) ^ set(fields)
    for key, field in fields.items():
        if field.is_required() or field.default is None or field.default_factory is not None:
            continue  # described in words (the file's stem, the profile's value, empty)
        assert table[key] == _shown(field.default), key
