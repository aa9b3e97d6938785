"""A report as a list of blocks, written as Markdown and as one self-contained HTML page.

Blocks are headings, paragraphs, tables and figures. Tables are formatted
for reading: headers in words, integers with thousands separators, other
numbers to three significant digits, and an empty cell as "n/a" with the
reason in a note under the table. The HTML page inlines its figures (PNG as
base64) and its style, so it opens in any browser from anywhere, mailed or
copied alone.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from l4sim.analysis.style import Drawn, number

# headers a reader should not have to decode
HEADERS = {
    "fail_rate": "failure rate",
    "cycles_before_failure": "cycles before failure",
    "locks_held_at_failure": "locks held at failure",
    "if_passes": "if this passes",
    "then_passes": "this passes too",
    "irq_forward": "IRQ forwarding",
    "fastpath_notify": "notification fastpath",
    "check_order": "check order",
    "wait_factor": "wait factor",
    "kind": "kernel entry",
}


# the note of an empty cell whose table gave no reason: a report's tables give one for
# every column that can be empty (the report's test holds them to it)
NO_REASON = "no value for this row"


@dataclass
class Table:
    """A table: a DataFrame, with why a column may have no value (shown as 'n/a')."""

    frame: pd.DataFrame
    missing: dict[str, str] = field(default_factory=dict)  # column -> why it can be empty
    percent: tuple[str, ...] = ()  # columns of shares, shown as percentages
    decimals: dict[str, int] = field(default_factory=dict)  # fixed decimals (with a sign)
    raw: bool = False  # cells are text already (the claims table)


@dataclass
class Document:
    """The blocks of a report in order, as (kind, content).

    The kinds: heading, text, bullets, steps, table, figure.
    """

    title: str
    # (Any: what a block holds depends on its kind, which the checker cannot follow)
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(("text", text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("bullets", list(items)))

    def steps(self, items: list[str]) -> None:
        """A numbered list: steps whose order is the point (a fastpath's checks)."""
        if items:
            self.blocks.append(("steps", list(items)))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def figure(self, figure: Drawn) -> None:
        self.blocks.append(("figure", figure))

    def markdown(self, folder: Path) -> str:
        """As Markdown; figures by path relative to ``folder`` (where the file goes)."""
        lines = [f"# {self.title}", ""]
        for kind, content in self.blocks:
            if kind == "heading":
                level, text = content
                lines += ["#" * level + " " + text, ""]
            elif kind == "text":
                lines += [content, ""]
            elif kind == "bullets":
                lines += [f"- {item}" for item in content] + [""]
            elif kind == "steps":
                lines += [f"{n}. {item}" for n, item in enumerate(content, 1)] + [""]
            elif kind == "table":
                header, rows, notes = _cells(content)
                lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(row) + " |" for row in rows]
                lines += [""] + ([f"*{note}*" for note in notes] + [""] if notes else [])
            elif kind == "figure":
                relative = _relative(content.png, folder)
                lines += [
                    f"![{content.title}]({relative})",
                    "",
                    f"*{content.caption}* ([SVG]({_relative(content.svg, folder)}))",
                    "",
                ]
        return "\n".join(lines).rstrip() + "\n"

    def html(self) -> str:
        """As one HTML page with its figures and style inlined."""
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, content in self.blocks:
            if kind == "heading":
                level, text = content
                body.append(f"<h{level}>{_inline(text)}</h{level}>")
            elif kind == "text":
                body.append(f"<p>{_inline(content)}</p>")
            elif kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in content) + "</ul>")
            elif kind == "steps":
                body.append("<ol>" + "".join(f"<li>{_inline(i)}</li>" for i in content) + "</ol>")
            elif kind == "table":
                header, rows, notes = _cells(content)
                cells = "".join(f"<th>{_inline(h)}</th>" for h in header)
                body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>")
                for row in rows:
                    body.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
                body.append("</tbody></table>")
                body += [f"<p class='note'>{_inline(note)}</p>" for note in notes]
            elif kind == "figure":
                data = base64.b64encode(Path(content.png).read_bytes()).decode()
                body.append(
                    f"<figure><img alt='{html.escape(content.title, quote=True)}' "
                    f"src='data:image/png;base64,{data}'><figcaption>"
                    f"{_inline(content.caption)}</figcaption></figure>"
                )
        return PAGE.format(title=html.escape(self.title), body="\n".join(body))


