"""A throttled progress line on stderr for long imports.

On a terminal the line is redrawn in place at most every ``interval_s``; in a log (not a TTY) a plain
line is written every ``log_interval_s``, so a ten-million-row import neither floods a log nor stays
silent for minutes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports rows done, share of the input read, rate and bad rows."""

    def __init__(self, stream: TextIO | None = None, interval_s: float = 0.5, log_interval_s: float = 10.0) -> None:
        """Write to ``stream`` (default stderr)."""
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval_s if self.tty else log_interval_s
        self.started = time.monotonic()
        self._last = self.started
        self._shown = False

    def update(self, rows: int, share: float, bad: int, force: bool = False) -> None:
        """Show the state if the interval has passed (or ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        rate = rows / max(now - self.started, 1e-9)
        line = f"import: {rows:,} rows ({share:.0%} of the file), {rate:,.0f} rows/s, {bad:,} bad"
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the in-place line."""
        if self._shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()
