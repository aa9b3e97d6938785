"""The files ``l4sim checks --optimize`` writes: each fastpath's check order and design.

A scenario names one as ``check_order_file``: its points then run with the
order (``check_order = "optimized"``) or the design (``fastpath_design =
"optimized"``) the file gives, instead of profiling first. A file is JSON,
``{kind: {"order": [check names], "design": [steps], ...}}``; a plain list
per kind is an order. A design may be an operation's own
(``"ipc.call": {"design": [...]}``, :data:`l4sim.kernel.fastpath_design.OPERATIONS`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from l4sim.design.immutability import proven_immutable
from l4sim.kernel.checks import Check, reorder
from l4sim.kernel.fastpath_design import OPERATIONS, apply_design, split_design_key


def validate_order_file(
    path: str | Path,
    fastpaths: Mapping[str, tuple[Check[Any], ...]],
    designs: bool = False,
    proven: frozenset[str] | None = None,
) -> None:
    """Raise ValueError (one line) unless ``path`` holds valid orders of these fastpaths' checks.

    With ``designs``: valid fastpath designs (:mod:`l4sim.kernel.fastpath_design`),
    whose hoists rest on ``proven`` (default: the static scan's proof).
    """
    try:
        orders = load_design_file(path, fastpaths) if designs else load_order_file(path, fastpaths)
    except FileNotFoundError:
        raise ValueError(f"no such file {str(path)!r}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        what = "fastpath-design" if designs else "check-order"
        raise ValueError(f"{path}: not a {what} file ({error})") from None
    if not orders:
        raise ValueError(
            f"{path}: names no fastpath's order (expected keys among {', '.join(fastpaths)})"
        )
    for key, names in orders.items():
        kind, _ = split_design_key(key)
        try:
            if designs:
                immutable = proven_immutable(fastpaths) if proven is None else proven
                apply_design(fastpaths[kind], list(names), immutable)
            else:
                reorder(fastpaths[kind], list(names))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {key}: {error}") from None


def load_order_file(
    path: str | Path, fastpaths: Mapping[str, tuple[Check[Any], ...]]
) -> dict[str, list[str]]:
    """``{"syscall_exception": [...], "ipc": [...]}`` from a file written by ``l4sim checks``.

    Entries for fastpaths not in ``fastpaths`` are ignored.
    """
    data = json.loads(Path(path).read_text())
    return {
        kind: entry["order"] if isinstance(entry, dict) else entry
        for kind, entry in data.items()
        if kind in fastpaths
    }


def load_design_file(
    path: str | Path, fastpaths: Mapping[str, tuple[Check[Any], ...]]
) -> dict[str, list[str]]:
    """The fastpath designs of a file written by ``l4sim checks --optimize``.

    The ``"design"`` of each entry, a kind's or an operation's; a fastpath
    without one is refused (KeyError).
    """
    data = json.loads(Path(path).read_text())
    return {key: entry["design"] for key, entry in data.items() if _names_design(key, fastpaths)}


def _names_design(key: str, fastpaths: Mapping[str, tuple[Check[Any], ...]]) -> bool:
    """Whether ``key`` names one of these fastpaths, or one of its operations."""
    kind, operation = split_design_key(key)
    return kind in fastpaths and (operation is None or operation in OPERATIONS.get(kind, ()))
