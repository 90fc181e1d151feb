"""The scanner's fast path for lines hit only by name=value triggers: secret-stem field names (``CBS Session:
30546173_42``, ``sessionid: 0x34ede65503f0039``, ``[SessionTracker:ZooKeeperServer@325]``), ``code=`` and query
parameter names (``Error Domain=... Code=-50``). On real system logs these are nine in ten candidate lines and
almost never hold a credential.

On such a line (the prefilter matched it only with triggers of
:data:`~jwtobs.redact.scan.rules.JUDGED_TRIGGERS`) no detector of the scrubber can match but the
secret-named-field one (``patterns.TEXT_FIELDS``), the OAuth-code one (``patterns.FORM_CODE``) and the query
parameter one (``patterns.QUERY_PARAM``): every other detector's match contains a match of its own trigger
(:mod:`~jwtobs.redact.scan.rules`). :func:`lines_that_may_change` runs those detectors' own expressions and the
redactor's own judgements of names and values, and says "unchanged" only when every match is

* a field whose name names no secret (:func:`patterns.name_strength`: ``SessionTracker``,
  ``input_userauth_request``, ``session_reuses``), or
* a field with a weak name (``session``, ``sid``, ``auth``...), or a ``code=``, whose value is no credential
  (:func:`patterns.is_credential_value`), with nothing after the value or at its end that could make the
  scrubber read on into the next word (a separator, a label, a scheme word: then the full scrubber decides).

A query parameter match, a strong name, a credential-shaped value, a name that is a header, or a character whose
lower case changes the length: the full scrubber decides. ``tests/redact/test_scan_fast.py`` checks that no line
the scrubber changes is ever skipped, on every line of the real corpora, every pinned leak form and generated
lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from jwtobs.redact import _regex
from jwtobs.redact import patterns as p
from jwtobs.redact.scrub import _credential_like, _in_marker, _is_marker, _next_name, _quoted

#: After a value's end: a separator, or the comma of a ("name", value) pair, may follow (the scrubber
#: then reads whether the value's last word names a secret and takes the next value too).
_SEP_AFTER: Final = _regex.compile(r"""\\?["']?[ \t]*+[:=,]""")
#: At the value's end: a label (``x=password:``) or an Authorization scheme word (``Bearer``).
#: The characters :func:`patterns.name_before` reads (a name starts at the stem when none precedes it).
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_LABEL_END: Final = (":", "=", ",", "bearer", "basic", "dpop", "digest", "negotiate", "token")


def may_change(text: str) -> bool:
    """False only when scrubbing ``text`` (a line the prefilter matched only with name=value triggers) cannot
    change it; True when the full scrubber has to decide."""
    return bool(lines_that_may_change([text]))


def lines_that_may_change(lines: list[str]) -> set[int]:
    """The indices of ``lines`` (each as for :func:`may_change`) that scrubbing may change: see
    :func:`joined_lines_that_may_change`."""
    return set(joined_lines_that_may_change("\n".join(lines))) if lines else set()


def joined_lines_that_may_change(text: str) -> list[int]:
    """The indices (ascending) of the lines of ``text`` (lines as for :func:`may_change`, joined by newlines)
    that scrubbing may change, found in one pass of each expression over the whole text (no field match spans a
    newline: names, separators and values exclude it), so the per-line cost is the work per field match, not a
    dozen calls per line. The scanner joins a block's lines as bytes and decodes them once."""
    low = text.lower()
    if len(low) != len(text):  # the scrubber then lower-cases ASCII letters only: it decides those lines
        lines = text.split("\n")
        return [i for i, line in enumerate(lines) if len(line.lower()) != len(line) or _starts(line, line.lower())]
    return _line_numbers(text, _starts(text, low))


