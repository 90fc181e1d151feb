"""Failures of observability that are swallowed (they never reach a request or a log call): counted, and
the first one of each counter logged, with the exception type only (never its message, which may quote a
server response or a log line)."""

from __future__ import annotations

import logging

__all__ = ["FailureCount", "QuietLogger"]


class QuietLogger:
    """A ``logging.Logger`` whose calls never raise. jwtobs reports its own troubles (a failing sink, a JWKS fetch
    gone wrong) through the application's logging, which may itself be failing: a handler whose ``emit`` raises (a
    log service down; ``logging`` catches only what its own handlers catch, a custom handler's exception reaches
    the caller of ``log.warning``), or a stream that is closed. That is the application's logging failing, not a
    reason to change a verdict, break a request or end a thread of jwtobs. Before session 22 such a handler's
    exception escaped from the report of the first failure: ``Verifier.verify`` of a valid token raised it (with a
    sink failing too, ``defer=False``), a JWKS key set of more than ``MAX_KEYS`` entries never loaded and the first
    ``get`` raised it, and the event builder thread ended (a sink's ``BaseException`` warned about), after which no
    event was written until a ``flush()``."""

    __slots__ = ("logger",)

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def log(self, level: int, msg: str, *args: object, exc_info: bool = False) -> None:
        try:
            self.logger.log(level, msg, *args, exc_info=exc_info)
        except Exception:  # the application's logging is failing: nothing left to tell it with
            pass

    def warning(self, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.WARNING, msg, *args, exc_info=exc_info)

    def debug(self, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.DEBUG, msg, *args, exc_info=exc_info)


class FailureCount:
    """A counter of swallowed failures that logs the first one (per counter) to ``logger`` (a :class:`QuietLogger`:
    a logging handler that fails is not one more failure to report)."""

    def __init__(self, what: str, effect: str = "verdicts are unaffected", logger: str = "jwtobs") -> None:
        self.what = what
        self.effect = effect
        self.count = 0
        self._log = QuietLogger(logger)

    def add(self, exc: BaseException) -> None:
        self.count += 1  # before logging: a redacting handler that fails again is only counted
        if self.count == 1:
            self._log.warning(
                "jwtobs: %s failed (%s); %s; further failures are counted, not logged",
                self.what,
                type(exc).__name__,
                self.effect,
            )
