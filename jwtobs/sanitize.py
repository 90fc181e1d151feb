"""Sanitising attacker-controlled strings (``kid``, ``iss``, ``alg``, ``typ``, ``client_id``) before they
are logged or written to an event: control characters and bidi overrides removed, lone surrogates
replaced, length capped. Metric attributes go further (see :class:`jwtobs.telemetry.CardinalityGuard`).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["sanitize", "detail_label", "MAX_FIELD_CHARS", "OTHER_DETAIL"]

#: Longest string kept in an event field; longer values are cut and end with "…".
MAX_FIELD_CHARS: Final = 128

_DELETE: Final = dict.fromkeys(
    [
        *range(0x00, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x200B,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0xFEFF,
    ]
)


def sanitize(value: object, max_chars: int = MAX_FIELD_CHARS) -> str | None:
    """A safe, bounded, printable rendering of an untrusted value; ``None`` stays ``None``.

    Non-strings are rendered with ``str()`` only for ``int``/``float``/``bool``; other types become their
    type name in angle brackets (an attacker's nested JSON is not echoed).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, (bool, int, float)):
            value = str(value)
        else:
            return f"<{type(value).__name__}>"
    if len(value) > 4 * max_chars:
        value = value[: 4 * max_chars]
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    elif value.isprintable():
        return value if len(value) <= max_chars else value[: max_chars - 1] + "…"
    value = value.translate(_DELETE)
    if not value.isprintable():  # rare: unassigned, private-use, format characters
        value = "".join(c for c in value if c.isprintable())
    return value if len(value) <= max_chars else value[: max_chars - 1] + "…"


#: what a rejection's ``detail`` becomes when it is not a word of the vocabulary's shape
OTHER_DETAIL: Final = "other"
#: the shape of every detail jwtobs writes (claim and header names, segments, ``alg_none``, ``http_503``, an
#: exception class name, ``x5t#S256``): one word of at most 64 characters, no space, no ``@``, no ``/``
_DETAIL_WORD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.#+-]{0,63}")


def detail_label(detail: object) -> str | None:
    """A rejection's ``detail`` as events, spans and log lines carry it: ``None``, a word of the vocabulary's shape
    as is, anything else :data:`OTHER_DETAIL`. The contract makes ``detail`` a fixed, low-cardinality vocabulary;
    an application's own ``TokenRejected(reason, detail)`` (a revocation check) can say anything - a sentence with
    the subject's e-mail address and the token (session 33's probe: 631 characters in the event, the span and
    the log line) - and none of it is written."""
    if detail is None:
        return None
    return detail if type(detail) is str and _DETAIL_WORD.fullmatch(detail) else OTHER_DETAIL