def _starts(text: str, low: str) -> list[int]:
    """Where the matches that may change ``text`` start (``low`` is its lower case, of the same length)."""
    out: list[int] = []
    add = out.append
    name_before, names = p.name_before, _NAMES
    markers = p.MARKER_PREFIX.lower() in low  # (a scrubbed copy scanned again)
    for word, _words, pattern in p.TEXT_FIELDS:
        if word not in low:
            continue
        for m in _field_matches(pattern, text, low):
            start = m.start()
            if markers and (_in_marker(text, start) or _is_marker(text[slice(*m.span(m.lastgroup or 0))])):
                continue  # the scrubber's _field declines a match inside a marker, or whose value is one
            head = len(name_before(low, start)) if low[start - 1 : start] in _NAME_CHARS else 0
            name = text[start - head : m.end("suffix")]
            reading = names.get(name)
            if reading is None:
                reading = _name_reading(name)
            if reading == _NO_SECRET:
                continue  # names no secret: SessionTracker, input_userauth_request, session_reuses
            if reading == _WEAK_FIELD:
                # the value: the last group of the match (dq, sq, eq or bare)
                v_start, v_end = m.span(m.lastgroup or 0)
                value = text[v_start:v_end]
                if not _may_be_credential(text, value, v_end):
                    continue  # session: 30546173_4261722401, sessionid: 0x34ede65503f0039, sid:2
            add(start)
    if "=" in low or "%3d" in low:
        for m in p.QUERY_PARAM.finditer(low):
            add(m.start())  # "?code=...", "&sig=...": the scrubber decides
        for m in p.FORM_CODE.finditer(low):
            v_start, v_end = m.span("value")
            if not _may_be_credential(text, text[v_start:v_end], v_end):
                continue  # Code=-50, code=1035, exit code=0,
            add(m.start())
    return out


def _field_matches(pattern: p.Searcher, text: str, low: str) -> Iterator[re.Match[str]]:
    """``pattern``'s matches in ``low`` as the scrubber visits them: after a match from its value when the scrubber
    may read that again as the next field's name ('tokenx: "TOKEN": "..."', ``scrub._next_name``), else from its
    end (each such value is short or ends at a separator: linear)."""
    m = pattern.search(low)
    while m is not None:
        yield m
        v_start, v_end = m.span(m.lastgroup or 0)
        again = _next_name(text, m.start(), v_start, v_end, _quoted(m.lastgroup)) is not None
        m = pattern.search(low, v_start if again else m.end())


def _line_numbers(text: str, positions: list[int]) -> list[int]:
    """The distinct line indices (ascending) of ``positions`` in ``text``: newlines counted once, in order."""
    out: list[int] = []
    line = last = 0
    count = text.count
    for pos in sorted(positions):
        line += count("\n", last, pos)
        last = pos
        if not out or out[-1] != line:
            out.append(line)
    return out


#: How the fast path reads a field name: it names no secret, a weak name that is no credential header (the value
#: decides), or anything else (the scrubber decides).
_NO_SECRET: Final = 0
_WEAK_FIELD: Final = 1
_SCRUB: Final = 2
#: :func:`_name_reading` of names already read (pure: :func:`patterns.name_strength`, :func:`patterns.header_kind`)
_NAMES: dict[str, int] = {}
_NAMES_MAX: Final = 1 << 14
#: Header kinds whose names the scrubber's ``_field`` declines whatever follows (Authorization and Cookie headers
#: have detectors of their own, with triggers of their own): such a name reads as naming no secret here.
_OWN_DETECTOR: Final = (p.AUTHORIZATION, p.COOKIE)


def _name_reading(name: str) -> int:
    strength = p.name_strength(name)
    if not strength or p.header_kind(name) in _OWN_DETECTOR:  # the scrubber's _field declines both
        reading = _NO_SECRET
    elif strength == p.WEAK and p.header_kind(name) is None:
        reading = _WEAK_FIELD
    else:
        reading = _SCRUB
    if len(_NAMES) >= _NAMES_MAX:
        _NAMES.clear()
    _NAMES[name] = reading
    return reading


#: :func:`patterns.is_credential_value` of weakly named values already judged (the same ids repeat line after
#: line in a log: ``CBS Session: 30546173_4261722401``); a pure function of the value, bounded.
_WEAK_VALUES: dict[str, bool] = {}
_WEAK_VALUES_MAX: Final = 1 << 16


