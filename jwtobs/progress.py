"""A minimal progress bar on stderr (redrawn in place on a terminal, a few lines otherwise), for the CLI
commands (scan, simulate, demo). Part of the core: it imports nothing optional."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last = -1
        self._t0 = time.monotonic()

    def update(self, fraction: float) -> None:
        pct = max(0, min(100, int(fraction * 100)))
        if pct == self._last or (not self.tty and pct % 25 and pct != 100):
            return
        self._last = pct
        filled = self.width * pct // 100
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.label:<12} [{bar}] {pct:3d}% {time.monotonic() - self._t0:5.1f}s"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
