"""The files ``l4sim checks --optimize`` writes: each fastpath's check order and design.

A scenario names one as ``check_order_file``: its points then run with the
order (``check_order = "optimized"``) or the design (``fastpath_design =
"optimized"``) the file gives, instead of profiling first. A file is JSON,
``{kind: {"order": [check names], "design": [steps], ...}}``; a plain list
per kind is an order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from l4sim.design.immutability import proven_immutable
from l4sim.kernel.checks import Check, reorder
from l4sim.kernel.fastpath_design import apply_design


def validate_order_file(
    path: str | Path, fastpaths: Mapping[str, tuple[Check[Any], ...]], designs: bool = False
) -> None:
    """Raise ValueError (one line) unless ``path`` holds valid orders of these fastpaths' checks.

    With ``designs``: valid fastpath designs (:mod:`l4sim.kernel.fastpath_design`).
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
    for kind, names in orders.items():
        try:
            if designs:
                proven = proven_immutable({kind: fastpaths[kind]})
                apply_design(fastpaths[kind], list(names), proven)
            else:
                reorder(fastpaths[kind], list(names))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {kind}: {error}") from None


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

    The ``"design"`` of each entry; a fastpath without one is refused (KeyError).
    """
    data = json.loads(Path(path).read_text())
    return {kind: entry["design"] for kind, entry in data.items() if kind in fastpaths}
