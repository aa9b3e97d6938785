"""The report, in Markdown and as one self-contained HTML page.

Numbers to their precision, headers in words, n/a with its reason, figures
embedded; a closing summary of what was written.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from l4sim.analysis.document import Document, Table, cell_text, header_text
from l4sim.analysis.style import Drawn

from ..cli.in_process import l4sim

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def test_cells_are_formatted_for_reading():
    assert cell_text(1234567) == "1,234,567"
    assert cell_text(0.123456) == "0.123"
    assert cell_text(123.456) == "123"
    assert cell_text(2.0) == "2"
    assert cell_text(0.5, percent=True) == "50%"
    assert cell_text(True) == "on" and cell_text(False) == "off"
    assert cell_text(float("nan")) is None and cell_text(None) is None
    assert header_text("cycles_before_failure") == "cycles before failure"
    assert header_text("duration_change_ci") == "duration change, 95% CI"


def test_an_empty_cell_is_na_with_the_reason_under_the_table(tmp_path):
    document = Document("t")
    document.table(
        Table(
            pd.DataFrame({"check": ["a", "b"], "fail_rate": [0.5, float("nan")]}),
            missing={"fail_rate": "the check was never reached"},
            percent=("fail_rate",),
        )
    )
    text = document.markdown(tmp_path)
    assert "| check | failure rate |" in text
    assert "| a | 50% |" in text and "| b | n/a |" in text
    assert "*n/a in failure rate: the check was never reached*" in text
    assert "nan" not in text.lower().replace("n/a", "")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "img", "br"):
            self.open.append(tag)
        self.sources += [value for name, value in attrs if name in ("src", "href")]

    def handle_endtag(self, tag):
        assert self.open.pop() == tag


def test_the_html_page_stands_alone(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    fig.savefig(tmp_path / "f.png")
    fig.savefig(tmp_path / "f.svg")
    plt.close(fig)
    document = Document("A report")
    document.heading("Part")
    document.text("Some `code` and **bold**.")
    document.bullets(["one", "two"])
    document.figure(Drawn(tmp_path / "f.png", tmp_path / "f.svg", "a figure", "its caption"))
    page = document.html()
    tags = _Tags()
    tags.feed(page)
    assert tags.open == []  # every element closed
    assert all(source.startswith("data:image/png;base64,") for source in tags.sources)
    assert "<code>code</code>" in page and "<strong>bold</strong>" in page
    assert "<figcaption>its caption</figcaption>" in page
    markdown = document.markdown(tmp_path)
    assert "![a figure](f.png)" in markdown and "([SVG](f.svg))" in markdown


def test_report_writes_markdown_and_html_and_says_where(tmp_path):
    small = ["--set", "replications=2", "--set", "events=40", "--set", "warmup_events=4"]
    result = l4sim(
        "report",
        "--scenarios",
        SCENARIOS,
        "--results",
        "r",
        "--jobs",
        "1",
        "--quiet",
        *small,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("report: r/report.md and r/report.html (self-contained")
    assert "0 reused from their caches" in out and "syscall_bench: r/syscall_bench/" in out
    assert "r/syscall_bench/syscall_duration" in out
    assert "| # | claim |" not in out  # the report itself is in the file, not the terminal
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert not re.search(r"\bnan\b", markdown, flags=re.IGNORECASE)
    assert "![Syscall-exception duration (paper Fig. 2b)" in markdown
    assert "| position | check | stage | reached | failed | failure rate |" in markdown
    # no `l4sim compare sel4bench` here: the hardware section says how to make it
    hardware = markdown[markdown.index("## Validated against hardware") :]
    assert "No comparison yet" in hardware and "l4sim compare sel4bench" in hardware
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    again = l4sim(
        "report",
        "--scenarios",
        SCENARIOS,
        "--results",
        "r",
        "--jobs",
        "1",
        "--quiet",
        *small,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert ", 0 computed" in again.stdout.splitlines()[1]


def test_claims_are_shown_to_the_precision_of_their_interval():
    from l4sim.analysis.claims import decimals

    assert decimals(1.6, (1.597, 1.602)) == 3  # 1.600 (1.597 .. 1.602)
    assert decimals(32.263, (32.07, 32.455)) == 1  # 32.3 (32.1 .. 32.5)
    assert decimals(0.9964, (0.9962, 0.9966)) == 4
    assert decimals(1.397, (1.397, 1.397)) == 2  # no spread: three significant digits
    assert decimals(250.0, (1.0, 500.0)) == 0
