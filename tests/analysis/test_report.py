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
    # each caption once, under its figure (none is drawn into the image either)
    captions = re.findall(r"^\*(.+)\* \(\[SVG\]", markdown, flags=re.MULTILINE)
    assert len(captions) == 5 and all(markdown.count(c) == captions.count(c) for c in captions)
    assert "no value for this row" not in markdown  # every empty cell has its reason
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


def test_rows_identical_but_for_one_column_are_one_row():
    from l4sim.analysis.document import collapse_rows

    frame = pd.DataFrame(
        {
            "clients": [1, 1, 1, 2, 2],
            "wait": [10.0, 100.0, 1000.0, 10.0, 100.0],
            "ratio": ["1.4", "1.4", "1.4", "0.9", "1.0"],
        }
    )
    merged = collapse_rows(frame, "wait")
    assert merged.to_dict("records") == [
        {"clients": 1, "wait": "every one (10 .. 1,000)", "ratio": "1.4"},
        {"clients": 2, "wait": "10", "ratio": "0.9"},
        {"clients": 2, "wait": "100", "ratio": "1.0"},
    ]


def test_one_note_per_reason_naming_its_columns(tmp_path):
    document = Document("t")
    document.table(
        Table(
            pd.DataFrame({"a": [None, 1.0], "b": [None, 2.0], "c": [None, 3.0]}),
            missing={"a": "never fell back", "b": "never fell back", "c": "not measured"},
        )
    )
    notes = [line for line in document.markdown(tmp_path).splitlines() if line.startswith("*n/a")]
    assert notes == ["*n/a in a, b: never fell back*", "*n/a in c: not measured*"]


def test_the_ratios_are_stated_as_measured():
    from l4sim.analysis.fastpath_design_report import ratio_verdict

    ratios = pd.DataFrame(
        [
            {"clients": 1, "wait factor": 10.0, "optimized": "1.397 (1.397 .. 1.397)"},
            {"clients": 4, "wait factor": 10.0, "optimized": "1.009 (1.008 .. 1.009)"},
            {"clients": 4, "wait factor": 100.0, "optimized": "0.993 (0.992 .. 0.995)"},
            {"clients": 2, "wait factor": 10.0, "optimized": "1.001 (0.998 .. 1.004)"},
        ]
    )
    text = ratio_verdict(ratios)
    assert text == (
        "With the optimized design the IPC fastpath is faster than the slowpath "
        "(the whole 95% interval of slowpath/fastpath above 1) at 2 of 4 points; "
        "it is not told apart from it (the interval holds 1) at 2 clients, wait "
        "factor 10: 1.001 (0.998 .. 1.004); it is never significantly slower "
        "except at 4 clients, wait factor 100: 0.993 (0.992 .. 0.995)."
    )
    assert "never significantly slower." in ratio_verdict(ratios.iloc[:2])