def _weak_credential(value: str) -> bool:
    known = _WEAK_VALUES.get(value)
    if known is None:
        known = p.is_credential_value(value, p.WEAK)
        if len(_WEAK_VALUES) >= _WEAK_VALUES_MAX:
            _WEAK_VALUES.clear()
        _WEAK_VALUES[value] = known
    return known


# -- a field trigger's hit, judged where the Hyperscan engine reports it ----------------------------------------
#: The name before a field hit's ":" (read on the reversed bytes): blanks, maybe the quote that ends a quoted name
#: (``"password":``, ``config["password"] =``: ``patterns._FIELD_SEP``), then up to 48 name characters (49 read:
#: a longer run is left to the fast path, which reads names of any length as the scrubber does).
_HIT_NAME: Final = _regex.compile(rb"[ \t]*+(\]?[\"']\\?)?+([A-Za-z0-9_\-]{1,49}+)")
#: The value after it: blanks, then a value the scrubber reads as a bare value (starting with a letter or digit,
#: printable ASCII only) followed by ASCII whitespace or the end of the line, and then no separator
#: (:data:`_SEP_AFTER`); anything else (a quote, a bracket, "b'", a control or non-ASCII character) is left to
#: the fast path.
_HIT_VALUE: Final = _regex.compile(
    rb"[ \t]*+([A-Za-z0-9][^\x00-\x20\x7f-\xff,;&\"'\\\[\]{}()<>]*+)(?=[\t-\r ]|\Z)(?!"
    + _SEP_AFTER.pattern.encode()
    + rb")"
)
_HIT_WINDOW: Final = 72
#: The letters of a control character's escape ("\\n"): read before a name after a backslash, they are the escape's
#: (``patterns.name_before`` reads the lower-cased text, so either case)
_CONTROL_LETTERS: Final = (b"n", b"t", b"r", b"N", b"T", b"R")
#: :func:`_name_reading` by the reversed name bytes of field hits (pure, bounded as :data:`_NAMES`)
_HIT_READINGS: dict[bytes, int] = {}
#: The bytes before a hit's ":" that key :data:`_HIT_KEYS`, and that cache: those bytes -> the reading of the name
#: they end with, kept only when the name starts inside them (a non-name byte precedes it there), so that they
#: alone decide the reading. The same few names repeat line after line in a log ("CBS    Session:"): one slice
#: and one look-up per hit instead of reading the name back. Bounded as :data:`_NAMES`.
_HIT_KEY: Final = 16
_HIT_KEYS: dict[bytes, int] = {}
#: Whether the fast path clears a weakly named field's bare value read at a hit (:func:`_may_be_credential` of
#: it, with nothing after it: :data:`_HIT_VALUE` checked that), by the value's bytes; pure, bounded.
_HIT_VALUES: dict[bytes, bool] = {}


def field_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """True when the field trigger's match whose last byte is ``buf[last]`` (a line of ``buf[lo:hi]``, which
    starts at a line start) cannot make the scrubber change the line: the match ends with ``Name:`` (blanks
    allowed before the ":"), the name is 1-48 name characters, and :func:`_name_reading` says it names no secret
    (``input_userauth_request:``, ``[SessionTracker:``), or it is a weak name whose bare value the fast path's
    own judgement clears (``CBS Session: 30546173_4261722401``: :func:`_may_be_credential`, with the separator
    check in :data:`_HIT_VALUE`).

    Why that is enough: a ``patterns.TEXT_FIELDS`` match needs its trigger's match (the stem, the rest of the
    name, the separator), so a field match of the scrubber that uses this ":" starts at a stem inside this name;
    with at most 48 name characters on either side of the stem, the scrubber reads the whole run as the name
    (``patterns.name_before`` reads up to 64, the suffix up to 48) and this value as its bare value (the value
    starts with a letter or digit and ends at whitespace). Its ``_field`` then declines exactly as the fast path
    judges. The Hyperscan engine drops a line only when every trigger match on it is such a hit (so every other
    detector's trigger is absent too): ``tests/redact/test_scan_fast.py`` checks that no dropped line is
    changed by the scrubber."""
    return not unsettled_field_hits(buf, [last], lo, hi)


