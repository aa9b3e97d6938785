"""Timelines of a run: per-CPU segments, written as a Chrome trace or drawn as a PNG.

The invariant monitor (:mod:`l4sim.sim.invariants`) feeds a :class:`Timeline`
with what it sees: kernel segments named by kind, path and exit point, lock
spinning inside them, and IPC hand-offs (a message from its delivery on one
CPU to its receipt, maybe on another). User time and idle time are the gaps
between kernel segments: user time of the thread the CPU left running, or
idle if it left none. Open a ``.json`` in https://ui.perfetto.dev or
chrome://tracing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from l4sim.sweep.provenance import Provenance

# colours of the PNG, by segment category, and the category in the legend
COLOURS = {
    "user": "#7fbf7f",
    "fast": "#3b75af",
    "slow": "#ef8636",
    "kernel": "#9c9c9c",
    "spin": "#c53a32",
    "idle": "#eeeeee",
}
CATEGORIES = {
    "user": "user",
    "fast": "fastpath",
    "slow": "slowpath",
    "kernel": "other kernel entry",
    "spin": "lock spinning",
    "idle": "idle",
}
_KEEP = object()
CHARACTERS = 330  # characters of a segment's label (6 points) across the drawn window


@dataclass
class Segment:
    cpu: int
    start: int
    end: int
    name: str
    category: str  # user, fast, slow, kernel, spin, idle
    thread: str = "-"


@dataclass
class Timeline:
    """Segments and hand-offs of one run, in cycles."""

    cpus: int
    clock_hz: int = 1_000_000_000
    kernel_segments: list[Segment] = field(default_factory=list)
    spins: list[Segment] = field(default_factory=list)
    after: list[tuple] = field(default_factory=list)  # (cpu, end, thread left running)
    flows: list[tuple] = field(default_factory=list)  # (send cpu, send t, recv cpu, recv t, label)
    marks: list[tuple] = field(default_factory=list)  # (t, cpu, text): violations
    _sent: dict = field(default_factory=dict)

    # -- fed by the monitor -----------------------------------------------------
    def kernel(self, cpu: int, start: int, end: int, name: str, thread, to=_KEEP) -> None:
        category = "fast" if " fast:" in name else "slow" if " slow:" in name else "kernel"
        who = thread.name if thread is not None else "-"
        self.kernel_segments.append(Segment(cpu, start, end, name, category, who))
        following = thread if to is _KEEP else to
        self.after.append((cpu, end, following.name if following is not None else None))

    def spin(self, cpu: int, start: int, end: int, locks) -> None:
        names = " ".join(lock.name for lock in locks)
        self.spins.append(Segment(cpu, start, end, f"spin {names}", "spin"))

    def send(self, cpu: int, now: int, message) -> None:
        self._sent[id(message)] = (cpu, now, f"{message.label} {message.sender.name}")

    def receive(self, cpu: int, now: int, message) -> None:
        sent = self._sent.pop(id(message), None)
        if sent is not None:
            self.flows.append((sent[0], sent[1], cpu, now, sent[2]))

    def violation(self, now: int, cpu, text: str) -> None:
        self.marks.append((now, cpu, text))

    # -- derived ------------------------------------------------------------------
    def segments(self, end: int | None = None) -> list[Segment]:
        """Kernel segments plus the user and idle gaps between them, per CPU."""
        if end is None:
            end = max([s.end for s in self.kernel_segments] + [m[0] for m in self.marks], default=0)
        result: list[Segment] = []
        by_cpu: dict[int, list] = {cpu: [] for cpu in range(self.cpus)}
        for segment, (_, _, following) in zip(self.kernel_segments, self.after, strict=True):
            by_cpu[segment.cpu].append((segment, following))
        for cpu, items in by_cpu.items():
            items.sort(key=lambda item: item[0].start)
            cursor, running = 0, None
            for segment, following in items:
                if segment.start > cursor:
                    result.append(_gap(cpu, cursor, segment.start, running))
                result.append(segment)
                cursor, running = max(cursor, segment.end), following
            if end > cursor:
                result.append(_gap(cpu, cursor, end, running))
        return result

    def to_chrome(self) -> dict:
        """The Chrome trace event format (microseconds, one track per CPU)."""
        scale = 1e6 / self.clock_hz
        events: list[dict] = [
            {"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "l4sim CPUs"}}
        ]
        events += [
            {"ph": "M", "name": "thread_name", "pid": 0, "tid": cpu, "args": {"name": f"cpu{cpu}"}}
            for cpu in range(self.cpus)
        ]
        for segment in [*self.segments(), *self.spins]:
            events.append(
                {
                    "name": segment.name,
                    "cat": segment.category,
                    "ph": "X",
                    "ts": segment.start * scale,
                    "dur": max(segment.end - segment.start, 0) * scale,
                    "pid": 0,
                    "tid": segment.cpu,
                    "args": {
                        "thread": segment.thread,
                        "cycles": segment.end - segment.start,
                        "start_cycle": segment.start,
                    },
                }
            )
        for number, (cpu, sent, to_cpu, received, label) in enumerate(self.flows):
            common = {"name": "ipc", "cat": "ipc", "id": number, "pid": 0}
            events.append(
                {**common, "ph": "s", "ts": sent * scale, "tid": cpu, "args": {"message": label}}
            )
            events.append({**common, "ph": "f", "bp": "e", "ts": received * scale, "tid": to_cpu})
        for now, cpu, text in self.marks:
            events.append(
                {
                    "name": f"VIOLATION {text}",
                    "ph": "i",
                    "s": "g",
                    "ts": now * scale,
                    "pid": 0,
                    "tid": cpu if cpu is not None else 0,
                }
            )
        return {
            "traceEvents": events,
            "displayTimeUnit": "ns",
            "otherData": {"clock_hz": self.clock_hz, "time_unit": "microseconds"},
        }

    def write_chrome(self, path: Path, provenance: Provenance | None = None) -> Path:
        """Write the Chrome trace, with the run's provenance as the trace's metadata."""
        path = Path(path)
        trace = self.to_chrome()
        if provenance is not None:
            trace["metadata"] = {"l4sim": provenance.fields()}
        path.write_text(json.dumps(trace))
        return path

    def draw(
        self,
        path: Path,
        start: int = 0,
        cycles: int = 5000,
        provenance: Provenance | None = None,
    ) -> Path:
        """A PNG of the window [start, start + cycles): a row per CPU, arrows for IPC.

        The run's ``provenance`` (default: this process's) goes into the file's
        metadata and a footer line.
        """
        import matplotlib

        from l4sim.analysis.style import FOOTER_INCHES, write_figure
        from l4sim.sweep.provenance import Provenance

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        stop = start + cycles
        fig, ax = plt.subplots(figsize=(14, 1.2 + 1.1 * self.cpus))
        drawn: set[str] = set()  # categories in the window: the legend names these only

        def bar(y, left, right, height, category):
            first = category not in drawn
            drawn.add(category)
            ax.barh(
                y,
                right - left,
                left=left,
                height=height,
                color=COLOURS[category],
                edgecolor="white" if height > 0.2 else "none",
                linewidth=0.3,
                label=CATEGORIES[category] if first else "_",
            )

        for segment in self.segments():
            if segment.end <= start or segment.start >= stop:
                continue
            left, right = max(segment.start, start), min(segment.end, stop)
            bar(segment.cpu, left, right, 0.6, segment.category)
            if segment.category != "idle":
                label = (
                    segment.thread if segment.category == "user" else segment_label(segment.name)
                )
                # the label, or its part after the colon, if it fits inside the bar
                room = (right - left) / cycles * CHARACTERS
                fits = [t for t in (label, label.rpartition(": ")[2]) if len(t) <= room]
                if fits:
                    ax.text(
                        (left + right) / 2,
                        segment.cpu,
                        fits[0],
                        ha="center",
                        va="center",
                        fontsize=6,
                        clip_on=True,
                    )
        for segment in self.spins:
            if segment.end > start and segment.start < stop:
                left, right = max(segment.start, start), min(segment.end, stop)
                bar(segment.cpu - 0.36, left, right, 0.12, "spin")
        self._draw_arrows_and_marks(ax, start, stop)
        _legend(ax)
        ax.set_yticks(range(self.cpus), [f"CPU {c}" for c in range(self.cpus)])
        ax.invert_yaxis()
        ax.set_xlim(start, stop)
        ax.set_xlabel("cycle")
        ax.set_title(
            "l4sim timeline (arrows: IPC hand-offs, thin bars over a row: lock spinning)",
            fontsize=9,
        )
        title = "l4sim timeline"
        fig.tight_layout(rect=(0, FOOTER_INCHES / fig.get_figheight(), 1, 1))
        write_figure(
            fig,
            Path(path),
            title,
            f"Cycles {start:,} to {stop:,} of one run, a row per CPU.",
            provenance or Provenance.current("timeline"),
        )
        plt.close(fig)
        return Path(path)

    def _draw_arrows_and_marks(self, ax: Axes, start: int, stop: int) -> None:
        """The IPC hand-offs as arrows and the invariant violations as red lines."""
        for cpu, sent, to_cpu, received, _label in self.flows:
            if start <= sent < stop and start <= received < stop:
                if cpu == to_cpu:  # same CPU: a short arrow along the row
                    ends = (sent, cpu + 0.2), (received, cpu + 0.2)
                else:  # across rows: from the sender's edge to the receiver's
                    step = 0.3 if to_cpu > cpu else -0.3
                    ends = (sent, cpu + step), (received, to_cpu - step)
                ax.annotate(
                    "",
                    xy=ends[1],
                    xytext=ends[0],
                    arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.7},
                )
        for now, _cpu, _text in self.marks:
            if start <= now < stop:
                ax.axvline(now, color="red", linestyle="--", label="invariant violation")


def _legend(ax: Axes) -> None:
    """The legend below the rows, in the categories' order."""
    order = list(CATEGORIES.values())
    handles, labels = ax.get_legend_handles_labels()
    ranked = sorted(
        zip(handles, labels, strict=True),
        key=lambda pair: order.index(pair[1]) if pair[1] in order else 99,
    )
    ax.legend(
        [h for h, _ in ranked],
        [label for _, label in ranked],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25),
        ncol=len(ranked),
        fontsize=8,
        frameon=False,
    )


def segment_label(name: str) -> str:
    """A kernel segment's name for a reader: ``ipc fast:fast_call`` -> 'IPC fastpath.

    Call', ``ipc slow:destination_on_this_cpu`` -> 'IPC fell back: destination on this cpu'.
    """
    from l4sim.analysis.style import KINDS

    kind, _, outcome = name.partition(" ")
    shown = KINDS.get(kind, kind.replace("_", " "))
    if not outcome:
        return shown
    path, _, exit_point = outcome.partition(":")
    if exit_point.startswith((f"{path}_", "irq_")):
        what = exit_point.split("_", 1)[1].replace("_", " ")
        return f"{shown} {path}path: {what}"
    # a slow exit named after a fastpath check: the check failed and the slowpath ran
    return f"{shown} fell back: {exit_point.replace('_', ' ')}"


def _gap(cpu: int, start: int, end: int, running: str | None) -> Segment:
    if running is None:
        return Segment(cpu, start, end, "idle", "idle")
    return Segment(cpu, start, end, f"user {running}", "user", running)
