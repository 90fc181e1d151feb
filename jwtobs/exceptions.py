"""jwtobs's own exceptions, and :func:`reason_of` to read the classification of any exception."""

from __future__ import annotations

from typing import Any

from jwtobs.reasons import Reason

__all__ = ["JwtobsError", "TokenRejected", "reason_of", "detail_of", "ConfigurationError"]

_REASON_ATTR = "__jwtobs_reason__"
_DETAIL_ATTR = "__jwtobs_detail__"


class JwtobsError(Exception):
    """Base of every exception jwtobs raises on purpose (``except jwtobs.JwtobsError`` catches them all).

    Each subclass keeps the base it had before this one existed (:class:`ConfigurationError` is still a
    ``ValueError``, the framework refusals are still their framework's exceptions), so existing handlers keep
    working.
    """


class ConfigurationError(JwtobsError, ValueError):
    """jwtobs was set up inconsistently (raised at construction, never on a request)."""


class TokenRejected(JwtobsError):
    """A token was rejected. ``reason`` is the :class:`Reason`; ``detail`` a low-cardinality hint.

    The message never contains the token or a claim value. When raised by ``wrap(..., raise_as="jwtobs")``
    the library's exception is chained as ``__cause__``.
    """

    def __init__(self, reason: Reason, detail: str | None = None, *, event: Any = None) -> None:
        self.reason = reason
        self.detail = detail
        self.event = event
        super().__init__(f"{reason.value}" + (f" ({detail})" if detail else ""))

    @property
    def http_status(self) -> int:
        return self.reason.http_status


def annotate(exc: BaseException, reason: Reason, detail: str | None) -> None:
    """Attach a classification to an exception without changing its type or message."""
    try:
        setattr(exc, _REASON_ATTR, reason)
        setattr(exc, _DETAIL_ATTR, detail)
    except Exception:  # exceptions with __slots__, or whose __setattr__ raises: the reason is not attached
        pass


def was_recorded(exc: BaseException) -> bool:
    """Whether jwtobs recorded the validation event of this exception: a wrapped validator, an instrumented
    library or a :class:`jwtobs.Verifier` annotated it when it recorded. A :class:`TokenRejected` that code of
    one's own raised (a revocation check after ``verify``) was not."""
    return isinstance(getattr(exc, _REASON_ATTR, None), Reason)


def reason_of(exc: BaseException | None) -> Reason | None:
    """The :class:`Reason` jwtobs assigned to an exception raised by a wrapped validator, else ``None``.

    Works on :class:`TokenRejected` and on the library's own exceptions (``jwt.ExpiredSignatureError``...)
    that passed through a wrapped validator.
    """
    if exc is None:
        return None
    if isinstance(exc, TokenRejected):
        return exc.reason
    reason = getattr(exc, _REASON_ATTR, None)
    return reason if isinstance(reason, Reason) else None


def detail_of(exc: BaseException | None) -> str | None:
    """The low-cardinality detail jwtobs assigned with the reason (``"nbf"``, ``"aud"``...)."""
    if isinstance(exc, TokenRejected):
        return exc.detail
    detail = getattr(exc, _DETAIL_ATTR, None)
    return detail if isinstance(detail, str) else None