def unsettled_field_hits(buf: bytes, hits: list[int], lo: int, hi: int) -> list[int]:
    """The field trigger's hits of ``hits`` (last bytes, in ``buf[lo:hi]``) that :func:`field_hit_unchanged`
    does not settle, judged in one loop (the Hyperscan engine's ~30,000 field hits per 100 MB of real logs)."""
    out: list[int] = []
    keys, values, value_match = _HIT_KEYS, _HIT_VALUES, _HIT_VALUE.match
    for last in hits:
        if buf[last] == 58:  # ":" ("=" and "," forms: the fast path decides)
            start = last - _HIT_KEY
            reading = keys.get(buf[start:last]) if start >= lo else None
            if reading is None:
                reading = _hit_name_reading(buf, last, lo)
            if reading == _NO_SECRET:
                continue
            if reading == _WEAK_FIELD:
                v = value_match(buf, last + 1, hi)
                if v is not None:
                    value = v.group(1)
                    cleared = values.get(value)
                    if cleared is None:
                        cleared = _hit_value_cleared(value)
                    if cleared:
                        continue
        if not _marker_settled(buf, last, lo, hi):
            out.append(last)
    return out


def _hit_name_reading(buf: bytes, last: int, lo: int) -> int:
    """:func:`_name_reading` of the name before a field hit's ":" at ``buf[last]`` (blanks, maybe a closing
    quote, then 1-48 name characters read back at most :data:`_HIT_WINDOW` bytes); :data:`_SCRUB` when there is
    none or it may be longer, and for a quoted name that names a (weak) secret (its value, maybe quoted, is left to
    the fast path). Remembered in :data:`_HIT_KEYS` when the name starts inside the key bytes."""
    start = last - _HIT_WINDOW
    if start < lo:
        start = lo
    before = buf[start:last][::-1]
    m = _HIT_NAME.match(before)
    if m is None:
        return _SCRUB
    a, b = m.span(2)
    if b - a > 48 or (b == len(before) and start > lo):  # longer, or the window may have cut the name
        return _SCRUB
    key = before[a:b]
    if b - a > 1 and before[b - 1 : b] in _CONTROL_LETTERS and before[b : b + 1] == b"\\":
        key = key[:-1]  # "\\nsession:": the letter is the escape's (patterns.name_before reads the name so)
    reading = _HIT_READINGS.get(key)
    if reading is None:
        reading = _name_reading(key[::-1].decode("ascii"))
        if len(_HIT_READINGS) >= _NAMES_MAX:
            _HIT_READINGS.clear()
        _HIT_READINGS[key] = reading
    if m.start(1) >= 0 and reading != _NO_SECRET:  # a quoted name: only one naming no secret is settled here
        reading = _SCRUB
    if b < _HIT_KEY and last - _HIT_KEY >= lo:  # a non-name byte before the name, inside the key bytes
        if len(_HIT_KEYS) >= _NAMES_MAX:
            _HIT_KEYS.clear()
        _HIT_KEYS[buf[last - _HIT_KEY : last]] = reading
    return reading


def _hit_value_cleared(value: bytes) -> bool:
    text = value.decode("ascii")
    cleared = not _may_be_credential(text, text, len(text))  # (no separator after it: _HIT_VALUE checked that)
    if len(_HIT_VALUES) >= _WEAK_VALUES_MAX:
        _HIT_VALUES.clear()
    _HIT_VALUES[value] = cleared
    return cleared