def collapse_rows(frame: pd.DataFrame, varying: str) -> pd.DataFrame:
    """Rows that differ only in ``varying`` merged into one, which lists its values.

    Only neighbours merge (the table keeps its order); ``varying`` becomes text
    ('10, 100, 1,000'), or 'every one (10 .. 100,000)' when a row covers every
    value of the column.
    """
    if frame.empty or varying not in frame:
        return frame
    every = list(dict.fromkeys(frame[varying]))
    others = [c for c in frame.columns if c != varying]
    rows: list[dict] = []
    members: list[list] = []
    for record in frame.to_dict("records"):
        same = rows and all(_same(rows[-1][c], record[c]) for c in others)
        if same:
            members[-1].append(record[varying])
        else:
            rows.append(record)
            members.append([record[varying]])
    for row, values in zip(rows, members, strict=True):
        shown = [cell_text(v) or "n/a" for v in values]
        if len(values) > 2 and len(values) == len(every):
            row[varying] = f"every one ({shown[0]} .. {shown[-1]})"
        else:
            row[varying] = ", ".join(shown)
    return pd.DataFrame(rows, columns=frame.columns)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a is b or (a is not None and b is not None and a == b)


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def header_text(column: str) -> str:
    """A column's name in words: 'cycles_before_failure' -> 'cycles before failure'."""
    if column in HEADERS:
        return HEADERS[column]
    if column.endswith("_ci"):
        return header_text(column.removesuffix("_ci")) + ", 95% CI"
    return column.replace("_", " ")


def cell_text(value, percent: bool = False) -> str | None:
    """A cell for reading; None when there is no value (NaN, None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if percent:
            return f"{number(100 * value)}%"
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else number(value)
    return str(value)


def _cells(table: Table) -> tuple[list[str], list[list[str]], list[str]]:
    frame = table.frame
    header = list(frame.columns) if table.raw else [header_text(c) for c in frame.columns]
    rows, empty = [], set()
    for record in frame.itertuples(index=False):
        row = []
        for column, value in zip(frame.columns, record, strict=True):
            if table.raw:
                text = str(value)
            elif column in table.decimals and isinstance(value, float) and value == value:
                text = f"{value:+.{table.decimals[column]}f}"
            else:
                text = cell_text(value, column in table.percent)  # type: ignore[assignment]
            if text is None:
                empty.add(column)  # type: ignore[unreachable]
                text = "n/a"
            row.append(text)
        rows.append(row)
    # one note per reason, naming its columns
    reasons: dict[str, list[str]] = {}
    for column in frame.columns:
        if column in empty:
            reason = table.missing.get(column, NO_REASON)
            reasons.setdefault(reason, []).append(header_text(column))
    notes = [f"n/a in {', '.join(columns)}: {reason}" for reason, columns in reasons.items()]
    return header, rows, notes


def _inline(text: str) -> str:
    """Markdown's inline marks (`code`, **bold**, *em*, [link](url)) as HTML."""
    escaped = html.escape(str(text), quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", escaped)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<a href='\2'>\1</a>", escaped)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 70rem;
       margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }}
h1 {{ font-size: 1.6rem; }} h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }}
th {{ background: #f3f3f3; text-align: left; }}
td {{ font-variant-numeric: tabular-nums; }}
tbody tr:nth-child(even) {{ background: #fafafa; }}
figure {{ margin: 1.2rem 0; }} img {{ max-width: 100%; height: auto; }}
figcaption, .note {{ font-size: 0.85rem; color: #444; }}
code {{ background: #f3f3f3; padding: 0 0.2rem; border-radius: 3px; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
