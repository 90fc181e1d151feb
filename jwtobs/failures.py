"""Failures of observability that are swallowed (they never reach a request or a log call): counted, and
the first one of each counter logged, with the exception type only (never its message, which may quote a
server response or a log line)."""

from __future__ import annotations

import logging

__all__ = ["FailureCount"]


class FailureCount:
    """A counter of swallowed failures that logs the first one (per counter) to ``logger``."""

    def __init__(self, what: str, effect: str = "verdicts are unaffected", logger: str = "jwtobs") -> None:
        self.what = what
        self.effect = effect
        self.count = 0
        self._log = logging.getLogger(logger)

    def add(self, exc: BaseException) -> None:
        self.count += 1  # before logging: a redacting handler that fails again is only counted
        if self.count == 1:
            self._log.warning(
                "jwtobs: %s failed (%s); %s; further failures are counted, not logged",
                self.what,
                type(exc).__name__,
                self.effect,
            )