def _marker_settled(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """What scrubbing leaves (a scrubbed copy scanned again): "password=[REDACTED:...]",
    '"password": "[REDACTED:...]"': a field match using this separator has a marker for its value (declined) or
    none (a bare value does not start with "[", and an opener "[" must not be followed by a marker);
    "[REDACTED:secret_field:...]": a match inside a marker is declined."""
    sep = buf[last]
    if (sep == 58 or sep == 61) and _HIT_MARKER_VALUE.match(buf, last + 1, hi) is not None:
        return True
    return sep == 58 and in_marker(buf, last, lo)


def judged_hit_unchanged(buf: bytes, last: int, hi: int) -> bool:
    """True when a query-parameter or ``code=`` trigger's match (``name=``, ``name%3D``) whose last byte is
    ``buf[last]`` is followed by "[": the value of ``patterns.QUERY_PARAM`` and ``patterns.FORM_CODE`` starts
    right there and holds no "[" (``?access_token=[REDACTED:...]`` in a scrubbed copy)."""
    return last + 1 < hi and buf[last + 1] == 91


_MARKER_BYTES: Final = _regex.compile(p.MARKER.pattern.encode())
_MARKER_PREFIX_BYTES: Final = p.MARKER_PREFIX.encode()
#: After a field's separator: blanks, then a marker alone or between a pair of quotes
_HIT_MARKER_VALUE: Final = _regex.compile(
    rb"[ \t]*+(?:" + _MARKER_BYTES.pattern + rb"|(?P<q>[\"'])" + _MARKER_BYTES.pattern + rb"(?P=q))"
)


def in_marker(buf: bytes, pos: int, lo: int) -> bool:
    """``buf[pos]`` lies inside a complete marker (the bytes form of the scrubber's ``_in_marker``): a marker
    starts at most 48 bytes before it (the kind of a marker is at most 24 characters)."""
    i = buf.rfind(_MARKER_PREFIX_BYTES, max(lo, pos - 48), pos)
    if i < 0:
        return False
    m = _MARKER_BYTES.match(buf, i)
    return m is not None and m.end() > pos


# -- hits of the header, cookie, URL userinfo and command-line triggers on a scrubbed copy ------------------------
# What these detectors leave (a scrubbed line checked for a second pass, or a scrubbed copy scanned again): the
# credential after the trigger is a marker, and each detector declines a value that is a marker. Each judgement
# below reads the bytes after the hit as that detector's expression reads the text from there and settles the hit
# only when the value it reads is exactly a marker (ASCII only: a control or non-ASCII byte, which a str pattern
# may read as whitespace, is left to the scrubber). Every match of the detector contains its trigger's match ending
# at this hit (the trigger stands for that detector alone), so a line whose every hit is settled is one the
# detector leaves unchanged.
#: A bare value's end for the command-line detectors (``patterns._ARG``: whitespace or a quote) and for cookies
#: (``patterns._COOKIE_CHARS``: also ";" and a backslash, ";" being read on by the cookie expression itself)
_ARG_END: Final = frozenset(b" \t\n\r\x0b\x0c\"'")
_COOKIE_END: Final = frozenset(b" \t\n\r\x0b\x0c\"'\\")
#: ``Authorization: <word> <marker>`` or ``Authorization: <marker>`` after the separator: ``patterns.AUTH_HEADER``
#: then reads the word as the credential (it stops at the blank; "[" cannot start a credential, so the word is no
#: scheme) and ``_auth`` declines a scheme, or a word that does not look like a credential (``_credential_like``)
#: or is shaped as a vendor's scheme (``patterns.CAMEL_SCHEME``) followed by a marker, or it does not match at all
#: (a marker's "[" is no opener of its separator and cannot start a credential); the separator's quote
#: (``"authorization": "Bearer``) is read as it reads it, no other quote and no "=" (auth-params) where it reads them.
_AUTH_MARKED: Final = _regex.compile(
    rb"[ \t]*+(?:[bB]?\\?[\"'])?+"
    rb"(?:(?P<word>(?![bB]\\?[\"'])[A-Za-z0-9][^\x00-\x20\x7f-\xff\"'\\,;\[\]{}()<>=]*+)[ \t]++)?+"
    + _MARKER_BYTES.pattern
)
#: ``Cookie: a=<marker>; b=<marker>`` after the separator (and its quote, as the expression reads it):
#: ``patterns.COOKIE_HEADER``'s value is these pairs (a name without "=" and a marker, a marker alone, or nothing),
#: and ``_cookie`` keeps a pair whose value is a marker.
_COOKIE_PAIR: Final = rb"(?:[^\x00-\x20\x7f-\xff;\"'\\=]*+=)?+" + _MARKER_BYTES.pattern
_COOKIE_MARKED: Final = _regex.compile(
    rb"[ \t]*+(?:[bB]?\\?[\"'])?+" + _COOKIE_PAIR + rb"(?:;[ \t]*+(?:" + _COOKIE_PAIR + rb")?+)*+"
)
#: A URL's user before the password (``patterns.URL_USERINFO``), ASCII
_URL_USER: Final = _regex.compile(rb"[^\x00-\x20\x7f-\xff/:@\"'<>]*+")
#: A curl user before ":" (``[^\s:"']{1,64}+``), ASCII
_CURL_USER: Final = _regex.compile(rb"[ \t]++[^\x00-\x20\x7f-\xff:\"']{1,64}+:")


def _arg_is_marker(buf: bytes, pos: int, hi: int, ends: frozenset[int] = _ARG_END) -> bool:
    """The command-line argument at ``buf[pos]`` (``patterns._ARG``: "quoted", 'quoted' or bare) is exactly a
    marker; a bare one ends at one of ``ends``."""
    q = buf[pos] if pos < hi else -1
    if q == 34 or q == 39:
        m = _MARKER_BYTES.match(buf, pos + 1, hi)
        return m is not None and m.end() < hi and buf[m.end()] == q
    m = _MARKER_BYTES.match(buf, pos, hi)
    return m is not None and (m.end() == hi or buf[m.end()] in ends)


def auth_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """An ``authorization`` trigger hit (its separator at ``buf[last]``) followed by a marker, maybe after a
    word, or inside a marker ("[REDACTED:authorization:...]": ``_auth`` declines a match starting there)."""
    m = _AUTH_MARKED.match(buf, last + 1, hi)
    if m is None:
        return in_marker(buf, last, lo)
    word = m.group("word")
    if word is None:
        return True
    text = word.decode("ascii")  # (a scheme, a word that does not look like a credential itself, or a vendor's scheme)
    return text.lower() in p.AUTH_SCHEMES or not _credential_like(text) or p.CAMEL_SCHEME.fullmatch(text) is not None


def cookie_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A ``cookie`` trigger hit (its separator at ``buf[last]``) followed by pairs valued by markers, up to where
    the cookie value ends, or inside a marker ("[REDACTED:cookie:...]")."""
    m = _COOKIE_MARKED.match(buf, last + 1, hi)
    return (m is not None and (m.end() == hi or buf[m.end()] in _COOKIE_END)) or in_marker(buf, last, lo)


def userinfo_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A URL userinfo trigger hit (its "@" at ``buf[last]``) whose password is a marker: the match ending here
    starts at the nearest "://" before it (user and password hold no "/"), the user runs to the first ":". A hit
    of a userinfo cut short (``_T_USERINFO_CUT``) ends on its password's first character other than a digit: it
    is settled when the password is a marker up to "@" or to the end of the URL (what the scrubber keeps)."""
    start = buf.rfind(b"://", lo, last)
    if start < 0:
        return False
    user = _URL_USER.match(buf, start + 3, last)
    colon = user.end() if user is not None else -1
    if not (0 <= colon < last and buf[colon] == 58):
        return False
    if buf[last] != 64:  # (no "@": a cut hit)
        marker = _MARKER_BYTES.match(buf, colon + 1, hi)
        return marker is not None and (marker.end() == hi or buf[marker.end()] in _URL_PASSWORD_END)
    return _MARKER_BYTES.fullmatch(buf, colon + 1, last) is not None


#: what ends a URL's password (``patterns.URL_USERINFO``'s class): a marker followed by one of these is the whole
#: password
_URL_PASSWORD_END: Final = frozenset(b"@ \t\r\n\f\v/\"'<>")


def value_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A hit ending where a value starts (the SQL password trigger: ``buf[last]`` the quote after "password" or
    the blank after "identified ... by"; the name/value trigger: the ":" or "=" after "value") whose value is a
    marker: in its quotes (escaped ones too), or bare up to a blank, ";", ",", a quote, a bracket or a
    parenthesis."""
    pos = last
    if buf[last] not in (34, 39):  # (after "by" or the separator: blanks, then the value or its quote)
        pos += 1
        while pos < hi and buf[pos] in (32, 9):
            pos += 1
        if pos + 1 < hi and buf[pos] == 92 and buf[pos + 1] in (34, 39):  # \" (JSON inside a JSON string)
            quote = buf[pos + 1]
            marker = _MARKER_BYTES.match(buf, pos + 2, hi)
            if marker is None:
                return in_marker(buf, last, lo)
            after = marker.end()
            return after + 1 < hi and buf[after] == 92 and buf[after + 1] == quote
    return _arg_is_marker(buf, pos, hi, _BARE_END) or in_marker(buf, last, lo)


_BARE_END: Final = frozenset(b" \t\r\n;,'\"()[]{}")


def cli_flag_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A ``--name value`` trigger hit (``buf[last]`` is the value's first character or its quote: where
    ``patterns.CLI_FLAG``'s argument starts, after all the blanks) whose argument is a marker, or whose option
    names no secret (``--config /etc/x``: ``_cli_flag`` declines it whatever the value). The name is read back:
    the blanks, then the run of name characters, which starts with the "--" of the match (no name character
    before it, the expression's lookbehind) and holds 1-64 more."""
    if _arg_is_marker(buf, last, hi):
        return True
    end = last
    while end > lo and buf[end - 1] in (32, 9):
        end -= 1
    start = end - _HIT_WINDOW if end - _HIT_WINDOW > lo else lo
    m = _OPTION_NAME.match(buf[start:end][::-1])
    if m is None or (m.end() == end - start and start > lo):  # none, or the window may have cut it
        return False
    run = buf[end - m.end() : end]
    if not run.startswith(b"--") or not 3 <= len(run) <= 66 or not (65 <= (run[2] | 32) <= 122):
        return False
    quiet = _QUIET_OPTIONS.get(run)
    if quiet is None:
        name = run[2:].decode("ascii")
        quiet = not (p.name_strength(name) or p.header_kind(name))
        if len(_QUIET_OPTIONS) >= _NAMES_MAX:
            _QUIET_OPTIONS.clear()
        _QUIET_OPTIONS[run] = quiet
    return quiet


#: The run of name characters before an option's value, read on the reversed bytes
_OPTION_NAME: Final = _regex.compile(rb"[A-Za-z0-9_\-]++")
#: Whether an option ("--name", bytes) names no secret (``_cli_flag`` declines it); pure, bounded
_QUIET_OPTIONS: dict[bytes, bool] = {}


def cli_short_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A command's short-option trigger hit (``buf[last]`` is the "-" after a blank): settled when the option is
    none of ``patterns.CLI_SHORT``'s (``-p``, ``-a``, ``-w``, ``-k``, ``-x``, ``-c``, ``-u``, ``--user``,
    ``--proxy-user``, any case), or
    its argument (after blanks; for curl after ``user:``, also ``--proxy-user``'s) is a marker."""
    option = buf[last + 1 : last + 2].lower()
    if option in _SNMP_OPTIONS and _SNMP not in buf[buf.rfind(b"\n", lo, last) + 1 : last].lower():
        return True  # ("-X POST" is curl's method: net-snmp's options only on a line naming an snmp command)
    if option in _ARG_OPTIONS:
        pos = last + 2
        while pos < hi and buf[pos] in (32, 9):
            pos += 1
        return _arg_is_marker(buf, pos, hi)
    user = None
    if option == b"u":
        user = _CURL_USER.match(buf, last + 2, hi)
    elif buf[last + 1 : last + 6].lower() == b"-user":
        user = _CURL_USER.match(buf, last + 6, hi)
    elif buf[last + 1 : last + 12].lower() == b"-proxy-user":  # (curl's proxy credentials; session 38)
        user = _CURL_USER.match(buf, last + 12, hi)
    else:
        return True  # no CLI_SHORT option starts here
    return user is not None and _arg_is_marker(buf, user.end(), hi)


#: the short options of ``patterns.CLI_SHORT`` whose argument follows them (glued or after blanks; net-snmp's "-X"
#: and "-c", ``patterns.SNMP_OPTIONS``)
_ARG_OPTIONS: Final = frozenset((b"p", b"a", b"w", b"k", b"x", b"c"))
_SNMP_OPTIONS: Final = frozenset((b"x", b"c"))
_SNMP: Final = b"snmp"


def auth_pair_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A (user, password) pair trigger hit (``buf[last]`` the password's opening quote) whose password is a marker
    in its quotes."""
    marker = _MARKER_BYTES.match(buf, last + 1, hi)
    return (marker is not None and marker.end() < hi and buf[marker.end()] == buf[last]) or in_marker(buf, last, lo)


def spaced_hit_unchanged(buf: bytes, last: int, lo: int, hi: int) -> bool:
    """A spaced-field trigger hit (``buf[last]`` inside the value, a word after a secret name and blanks) whose
    value starts with a marker (the scrubber's ``_spaced`` declines it), or inside a marker."""
    # (searched back to the line's start only: to the block's, a line without a tab read the whole block before it
    # again for each of its hits - 128 000 lines of "apikey <id>" took 278 s, session 34)
    line = buf.rfind(b"\n", lo, last + 1) + 1 or lo
    start = max(buf.rfind(b" ", line, last + 1), buf.rfind(b"\t", line, last + 1), line - 1) + 1
    while start < hi and buf[start] in _OPENERS:
        start += 1
    return buf.startswith(_MARKER_PREFIX_BYTES, start) or in_marker(buf, last, lo)


#: what may stand before a marker that the trigger reads as a spaced value ("password '[REDACTED:...]'": the
#: scrubber's bare value starts with none of them)
_OPENERS: Final = frozenset(b"\"'({")


#: The triggers whose hits the judgements above settle, by trigger name
MARKED_JUDGEMENTS: Final = {
    "authorization": auth_hit_unchanged,
    "cookie": cookie_hit_unchanged,
    "userinfo": userinfo_hit_unchanged,
    "cli_flag": cli_flag_hit_unchanged,
    "sql_password": value_hit_unchanged,
    "name_value": value_hit_unchanged,
    "cli_short": cli_short_hit_unchanged,
    "auth_pair": auth_pair_hit_unchanged,
    "spaced": spaced_hit_unchanged,
}


def xml_hit_unchanged(buf: bytes, last: int, lo: int) -> bool:
    """True when the XML trigger's match whose last byte is ``buf[last]`` (the first letter of a closing tag)
    ends an element whose text is a marker (``<password>[REDACTED:secret_field:...]</password>`` in a
    scrubbed copy): ``patterns.XML_ELEMENT``'s value is the text from the opening tag's ">" to this "</" (it holds
    no "<"), and the scrubber's ``_xml`` declines a value that is a marker."""
    lt = buf.rfind(b"<", lo, last - 2)  # the opening tag (the text between it and this "</" holds no "<")
    gt = buf.find(b">", lt, last - 2) if lt >= 0 else -1
    return gt >= 0 and _MARKER_BYTES.fullmatch(buf[gt + 1 : last - 2].strip()) is not None


def _may_be_credential(text: str, value: str, end: int) -> bool:
    """A weakly named value (a field named ``session``, a ``code=``) that the scrubber may redact: a credential
    by :func:`patterns.is_credential_value`, or followed by what could make the scrubber read on past ``end``."""
    return (
        _weak_credential(value)
        or value.lower().rstrip(" \t").endswith(_LABEL_END)
        or _SEP_AFTER.match(text, end) is not None
    )
