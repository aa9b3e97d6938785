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

# colours of the PNG, by segment category
COLOURS = {
    "user": "#7fbf7f",
    "fast": "#3b75af",
    "slow": "#ef8636",
    "kernel": "#9c9c9c",
    "spin": "#c53a32",
    "idle": "#eeeeee",
}
_KEEP = object()


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

    def write_chrome(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_chrome()))
        return path

    def draw(self, path: Path, start: int = 0, cycles: int = 5000) -> Path:
        """A PNG of the window [start, start + cycles): a row per CPU, arrows for IPC."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        stop = start + cycles
        fig, ax = plt.subplots(figsize=(14, 1.2 + 1.1 * self.cpus))
        for segment in self.segments():
            if segment.end <= start or segment.start >= stop:
                continue
            left, right = max(segment.start, start), min(segment.end, stop)
            y = segment.cpu
            ax.barh(
                y,
                right - left,
                left=left,
                height=0.6,
                color=COLOURS[segment.category],
                edgecolor="white",
                linewidth=0.3,
            )
            if segment.category != "idle" and (right - left) > cycles / 25:
                label = segment.name if segment.category != "user" else segment.thread
                ax.text(
                    (left + right) / 2,
                    y,
                    label.split(" ", 1)[-1],
                    ha="center",
                    va="center",
                    fontsize=6,
                    clip_on=True,
                )
        for segment in self.spins:
            if segment.end > start and segment.start < stop:
                left, right = max(segment.start, start), min(segment.end, stop)
                ax.barh(
                    segment.cpu - 0.36, right - left, left=left, height=0.12, color=COLOURS["spin"]
                )
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
                ax.axvline(now, color="red", linestyle="--")
        handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in COLOURS.values()]  # type: ignore[attr-defined]  # (pyplot re-exports it)
        ax.legend(
            handles,
            [f"{k}path" if k in ("fast", "slow") else k for k in COLOURS],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25),
            ncol=len(COLOURS),
            fontsize=8,
            frameon=False,
        )
        ax.set_yticks(range(self.cpus), [f"cpu{c}" for c in range(self.cpus)])
        ax.invert_yaxis()
        ax.set_xlim(start, stop)
        ax.set_xlabel("cycle")
        ax.set_title(
            "l4sim timeline (arrows: IPC hand-offs, thin bars over a row: lock spinning)",
            fontsize=9,
        )
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        plt.close(fig)
        return Path(path)


def _gap(cpu: int, start: int, end: int, running: str | None) -> Segment:
    if running is None:
        return Segment(cpu, start, end, "idle", "idle")
    return Segment(cpu, start, end, f"user {running}", "user", running)
