"""Progress of long work: a tqdm bar on a terminal, plain lines in a log.

A sweep counts the kernel entries its runs have simulated against their
target (``warmup_events + events`` of the measured kind per run), so a single
long run advances too, with an estimate of the time left; the runs finished
are shown beside it. Assembling the tables and drawing the figures count
runs and figures. A bar redrawn with carriage returns is noise in a CI log, so
when stderr is not a terminal the same counts go out as whole lines, one per
10% of the work or every 30 seconds, whichever comes first, even while no
new work is done (a sweep's runs are long: it ticks while it waits), and a
last line with the final count. Work that ends within ``delay`` seconds
shows nothing.
"""

from __future__ import annotations

import shutil
import sys
import time

from tqdm import tqdm

LINES_PER_TASK = 10  # a line per tenth of the work
LINE_EVERY_SECONDS = 30.0
BAR_REFRESH_SECONDS = 1.0  # a bar with nothing new is redrawn this often


class Progress:
    """Count done units (``unit``: entries, runs, figures) of ``total``.

    ``mode`` is 'bar', 'lines' or 'off' (see :meth:`choose`).
    """

    def __init__(
        self, total: int, label: str, mode: str, stream=None, unit: str = "runs", delay: float = 0.0
    ):
        self.total, self.label, self.mode, self.unit = total, label, mode, unit
        self.stream = stream or sys.stderr
        self.done = 0
        self.delay = delay
        self.start = self.last_line = time.monotonic()
        self.next_step = 1
        self.postfix = ""
        self.shown = False  # a line was printed
        self.last_shown: tuple[int, str] = (0, "")  # the count and note of the last line
        # a terminal that reports 0 rows makes tqdm hide the bar; shutil falls back to 80x24
        size = shutil.get_terminal_size()
        self.bar = (
            tqdm(
                total=total,
                desc=label,
                unit=f" {unit}",
                file=self.stream,
                ncols=size.columns,
                nrows=size.lines,
                delay=delay,
                unit_scale=unit == "entries",
                smoothing=0.1,
            )
            if mode == "bar" and total
            else None
        )

    @staticmethod
    def choose(enabled: bool | None, stream=None) -> str:
        """'bar' on a terminal, 'lines' otherwise, 'off' if disabled."""
        if enabled is False:
            return "off"
        return "bar" if (stream or sys.stderr).isatty() else "lines"

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            if not count and time.monotonic() - self.last_line >= BAR_REFRESH_SECONDS:
                self.last_line = time.monotonic()
                self.bar.refresh()  # the elapsed time and rate move on without new work
        elif self.mode == "lines" and self.total:
            now = time.monotonic()
            if now - self.start < self.delay and not self.shown:
                return  # work this short shows nothing
            step = self.done * LINES_PER_TASK // self.total
            if step >= self.next_step or now - self.last_line >= LINE_EVERY_SECONDS:
                self._line(now)
                self.next_step = step + 1

    def tick(self) -> None:
        """Nothing new done, but time passed.

        A line every 30 s all the same (a bar redrawn), so long work is never
        silent. Call it often (a sweep does while it waits for runs).
        """
        self.update(0)

    def note(self, text: str) -> None:
        """Shown beside the count (for a sweep: the runs finished)."""
        self.postfix = text
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def _line(self, now: float) -> None:
        self.last_line = now
        self.shown = True
        self.last_shown = (self.done, self.postfix)
        elapsed = now - self.start
        left = (
            tqdm.format_interval(elapsed / self.done * (self.total - self.done))
            if self.done
            else "?"
        )
        beside = f", {self.postfix}" if self.postfix else ""
        print(
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} "
            f"({100 * self.done / self.total:.0f}%{beside}), "
            f"elapsed {tqdm.format_interval(elapsed)}, ETA {left}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """The end: a bar shows its last count; a log, a last line.

        The last line is printed if the count (or what is noted beside it)
        changed since the line before, so a log ends with the final count
        (800/800 runs, not the 799/800 of the line when the entries were all in).
        """
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "lines" and self.shown and self.last_shown != (self.done, self.postfix):
            self._line(time.monotonic())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
