"""The one flow: from a finished validation to a :class:`ValidationEvent`, then to telemetry and sinks.

:func:`jwtobs.wrap` and :class:`jwtobs.Verifier` both call :func:`record`; nothing else builds events.
:func:`record` never raises: a failure in telemetry or a sink is counted and swallowed, so observing a
validation can never change its outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from jwtobs import config
from jwtobs.events import Outcome, ValidationEvent
from jwtobs.header import TokenPeek
from jwtobs.sanitize import sanitize

__all__ = ["record", "claim_int"]

_log = logging.getLogger("jwtobs")
_warned: set[str] = set()
#: Tokens longer than this are not fingerprinted (hashing cost); their event has token_fp = None.
_MAX_FP_BYTES = 1 << 20


def claim_int(value: object) -> int | None:
    """A NumericDate claim as int, or None (bools, strings, NaN, huge values are not dates)."""
    if type(value) is int:
        return value if -(1 << 53) < value < (1 << 53) else None
    if type(value) is float and value == value and -9e15 < value < 9e15:
        return int(value)
    return None


def _label(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) <= 128 and value.isascii() and value.isprintable():
        return value
    return sanitize(value)


def record(
    *,
    outcome: Outcome,
    reason: str | None,
    detail: str | None,
    library: str,
    profile: str,
    token: object,
    peek: TokenPeek,
    claims: Mapping[str, Any] | None,
    start_ns: int,
    end_ns: int,
    tenant: str | None = None,
    state: config.State | None = None,
) -> ValidationEvent | None:
    """Build the event for one validation and emit it everywhere. Never raises; returns the event."""
    try:
        st = state if state is not None else config.current()
        fp = st.fingerprinter
        if isinstance(token, str):
            token_fp = fp.token(token) if 0 < len(token) <= _MAX_FP_BYTES else None
        elif isinstance(token, (bytes, bytearray)):
            token_fp = fp.token(bytes(token)) if 0 < len(token) <= _MAX_FP_BYTES else None
        else:
            token_fp = None
        if claims is not None:
            get = claims.get
            jti = get("jti")
            sub = get("sub")
            iss = get("iss")
            client_id = get("azp") or get("client_id")
            iat, nbf, exp = claim_int(get("iat")), claim_int(get("nbf")), claim_int(get("exp"))
            if tenant is None and st.tenant_claim is not None:
                tenant = _label(get(st.tenant_claim))
        else:
            jti = sub = iss = client_id = None
            iat = nbf = exp = None
        clock = st.clock
        alg_s, kid_s, typ_s = peek.safe
        event = ValidationEvent(
            time.time() if clock is None else clock(),
            outcome,
            reason,
            detail,
            library,
            profile,
            None if iss is None else _label(iss),
            alg_s,
            kid_s,
            typ_s,
            None if client_id is None else _label(client_id),
            token_fp,
            None if jti is None else fp.claim("jti", jti),
            None if sub is None else fp.claim("sub", sub),
            tenant,
            iat,
            nbf,
            exp,
            peek.token_bytes,
            (end_ns - start_ns) / 1e9,
            None,
            None,
            st.service,
        )
        if outcome == "accepted":
            st.guard.learn(event.issuer, event.kid)
    except Exception as exc:  # pragma: no cover - defensive
        _warn_once("build", exc)
        return None
    emit(st, event, start_ns, end_ns)
    return event


def emit(st: config.State, event: ValidationEvent, start_ns: int, end_ns: int) -> None:
    """Hand a finished event to telemetry and every sink. Never raises."""
    try:
        st.telemetry.emit(event, start_ns, end_ns)
    except Exception as exc:
        _warn_once("telemetry", exc)
    for sink in st.sinks:
        try:
            sink(event)
        except Exception as exc:
            st.telemetry.dropped_events += 1
            _warn_once(f"sink:{type(sink).__name__}", exc)


def _warn_once(where: str, exc: BaseException) -> None:
    if where not in _warned:
        _warned.add(where)
        # the exception's class only: its message could echo a token
        _log.warning("jwtobs: %s failed (%s); validation outcome unaffected", where, type(exc).__name__)
