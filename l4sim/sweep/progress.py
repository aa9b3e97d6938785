"""Progress of a sweep: a tqdm bar on a terminal, plain lines in a log.

A bar redrawn with carriage returns is noise in a CI log, so when stderr is
not a terminal the same counts go out as whole lines, one per 10% of the runs
or every 30 seconds, whichever comes first.
"""

from __future__ import annotations

import shutil
import sys
import time

from tqdm import tqdm

LINES_PER_SWEEP = 10  # a line per tenth of the runs
LINE_EVERY_SECONDS = 30.0


class Progress:
    """Count finished runs of a sweep; ``mode`` is 'bar', 'lines' or 'off'."""

    def __init__(self, total: int, label: str, mode: str, stream=None):
        self.total, self.label, self.mode = total, label, mode
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = self.last_line = time.monotonic()
        self.next_step = 1
        # a terminal that reports 0 rows makes tqdm hide the bar; shutil falls back to 80x24
        size = shutil.get_terminal_size()
        self.bar = (tqdm(total=total, desc=label, unit="run", file=self.stream,
                         ncols=size.columns, nrows=size.lines)
                    if mode == "bar" and total else None)

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
        elif self.mode == "lines":
            now = time.monotonic()
            step = self.done * LINES_PER_SWEEP // self.total
            if step >= self.next_step or now - self.last_line >= LINE_EVERY_SECONDS:
                self._line(now)
                self.next_step = step + 1

    def _line(self, now: float) -> None:
        self.last_line = now
        elapsed = now - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        left = tqdm.format_interval(eta) if self.done else "?"
        print(f"{self.label}: {self.done}/{self.total} runs "
              f"({100 * self.done / self.total:.0f}%), "
              f"elapsed {tqdm.format_interval(elapsed)}, ETA {left}",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
