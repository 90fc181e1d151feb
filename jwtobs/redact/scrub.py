"""Scrubbing strings, bytes and nested values: every credential becomes ``[REDACTED:<kind>:<fingerprint>]``.

The fingerprint is the keyed token fingerprint of :mod:`jwtobs.fingerprint` (``config.current()
.fingerprinter.token(credential)``), so a token's marker in a log line equals the ``token_fp`` of its
validation event. Scrubbing never mutates its input, never raises (an internal error turns the affected
value into ``[REDACTION_FAILED]``, never the original) and counts what it redacts in the
``jwtobs.redactions`` metric (attributes kind, sink).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from jwtobs import config, telemetry
from jwtobs.failures import FailureCount
from jwtobs.redact import _regex
from jwtobs.redact import patterns as p

__all__ = ["Scrubber", "scrub", "scrub_value", "FAILED"]

FAILED = p.FAILED
_MAX_DEPTH = 64
_WORDISH = _regex.compile(r"[A-Za-z][a-z]*+")
_CALLABLE = _regex.compile(r"(?=[A-Z_.]*+[a-z])[A-Za-z_][A-Za-z_.]*+")  # (words: a credential has digits)
_FIELD_AHEAD = _regex.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}+[:=]")
_BLANK = _regex.compile(r"\s")


def _marker(kind: str, credential: str) -> str:
    return f"[REDACTED:{kind}:{config.current().fingerprinter.token(credential)}]"


def _with_infix_keys(s: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (in order, apart) and the Azure AD client secrets of ``s`` that overlap none of them, in order."""
    extra = []
    for m in p.AZURE_AD_SECRET.finditer(s):
        a, b = m.start() - p.AZURE_AD_LEAD, m.end()
        i = bisect.bisect_left(spans, (a, a))
        clear = (i == len(spans) or spans[i][0] >= b) and (i == 0 or spans[i - 1][1] <= a)
        if clear and not _in_marker(s, a):
            extra.append((a, b))
    return sorted(spans + extra) if extra else spans


def _json_unescaped(value: str) -> str:
    """``value`` with its JSON value escapes decoded (:data:`patterns.JSON_VALUE_ESCAPE`: "\\/", "\\u002B"...)."""
    if "\\" not in value:
        return value
    view = p.unescaped(value, p.JSON_VALUE_ESCAPE)
    return value if view is None else view.text


def _vendor_spans(s: str) -> list[tuple[int, int]]:
    """The vendor-prefixed keys of ``s`` (and the Azure AD client secrets, found from their infix), in order."""
    spans = _prefixed_spans(s, p.VENDOR_FIND, p.VENDOR_FIND_HEADS, p.VENDOR_AT)
    if "Q~" in s:
        spans = _with_infix_keys(s, spans)
    return spans


def _prefixed_spans(
    s: str, find: re.Pattern[str], heads: tuple[str, ...], at: Mapping[str, re.Pattern[str]]
) -> list[tuple[int, int]]:
    """The spans (group "key") of the keys ``find`` gates and ``at[head]`` matches at the head's start, in order:
    whole vendor keys (:data:`patterns.VENDOR_FIND`), or keys cut short (:data:`patterns.VENDOR_CUT_FIND`)."""
    spans: list[tuple[int, int]] = []
    last = 0
    gate = find.search(s)
    while gate is not None:
        pos = gate.end()
        group = gate.lastindex or 0
        start = gate.start(group)
        found = at[heads[group - 1]].match(s, start) if start >= last else None
        if found is not None and not _in_marker(s, found.start()):
            spans.append(found.span("key"))
            last = pos = found.end()
        gate = find.search(s, pos)
    return spans


def _in_marker(text: str, start: int) -> bool:
    """Position ``start`` lies inside a complete marker ("[REDACTED:url_password:t-0123456789ab]"), also within
    its "[REDACTED:" (a match starting after its "[": a user name of Go's DSN, which holds no "[")."""
    i = text.rfind(p.MARKER_PREFIX, max(0, start - 48), start + _PREFIX_TAIL)
    if i < 0:
        return False
    m = p.MARKER.match(text, i)
    return m is not None and m.end() > start


_PREFIX_TAIL: Final = len(p.MARKER_PREFIX) - 1

#: Python's string prefixes: on a traceback's source line, before a quote where a value would be, the string is the
#: value ('"Authorization": f"Bearer {token}"': the credentials, if any, are in the string, which the scheme's
#: detector reads; in a log's text, b'...' is a bytes repr whose content is the value)
_STRING_PREFIXES: Final = frozenset(("f", "b", "r", "u", "rb", "br", "fr", "rf"))
#: a traceback's frame line, which Python prints before the frame's source line ('  File "app.py", line 42, in f')
_FRAME_LINE: Final = _regex.compile(r'[ \t]*+File \\?+"[^"\r\n]*+", line [0-9]++')
#: where a value would be on a source line, the start of an expression: a name (a variable, an attribute, a call,
#: a subscript) or an f-string's replacement field
_EXPRESSION_START: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_{")
#: ... a name, with the attributes read from it; a plain name is code when a call, a subscript or the end of an
#: argument or an item follows it ("password=pw)", 'S["password"]', "get_api_key()")
_CODE_NAME: Final = _regex.compile(r"[A-Za-z_][A-Za-z0-9_]*+(?P<attr>(?:\.[A-Za-z_][A-Za-z0-9_]*+)*+)")
_CODE_AFTER_NAME: Final = frozenset("([),}")


def _source_expression(text: str, start: int) -> bool:
    """The text at ``start`` is an expression on a line of source code that a traceback prints: the line is indented
    and follows a frame line ('  File "app.py", line 42, in login'). There a value that is no string or number
    literal is code - ``password=form.password``, ``api_key=get_api_key()``, ``S["password"]``, an f-string's
    ``{token}`` - never a secret; a literal (``password="hunter2"``) is still one."""
    if text[start : start + 1] not in _EXPRESSION_START:
        return False
    if text[start] != "{":  # (an f-string's field is code as it is)
        # the value's own shape first (a short match), the look back over the lines only for what may be code
        name = _CODE_NAME.match(text, start, start + _CODE_NAME_MAX + 1)
        if name is None or name.end() - start > _CODE_NAME_MAX:
            return False
        if not (name.group("attr") or text[name.end() : name.end() + 1] in _CODE_AFTER_NAME):
            return False  # a bare word at the line's end: a SyntaxError's line may hold anything ("PASSWORD = x")
    return _source_line(text, start)


#: the longest source line and frame line read back over (each look back is bounded: linear time on any text)
_SOURCE_LINE_MAX: Final = 4096
_CODE_NAME_MAX: Final = 256


def _source_line(text: str, start: int) -> bool:
    """``start`` lies on a line of source code that a traceback prints (see :func:`_source_expression`); also in a
    traceback written into a JSON string, its newlines escaped (a JSON renderer's "exception" field)."""
    line, sep = _line_start(text, start)
    if line < 0 or text[line : line + 1] not in (" ", "\t"):
        return False
    end = line - sep - (sep == 1 and text[line - 2 : line - 1] == "\r")
    frame, _ = _line_start(text, end)
    return frame >= 0 and _FRAME_LINE.match(text, frame, end) is not None


def _line_start(text: str, pos: int) -> tuple[int, int]:
    """Where the line holding ``pos`` starts, after a newline or an escaped one ("\\n"), and that separator's length:
    (0, 0) on the text's first line, (-1, 0) when no line starts within _SOURCE_LINE_MAX characters before ``pos``."""
    lo = max(0, pos - _SOURCE_LINE_MAX)
    raw = text.rfind("\n", lo, pos)
    escaped = text.rfind("\\n", lo, pos)
    if raw < 0 and escaped < 0:
        return (0, 0) if lo == 0 else (-1, 0)
    return (raw + 1, 1) if raw > escaped else (escaped + 2, 2)


def _is_marker(value: str) -> bool:
    """``value`` is a marker, or markers glued together (a value extended up to a marker that followed it:
    "[REDACTED:cookie:...][REDACTED:authorization:...]") or apart by blanks (an unclosed quote's value over two
    markers), which is redacted already."""
    return _MARKERS_ONLY.fullmatch(value) is not None


#: one or more markers, back to back or apart by blanks, and blanks after them
_MARKERS_ONLY = _regex.compile("(?:" + p.MARKER.pattern + ")(?:[ \t]*+(?:" + p.MARKER.pattern + "))*+[ \t]*+")


#: the characters of the standard base64 alphabet that base64url has not (:meth:`Scrubber._jose_token`)
_STD_ONLY: Final = frozenset("+/")


def _credential_like(word: str) -> bool:
    """A word after ``Authorization:`` that is a credential rather than a scheme name: long, or with digits,
    "_", or mixed case past the first letter of a hyphen-separated part (``Api-Token``, ``X-Custom-Token``:
    capitalised like header names, schemes; ``aBc1``: a credential)."""
    mixed = any(part[1:] != part[1:].lower() and part[1:] != part[1:].upper() for part in word.split("-"))
    return len(word) >= 24 or mixed or any(c.isdigit() or c == "_" for c in word)


#: An auth-scheme name (RFC 9110 token characters, a letter first, at most 32)
_SCHEME_NAME = _regex.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~\-]{0,31}+")
#: Schemes whose names hold digits ("AWS4-HMAC-SHA256", "SCRAM-SHA-256")
_DIGIT_SCHEMES = ("aws4-hmac-", "scram-sha-")


def _is_scheme(word: str, cred: str = "") -> bool:
    """Whether the first word of an Authorization header value is a scheme name (kept) rather than credentials:
    a known scheme, a token-character word that is not :func:`_credential_like`, or a vendor's scheme of
    capitalised words before credentials (:func:`_camel_scheme`)."""
    low = word.lower()
    return (
        low in _SCHEME_KIND
        or low.startswith(_DIGIT_SCHEMES)
        or (_SCHEME_NAME.fullmatch(word) is not None and not _credential_like(word))
        or _camel_scheme(word, cred)
    )


def _camel_scheme(word: str, cred: str) -> bool:
    """``word`` is shaped as a vendor's scheme name (:data:`patterns.CAMEL_SCHEME`: "GenieKey", "DeepL-Auth-Key")
    and ``cred``, the value after it, looks like a credential itself (:func:`_credential_like`): the credentials are
    ``cred``, not ``word``."""
    return p.CAMEL_SCHEME.fullmatch(word) is not None and _credential_like(cred)


def _is_word(value: str) -> bool:
    """A plain word ("token", "Basic", "authentication"): prose, not a credential."""
    return _WORDISH.fullmatch(value) is not None


_lower = p.lower  # lower-cased copy of the same length: match positions carry over to the text


Sub = Callable[[str, "re.Match[str]"], "tuple[str, int] | None"]


class _Tags:
    """AWS access key ids (each starts with one of ``patterns.AWS_KEY_ID_PREFIXES``) and the ends of their markers
    (each ends with "]"): :meth:`held` is ``any(t in line for t in (*ids, *ends))`` in time linear in the line however
    many tags there are (session 37: the scanner scrubs a batch of up to 4096 lines as one text, and on CloudTrail
    records, each holding two key ids, testing every tag on every line was quadratic in the batch's lines: 0.4 s of
    1.5 s for 300 records)."""

    __slots__ = ("_end_sizes", "_ends", "_id_sizes", "_ids")

    def __init__(self, ids: set[str], ends: set[str]) -> None:
        self._ids, self._ends = ids, ends
        self._id_sizes = sorted({len(t) for t in ids})
        self._end_sizes = sorted({len(t) for t in ends})

    def held(self, line: str) -> bool:
        ids, ends, find = self._ids, self._ends, line.find
        if ids:
            for prefix in p.AWS_KEY_ID_PREFIXES:
                at = find(prefix)
                while at >= 0:
                    if any(line[at : at + n] in ids for n in self._id_sizes):
                        return True
                    at = find(prefix, at + 1)
        if ends:
            at = find("]")
            while at >= 0:
                if any(at + 1 >= n and line[at + 1 - n : at + 1] in ends for n in self._end_sizes):
                    return True
                at = find("]", at + 1)
        return False


def _sub_matches(text: str, matches: Iterable[re.Match[str]], fn: Callable[[re.Match[str]], str]) -> str:
    """``pattern.sub(fn, text)`` for ``matches``, ``pattern``'s matches in ``text`` in order (not overlapping)."""
    pieces: list[str] = []
    at = 0
    for m in matches:
        pieces += [text[at : m.start()], fn(m)]
        at = m.end()
    if not pieces:
        return text
    pieces.append(text[at:])
    return "".join(pieces)


def _run(text: str, low: str, pattern: p.Searcher, fn: Sub, *, lower: bool = True) -> tuple[str, str]:
    """Apply ``pattern`` to the lower-cased ``low``; ``fn(text, match)`` returns the replacement of
    ``text[match.start():end]`` and that end, or None to keep the match. The search resumes at that end, which
    may lie before the match's end (the rest of the match is searched again: "authorization: Xa1
    authorization: ..." redacts the first credential only and finds the second header) or past it (an
    extended credential). Returns the new text and its lower-cased copy (``lower=False``: the new text twice)."""
    m = pattern.search(low)
    if m is None:  # the common case
        return text, low
    out: list[str] = []
    last = 0
    while m is not None:
        rep = fn(text, m)
        if rep is None:
            pos = m.end() if m.end() > m.start() else m.start() + 1
        else:
            out.append(text[last : m.start()])
            out.append(rep[0])
            last = pos = max(rep[1], m.start() + 1)
        m = pattern.search(low, pos)
    if not out:
        return text, low
    out.append(text[last:])
    new = "".join(out)
    return new, (_lower(new) if lower else new)


# A captured value that ends with a separator or an Authorization scheme ("access_token=;Authorization:Bearer")
# is a label: the credential is the next word, whose own keyword is now inside the value. Likewise a value
# followed by a separator ("x=password = hunter2"). The redaction then extends over that next word.
# ("=" only after a credential-ish name: base64 padding "dXNlcjpwYXNz==" is no label.)
_SCHEME_WORDS = ("bearer", "basic", "dpop", "digest", "negotiate", "token")
_EQ_LABEL = _regex.compile(
    r"[a-z0-9_\-.]*?(?:token|secret|passw[a-z]*|pwd|key|session[a-z_]*|credential[a-z]*|code|assertion|auth[a-z]*"
    r"|cookie|sid)"
)
# A separator after a value whose last word names a secret: "password": ..., ('password', ...), password = ...
_SEP_NEXT = _regex.compile(r"""\\?["'][ \t]*+,[ \t]*+b?(?=\\?["'])|(?:\\?["'])?[ \t]*+[:=][ \t]*+""")
_BLANK = _regex.compile(r"\s")
_INDENT = _regex.compile(r"[ \t]*+")


class _Ahead:
    """Where the word at a position ends (the next blank) and where the next marker starts, remembered for the last
    text asked about: :func:`_extend` asks at every field of a line, and a line without blanks
    ('"token":"token",...', an attacker's header an application logs) made each field read the rest of the line,
    quadratic in its length (session 36: 1 MB 55 s). Each answer holds for every position up to it, so one search
    serves the whole run. The text is known by its id, hash and length (no reference kept: a log line's secrets
    stay nowhere); a different text with all three equal is as unlikely as a 64-bit hash collision, and would cost a
    word's end (where a value's extension stops), never skip a marker's check."""

    __slots__ = ("_marker", "_word")

    def __init__(self) -> None:
        self._word = (0, 0, 0, -1, -1)  # (id, hash, length, from, to): no blank in text[from:to], a blank at to
        self._marker = (0, 0, 0, -1, -1)  # (id, hash, length, from, at): no marker starts in text[from:at]

    def word_end(self, text: str, pos: int) -> int:
        key = (id(text), hash(text), len(text))
        known = self._word
        if known[:3] == key and known[3] <= pos <= known[4]:
            return known[4]
        m = _BLANK.search(text, pos)
        end = len(text) if m is None else m.start()
        self._word = (*key, pos, end)
        return end

    def marker(self, text: str, pos: int, stop: int) -> int:
        """Start of the first marker in ``text[pos:stop]`` (``stop`` a word's end: markers hold no blank), or -1."""
        key = (id(text), hash(text), len(text))
        known = self._marker
        if not (known[:3] == key and known[3] <= pos <= known[4]):
            m = p.MARKER.search(text, pos)
            known = self._marker = (*key, pos, len(text) if m is None else m.start())
        return known[4] if known[4] < stop else -1

    def next_word(self, text: str, pos: int) -> int:
        """End of the next word after ``pos``, past any chain of labels before it ("Cookie: Cookie: Authorization:
        x", at most :data:`_EXTEND_MAX` words): ``pos`` when no word follows on the line."""
        end = pos
        for _ in range(_EXTEND_MAX):
            blanks = _INDENT.match(text, end)  # (always matches)
            start = end if blanks is None else blanks.end()
            if start >= len(text) or text[start].isspace():
                return end
            end = self.word_end(text, start)
            if text[end - 1] != ":":
                return end
        return end


_AHEAD = _Ahead()
#: Words (and chains of labels) one value is extended over at most: a line of labels ("x: y: z: ..." without end)
#: would be read to its end for every field in it.
_EXTEND_MAX = 16
_NAME_REVERSED = _regex.compile(r"[a-z0-9_\-.]{1,64}+")
#: What may stand between a label and its value: blanks, separators, quotes (a bytes repr's b), an opening bracket.
_SEPARATORS_ONLY = _regex.compile(r"""(?:[\s"'\\,:=(\[]|b(?=\\?["']))*+""")


def _tail_name(tail: str) -> str:
    """The name at the end of ``tail`` (lower-cased), before a closing quote and a comma."""
    t = tail.rstrip(" \t")
    if t.endswith(","):
        t = t[:-1].rstrip(" \t")
    if t.endswith(("'", '"')):
        t = t[:-2] if t[:-1].endswith("\\") else t[:-1]
    m = _NAME_REVERSED.match(t[::-1])
    return m.group(0)[::-1] if m else ""


def _label_end(tail: str) -> bool:
    """``tail`` (lower-cased) ends with a separator or a scheme word: the credential comes next."""
    last = tail[-1:]
    if last == ":":
        return True
    if last == "=":
        name = _tail_name(tail[:-1])
        return bool(name) and _EQ_LABEL.fullmatch(name) is not None
    for word in _SCHEME_WORDS:
        if tail.endswith(word):
            i = len(tail) - len(word) - 1
            return (
                i < 0
                or not ("a" <= tail[i] <= "z" or "0" <= tail[i] <= "9")
                or _ESCAPE_END.search(tail, 0, i + 1) is not None  # "...%26DPoP", "...\\u0026Bearer", "\\nBasic"
            )
    return False


#: An escape that glues the next word to the text before it (percent, JSON/Go "\\u0026", "\\x26", a control
#: character's "\\n": :data:`patterns.GLUE_ESCAPES`).
_ESCAPE_END = _regex.compile("(?:" + "|".join(p.GLUE_ESCAPES) + r")\Z")


def _label_followed(text: str, end: int, tail: str) -> bool:
    """A label ends the value and its credential follows: after a separator anything may follow; after a
    scheme word ("Bearer") only blank-separated credentials ("token=Token{a64f992" is a Java object)."""
    return tail[-1:] in (":", "=") or text[end : end + 1] in (" ", "\t")


def _extend(text: str, start: int, end: int, *, to_marker: bool = True) -> int:
    """End of the credential whose value was cut at ``text[start:end]``: past the next word when the value ends
    in a label (a separator or a scheme word) or names a secret and a separator follows; up to a marker in that
    word (not with ``to_marker=False``: a cookie-string would go on after the marker). At most :data:`_EXTEND_MAX`
    words; the words past them are read as fields of their own."""
    ahead = _AHEAD
    for _ in range(_EXTEND_MAX):
        tail = _lower(text[max(start, end - 48) : end])
        if _label_end(tail) and _label_followed(text, end, tail):
            after = ahead.next_word(text, end)
        else:  # (also a scheme word not followed by a blank: "('token', 'x')" is a pair, "Token{a64f" no label)
            name = _tail_name(tail)
            if not name or not (p.is_secret_name(name) or p.header_kind(name)):
                return end
            if tail.rstrip(" \t").endswith(","):
                sep = after = ahead.next_word(text, end)
            else:
                m = _SEP_NEXT.match(text, end)
                if m is None:
                    return end
                sep, after = m.end(), ahead.word_end(text, m.end())
            comma = text[end:sep].lstrip("\\\"' \t").startswith(",")  # ('password', value) form
            if comma and not p.header_kind(name) and not _pair_opens(text, end - len(name)):
                return end  # '"auth":"password","method"': JSON, not a ('password', value) pair
        if after == end:
            return end  # nothing follows
        marker = ahead.marker(text, end, after)
        if marker >= 0:
            # What follows holds a marker already: the credential runs up to it ("token: s3cr3t?https://u:[REDACTED:
            # ...]@h", "Basic c3Ry&[REDACTED:jwt:...]", forms glued by "?" or "&"), unless only separators and
            # quotes come first ("password: '[REDACTED:...]'": nothing left to redact).
            if not to_marker or _SEPARATORS_ONLY.fullmatch(text, end, marker):
                return end
            return marker
        end = after
    return end


_PGPASS_HINT = _regex.compile(p.PGPASS_HINT).search
_MARKERS_MAX = 1024
_SETTLE_MAX = 65536
#: "Bearer <JWS/JWE>" or a JWS/JWE alone, the whole text (see :meth:`_Pass._bearer_jose`).
_BEARER_JOSE = _regex.compile(r"(?:[Bb]earer )?(?P<token>" + p.JOSE.pattern + ")").fullmatch
_JOSE_MIN = 16
_MARKER_NEXT = _regex.compile(r"[ \t]++" + p.MARKER.pattern)
#: Texts the "Bearer <JWS>" shortcut (:meth:`_Pass._bearer_jose`) marked, by their ``hash()`` (tokens repeat: a
#: client sends the same one for its whole lifetime): hash -> (the fingerprinter that made the marker, length, last
#: 16 characters, kind, output). No token is kept (16 characters of a signature or tag rebuild nothing). A text
#: with the same hash, length and end but different (a 64-bit collision of the process's keyed string hash) would
#: be replaced by that output, a marker: over-redaction, never a leak. Bounded (emptied when full).
_JOSE_SEEN: dict[int, tuple[object, int, str, str, str]] = {}
_JOSE_SEEN_MAX = 4096
_JOSE_TAIL = 16


def _jose_seen(text: str, key: int, fingerprinter: object) -> tuple[str, str] | None:
    """(kind, output) of ``text`` (whose hash is ``key``) when the JOSE shortcut marked it before with
    ``fingerprinter``, else None."""
    seen = _JOSE_SEEN.get(key)
    if seen is None or seen[0] is not fingerprinter or seen[1] != len(text) or not text.endswith(seen[2]):
        return None
    return seen[3], seen[4]


#: Redaction counts that could not be recorded (telemetry failing): the text is still scrubbed.
COUNT_FAILURES: Final = FailureCount("counting redactions", "text is still scrubbed", logger="jwtobs.redact")


class _Pass:
    """One scrub of one value: collects counts per kind."""

    __slots__ = ("counts", "extended", "first", "jose_only", "keys", "markers", "total")

    def __init__(self, keys: bool = True) -> None:
        self.counts: dict[str, int] = {}
        self.keys = keys  # False: the caller knows the text holds no vendor-key prefix (see Scrubber.text)
        self.total = 0  # markers made so far
        self.jose_only = False  # the last _text redacted JOSE tokens only (and before anything else)
        # a JOSE run of the last _text took a following label's value, or ends right before an "e": a token glued
        # after it ("<JWS>%3D<JWS>": the padding ends the first) starts a match only once its marker is there
        self.extended = False
        # markers made in this pass: a credential repeated in one text is fingerprinted once (the first one is
        # kept apart: most passes make one marker, and hashing a long token for the dict costs ~0.25 us)
        self.first: tuple[str, str, str] | None = None
        self.markers: dict[tuple[str, str], str] = {}

    def mark(self, kind: str, credential: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.total += 1
        first = self.first
        if first is None:
            marker = _marker(kind, credential)
            self.first = (kind, credential, marker)
            return marker
        if first[1] == credential and first[0] == kind:
            return first[2]
        key = (kind, credential)
        known = self.markers.get(key)
        if known is not None:
            return known
        marker = _marker(kind, credential)
        if len(self.markers) < _MARKERS_MAX:
            self.markers[key] = marker
        return marker

    # -- credential values (the part after a header name or scheme) ------------------------------------------
    def credential(self, value: str, default_kind: str) -> str:
        """Marker for a credential value; a JWS/JWE inside keeps its own kind and fingerprint."""
        stripped = value.strip()
        if not stripped or _is_marker(stripped) or p.MASKED_VALUE.fullmatch(stripped):
            return value  # (nothing, or masked already: "'Authorization': 'REDACTED'", "Bearer ***")
        if "\\" in stripped:  # fingerprinted as written unescaped ("abc\\u002Bdef" is "abc+def")
            stripped = _json_unescaped(stripped)
        jose = p.is_jose(stripped)
        if jose is not None:
            return self.mark(jose, stripped)
        return self.mark(default_kind, stripped)

    def auth_value(self, value: str) -> str:
        """An Authorization header value: keep the scheme, redact the credentials. A first word that is no
        scheme name (a token followed by ": x", a long or digit-holding opaque value) is credentials too: the
        whole value is redacted."""
        scheme, sep, cred = value.strip().partition(" ")
        if not sep or not cred.strip() or p.is_jose(scheme) or not _is_scheme(scheme, cred.strip()):
            return self.credential(value, p.AUTHORIZATION)
        kind = _SCHEME_KIND.get(scheme.lower(), p.AUTHORIZATION)
        return f"{scheme} {self.credential(cred, kind)}"

    def cookie_value(self, value: str, *, set_cookie: bool, in_text: bool = False) -> str:
        """``a=1; b=2`` -> every value redacted; for Set-Cookie only the first pair is redacted whole, the
        attributes are scanned as text (in free text, ``in_text``, the other passes scan them anyway, and a
        bare JSON literal or scheme word such as ``DPoP`` is prose, as for fields)."""
        if set_cookie and ";" in value:
            first, _, attributes = value.partition(";")
            if not in_text:
                attributes = self.text(attributes)
            return self.cookie_value(first, set_cookie=False, in_text=in_text) + ";" + attributes
        out = []
        for part in value.split(";"):
            name, eq, val = part.partition("=") if "=" in part else ("", "", part)
            if not in_text and name.strip():
                # a header value is not scanned as text elsewhere: a name that is not a plain cookie name (a token
                # glued before "=", "<JWT> access_token=") is read as text, so what it holds is redacted too
                name = self.text(name)
            stripped = val.strip()
            if not stripped or _is_marker(stripped) or (in_text and stripped.lower() in p.EMPTY_VALUES):
                out.append(f"{name}{eq}{val}")
                continue
            out.append(f"{name}{eq}{self.credential(val, p.COOKIE)}")
        return ";".join(out)

    def header_value(self, kind: str, name: str, value: str) -> str:
        if kind == p.AUTHORIZATION:
            return self.auth_value(value)
        if kind == p.COOKIE:
            return self.cookie_value(value, set_cookie=name.lower().endswith("set-cookie"))
        if kind == p.BEARER:  # (Sec-WebSocket-Protocol's list of subprotocols: the only names of that kind; what else
            # the value holds, a JWS after a protocol's name, is read as text)
            return self.text(self.subprotocols(value))
        return self.credential(value, kind)

    def subprotocols(self, value: str) -> str:
        """A Sec-WebSocket-Protocol value, a list of subprotocols: its credential element redacted
        (:data:`patterns.WEBSOCKET_PROTOCOL_VALUE`), the protocol names kept byte for byte."""
        m = p.WEBSOCKET_PROTOCOL_VALUE.match(_lower(value))
        rep = self._subprotocol_credential(value, m) if m is not None else None
        return value if rep is None else rep[0] + value[rep[1] :]

    # -- free text ---------------------------------------------------------------------------------------------
    def text(self, s: str, settled: Callable[[str], bool] | None = None) -> str:
        """Scrubbed text. Text that had something redacted (and is at most 64 KB) gets a second pass: a
        credential whose keyword was inside a looser value found in the first pass is found now, so scrubbing
        the output again changes nothing. (Not when only JOSE tokens were redacted: they are replaced before
        every other detector runs, so the first pass already ran those on the output; nor when ``settled``,
        the caller's check, says no detector can act on the first pass's output: see :meth:`Scrubber.text`.)"""
        if _JOSE_MIN <= len(s) <= _SETTLE_MAX and s[0] in "Bbe":  # (a huge text is no single token)
            out = self._bearer_jose(s)
            if out is not None:
                return out
        out = self._text(s)
        if (
            out is not s
            and len(out) <= _SETTLE_MAX
            and not self.jose_only
            and out != s
            and (settled is None or not settled(out))
        ):
            out = self._text(out)
        return out

    def _bearer_jose(self, s: str) -> str | None:
        """A text that is one JWS/JWE, alone or after "Bearer " (what is logged most): its marker without the
        full pass, which would find nothing else ("Bearer [REDACTED:jwt:...]" holds no other credential, and a
        JOSE-only pass needs no second pass); None for any other text. ``tests/redact/test_sinks.py`` checks it
        against the full pass."""
        if len(s) > _SETTLE_MAX:
            return None
        fingerprinter = config.current().fingerprinter
        key = hash(s)
        seen = _jose_seen(s, key, fingerprinter)
        if seen is not None:
            kind = seen[0]  # (the same text as a token marked before: its output, without the match or the hash)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.total += 1
            self.jose_only = True
            self.extended = False
            return seen[1]
        m = _BEARER_JOSE(s)
        if m is None:
            return None
        start = m.start("token")
        pieces = p.split_jose(s[start:])
        if len(pieces) != 1 or pieces[0][1] is None:
            return None
        self.jose_only = True
        self.extended = False
        kind = pieces[0][1]
        out = s[:start] + self.mark(kind, pieces[0][0])
        if config.current().fingerprinter is fingerprinter:  # (not when the key changed meanwhile)
            if len(_JOSE_SEEN) >= _JOSE_SEEN_MAX:
                _JOSE_SEEN.clear()
            _JOSE_SEEN[key] = (fingerprinter, len(s), s[-_JOSE_TAIL:], kind, out)
        return out

    def _text(self, s: str) -> str:
        # an AWS secret access key beside its key id, without a name: found on the lines of the key id before any
        # redaction (a field detector may take the id first), redacted last (a JOSE token, a field value holding
        # such a run is redacted whole by its own detector first), on the lines that hold the id or its marker
        aws = p.aws_secret_runs(s) if self.keys and "A" in s else None
        if "=" in s and ("argc=" in s or "proctitle=" in s):  # an auditd record's command line, first (its arguments
            s = self._audit(s)  # are fields of their own; '"=" in s' first: a one-character search, 17 % of real lines)
        out = self._passes(s)
        if aws:
            out = self._aws_secrets(out, aws, {m.group() for m in p.AWS_KEY_ID.finditer(s)})
        return out

    def _audit(self, s: str) -> str:
        """The auditd records' command lines (:func:`patterns.audit_commands`): each joined into one line (an
        argument holding a blank or none quoted), scrubbed, and each argument the scrub changed written back: a
        quoted one with its markers in place ('a2="-p[REDACTED:...]"'), a hex one as its marker when it was the
        secret whole, else as the quoted text; PROCTITLE's hex value as the scrubbed line, quoted."""
        edits: list[tuple[int, int, str]] = []
        for proctitle, args in p.audit_commands(s):
            spans: list[tuple[int, int]] = []
            parts: list[str] = []
            at = 0
            for _, _, arg, _ in args:
                quoted = not arg or (any(c.isspace() or c in "'\\" for c in arg) and '"' not in arg)
                quote = '"' if quoted else ""
                at += len(quote)
                spans.append((at, at + len(arg)))
                parts.append(quote + arg + quote)
                at += len(arg) + len(quote) + 1
            line = " ".join(parts)
            out = self.text(line)
            if out == line:
                continue
            if proctitle:
                start, end, _, _ = args[0]
                edits.append((start, end, f'"{out}"' if '"' not in out else out))
                continue
            gaps = _replaced(line, out)
            for (start, end, arg, drops), (a, b) in zip(args, spans, strict=True):
                pieces, at = [], a
                for g, h, marker in gaps:
                    if g < b and h > a:
                        pieces += [line[at : max(g, a)], marker]
                        at = min(h, b)
                if not pieces:
                    continue
                new = "".join(pieces) + line[at:b]
                hexed = s[start - 1 : start] != '"'
                if hexed and '"' in new:  # (no quoted form: the argument whole, as the kind of its first marker)
                    kind = p.FINDING.match(p.MARKER.search(new).group())  # type: ignore[union-attr]
                    new = self.mark(kind.group(1), arg)  # type: ignore[union-attr]
                elif hexed and not _is_marker(new):
                    new = f'"{new}"'
                edits.append((start, end, new))
                edits += [(g, h, "") for g, h in drops]  # (a split argument: whole in its first chunk's field)
        for start, end, new in sorted(edits, reverse=True):
            s = s[:start] + new + s[end:]
        return s

    def _aws_secrets(self, s: str, runs: frozenset[str], ids: set[str]) -> str:
        token = config.current().fingerprinter.token
        tags = _Tags(ids, {token(i) + "]" for i in ids})  # an id, or the end of its marker (whatever its kind)

        def mark(m: re.Match[str]) -> str:
            run = m.group()
            return self.mark(p.API_KEY, run) if run in runs and not _in_marker(m.string, m.start()) else run

        total = self.total
        lines = s.split("\n")
        for i, line in enumerate(lines):
            if tags.held(line):
                line = _sub_matches(line, p.aws_secret_matches(line), mark)
                if "\\" in line or "%" in line:  # a secret written with value escapes ("\\u002B", "%2B", "\\/")
                    for escape in p.VALUE_ESCAPES:  # (each view of the line as it is by then)
                        view = p.unescaped(line, escape)
                        if view is None:
                            continue
                        t = view.text
                        spans = [
                            (*view.span(*m.span()), m.group())
                            for m in p.aws_secret_matches(t)
                            if m.group() in runs and not _in_marker(t, m.start())
                        ]
                        if spans:
                            line = self._marked(line, spans)
                lines[i] = line
        if self.total == total:
            return s
        self.jose_only = False
        return "\n".join(lines)

    def _passes(self, s: str) -> str:
        self.jose_only = self.extended = False
        # private keys first: a field detector would take a PEM block's first word ("private_key: -----BEGIN ..."),
        # and a PEM body or a JWK holds no other form ('"{" in s' first: a one-character search, ~10x cheaper)
        if "-----BEGIN " in s or ("{" in s and "kty" in s) or p.B64_PEM_START in s:
            s = self._private_keys(s)
        if p.TRIGGER.search(s) is None:  # only "Bearer <credentials>", keys and command lines can remain
            return self._unseparated(self._b64_jose(s))
        if "." in s or "%2" in s or "\\u002" in s:  # ("\\u002e": a JSON escape of the dots, session 33)
            if "%" in s or "\\" in s or "\x1b" in s:  # glued to an escape ("%26ewogIC", "\\newog", "\x1b[33mewog")
                # (first: JOSE would start at the glued token's payload, a JSON object too, and leave its header)
                s, _ = _run(s, s, p.ESCAPED_JOSE, self._escaped_jose, lower=False)
            s, _ = _run(s, s, p.JOSE, self._jose_token, lower=False)
            if "eyJ" in s:
                s, _ = _run(s, s, p.GLUED_JOSE, self._jose_token, lower=False)
            if ("+" in s or "/" in s) and ("ey" in s or "ew" in s):  # the standard base64 alphabet
                s, _ = _run(s, s, p.STD_JOSE, self._std_jose, lower=False)
            if "eyJ" in s:
                s, _ = _run(s, s, p.SIGNING_INPUT_RE, self._signing_input, lower=False)
        jose_total, extended = self.total, self.extended
        s = self._b64_jose(s)  # (after the JOSE passes: a token's own segments are base64url runs too)
        s = self._separated(s)
        self.jose_only = self.total == jose_total and not extended
        return s

    def _separated(self, s: str) -> str:
        if p.SEPARATORS.search(s) is None:  # no name/value form possible
            return self._unseparated(s)
        if "://" in s or "netloc=" in s:
            s = p.URL_USERINFO.sub(self._userinfo, s)
            if "@" in s:  # (after the password: a token as the user, "https://<token>:x-oauth-basic@github.com")
                s = p.URL_USER.sub(self._url_user, s)
        if "@" in s or ("%" in s and "%40" in s):  # (every userinfo form has its "@")
            if p.escaped_url_lead(s):  # "postgresql:\\/\\/u:pw@h", "next=https%3A%2F%2Fu%3Apw%40h"
                s = self._escaped_userinfo(s)
            if "@" in s and p.GO_DSN_NET.search(s) is not None:  # "user:pw@tcp(host:3306)/db"
                s = p.GO_DSN.sub(self._userinfo, s)
        if _PGPASS_HINT(s) is not None:  # "host:5432:db:user:password"
            s, _ = _run(s, s, p.PGPASS, self._credential_file, lower=False)
        if "</" in s:
            s, _ = _run(s, s, p.XML_ELEMENT, self._xml, lower=False)
        if "@" in s and ("jdbc:" in s or "JDBC:" in s):  # (Oracle's thin URL: "jdbc:oracle:thin:u/x@h")
            s, _ = _run(s, _lower(s), p.JDBC_ORACLE, self._jdbc_password)
        # Most specific first: a looser value (a query value, a field value) may run into the keyword of a
        # following credential ("code=,Bearer abc"); the credential must already be a marker by then.
        low = _lower(s)
        # Which keywords the text holds, decided on the text before any redaction (markers never add a
        # credential, so this is a superset of what later passes need).
        has = low.__contains__
        if has("websocket"):  # a token sent as a WebSocket subprotocol (its element alone: not a header's whole value)
            s, low = _run(s, low, p.WEBSOCKET_PROTOCOL, self._subprotocol)
        if has("authorization"):
            s, low = _run(s, low, p.AUTH_HEADER, self._auth)
        for scheme, pattern in p.SCHEME_CRED.items():
            if has(scheme):
                s, low = _run(s, low, pattern, self._scheme)
        if has("cookie"):
            s, low = _run(s, low, p.COOKIE_HEADER, self._cookie)
            if has("cookie(version=") or has("cookie: "):
                s, low = _run(s, low, p.COOKIE_REPR, self._cookie_repr)
        if "=" in low or "%3d" in low:
            if ("?" in low or "&" in low or "#" in low or ";" in low or "%" in low or "\\u00" in low) and any(
                map(has, p.QUERY_WORDS)
            ):
                s, low = _run(s, low, p.QUERY_PARAM, self._query)
            if has("code"):
                s, low = _run(s, low, p.FORM_CODE, self._form_code)
        if "'code" in low or '"code' in low:
            s, low = _run(s, low, p.DICT_CODE, self._dict_code)
        if "," in low and (
            (has("auth") and ("auth(" in low or "auth=" in low or "auth:" in low or "auth " in low))
            or has("login(")
            or has("simple_bind")
        ):  # (before the "auth" field: it takes the call's name)
            s, low = _run(s, low, p.AUTH_PAIR, self._auth_pair)
        if "," in low and (has("login(") or p.php_login_hint(low)):  # a PHP frame's password argument
            s, low = _run(s, low, p.PHP_LOGIN, self._auth_pair)
        if has("signature"):  # a request's signature, a hex digest ("Signature:\n<hex>", "..., Signature=<hex>"; before
            # the fields: "botocore.auth: Signature: <hex>" is the logger's name, then the signature)
            s, low = _run(s, low, p.HEX_SIGNATURE, self._credential_file)
        if has("signature") or has("hmac"):  # a webhook's signature ("X-Hub-Signature-256: sha256=<hex>")
            s, low = _run(s, low, p.WEBHOOK_SIGNATURE, self._webhook_signature)
        if "\n" in s and ("|" in s or ">" in s):  # a YAML block scalar under a secret's name ("password: |")
            s, low = _run(s, low, p.YAML_BLOCK_HEADER, self._yaml_block)
        netrc = False  # ("password" in the text: the "pass" stem's word found, see _commands_and_keys)
        spaced: list[p.Searcher] = []  # (the SPACED_FIELDS of the stems the text holds)
        first = True
        for word, words, field_pattern, spaced_pattern in p.FIELD_PASSES:
            if has(word) and (not words or any(map(has, words))):
                if first:  # ("$password = ConvertTo-SecureString -String x": the field would take the cmdlet's name)
                    first = False
                    if has("securestring"):
                        s, low = _run(s, low, p.PS_SECURESTRING, self._cli_short)
                s, low = _run(s, low, field_pattern, self._field)
                netrc = netrc or word == "pass"
                if spaced_pattern is not None:
                    spaced.append(spaced_pattern)
        if has("value") and (has("name") or has("key")):  # {"name": "DB_PASSWORD", "value": "x"}
            s, low = _run(s, low, p.NAME_VALUE, self._name_value)
            if has("</name>"):  # Hadoop's "<name>fs.s3a.secret.key</name><value>x</value>"
                s, low = _run(s, low, p.XML_NAME_VALUE, self._name_value)
            if (
                "securestring" in low
            ):  # PowerShell's 'ParameterBinding(ConvertTo-SecureString): name="String"; value=...'
                s, low = _run(s, low, p.PS_SECURESTRING_BINDING, self._credential_file)
        if has("content") and has("name"):  # '<meta name="csrf-token" content="x">'
            s, low = _run(s, low, p.META_CONTENT, self._name_value)
        if (has('"value') or has('\\"value')) and (has(":{") or has(": {")):  # '"db_password": {"value": "x"}'
            s, low = _run(s, low, p.NAMED_OBJECT_VALUE, self._name_value)  # (Actuator's /env, Terraform's outputs)
        if has("input_value=") or has("'loc'") or has('"loc"'):
            s, low = _run(s, low, p.VALIDATION_INPUT, self._validation_input)
        s = self._commands_and_keys(s, low, netrc, spaced)
        if "://" in s:  # a URL cut before its "@" ("https://user:s3cr3tp..."), last: its password, read up to a
            # quote or a line's end, may run over another form's name ("://:,Authorization': 'Token x"), whose
            # credential is a marker by then
            s = p.URL_USERINFO_CUT.sub(self._userinfo_cut, s)
        return s

    def _webhook_signature(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The MACs of a webhook's signature header (:data:`patterns.WEBHOOK_SIGNATURE`), each a marker; its labels
        ("sha256=", "v1,") and time ("t=...") kept."""
        if _in_marker(s, m.start()):
            return None
        start, end = m.span("value")
        value = s[start:end]
        pieces: list[str] = []
        at = 0
        for run in p.MAC_RUN.finditer(value):
            if p.mac_value(run.group()):
                pieces += [value[at : run.start()], self.credential(run.group(), p.SECRET_FIELD)]
                at = run.end()
        if not pieces:
            return None
        return s[m.start() : start] + "".join(pieces) + value[at:], end

    def _composer_auth(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The hosts' tokens of a Composer auth object (:data:`patterns.COMPOSER_AUTH`), each a marker."""
        return self._entries(s, m, p.COMPOSER_AUTH_ENTRY, p.COMPOSER_ENTRIES_MAX)

    def _entries(self, s: str, m: re.Match[str], entry: re.Pattern[str], most: int) -> tuple[str, int] | None:
        """The values of up to ``most`` consecutive ``entry`` matches after ``m`` (a list's or an object's members),
        each credential a marker; ``None`` when none is one."""
        if _in_marker(s, m.start()):
            return None
        low, pos = m.string, m.end()
        pieces: list[str] = []
        at = m.start()
        for _ in range(most):
            e = entry.match(low, pos)
            if e is None:
                break
            (start, end), pos = e.span("value"), e.end()
            value = s[start:end]
            if not _is_marker(value) and p.is_credential_value(value, p.STRONG):
                pieces += [s[at:start], self.credential(value, p.SECRET_FIELD)]
                at = end
        if not pieces:
            return None
        return "".join(pieces) + s[at:pos], pos

    def _composer_config(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The token (or http-basic's password) given to "composer config" (:data:`patterns.COMPOSER_CONFIG`)."""
        group = m.lastgroup or "bare"
        start, end = m.span(group)
        value = s[start:end]
        if _in_marker(s, m.start()) or _is_marker(value) or not p.is_credential_value(value, p.STRONG):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _ldif_b64(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """An LDIF attribute's base64 value (:data:`patterns.LDIF_B64`) under a strong name, unless it is a hash."""
        start, end = m.span("value")
        name = s[m.start("name") : m.end("name")]
        if _in_marker(s, m.start()) or p.name_strength(name) != p.STRONG or not p.ldif_b64_secret(s[start:end]):
            return None
        return s[m.start() : start] + self.credential(s[start:end], p.SECRET_FIELD), end

    def _vault_key_list(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The keys of a Vault key list (:data:`patterns.VAULT_KEY_LIST`), each a marker (the first is the field's
        already)."""
        return self._entries(s, m, p.VAULT_KEY_ENTRY, p.VAULT_KEY_ENTRIES_MAX)

    def _credential_file(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of a line of a credential file (:data:`patterns.NETRC`, :data:`patterns.PGPASS`), of a pair
        given to chpasswd (:data:`patterns.CHPASSWD`), of ConvertTo-SecureString's logged parameter
        (:data:`patterns.PS_SECURESTRING_BINDING`)."""
        start, end = m.span("value")
        value = s[start:end]
        if _is_marker(value) or _in_marker(s, m.start()) or not p.is_credential_value(value, p.STRONG):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _cookie_jar(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The value of a Netscape cookie file's line (:data:`patterns.COOKIE_JAR_LINE`): a cookie's, as after
        "Cookie:" (every cookie value is redacted there)."""
        start, end = m.span("value")
        value = s[start:end]
        if _is_marker(value) or _in_marker(s, m.start()) or p.is_placeholder(value):
            return None
        return s[m.start() : start] + self.credential(value, p.COOKIE), end

    def _quoted_password(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A password argument of :data:`patterns.CLI_POSITIONAL_QUOTED`'s commands: double-quoted, whatever it holds
        but nothing (a placeholder, a mask); else judged as any command's argument."""
        start = m.start("dq")
        if start < 0:
            return self._arg(s, m, p.STRONG)
        end = m.end("dq")
        value = s[start:end]
        if (
            p.is_placeholder(value)
            or p.MASKED_VALUE.fullmatch(value.strip())
            or _is_marker(value)
            or _in_marker(s, start)
            or _template(s, start)
        ):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _typed_twice(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The passwords piped to passwd (:data:`patterns.STDIN_PASSWD_TWICE`): the new one and its confirmation (one
        marker twice), and the current one before them."""
        value = s[m.start("value") : m.end("value")]
        if _in_marker(s, m.start()) or not p.is_credential_value(value, p.STRONG):
            return None
        pieces: list[str] = []
        at = m.start()
        for group in ("old", "value", "again"):
            start, end = m.span(group)
            if start < 0 or _is_marker(s[start:end]):
                continue
            pieces += [s[at:start], self.credential(s[start:end], p.SECRET_FIELD)]
            at = end
        return "".join(pieces) + s[at : m.end()], m.end()

    def _validation_input(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The input a validation error echoes (:data:`patterns.VALIDATION_INPUT`), when its field's name names a
        secret (judged as a field name: ``password``, ``refresh_token``, ``x-api-key``)."""
        path = m.group("path") if m.start("path") >= 0 else m.group("loc")
        last = p.VALIDATION_LAST_NAME.search(path.rstrip())
        if last is None or _in_marker(s, m.start()):
            return None
        name = last.group(1)
        kind = p.header_kind(name) or (_secret_kind(name) if p.name_strength(name) else None)
        if kind is None:
            return None
        group = next(g for g in ("sq", "dq", "lsq", "ldq") if m.start(g) >= 0)
        start, end = m.start(group), m.end(group)
        value = s[start:end]
        if not value or _is_marker(value):
            return None
        return s[m.start() : start] + self.credential(value, kind), end

    def _unseparated(self, s: str) -> str:
        """Text without ":", "=", ",", "%": "Bearer <credentials>", XML elements, command-line options, vendor
        keys."""
        if "</" in s:  # "<credentials><password>x</password></credentials>" needs no separator
            s, _ = _run(s, s, p.XML_ELEMENT, self._xml, lower=False)
        low = _lower(s)
        if "</name>" in low:  # Hadoop's "<name>fs.s3a.secret.key</name><value>x</value>" (no separator either)
            s, low = _run(s, low, p.XML_NAME_VALUE, self._name_value)
        for scheme, pattern in p.SCHEME_CRED.items():
            if scheme in low:
                s, low = _run(s, low, pattern, self._scheme)
        return self._commands_and_keys(s, low)

    def _commands_and_keys(self, s: str, low: str, netrc: bool = True, spaced: list[p.Searcher] | None = None) -> str:
        """netrc lines (``netrc``: the text may hold "password"), command-line options that take a secret, then
        vendor-prefixed keys (last: a key after a header name keeps that header's kind)."""
        if netrc and "password" in low and ("machine" in low or "default" in low):  # "machine h login u password X"
            s, low = _run(s, low, p.NETRC, self._credential_file)
        if netrc and (p.STDIN_PASSWD_WORD in low or p.STDIN_LOGIN_WORD in low):  # "echo 'root:x' | chpasswd", "echo x
            # | passwd --stdin bob", "echo x | docker login -u bob --password-stdin"
            # ("netrc": the text may hold "pass")
            for pattern in (*p.CHPASSWD, *p.STDIN_PASSWD) if "chpasswd" in low else p.STDIN_PASSWD:
                s, low = _run(s, low, pattern, self._credential_file)
            if "\\n" in low:  # 'echo -e "x\\nx" | passwd' (the new password and its confirmation)
                s, low = _run(s, low, p.STDIN_PASSWD_TWICE, self._typed_twice)
        if "login " in low or "backend: " in low:  # the Cowrie honeypot's "login attempt [root/x] failed" (what
            # each of COWRIE_WORDS holds: "login attempt [", "login return, expect: [", "will auth with backend: ")
            for pattern in p.COWRIE_LOGIN:
                s, low = _run(s, low, pattern, self._credential_file)
        if "::add-mask::" in low or "##vso[task." in low:  # a CI log's own secrets (CI_SECRET_WORDS)
            s, low = _run(s, low, p.CI_SECRET, self._credential_file)
        if "secret" in low:  # a HashiCorp tool's token: "SecretID: <uuid>", "Secret ID = <uuid>" (session 39)
            s, low = _run(s, low, p.SECRET_ID, self._credential_file)
        if "unseal key " in low or "recovery key " in low:  # Vault's "Unseal Key 1: x" (VAULT_KEY_WORDS)
            s, low = _run(s, low, p.VAULT_KEY_LINE, self._credential_file)
        if "_keys_" in low and "[" in low:  # Vault's '"unseal_keys_b64": ["x", "y"]' (each element)
            s, low = _run(s, low, p.VAULT_KEY_LIST, self._vault_key_list)
        if "{plain}" in low or "{clear" in low:  # Dovecot's "password={PLAIN}x", "bob:{PLAIN}x::::::"
            s, low = _run(s, low, p.CLEAR_SCHEME, self._credential_file)
        if ":: " in low:  # LDIF's "userPassword:: <base64>"
            s, low = _run(s, low, p.LDIF_B64, self._ldif_b64)
        if "\t/" in low and any(map(low.__contains__, p.COOKIE_JAR_WORDS)):  # a Netscape cookie file's line
            s, low = _run(s, low, p.COOKIE_JAR_LINE, self._cookie_jar)
        if ("password" in low and ("password " in low or "password(" in low or "password\t" in low)) or (
            "identified" in low
        ):  # SQL: "ALTER USER app WITH PASSWORD 'x'", "IDENTIFIED BY 'x'"
            s, low = _run(s, low, p.SQL_PASSWORD, self._sql_password)
        if "password " in low and (" is" in low or " to" in low or " was" in low):  # "the password is 'x'"
            s, low = _run(s, low, p.STATED_PASSWORD, self._stated_password)
        if "--" in low:
            s, low = _run(s, low, p.CLI_FLAG, self._cli_flag)
        if "auth" in low and ("plain" in low or "oauth" in low):  # "AUTH PLAIN AGJvYgB4..." (a SASL response)
            s, low = _run(s, low, p.SASL_RESPONSE, self._sasl)
            if "resp=" in low and "\t" in low:  # Dovecot's "AUTH<TAB>1<TAB>PLAIN<TAB>...<TAB>resp=AGJvYgB4..."
                s, low = _run(s, low, p.DOVECOT_AUTH_RESP, self._sasl)
        if p.protocol_hint(s):  # "*cmd* 'PASS x'", "redis> AUTH x", "> b'A1 LOGIN bob x'"
            out, _ = _run(s, s, p.PROTOCOL_LOGIN, self._protocol_login, lower=False)
            if out is not s:
                s, low = out, _lower(out)
            if "setuser" in low:  # Redis's 'ACL SETUSER alice on >x'
                out, _ = _run(s, s, p.REDIS_ACL_PASSWORD, self._acl_password, lower=False)
                if out is not s:
                    s, low = out, _lower(out)
        if "@" in low and "/" in low and any(map(low.__contains__, p.ORACLE_CLIENTS)):  # Oracle's "sqlplus
            for pattern in p.ORACLE_LOGONS:  # scott/x@orcl" (one-character searches first: 3 % of real lines hold both)
                s, low = _run(s, low, pattern, self._jdbc_password)
        if p.cli_positional_hint(low):
            for command, pattern in p.CLI_POSITIONAL:
                if command in low:
                    if command in p.CLI_POSITIONAL_QUOTED:  # (Windows' net: '"my secret"' is a password)
                        s, low = _run(s, low, pattern, self._quoted_password)
                    elif command in p.CLI_POSITIONAL_CASED:  # (ssh-keygen's "-N X" is a passphrase, "-n x" principals)
                        out, _ = _run(s, s, pattern, self._cli_short, lower=False)
                        if out is not s:
                            s, low = out, _lower(out)
                    else:
                        s, low = _run(s, low, pattern, self._cli_short)
        if "nickserv" in low or "ns " in low:  # "PRIVMSG NickServ :IDENTIFY x", "/msg NickServ ghost bob x", "/ns
            # register x bob@example.com"
            for word, pattern in p.NICKSERV:
                if word in low:
                    s, low = _run(s, low, pattern, self._cli_short)
        if _CLI_SHORT_OPTION(low) is not None or "freerdp" in low:  # (an option of CLI_SHORT's after a blank, curl's
            # "--user" too; FreeRDP's "/p:" by its command's name)
            for command, pattern in p.CLI_SHORT:
                if command in low:
                    if command in p.CLI_SHORT_CASED:  # ("-P 3306" is mysql's port, "-pX" its password)
                        out, _ = _run(s, s, pattern, self._cli_short, lower=False)
                        if out is not s:
                            s, low = out, _lower(out)
                    else:
                        s, low = _run(s, low, pattern, self._cli_short)
        if _CAS_TICKET_HINT(s) is not None:  # a CAS ticket in a message or a URL's path ("Granted ticket [ST-...]")
            out, _ = _run(s, s, p.CAS_TICKET_TEXT, self._cas_ticket, lower=False)
            if out is not s:
                s, low = out, _lower(out)
        if self.keys and p.VENDOR_PREFIX_SEARCH.search(s) is not None:  # (a key holds its whole prefix)
            s = self._vendor(s)
            low = _lower(s)
        # Composer's tokens for a host (after the vendor keys: a "ghp_" token keeps its kind)
        if ("{" in low or "config" in low) and any(map(low.__contains__, p.COMPOSER_WORDS)):
            if "{" in low:  # '{"github-oauth": {"github.com": "<token>"}}'
                s, low = _run(s, low, p.COMPOSER_AUTH, self._composer_auth)
            if "config" in low:  # "composer config -g github-oauth.github.com <token>"
                s, low = _run(s, low, p.COMPOSER_CONFIG, self._composer_config)
        if spaced is None:  # (the stems the text holds: unknown yet on the path without separators)
            spaced = p.spaced_patterns(low)
        if spaced and (" " in low or "\t" in low):  # "apikey 9f8e7d6c5b4a" (last: every other form's value is a
            for spaced_pattern in spaced:  # marker by then)
                s, low = _run(s, low, spaced_pattern, self._spaced)
        return s

    # -- private keys: PEM blocks and private JWK members (kind private_key) ------------------------------------
    def _private_keys(self, s: str) -> str:
        if "-----BEGIN " in s:
            # (a body written with JSON value escapes, "\\/" or "\\u002B", is read unescaped: patterns.unescaped)
            view = p.unescaped(s, p.JSON_VALUE_ESCAPE) if "\\" in s else None
            if view is None:
                s = self._marked(s, list(p.pem_blocks(s)), p.PRIVATE_KEY)
            else:
                blocks = [(*view.span(a, b), credential) for a, b, credential in p.pem_blocks(view.text)]
                s = self._marked(s, blocks, p.PRIVATE_KEY)
        if "{" in s and "kty" in s:
            s, _ = _run(s, s, p.JWK_OBJECT, self._jwk, lower=False)
        if p.B64_PEM_START in s:  # "tls.key: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo..."
            s, _ = _run(s, s, p.B64_PEM, self._b64_pem, lower=False)
        return s

    def _b64_pem(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A PEM private key block stored base64-encoded (:data:`patterns.B64_PEM`): the run, whole, and the lines
        that go on with it when it was wrapped (``base64 key.pem`` in a multi-line message: lines of one width)."""
        run = m.group()
        if not p.b64_pem_private(run):
            return None
        end = m.end()
        if p.b64_wrap_width(len(run)) and s[end : end + 1] in ("\n", "\r"):
            end = p.b64_wrapped_end(s, end, len(run))
        return self.mark(p.PRIVATE_KEY, s[m.start() : end]), end

    def _jwk(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        obj = m.group(0)
        if p.JWK_KTY.search(obj) is None:
            return None
        out = p.JWK_PRIVATE_MEMBER.sub(self._jwk_member, obj)
        return None if out == obj else (out, m.end())

    def _jwk_member(self, m: re.Match[str]) -> str:
        """A private member's value as a quoted marker (the JSON/repr stays valid)."""
        if m.group("array") is not None:
            q = m.group("q")
            return m.string[m.start() : m.start("array")] + q + self.mark(p.PRIVATE_KEY, m.group("array")) + q
        return m.string[m.start() : m.start("value")] + self.mark(p.PRIVATE_KEY, m.group("value")) + m.group("vq")

    def _jose_token(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A JOSE run; one that ends in a label and takes the next word too ("eyJ...sig.password: x"), or is
        followed by an "e" (a token glued after it, which neither JOSE expression starts at in this pass: its
        character before is the run's, then the marker's "]") makes the pass no JOSE-only pass. A JOSE match
        the standard base64 alphabet goes on from ("+", "/") is left to STD_JOSE's pass, which takes it whole."""
        end = m.end()
        if (
            m.re is p.JOSE
            and s[end : end + 1] in _STD_ONLY
            and s[m.start() + 1] in "wy"
            and "%" not in m.group()
            and not p.is_whole_jws(m.group())  # (a whole token followed by a URL path: "/verify/<JWS>/confirm")
        ):
            return None  # (STD_JOSE matches from the same start, over a superset of characters, "." separated)
        out = self._jose(s, m)
        if out is not None and (out[1] > m.end() or s[out[1] : out[1] + 1] == "e"):
            self.extended = True
        return out

    def _std_jose(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A JOSE run in the standard base64 alphabet (or a base64url token that JOSE's pass left to it: one
        followed by "+" or "/")."""
        out = self._jose_span(s, m.start(), m.end(), p.split_std_jose)
        if out is not None:
            self.extended = True  # (not a JOSE-only pass: the settled shortcut reads base64url tokens only)
        return out

    def _escaped_jose(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A JOSE run right after an escape that glues it to the text before ("%26ewogIC...", "\\u0026ewoi..."):
        the escape is kept."""
        start = m.start("token")
        out = self._jose_span(s, start, m.end())
        if out is None:
            return None
        if out[1] > m.end():
            self.extended = True
        return s[m.start() : start] + out[0], out[1]

    def _jose(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        return self._jose_span(s, m.start(), m.end())

    def _jose_span(
        self, s: str, start: int, end: int, split: Callable[[str], list[tuple[str, str | None]]] | None = None
    ) -> tuple[str, int] | None:
        pieces = (split or p.split_jose)(s[start:end])
        if len(pieces) == 1 and pieces[0][1] is None:
            return None
        out = [piece if kind is None else self.mark(kind, piece) for piece, kind in pieces]
        ext = _extend(s, start, end)  # the run ends in a label ("eyJ...sig.password: hunter2")
        if ext > end:
            out.append(self.mark(p.SECRET_FIELD, s[end:ext]))
            end = ext
        return "".join(out), end

    def _b64_jose(self, s: str) -> str:
        """Base64 runs that decode to text holding a JWS or JWE (:func:`patterns.b64_wrapped_jose`), redacted
        whole with the token's kind; the fingerprint is the token's own when the run encodes it alone (so it
        matches the events' ``token_fp`` and the same token seen unencoded)."""
        if not p.b64_jose_hint(s):
            return s
        out: list[str] = []
        last = read = 0  # (the end of the last redaction, of the last run read)
        m = p.B64_JOSE_HINT.search(s)
        while m is not None:
            start, end = p.b64_run(s, m, read)
            read = end
            found = p.b64_wrapped_jose(s[start:end])
            if found is not None:
                kind, token = found
                out += [s[last:start], self.mark(kind, token if token is not None else s[start:end])]
                last = end
            m = p.B64_JOSE_HINT.search(s, end)
        if not out:
            return s
        out.append(s[last:])
        return "".join(out)

    def _signing_input(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        if not p.is_signing_input(m.group(0)):
            return None
        return self.mark(p.SIGNING_INPUT, m.group(0)), m.end()

    def _vendor(self, s: str) -> str:
        """Vendor-prefixed keys, then those written with value escapes (a webhook URL in PHP's JSON, an Azure key
        in .NET's, either in a percent-encoded query value: :func:`patterns.unescaped`), found in the unescaped view
        of what the first search left and redacted where they stand, fingerprinted as written unescaped."""
        spans = _vendor_spans(s)
        if spans:
            s = self._marked(s, [(a, b, s[a:b]) for a, b in spans])
        spans = _prefixed_spans(s, p.VENDOR_CUT_FIND, p.VENDOR_CUT_HEADS, p.VENDOR_CUT_AT)  # keys cut short
        if spans:
            s = self._marked(s, [(a, b, s[a:b]) for a, b in spans])
        if "\\" in s or "%" in s:
            for escape in p.VALUE_ESCAPES:  # (each view of the text as it is by then)
                view = p.unescaped(s, escape)
                if view is None:
                    continue
                t = view.text
                if p.VENDOR_PREFIX_SEARCH.search(t) is not None:
                    spans = _vendor_spans(t)
                    if spans:
                        s = self._marked(s, [(*view.span(a, b), t[a:b]) for a, b in spans])
        return s

    def _marked(self, s: str, spans: list[tuple[int, int, str]], kind: str = p.API_KEY) -> str:
        """``s`` with each span (in order, apart) replaced by the marker of its credential."""
        out: list[str] = []
        last = 0
        for a, b, credential in spans:
            out.append(s[last:a])
            out.append(self.mark(kind, credential))
            last = b
        out.append(s[last:])
        return "".join(out)

    def _xml(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        name = m.group("name").rpartition(":")[2]
        strength = _xml_strength(name)
        if not strength and m.start("attrs") >= 0:  # '<entry key="db.password">x</entry>': the attribute names it
            named = p.XML_NAMING_ATTR.search(s, m.start("attrs"), m.end("attrs"))
            if named is not None:
                name = named.group(1)
                strength = _xml_strength(name)
        value = m.group("value")
        start, end = m.span("value")
        if p.header_kind(name) == p.BEARER:  # Sec-WebSocket-Protocol: its credential element
            out = self.subprotocols(value)
            return (s[m.start() : start] + out, end) if out != value else None
        if not strength or _is_marker(value.strip()) or not p.is_credential_value(value, strength):
            return None
        kind = p.header_kind(name) or _secret_kind(name)
        return s[m.start() : start] + self.credential(value, kind), end

    def _arg(self, s: str, m: re.Match[str], strength: int) -> tuple[str, int] | None:
        for group in ("dq", "sq", "bare"):
            start = m.start(group)
            if start >= 0:
                break
        end = m.end(group)
        if group == "bare" and _template(s, start):
            return None  # a script's or a CI file's expression ("--password ${{ secrets.DB_PASSWORD }}")
        if group == "bare" and strength == p.STRONG:
            end = _glued(s, end)  # (judged whole: "-pNONE\"0,0" is no literal)
        value = s[start:end]
        if _is_marker(value) or _in_marker(s, start) or not p.is_credential_value(value, strength):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _spaced(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A secret-named word and its value after blanks (:data:`patterns.SPACED_FIELDS`): a strong name (not an
        Authorization or Cookie header: theirs) and a value that is no word (:func:`_spaced_value`); or a command's
        option of one dash whose name is strong (keytool's "-storepass X", Go's "-token X"), whose value may be a
        word, as after "--password"."""
        group = "bare" if m.start("bare") >= 0 else "dq" if m.start("dq") >= 0 else "sq"
        start, end = m.span(group)
        if group == "bare":
            end = _glued(s, end)  # ("password Xk9(2]aP{z": judged whole)
        value = s[start:end]
        if value[0] == "-" or _in_marker(s, m.start()):  # (an option: "--password-file=/etc/x.secret --timeout 30")
            return None
        if group == "bare" and (_type_repr(s, start) or _template(s, start)):
            # a type's repr ("non-application token WindowToken{5a9e4b1 token=null}"), or a script's expression
            # ("token ${GITHUB_TOKEN}")
            return None
        if group != "bare" and _OBJECT_NAME.fullmatch(value) and _OBJECT_STATUS.match(s, end):
            return None  # an API object's status ('secret "app-secret" not found', Kubernetes' apimachinery)
        head = len(p.name_before(m.string, m.start()))
        if s[m.start() - head - 1 : m.start() - head] in _PATH_CHARS:
            return None  # a file's name ("/etc/rsyncd.secret 30"), not a field's
        if m.start("cq") >= 0 and s[m.start() - head - 1 : m.start() - head] != '"':
            return None  # (a quote after the name closes one it opened: '"requirepass" "x"', Redis MONITOR's)
        if group == "bare" and not head and m.group(0)[:7] == "secret " and _OBJECT_NAME.fullmatch(value):
            # the word itself, then an object's name (Kubernetes': "kubectl get secret db-credentials -o yaml",
            # "Mounted secret volume-7f9c"; lower case, a "-" or "." in it, a letter past "f": no hex or random run)
            return None
        name = s[m.start() - head : m.end("suffix")]
        if _MODE_BEFORE.search(s, max(0, m.start() - head - 24), m.start() - head) is not None:
            return None  # (the word is a mode, an option's value: nmcli's "wifi-sec.key-mgmt wpa-psk X")
        if name[0] == "-":
            name = name.lstrip("-")
        elif not _spaced_value(value):
            return None
        if p.name_strength(name) < p.STRONG or p.header_kind(name) in _OWN_DETECTORS:
            return None
        if _FIELD_AHEAD.match(value) is not None or not p.is_credential_value(value, p.STRONG):
            return None  # ("password x=y": a field, its own detectors')
        return s[m.start() : start] + self.credential(value, p.header_kind(name) or _secret_kind(name)), end

    def _sasl(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A SASL initial response (:data:`patterns.SASL_RESPONSE`), whole, when it decodes to one: PLAIN's
        "authzid NUL user NUL password", XOAUTH2's/OAUTHBEARER's "...auth=Bearer ..." ("AUTH PLAIN LOGIN", an
        EHLO's list of mechanisms, and prose are kept)."""
        start, end = m.span("bare")
        if _in_marker(s, m.start()) or not p.sasl_credentials(s[start:end]):
            return None
        return s[m.start() : start] + self.credential(s[start:end], p.SECRET_FIELD), end

    def _protocol_login(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of a login sent in the clear (:data:`patterns.PROTOCOL_LOGIN`): after a quote or a prompt
        (a transcript's command) any credential value; after a blank or at a line's start only a value that is no
        word and no path ("AUTH Xk9pQ2mZ7" but not "PASS tests/unit", "AUTH disabled")."""
        group = "quoted" if m.start("quoted") >= 0 else "value"
        start, end = m.span(group)
        if s[start] == '"':  # a quoted argument: its text
            start, end = start + 1, end - 1
        value = s[start:end]
        if _in_marker(s, m.start()) or _marker_in(s, start, end) or not p.is_credential_value(value, p.STRONG):
            return None
        if group == "value" and m.start("strong") < 0 and (not _spaced_value(value) or "/" in value):
            return None
        words = s[m.start() : start].split()
        if group == "value" and len(words) == 2 and words[0] == "AUTH" and p.prose_word(words[1]):
            return None  # prose, no "AUTH user x" (Postfix's "lost connection after AUTH from unknown[192.0.2.23]")
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _acl_password(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of Redis's ACL SETUSER rule ">x" (:data:`patterns.REDIS_ACL_PASSWORD`)."""
        start, end = m.span("value")
        value = s[start:end]
        if _in_marker(s, m.start()) or _marker_in(s, start, end) or not p.is_credential_value(value, p.STRONG):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _jdbc_password(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of Oracle's thin JDBC URL (:data:`patterns.JDBC_ORACLE`) or of a logon given to one of its
        clients (:data:`patterns.ORACLE_LOGONS`)."""
        start, end = m.span("password")
        if _in_marker(s, m.start()) or not p.is_credential_value(s[start:end], p.STRONG):
            return None
        return s[m.start() : start] + self.credential(s[start:end], p.URL_PASSWORD), end

    def _auth_pair(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of a (user, password) pair given to an HTTP client (:data:`patterns.AUTH_PAIR`)."""
        group = "sq" if m.start("sq") >= 0 else "dq"
        start, end = m.span(group)
        value = s[start:end]
        if _is_marker(value) or _in_marker(s, m.start()) or not p.is_credential_value(value, p.STRONG):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _name_value(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A variable given as a name and a value (:data:`patterns.NAME_VALUE`): its value, judged as the value
        of a field of that name."""
        name = s[m.start("name") : m.end("name")]  # original case: camelCase words count
        strength = p.name_strength(name)
        if not strength or _in_marker(s, m.start()):
            return None
        group = m.lastgroup or "bare"
        if name[:1] == "/":  # a path's last segment (an SSM parameter's "/prod/db/password"; a route's "/oauth/token"
            if group not in ("dq", "sq"):  # is one too): a quoted value that looks like a credential only
                return None
            strength = p.WEAK
        start, end = m.span(group)
        value = s[start:end]
        if group == "bare" and strength == p.STRONG:
            end = _glued(s, end)  # (judged whole)
            value = s[start:end]
        if not value or _is_marker(value) or (group == "bare" and value.lower() in p.EMPTY_VALUES):
            return None
        if p.header_kind(name) == p.BEARER:  # Sec-WebSocket-Protocol (a HAR file's headers): its credential element
            out = self.subprotocols(value)
            return (s[m.start() : start] + out, end) if out != value else None
        if not p.is_credential_value(value, strength):
            return None
        return s[m.start() : start] + self.credential(value, p.header_kind(name) or _secret_kind(name)), end

    def _sql_password(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """The password of a SQL statement (:data:`patterns.SQL_PASSWORD`); a bind parameter or a placeholder is
        kept."""
        group = next(g for g in p.SQL_PASSWORD_GROUPS if m.start(g) >= 0)
        start, end = m.span(group)
        value = s[start:end]
        if (
            _is_marker(value)
            or _in_marker(s, m.start())
            or p.is_placeholder(value)
            or p.SQL_PARAMETER.fullmatch(value.lower()) is not None
        ):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _stated_password(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A password stated in a sentence (:data:`patterns.STATED_PASSWORD`): a quoted value that is a credential
        after a strong name, a bare one that :func:`patterns.stated_bare` takes (the sentence's end kept)."""
        group = next(g for g in p.STATED_PASSWORD_GROUPS if m.start(g) >= 0)
        start, end = m.span(group)
        if group == "bare":
            end = start + len(s[start:end].rstrip(p.STATED_END))
        value = s[start:end]
        if _is_marker(value) or _in_marker(s, m.start()) or p.is_placeholder(value):
            return None
        if not (p.stated_bare(value) if group == "bare" else p.is_credential_value(value, p.STRONG)):
            return None
        return s[m.start() : start] + self.credential(value, p.SECRET_FIELD), end

    def _cli_flag(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        name = s[m.start("name") : m.end("name")]
        strength = p.name_strength(name) or (p.STRONG if p.header_kind(name) else 0)
        return self._arg(s, m, strength) if strength else None

    def _cas_ticket(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A CAS ticket outside a query (:data:`patterns.CAS_TICKET_TEXT`), when its value is one."""
        if not p.cas_ticket(m.group()) or _in_marker(s, m.start()):
            return None
        return self.mark(p.SECRET_FIELD, m.group()), m.end()

    def _cli_short(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        return self._arg(s, m, p.STRONG)

    def _userinfo(self, m: re.Match[str]) -> str:
        if (
            _userinfo_kept(m)
            or p.masked_url_password(m.group("password"))
            or _source_expression(m.string, m.start("password"))
        ):
            return m.group(0)  # (or masked already: SQLAlchemy's "app:***@", kombu's "guest:**@", "${DB_PASS}")
        pw = m.group("password")
        return _before(m, "password") + self.mark(p.URL_PASSWORD, unquote(pw)) + m.string[m.end("password") : m.end()]

    def _url_user(self, m: re.Match[str]) -> str:
        user = m.group("user")
        if (
            not p.url_user_credential(user)
            or _in_marker(m.string, m.start())
            or _source_expression(m.string, m.start("user"))
        ):
            return m.group(0)
        return _before(m, "user") + self.mark(p.URL_PASSWORD, user) + m.string[m.end("user") : m.end()]

    def _userinfo_cut(self, m: re.Match[str]) -> str:
        pw = m.group("password")
        if (
            _userinfo_kept(m)
            or p.url_port_like(pw)
            or p.is_placeholder(pw)
            or _source_expression(m.string, m.start("password"))
        ):
            return m.group(0)
        return _before(m, "password") + self.mark(p.URL_PASSWORD, unquote(pw))

    def _escaped_userinfo(self, s: str) -> str:
        """The password of a URL written with value escapes (:func:`patterns.unescaped`: PHP's JSON, a URL
        percent-encoded as a query parameter's value), read in the unescaped text and redacted where it stands."""
        for escape in p.VALUE_ESCAPES:  # (each view of the text as it is by then)
            view = p.unescaped(s, escape)
            if view is None:
                continue
            t = view.text
            spans = []
            for m in p.URL_USERINFO.finditer(t):
                pw = m.group("password")
                if _userinfo_kept(m) or p.masked_url_password(unquote(pw)):
                    continue  # (a marker, or over markers only; masked already: "app:***@")
                if "&" in pw and "%" in s[slice(*view.span(*m.span()))]:
                    continue  # a percent-encoded URL ends at its query string's "&"
                spans.append((*view.span(*m.span("password")), unquote(pw)))
            if spans:
                s = self._marked(s, spans, p.URL_PASSWORD)
        return s

    def _query(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        if _in_marker(s, m.start()):
            return None
        end = _extend(s, m.start("value"), m.end())
        value = s[m.start("value") : end]
        decoded = _json_unescaped(value)
        decoded = unquote(unquote(decoded)) if "%" in decoded else decoded
        if p.is_placeholder(decoded) or _source_expression(s, m.start("value")):
            return None  # "?token=${TOKEN}", "&sig=" (nothing), f"...?token={token}" in a traceback's source line
        shape = p.QUERY_SHAPES.get(m.group("name"))
        if shape is not None and not shape(decoded):
            return None  # "?pin=17" (a GPIO pin), "?ticket=12345" (a support ticket): no code, no CAS ticket
        kind = p.is_jose(decoded) or p.QUERY_TOKEN
        return s[m.start() : m.start("value")] + self.mark(kind, decoded), end

    def _form_code(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        end = _extend(s, m.start("value"), m.end())
        value = s[m.start("value") : end]
        if _in_marker(s, m.start()) or not p.is_credential_value(value, p.WEAK):
            return None  # "code=0,", "Code=-50", "code=ECONNREFUSED"
        if _source_expression(s, m.start("value")):
            return None  # 'fetch_token(code=request.args["code"])' in a traceback's source line
        decoded = _json_unescaped(value)
        decoded = unquote(unquote(decoded)) if "%" in decoded else decoded
        return s[m.start() : m.start("value")] + self.mark(p.QUERY_TOKEN, decoded), end

    def _dict_code(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        start, end = m.span("value")
        if _in_marker(s, m.start()) or not p.oauth_code(s[start:end]):
            return None  # {"code": "ECONNREFUSED"}, {'code': 'E11000'}, {"code": "en-GB"}
        return s[m.start() : start] + self.mark(p.QUERY_TOKEN, s[start:end]), end

    def _auth(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        if _in_marker(s, m.start()) or _BUNDLE_ID_BEFORE.search(s, max(0, m.start() - 128), m.start()):
            return None  # (the last segment of a reverse-DNS name: macOS's "[com.apple.Authorization:authd]")
        if m.start("scheme") < 0 and (
            m.group("cred") in p.AUTH_SCHEMES
            or (
                _MARKER_NEXT.match(s, m.end("cred"))
                and (
                    not _credential_like(word := s[m.start("cred") : m.end("cred")])
                    or p.CAMEL_SCHEME.fullmatch(word) is not None
                )
            )
        ):
            # a scheme alone, or a scheme before a marker ("Authorization: A\t[REDACTED:...]", "GenieKey
            # [REDACTED:...]"); a credential-like word before a marker is a credential ("Authorization: +_zmRO6myRy...
            # [REDACTED:jwt:...]")
            return None
        if m.start("scheme") < 0 and (
            m.group("cred") in ("...", "\u2026")
            or (
                m.group("cred") in _STRING_PREFIXES
                and s[m.end("cred") : m.end("cred") + 1] in ("'", '"')
                and _source_line(s, m.start("cred"))
            )
            or (s[m.end("cred") : m.end("cred") + 1] == "(" and _CALLABLE.fullmatch(s, *m.span("cred")) is not None)
        ):
            # an ellipsis or a call where the value would be: code in prose (aiohttp's DeprecationWarning "pass
            # headers={'Authorization': aiohttp.encode_basic_auth(login, password)} instead", "{'Authorization': ...}")
            return None
        if _template(s, m.start("cred")):
            return None  # a script's or a CI file's expression ("Bearer ${ACCESS_TOKEN}", "${{ secrets.TOKEN }}")
        end = _extend(s, m.start("cred"), m.end("cred"))
        cred = s[m.start("cred") : end]
        kind = p.AUTHORIZATION
        if m.start("scheme") >= 0:
            scheme = m.group("scheme")
            word = s[m.start("scheme") : m.end("scheme")]
            if scheme not in p.AUTH_SCHEMES and _credential_like(word) and not _camel_scheme(word, cred):
                # "authorization=sk_live_... status=401": no scheme, the first word is the credential (not a vendor's
                # scheme of capitalised words before credentials: "Authorization: GenieKey eb243592-...")
                start, end = m.start("scheme"), m.end("scheme")
                return s[m.start() : start] + self.credential(s[start:end], kind), end
            kind = _SCHEME_KIND.get(scheme, p.AUTHORIZATION)
        return s[m.start() : m.start("cred")] + self.credential(cred, kind), end

    def _subprotocol(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """Sec-WebSocket-Protocol in text (:data:`patterns.WEBSOCKET_PROTOCOL`): under the header's name as
        :func:`patterns.header_kind` reads it (read back from the match as a field's name is: "HTTP_SEC_...", not
        "x-sec-..."), the credential element."""
        if _in_marker(s, m.start()):
            return None
        if p.header_kind(p.name_before(m.string, m.start()) + m.group("name")) != p.BEARER:
            return None
        return self._subprotocol_credential(s, m)

    def _subprotocol_credential(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """``s[m.start():end]`` with the credential of a :data:`patterns.WEBSOCKET_PROTOCOL` (or ``_VALUE``) match
        replaced by its marker, and that end; None when it is no credential (a placeholder, a literal, a template's
        expression). Kubernetes' base64url is fingerprinted decoded (:func:`patterns.k8s_bearer_token`): the token's
        marker after "Bearer"."""
        if m.start("cred") >= 0:
            start, end = m.span("cred")
            value = s[start:end]
            if not p.is_credential_value(value, p.STRONG) or _template(s, start):
                return None
        else:
            start, end = m.span("b64")
            value = p.k8s_bearer_token(s[start:end]) or s[start:end]
        return s[m.start() : start] + self.credential(value, p.BEARER), end

    def _cookie(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        if _in_marker(s, m.start()):
            return None
        start = m.start("value")
        if m.string.startswith("set-", max(0, m.start() - 4)):
            semi = s.find(";", start, m.end("value"))
            if semi >= 0:  # Set-Cookie: its first pair; the attributes stay text that every detector (this one too)
                # reads ("Set-Cookie: sid=x; Path=/?Cookie: sid=y", "...; Path=/&access_token=y")
                return s[m.start() : start] + self.cookie_value(s[start:semi], set_cookie=False, in_text=True), semi
        value = m.group("value")
        struct = _cookie_struct_start(s, start, m.end("value"))
        if struct >= 0:  # the header's value is a structure of pairs ('Cookie: {"sid": "x"}', "Cookie: [('a', 'b')]")
            return self._cookie_pairs(s, m.start(), struct)
        if _COOKIE_NAME_LIKE.fullmatch(value) and _SEP_AFTER_VALUE.match(s, m.end("value")):
            # a name, not a cookie string ('Cookie: "password": "x"', "Cookie: Cookie: a=b"): the field detectors
            # (and this one, from the name on) read it
            return s[m.start() : start], start
        set_cookie = m.string.startswith("set-", max(0, m.start() - 4))
        named = _TRAILING_NAME.search(value) if s[m.end("value") : m.end("value") + 1] in (" ", "\t") else None
        if named is not None and p.name_strength(named.group(1)) != p.NOT_SECRET_NAME:
            # the value ends with a secret name and ":" before a blank ("Cookie:  password: x", "Cookie: a=b;
            # Path=/?password: x"): the cookie string ends before the name, which the field detectors read
            cut = start + named.start(1)
            if cut == start:
                return s[m.start() : start], start
            return s[m.start() : start] + self.cookie_value(s[start:cut], set_cookie=set_cookie, in_text=True), cut
        end = _extend(s, start, m.end("value"), to_marker=False)
        value = s[start:end]
        return s[m.start() : start] + self.cookie_value(value, set_cookie=set_cookie, in_text=True), end

    def _cookie_pairs(self, s: str, match_start: int, at: int) -> tuple[str, int]:
        """A Cookie header whose value is a structure of quoted pairs from ``s[at]`` (a dict, a list of tuples):
        every pair's value is a cookie value. What cannot be read as pairs (an unclosed quote, a value that is no
        string) is redacted to the end of its line: no part of a cookie is left to guess."""
        out, pos = [s[match_start:at]], at
        end = len(s)
        for _ in range(_COOKIE_STRUCT_MAX_PAIRS):
            pair = _COOKIE_STRUCT_PAIR.match(s, pos)
            if pair is None:
                break
            group = "dq" if pair.start("dq") >= 0 else "sq"
            vs, ve = pair.span(group)
            value = s[vs:ve]
            out.append(s[pos:vs])
            out.append(value if not value.strip() or _is_marker(value) else self.credential(value, p.COOKIE))
            out.append(s[ve : pair.end()])
            pos = pair.end()
            gap = _COOKIE_STRUCT_GAP.match(s, pos)
            if gap is None or gap.end() == pos or gap.group(1) is None:
                break  # the structure ends (no "," before a next quote)
            out.append(s[pos : gap.end()])
            pos = gap.end()
        else:
            pair = None
        if pos == at or (pair is None and _COOKIE_STRUCT_PAIR_START.match(s, pos)):
            # nothing read, or a pair that did not close: the rest of the line
            line_end = s.find("\n", pos)
            stop = end if line_end < 0 else line_end
            if stop > pos and not _is_marker(s[pos:stop]):
                return "".join(out) + self.credential(s[pos:stop], p.COOKIE), stop
        return "".join(out), pos

    def _cookie_repr(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A cookie object's repr (:data:`patterns.COOKIE_REPR`): the value of a cookiejar ``Cookie``, every
        pair's value of a ``SimpleCookie``."""
        if _in_marker(s, m.start()):
            return None
        if m.start("pairs") < 0:
            group = "sq" if m.start("sq") >= 0 else "dq"
            start, end = m.start(group), m.end(group)
            if start == end or _is_marker(s[start:end]):
                return None
            return s[m.start() : start] + self.mark(p.COOKIE, s[start:end]), end
        out, at = [s[m.start() : m.start("pairs")]], m.start("pairs")
        for pair in p.COOKIE_REPR_PAIR.finditer(s, m.start("pairs"), m.end("pairs")):
            group = "sq" if pair.start("sq") >= 0 else "dq"
            start, end = pair.start(group), pair.end(group)
            if start < end and not _is_marker(s[start:end]):
                out += [s[at:start], self.mark(p.COOKIE, s[start:end])]
                at = end
        return "".join(out) + s[at : m.end("pairs")], m.end("pairs")

    def _scheme(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        cred = s[m.start("cred") : m.end("cred")]
        if _is_word(cred) or _in_marker(s, m.start()):
            return None
        if cred.endswith("=") and p.MARKER.match(s, m.end("cred")):  # "Bearer access_token=[REDACTED:...]"
            return None
        if _template(s, m.start("cred")):
            return None  # a script's or a CI file's expression ("Bearer ${ACCESS_TOKEN}", "$(gcloud auth ...)")
        # lower-cased: bearer, basic or dpop, before blanks, "%20" or "+" (patterns.SCHEME_GAP)
        scheme = m.string[m.start() : m.start("cred")].split()[0].removesuffix("%20").removesuffix("+")
        end = _extend(s, m.start("cred"), m.end("cred"))
        cred = s[m.start("cred") : end]
        return s[m.start() : m.start("cred")] + self.credential(cred, _SCHEME_KIND[scheme]), end

    def _yaml_block(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        """A YAML block scalar's header after a key (:data:`patterns.YAML_BLOCK_HEADER`): when the key names a
        secret, the block's lines below (:func:`patterns.yaml_block`) become one marker; the header is kept."""
        low = m.string
        at = m.start()
        quote = low[at - 1 : at]
        if quote in ('"', "'"):
            at -= 1
        head = len(p.name_before(low, at))
        if not head or (quote in ('"', "'") and low[at - head - 1 : at - head] != quote):
            return None
        name = s[at - head : at]
        strength = p.name_strength(name)
        if not strength or p.header_kind(name) in _OWN_DETECTORS:
            return None
        block = p.yaml_block(s, at - head - (1 if quote in ('"', "'") else 0), m.end())
        if block is None:
            return None
        first, last, value = block
        if _MARKERS_ONLY.fullmatch(s, first, last) is not None or p.is_placeholder(value):
            return None
        if strength < p.STRONG and not p.is_credential_value(value.split("\n", 1)[0], strength):
            return None
        return s[m.start() : first] + self.credential(value, p.header_kind(name) or _secret_kind(name)), last

    def _field(self, s: str, m: re.Match[str]) -> tuple[str, int] | None:
        bare = m.group("bare")
        if bare is not None and bare[0] == "|" and p.YAML_BLOCK_HEADER.match(s, m.end("suffix")) is not None:
            return None  # a YAML block scalar's header ("password: |"), no value: its lines are _yaml_block's
        if bare is not None and bare.lower() in p.EMPTY_VALUES and _glued(s, m.end("bare")) == m.end("bare"):
            return None  # a literal or a scheme word ("auth=Bearer [REDACTED:...]"): kept whatever the name (a
            # password starting with one is not: "password=TRUE,000")
        if _in_marker(s, m.start()):
            return None
        low = m.string
        head = len(p.name_before(low, m.start()))
        before = low[m.start() - head - 1 : m.start() - head]
        for group in ("dq", "sq", "eq", "bare"):
            start = m.start(group)
            if start >= 0:
                break
        end = m.end(group)
        quoted = _quoted(group)
        if before == "/":  # a path's last segment ("stream/token: x"); its value may be the next name
            return _next_name(s, m.start(), start, end, quoted)  # ('/api_key: "api_key": "x"')
        if before == ":" and _in_resource_name(low, m.start() - head):
            # a segment of a resource name ("arn:aws:secretsmanager:...:secret:prod/db-AbCdEf"); its "value" may be
            # the next key ("'grant_type': 'urn:...:token-exchange', 'subject_token': 'x'", session 35)
            return _next_name(s, m.start(), start, end, quoted)
        if p.DIGEST_OF.search(low, max(0, m.start() - head - 48), m.start() - head) is not None:
            return None  # a digest of the secret ("SHA1 of given password: f638ff", Dovecot's; session 37)
        if group == "bare" and _maven_group(low, m.start() - head, start):
            return None  # a Maven/Gradle coordinate ("io.jsonwebtoken:jjwt-api:0.12.5", "com.auth0:java-jwt:4.4.0")
        name = s[m.start() - head : m.end("suffix")]  # original case: camelCase words count
        if name == "PASSWD" and p.sudoers_tag(s, m.start() - head):
            return None  # a sudoers rule's tag ("(ALL) PASSWD: ALL"), no field
        strength = p.name_strength(name)
        if not strength or p.header_kind(name) in _OWN_DETECTORS:
            # (Authorization, Cookie and Sec-WebSocket-Protocol headers have their own detectors); a value that is the
            # next name ('tokenx: "TOKEN": "s3cr3t"', "x_token=token=s3cr3t") is read again as one
            return _next_name(s, m.start(), start, end, quoted)
        value = s[start:end]
        if not value or _is_marker(value):
            return None
        if group == "bare" and end - start > 40 and p.named_vendor_key(s[m.start() - head : end]):
            return None  # "AccountKey=<key>": the vendor pass's
        if group == "bare" and (
            (
                (_CAPITALISED_LABEL.fullmatch(value) or (strength == p.WEAK and _METHOD_LABEL.fullmatch(value)))
                and s[end : end + 1] in _BLANKS
            )
            or _type_repr(s, start, end)
            or _HTTP_STATUS.fullmatch(s, start, end + 3) is not None
        ):
            # no value: the next label ("org.apache.hadoop.security.token.Token: Kind: HDFS_DELEGATION_TOKEN,
            # Service: ..."), or a type's repr ("wtoken = AppWindowToken{9f4ef63 token=Token{a64f992 ...}}",
            # Android's WindowManager; Hadoop's "Token: Token { kind: ContainerToken, service: ... }"), or an HTTP
            # status and its reason (Go's "oauth2: cannot fetch token: 400 Bad Request"): what follows is read as
            # fields again
            return _next_name(s, m.start(), start, end, quoted)
        label = group == "bare" and strength == p.WEAK and name.isupper()
        if label and _LABEL_SEP.fullmatch(s, m.end("suffix"), start) and not _ID_RUN.match(s, start, end):
            # a label in capitals before ": " and an unquoted value ("PASS: gdb.base/break.exp: ...", the status
            # of a test run; "AUTH: ..."): a heading, not a field; a weak name says too little to outweigh it -
            # unless the value is one run of an id's characters with letters and digits ("SESSION: 9f3k...")
            return _next_name(s, m.start(), start, end, quoted)
        if group == "bare" and (
            (value.lower() in p.EMPTY_VALUES and _glued(s, end) == end)
            or (value == "$" and s[end : end + 1] == "{")
            or _template(s, start)
        ):
            return None  # a literal, or a template variable ("api_key=${API_KEY}", "password=$(cat /run/secrets/db)")
        if group == "bare" and _source_expression(s, start):
            return None  # code in a traceback's source line ("password=form.password", 'S["password"]')
        if group == "bare" and strength == p.WEAK and s[end : end + 1] == "(" and _CALLABLE.fullmatch(value):
            return None  # a call ("auth=HTTPBasicAuth('u', 'x')": its arguments are AUTH_PAIR's)
        if "," in low[m.end("suffix") : start] and not _pair_opens(low, m.start() - head):
            # a quoted word followed by a comma is a (name, value) pair only inside ( or [; otherwise it is a value
            # and the "value" the next key, which may be a secret's name whose own value follows (session 35:
            # "{'grant_type': 'refresh_token', 'refresh_token': 'x'}" kept x): read again from that key
            return _next_name(s, m.start(), start, end, quoted)
        end = _past_quote(s, group, end, _extend(s, start, end))
        value = s[start:end]
        if group == "bare" and strength == p.WEAK and _LABEL_THEN_MARKER.match(s, start) is not None:
            return None  # a label whose value is redacted already ("botocore.auth: Signature: [REDACTED:...]")
        judged, words = value, False
        if group == "bare" and (contraction := _CONTRACTION_AFTER.match(s, end)) is not None:
            judged = s[start : contraction.end()]  # a word of prose ("getAuthToken: caller's uid 10045")
        if group not in ("dq", "sq") and s[end : end + 1] == " ":
            phrase = _PHRASE.match(s, start)  # "passwd: all authentication tokens updated": judged as a phrase
            if phrase is not None and phrase.end() > end:
                judged, words = phrase.group(0), True  # (prose or not: no passphrase, "token= using key ghp_...")
        if not p.is_credential_value(judged, strength, passphrase=not words):
            # a password starting with a word or a literal ("password=Reset,00", "password=TRUE,000") is judged
            # whole; a type's repr ("token=Token{a64f992, ...}": a capitalised word, then an opening bracket) is
            # not one
            typed = (
                s[end : end + 1] in _OPENING
                and value[0].isupper()
                and value.lower() not in p.EMPTY_VALUES
                and _TYPED_REPR.match(s, end) is not None
            )
            glued = end if group != "bare" or strength < p.STRONG or typed else _glued(s, end)
            if not _ALNUM(s, end, glued) or not p.is_credential_value(s[start:glued], strength):
                # (nothing glued but punctuation: "pam_unix(passwd:chauthtok): password changed")
                return _next_name(s, m.start(), start, end, quoted)
            end = glued
        if group == "bare" and strength == p.STRONG:  # a YAML tag's scalar, a password's brackets and quotes
            end = _yaml_tagged(s, start, end) if value[0] == "!" else _glued(s, end)
            value = s[start:end]
        kind = p.header_kind(name) or _secret_kind(name)
        marker = self.credential(value, kind)
        if group == "bare":  # a JSON/Python value that was no string ({"password": 12345678}): quote the marker
            quote = s[m.end("suffix") : m.end("suffix") + 2]
            quote = quote if quote == '\\"' else quote[:1]
            if quote in ('"', "'", '\\"'):
                marker = quote + marker + quote
        return s[m.start() : start] + marker, end

    # -- nested values -----------------------------------------------------------------------------------------
    def value(self, obj: Any, depth: int = 0) -> Any:
        if isinstance(obj, str):
            return self.text(obj)
        if obj is None or isinstance(obj, (int, float, bool)):
            return obj
        if depth > _MAX_DEPTH:
            return FAILED
        if isinstance(obj, (bytes, bytearray, memoryview)):
            raw = bytes(obj)
            out = self.text(raw.decode("latin-1")).encode("latin-1", "replace")
            return out if out != raw else obj
        if isinstance(obj, Mapping):
            if "input" in obj and "loc" in obj:  # a validation error (pydantic's errors(), FastAPI's 422 detail)
                name = _validation_name(obj["loc"])
                if name is not None:
                    return {
                        self._key(k, depth): self._item(name if k == "input" else k, v, depth) for k, v in obj.items()
                    }
            if "kty" in obj:  # a JWK as a dict: its private members whole, whatever their names say
                return {
                    self._key(k, depth): self.mark(p.PRIVATE_KEY, str(v))
                    if k in p.JWK_PRIVATE_NAMES and v is not None
                    else self._item(k, v, depth)
                    for k, v in obj.items()
                }
            named = _variable_name(obj)
            if named is not None:  # {"name": "DB_PASSWORD", "value": "x"}: the value as a field of that name
                return {
                    self._key(k, depth): self._item(named if k in p.VALUE_KEYS else k, v, depth) for k, v in obj.items()
                }
            return {self._key(k, depth): self._item(k, v, depth) for k, v in obj.items()}
        if isinstance(obj, tuple):
            pair = self._header_pair(obj)
            if pair is not None:
                return pair
            fields = getattr(obj, "_fields", None)
            if isinstance(fields, tuple) and len(fields) == len(obj):  # a named tuple: its field names are context
                return type(obj)(*(self._field_of(f, v, depth) for f, v in zip(fields, obj, strict=True)))
            return tuple(self.value(v, depth + 1) for v in obj)
        if isinstance(obj, list):
            return [self.value(v, depth + 1) for v in obj]
        if isinstance(obj, (set, frozenset)):
            return type(obj)(self._hashable(self.value(v, depth + 1)) for v in obj)
        return self._other(obj)

    def _field_of(self, name: Any, value: Any, depth: int) -> Any:
        """A named tuple's field: as a mapping's item under that name; a ``netloc`` (``urllib.parse``'s results)
        read as the authority of a URL, whose password :data:`patterns.URL_USERINFO` finds after "://"."""
        if name == "netloc" and isinstance(value, str) and "@" in value:
            out = self.text("x://" + value)
            return out[4:] if isinstance(out, str) and out.startswith("x://") else out
        return self._item(name, value, depth)

    def _key(self, key: Any, depth: int) -> Any:
        return self.value(key, depth + 1) if isinstance(key, (str, bytes)) else key

    def _item(self, key: Any, value: Any, depth: int) -> Any:
        name = key.decode("latin-1") if isinstance(key, bytes) else key
        if isinstance(name, str) and value is not None:
            kind = p.header_kind(name)
            if kind is not None:
                return self._named(kind, name, value, depth)
            strength = p.name_strength(name)
            if strength == p.WEAK and not _weak_credential(value):
                return self.value(value, depth + 1)  # "session": 12, "prompt_tokens": 18, "sid": "c2"
            if strength:
                return self._named(_secret_kind(name), name, value, depth)
            if isinstance(value, (str, bytes)) and p.signature_name(name):
                return self._signature_value(name, value)
        return self.value(value, depth + 1)

    def _signature_value(self, name: str, value: str | bytes) -> str | bytes:
        """The value of a header or key named as a webhook's signature ({"X-Hub-Signature-256": "sha256=<hex>"}):
        read as the header's line (:data:`patterns.WEBHOOK_SIGNATURE`), and as any text."""
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        head = f"{name}: "
        out = self.text(head + text)
        new = out[len(head) :] if isinstance(out, str) and out.startswith(head) else self.text(text)
        if isinstance(value, bytes):
            return new.encode("latin-1", "replace") if new != text else value
        return new

    def _named(self, kind: str, name: str, value: Any, depth: int) -> Any:
        """The value of a secret-named key or header: redacted whole, whatever its type."""
        if isinstance(value, str):
            if (
                kind != p.COOKIE
                and len(value) >= _JOSE_MIN
                and (value[0] == "e" or (kind == p.AUTHORIZATION and value[0] in "Bb"))
                and "%" not in value  # (header_value fingerprints a percent-encoded token as written)
            ):
                out = self._bearer_jose(value)  # (what header_value makes of a JWS/JWE, alone or after "Bearer ")
                if out is not None:
                    return out
            return self.header_value(kind, name, value)
        if isinstance(value, (bytes, bytearray)):
            return self.header_value(kind, name, bytes(value).decode("latin-1")).encode("latin-1", "replace")
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bytes)) for v in value):
            if kind == p.BEARER:  # Sec-WebSocket-Protocol's values apart: one list of subprotocols
                return type(value)(self._subprotocol_values(value))
            return type(value)(self._named(kind, name, v, depth) for v in value)  # multi-valued header attribute
        if kind == p.BEARER:  # (Sec-WebSocket-Protocol's value that is no text: read as any value is)
            return self.value(value, depth + 1)
        if isinstance(value, (bool, int, float)) and kind == p.SECRET_FIELD:
            return self.mark(kind, str(value))
        return self.mark(kind, repr(value))

    def _subprotocol_values(self, values: Iterable[str | bytes]) -> list[str | bytes]:
        """Sec-WebSocket-Protocol's values apart (a multi-valued attribute: one value per header line, or the list
        split at its commas, as OpenTelemetry's conventions allow): each read as a list, and one that follows a value
        ending in a naming element as that list's next element (``["access_token", "<token>"]``)."""
        out: list[str | bytes] = []
        last = ""  # the last element of the value before
        for v in values:
            text = v.decode("latin-1") if isinstance(v, bytes) else v
            new = self.subprotocols(text)
            if new == text and last.lower() in p.WEBSOCKET_NAMING:
                new = self.subprotocols(f"{last}, {text}")[len(last) + 2 :]
            last = text.rpartition(",")[2].strip()
            new = self.text(new)  # (what else it holds, as header_value reads it)
            out.append(new.encode("latin-1", "replace") if isinstance(v, bytes) else new)
        return out

    def _header_pair(self, pair: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if len(pair) != 2:
            return None
        name, value = pair
        if isinstance(name, bytes) and isinstance(value, (bytes, bytearray)):
            sname = name.decode("latin-1")
        elif isinstance(name, str) and isinstance(value, str):
            sname = name
        else:
            return None
        if len(sname) > 256 or _BLANK.search(sname):  # text, not a header or field name
            return None
        kind = p.header_kind(sname)
        if kind is None:
            strength = p.name_strength(sname)
            if not strength and p.signature_name(sname):  # (b"x-hub-signature-256", b"sha256=<hex>")
                return (self.value(name, 1), self._signature_value(sname, value))
            if not strength or (strength == p.WEAK and not _weak_credential(value)):
                return None
            kind = _secret_kind(sname)
        return (self.value(name, 1), self._named(kind, sname, value, 0))

    def _hashable(self, v: Any) -> Any:
        try:
            hash(v)
        except TypeError:
            return repr(v)
        return v

    def _other(self, obj: Any) -> Any:
        """Anything else (dataclasses, exceptions, custom objects): kept unless its repr or its str holds a
        credential, in which case the scrubbed text replaces it (renderers print the repr, ``%s`` and
        ``logging`` the str: an ``http.client.HTTPMessage``'s repr names the class, its str is the headers)."""
        try:
            text = repr(obj)
        except Exception:
            return FAILED
        scrubbed = self.text(text)
        if scrubbed != text:
            return scrubbed
        if getattr(type(obj), "__str__", None) is object.__str__ and not isinstance(obj, BaseException):
            return obj  # str() is repr()
        try:
            text_s = str(obj)
        except Exception:
            return FAILED
        if text_s == text:
            return obj
        scrubbed_s = self.text(text_s)
        return obj if scrubbed_s == text_s else scrubbed_s


def _userinfo_kept(m: re.Match[str]) -> bool:
    """A URL userinfo match (:data:`patterns.URL_USERINFO`, :data:`patterns.GO_DSN`) whose password is a marker, or
    that lies inside one."""
    if _is_marker(m.group("password")) or _in_marker(m.string, m.start()):
        return True
    marked = m.group("user").find("[REDACTED")
    if marked >= 0:  # a token as the user, a marker now ("://[REDACTED:url_password:...]:x-oauth-basic@"): the
        # password is what follows the marker's ":" (session 35)
        user = p.MARKER.match(m.string, m.start("user") + marked, m.end("password"))
        if user is not None and m.string[user.end() : user.end() + 1] == ":":
            rest = m.string[user.end() + 1 : m.end("password")]
            if _is_marker(rest) or p.masked_url_password(rest):
                return True
    # (the match runs from an earlier "://" over redactions already made and nothing else, as in
    # "://,?access_token=[REDACTED:...][REDACTED:url_password:...]@h": a second scrub keeps it)
    return marked >= 0 and _MARKERS_ONLY.fullmatch(m.string, m.start("user") + marked, m.end("password")) is not None


def _replaced(text: str, out: str) -> list[tuple[int, int, str]]:
    """The spans of ``text`` that ``out``, ``text`` scrubbed, holds a marker in place of, with that marker (the text
    between ``out``'s markers found in ``text`` in turn; a marker right after another one stands for what follows
    the first's empty span). Raises ValueError when ``out`` is no such copy (the caller fails closed)."""
    kept = p.MARKER.split(out)
    markers = p.MARKER.findall(out)
    if not text.startswith(kept[0]) or not text.endswith(kept[-1]):
        raise ValueError("not a scrubbed copy")
    gaps: list[tuple[int, int, str]] = []
    at = len(kept[0])
    for n, marker in enumerate(markers):
        after = kept[n + 1]
        if n + 1 == len(markers):
            end = len(text) - len(after)
        else:
            end = text.find(after, at + 1) if after else at
        if end < at:
            raise ValueError("not a scrubbed copy")
        if end > at:
            gaps.append((at, end, marker))
        at = end + len(after)
    return gaps


def _before(m: re.Match[str], group: str) -> str:
    """The text of match ``m`` before its group ``group``."""
    return m.string[m.start() : m.start(group)]


def _quoted(group: str | None) -> bool:
    """A field's value is quoted (group ``dq``/``sq``, its quote closed or not): :func:`_next_name` reads it again
    however long."""
    return group == "dq" or group == "sq"


def _past_quote(s: str, group: str | None, end: int, extended: int) -> int:
    """The end of a quoted value (group ``dq``/``sq``, closed at ``s[end]``) that :func:`_extend` carried past its
    closing quote to ``extended``: when no quote of its kind follows on the line, the line's end (the marker takes
    the closing quote, so a second reading finds a quote that never closes there and redacts up to the line's
    end: redacted so at once, a second scrub changes nothing); else ``extended``."""
    if extended <= end or (group != "dq" and group != "sq"):
        return extended
    quote = s[end : end + 1]
    if quote != ('"' if group == "dq" else "'"):
        return extended
    line_end = s.find("\n", extended)
    line_end = len(s) if line_end < 0 else line_end
    return line_end if s.find(quote, extended, line_end) < 0 else extended


#: Characters that end a bare value (:data:`patterns._FIELD_VALUE`'s, a command's argument's quotes), and the value
#: characters between them
_STOP_RUN: Final = _regex.compile(r"""[,;&"'\\\[\]{}()<>]++""")
_GLUED_RUN: Final = _regex.compile(r"""[^\s,;&"'\\\[\]{}()<>]++""")
#: a field's name and its separator: what follows a "," ";" or "&" is the next field, not more of the value
_NAME_AHEAD: Final = _regex.compile(r"""[^\W\d][\w.\-]{0,63}+(?:\\?["'])?[ \t]*+[:=]""")
_GLUED_MAX = 64
#: what opens a type's repr or a call's arguments after a word ("Token{a64f992", "Secret(...)")
_OPENING: Final = frozenset("{([<")
_CAS_TICKET_HINT: Final = p.CAS_TICKET_HINT_SEARCH
_CLI_SHORT_OPTION: Final = p.CLI_SHORT_OPTION_SEARCH
#: a type's repr or a call after a capitalised word: its bracket closes on the line, and holds fields or arguments
#: ("Token{a64f992, expired=false}", "Token(value=abc)"); "Reset(00", "Summer(2024)" are a password's characters
_TYPED_REPR: Final = _regex.compile(
    "|".join(
        rf"""\{o}[^{c}\r\n ,=:'"]{{0,256}}+[ ,=:'"][^{c}\r\n]{{0,256}}+\{c}""" for o, c in ("{}", "()", "[]", "<>")
    )
)
#: a word ending in a separator, then a marker: a label and its redacted value
_LABEL_THEN_MARKER: Final = _regex.compile(r"[A-Za-z][A-Za-z0-9_\-.]*+[:=][ \t]*+" + p.MARKER.pattern)
_ALNUM: Final = _regex.compile(r"[^\W_]").search
#: the letters of an escape after a backslash ("\\n", "\\u0026", "\\x26"): a backslash before one ends a value
_ESCAPE_LETTERS: Final = frozenset("ntrbfux0")


#: the shortest value taken after a secret name and blanks (trailing punctuation aside)
_SPACED_MIN = 6
#: characters before a name that make it part of a path or a file's name
_PATH_CHARS: Final = frozenset("./\\")


def _type_repr(s: str, start: int, end: int | None = None) -> bool:
    """A type's repr starts at ``s[start]`` (its name ends at ``end`` when given): the type's name
    (:data:`_TYPE_NAME`), then, after at most one blank, a bracket that closes on the line and holds fields
    (:data:`_TYPED_REPR`: "AppWindowToken{9f4ef63 token=...}", "Token { kind: ContainerToken, ... }")."""
    m = _TYPE_NAME.match(s, start)
    if m is None or (end is not None and m.end() != end):
        return False
    at = m.end() + (s[m.end() : m.end() + 1] == " ")
    return _TYPED_REPR.match(s, at) is not None


def _spaced_value(value: str) -> bool:
    """A value after a secret name and blanks that is no word: without its trailing characters other than
    letters and digits, 6 characters or more, a digit or another character among them (``patterns.SPACED_FIELDS``;
    the scanner's trigger is this rule's superset)."""
    end = len(value)
    while end and not value[end - 1].isalnum():
        end -= 1
    return end >= _SPACED_MIN and not value[:end].isalpha()


def _marker_in(s: str, start: int, end: int) -> bool:
    """A marker starts in ``s[start:end]``."""
    return s.find(p.MARKER_PREFIX, start, end + _PREFIX_TAIL) >= 0


def _template(s: str, start: int) -> bool:
    """Whether a bare value at ``start`` is a template's or a shell's expression (:data:`patterns.TEMPLATE_VALUE`:
    "#{password}", "$(cat /run/secrets/db)", "%(db_password)s") ending where a value would: a blank, a quote, a
    separator or the end of the text."""
    m = p.TEMPLATE_VALUE.match(s, start)
    return m is not None and not s[m.end() : m.end() + 1].isalnum()


def _glued(s: str, end: int) -> int:
    """The end of a bare secret value cut at ``end`` by characters a value may hold too: a generated password's
    brackets, quotes and punctuation ("password=Xk9(2]aP{z", 'mysql -pab"cd1e'). The value goes on while such
    characters are glued to more value characters; it ends where they are structure: a blank or the end after
    them, a marker, an escape ("\\n", "\\u0026", a backslash with other such characters), a closing tag ("</"),
    a quote next to another of them ('",', '")'), or any of them before the next field's name or a label
    ("password=x,user=bob", 'password=x"user": ...', "token=x&|password: y")."""
    for _ in range(_GLUED_MAX):
        stop = _STOP_RUN.match(s, end)
        if stop is None:
            return end
        after = stop.end()
        run = _GLUED_RUN.match(s, after)
        chars = stop.group()
        if run is None or (chars[-1] == "<" and s[after] == "/") or ("[" in chars and _marker_in(s, end, after)):
            return end
        if "\\" in chars and (chars != "\\" or s[after] in _ESCAPE_LETTERS):
            return end
        if (
            (len(chars) > 1 and ("'" in chars or '"' in chars))
            or _NAME_AHEAD.match(s, after) is not None
            or s[run.end() - 1] in ":="  # (a label: the next field's name, "x&|password: y")
        ):
            return end
        end = run.end()
    return end


_YAML_TAG: Final = _regex.compile(r"!!?+[A-Za-z0-9_.:/\-]{0,64}+")
_YAML_TAGGED: Final = _regex.compile(r"[ \t]++[^\s#][^\s]*+")


def _yaml_tagged(s: str, start: int, end: int) -> int:
    """The end of a bare value that is a YAML tag and the scalar it tags ("password: !!binary aGVsbG8=",
    "token: !vault |", "secret: !Secret x"): both are redacted, the tag alone would leave the scalar."""
    if _YAML_TAG.fullmatch(s, start, end) is None:
        return end
    m = _YAML_TAGGED.match(s, end)
    return end if m is None else m.end()


def _next_name(s: str, match_start: int, start: int, end: int, quoted: bool = False) -> tuple[str, int] | None:
    """A declined field whose value ``s[start:end]`` may be the next field's name: followed by a separator or
    ending in one, or short and holding one. The text up to the value is kept and the search resumes at the
    value (each such value is read again once more; a long one is not, so a chain "a=b=c=..." stays linear). A
    short quoted value followed by a comma is read again too: it may be the name of a pair ("my_key: ('api_key',
    'x')"). ``quoted``: the value is quoted (``authorization: b' "token": "x" ...``, its quote closed or running
    to the end of the line; or ``session: b' "session": "x" Bearer [REDACTED:...]'``, long from an earlier
    pass's marker), read again whatever its length when it holds a separator: a quoted value holds no quote of
    its kind, so such values nest at most once per kind of quote (then bare values, read again only when short)
    and the reading stays linear."""
    short = end - start <= _NEXT_NAME_MAX
    if (
        (quoted and _FIELD_SEP_CHAR.search(s, start, end))
        or _SEP_AFTER_VALUE.match(s, end)
        or (short and _FIELD_SEP_CHAR.search(s, start, end))
        or (short and _PAIR_AFTER_VALUE.match(s, end))
    ):
        return s[match_start:start], start
    return None


_SEP_AFTER_VALUE = _regex.compile(r"""\\?["']?[ \t]*+[:=]""")
#: A resource name whose segments are separated by ":" (an AWS ARN, a URN), up to the end of the searched text: a
#: secret word after one of its ":" names the resource's type ("arn:aws:secretsmanager:...:secret:prod/db"), no field
_RESOURCE_NAME = _regex.compile(r"""(?:arn|urn):[^\s"'<>=,;]*+\Z""")


def _in_resource_name(low: str, end: int) -> bool:
    """``low[:end]`` ends inside an ARN or URN (see :data:`_RESOURCE_NAME`) that starts a word."""
    start = low.rfind("rn:", max(0, end - 256), end) - 1
    while start >= 0 and start >= end - 256:
        m = _RESOURCE_NAME.match(low, start, end)
        if m is not None and (start == 0 or low[start - 1] not in _NAME_CHARS):
            return True
        start = low.rfind("rn:", max(0, end - 256), start + 1) - 1
    return False


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
#: a cookie "value" that is a word followed by a separator is a name ('Cookie: "password": ...', "Cookie: Cookie:")
_COOKIE_NAME_LIKE = _regex.compile(r"[a-z_][a-z0-9_.\-]{0,63}+")
#: A name and ":" that end a cookie header's value (group 1: the name), not inside a longer name
_TRAILING_NAME = _regex.compile(r"(?<![a-z0-9_.\-])([a-z_][a-z0-9_.\-]{0,63}+):\Z")
#: A pair of a Cookie header's value written as a structure: a quoted name, ":" or ",", a quoted value
_COOKIE_STRUCT_PAIR = _regex.compile(
    r"""(["'])[^"'\\\n]{1,256}+\1[ \t]*+[:,][ \t]*+(?:"(?P<dq>[^"\\\n]{0,4096}+)"|'(?P<sq>[^'\\\n]{0,4096}+)')"""
)
#: where a pair may start (a quote, after brackets and blanks): a pair that starts there and does not match is cut
_COOKIE_STRUCT_PAIR_START = _regex.compile(r"""[ \t]*+["']""")
#: between two pairs: closing brackets, "," (group 1), opening brackets, up to the next name's quote
_COOKIE_STRUCT_GAP = _regex.compile(r"""[ \t]*+[)\]]?[ \t]*+(,)?[ \t]*+[(\[]?[ \t]*+(?=["'])""")
_COOKIE_STRUCT_MAX_PAIRS = 256
#: the start of a structure: an opening bracket and a quote
_COOKIE_STRUCT_OPEN = _regex.compile(r"""[{(\[][ \t]*+[(\[]?[ \t]*+["']""")


def _cookie_struct_start(s: str, start: int, end: int) -> int:
    """Where a Cookie header's value ``s[start:end]`` (as :data:`patterns.COOKIE_HEADER` reads it) starts a
    structure of pairs, or -1: the value opens one ('{"sid": ...', "[('sid', ..."), or it is a quoted name
    followed by its quote and ":" or "," after an opening bracket the separator took ("('password', 'x')")."""
    m = _COOKIE_STRUCT_OPEN.match(s, start)
    if m is not None:
        return m.end() - 1
    q = s[start - 1 : start]
    if (
        q in ("'", '"')
        and s[start - 2 : start - 1] in ("(", "[", "{")
        and s.startswith(q, end)
        and _COOKIE_NAME_LIKE.fullmatch(s, start, end)
        and _COOKIE_STRUCT_PAIR.match(s, start - 1)
    ):
        return start - 1
    return -1


_PAIR_AFTER_VALUE = _regex.compile(r"""\\?["'][ \t]*+,""")
_FIELD_SEP_CHAR = _regex.compile(r"[:=]")
#: the separator of a label ("PASS: ...", see :meth:`Scrubber._field`)
_LABEL_SEP: Final = _regex.compile(r"[ \t]*+:[ \t]++")
#: a capitalised word and a colon, as a value: the next field's label ("Token: Kind: ...")
_CAPITALISED_LABEL: Final = _regex.compile(r"[A-Z][a-z]++(?:[A-Z][a-z]++)*+:")
#: a method's name as a label where a weak name's value would be (an Android tag and its message: "V
#: VirtualCameraSession: processCaptureRequest: CaptureRequest { ... }", "MediaSession: onPlaybackStateChanged: ...")
_METHOD_LABEL: Final = _regex.compile(p.LOWER_CAMEL_WORDS + ":")
#: a type's name before its repr's bracket ("AppWindowToken{9f4ef63 ...}"): letters only, a capital first, lower-case
#: letters in it (a password has digits or symbols; "Reset(00" is judged with _TYPED_REPR as before)
_TYPE_NAME: Final = _regex.compile(r"[A-Z](?=[A-Z]*+[a-z])[A-Za-z]{2,}+")
_BLANKS: Final = frozenset(" \t")
_CONTRACTION_AFTER: Final = _regex.compile(p.CONTRACTION_SUFFIX)
#: an object's name as Kubernetes writes one (a DNS subdomain: lower-case letters, digits, "-" and "."; here a
#: letter first, a "-" or "." in it and a letter past "f": no hex or random run) and the status message its API
#: server gives after it (``NewNotFound``, ``NewForbidden``, ...)
_OBJECT_NAME: Final = _regex.compile(r"(?=[^-.]*+[-.])(?=.*?[g-z])[a-z][a-z0-9.\-]{0,252}+")
_OBJECT_STATUS: Final = _regex.compile(r"""["'] (?:not found|is forbidden|already exists|is invalid)\b""")
#: a reverse-DNS name up to its last segment ("com.apple." of the macOS subsystem "com.apple.Authorization")
_BUNDLE_ID_BEFORE: Final = _regex.compile(r"(?<![\w.])(?:com|org|net|io|edu|gov)\.(?:[A-Za-z0-9_\-]++\.)*+\Z")
#: a Maven artifact id as a coordinate's second part (lower case, a letter first) and what follows it there: a ":"
#: and a version or a packaging (a coordinate without either is read as a field: "com.acme.password:hunter2-x")
_ARTIFACT: Final = _regex.compile(r"[a-z][a-z0-9.\-]{0,63}+")
_COORDINATE_NEXT: Final = _regex.compile(r":(?:\d|jar:|pom:|war:|aar:|test-jar:)")


def _maven_group(low: str, name_start: int, value_start: int) -> bool:
    """Whether the name at ``name_start`` is the last segment of a reverse-DNS group id ("io.jsonwebtoken",
    "com.auth0") written with ":" and no blank before the artifact id at ``value_start``, and the coordinate goes on
    as one does (a version or a packaging: "jjwt-api:jar:0.12.5", "java-jwt:4.4.0")."""
    if low[value_start - 1 : value_start] != ":" or low[value_start - 2 : value_start - 1].isspace():
        return False
    if _BUNDLE_ID_BEFORE.search(low, max(0, name_start - 128), name_start) is None:
        return False
    end = _ARTIFACT.match(low, value_start)
    return end is not None and _COORDINATE_NEXT.match(low, end.end()) is not None


#: an HTTP status code and the first letters of its reason phrase ("400 Ba" of "400 Bad Request", "200 OK")
_HTTP_STATUS: Final = _regex.compile(r"[1-5][0-9]{2} [A-Z][A-Za-z]")
#: A value that starts with a run of a session id's or token's characters, 16 or more with a letter and a digit
_ID_RUN: Final = _regex.compile(r"(?=[A-Za-z_\-]*+[0-9])(?=[0-9_\-]*+[A-Za-z])[A-Za-z0-9_\-]{16,}+")
_NEXT_NAME_MAX = 64

_PAIR_OPEN = _regex.compile(
    r"[\"'](?:\\?b?[ \t\r\n]*+[(\[\]]|<<[ \t\r\n]*+[{(\[\]])"
)  # read backwards (pretty-printed JSON: a newline and indent; Erlang's '{<<"x-api-key">>, <<"x">>}', session 36)


def _validation_name(loc: Any) -> str | None:
    """The field name of a validation error's ``loc`` (its last string part), or None."""
    if isinstance(loc, (list, tuple)):
        names = [part for part in loc if isinstance(part, str)]
        return names[-1] if names else None
    return None


def _pair_opens(low: str, name_start: int) -> bool:
    """The quoted name ending before ``name_start`` opens a tuple or list: "('password', 'x')", "[b'token', ...",
    or follows a bracket or marker (in JSON, '"auth":"password","method"' is a value followed by the next key)."""
    return _PAIR_OPEN.match(low[max(0, name_start - 40) : name_start][::-1]) is not None


def _weak_credential(value: Any) -> bool:
    """The value of a weakly secret-named key (``session``, ``sid``, ``*_tokens``) that is a credential: a string
    (or bytes) that looks like one, or a container (redacted whole as before)."""
    if value is None or isinstance(value, (bool, int, float)):
        return False
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if isinstance(value, str):
        return p.is_credential_value(value, p.WEAK)
    return True


#: An option naming an authentication mode right before a spaced name: the name is its value ("wifi-sec.key-mgmt
#: wpa-psk", wpa_supplicant's "key_mgmt WPA-PSK"), not a secret's name
_MODE_BEFORE: Final = _regex.compile(r"key[_\-]mgmt[ \t]++\Z", re.IGNORECASE)
_SCHEME_KIND = {"bearer": p.BEARER, "basic": p.BASIC, "dpop": p.DPOP, "digest": p.DIGEST}
#: Header kinds whose values have detectors of their own (Authorization, Cookie, and the bearer kind of
#: Sec-WebSocket-Protocol): a field or spaced match under such a name is theirs
_OWN_DETECTORS: Final = (p.AUTHORIZATION, p.COOKIE, p.BEARER)
# An unquoted value that starts a phrase of plain lower-case words (a message, not a password).
_PHRASE = _regex.compile(r"[A-Za-z][a-z]*+(?: [a-z]++){2,}+")
_API_KEY_NAME = _regex.compile(
    r"(?i)api[_\-]?key|apikey|subscription[_\-]?key|functions[_\-]?key|auth[_\-]?token|access[_\-]?token"
    r"|security[_\-]?token|account[_\-]?key|shared[_\-]?access[_\-]?key"
)


def _xml_strength(name: str) -> int:
    """What an XML element's name (or naming attribute) says of its text: a header's name is strong."""
    return p.name_strength(name) if not p.header_kind(name) else p.STRONG


def _variable_name(obj: Mapping[Any, Any]) -> str | None:
    """The secret name of a mapping that gives a variable as a name and a value (Kubernetes' and ECS's env lists,
    CloudFormation's parameters: ``{"name": "DB_PASSWORD", "value": "x"}``), or None."""
    if len(obj) > 8:
        return None
    for key in p.VALUE_KEYS:
        if key in obj:
            break
    else:
        return None
    for key in p.NAME_KEYS:
        name = obj.get(key)
        if isinstance(name, str) and name:
            return name if len(name) <= 256 and p.name_strength(name) else None
    return None


def _secret_kind(name: str) -> str:
    """The marker kind of a secret-named field's value: ``api_key`` for key names, else ``secret_field``."""
    return p.API_KEY if _API_KEY_NAME.search(name) else p.SECRET_FIELD


class Scrubber:
    """Scrubs text and values for one sink (the ``jwtobs.sink`` attribute of the redaction counter)."""

    __slots__ = ("_attrs", "sink")

    def __init__(self, sink: str = "api") -> None:
        self.sink = sink
        self._attrs: dict[str, tuple[tuple[str, str], ...]] = {
            kind: ((telemetry.ATTR_KIND, kind), (telemetry.ATTR_SINK, sink)) for kind in p.KINDS
        }

    def _count(self, counts: dict[str, int]) -> None:
        if not counts:
            return
        try:
            tel = config.current().telemetry
            for kind, n in counts.items():
                tel.count(telemetry.REDACTIONS, self._attrs[kind], n)
        except Exception as exc:  # counting never breaks logging (nor scrubbing): counted, logged once
            COUNT_FAILURES.add(exc)

    def _count_one(self, kind: str) -> None:
        """:meth:`_count` of one redaction of ``kind`` (without building its dict)."""
        try:
            config.current().telemetry.count(telemetry.REDACTIONS, self._attrs[kind], 1)
        except Exception as exc:  # counting never breaks logging (nor scrubbing): counted, logged once
            COUNT_FAILURES.add(exc)

    def text(
        self, text: str | bytes, *, settled: Callable[[str], bool] | None = None, keys: bool = True
    ) -> str | bytes:
        """Scrubbed copy of a string (or bytes); ``[REDACTION_FAILED]`` on an internal error.

        ``settled(first)`` (optional) is True only when no detector can act on ``first``, the first pass's
        output; the second pass is then skipped. The scanner passes its Hyperscan prefilter, whose triggers are
        a superset of every detector's matches (on any text, markers included), with hits read as the detectors
        read them. A wrong answer would cost idempotence, never a redaction of the first pass; an error fails
        closed.

        ``keys=False``: the caller knows ``text`` holds no vendor-key prefix (the scanner's Hyperscan pass found
        none of ``patterns.VENDOR_PREFIXES`` on its lines), so the search for one is skipped. Scrubbing adds none: a
        redaction leaves the text around it as it was and puts a marker (maybe quoted) in between, a marker holds
        no prefix, and no prefix holds a bracket, a quote or a blank that could join it across one.
        """
        run = _Pass(keys)
        # (run.text called with one argument unless a check is given, as before it took one)
        run_text: Callable[[str], str] = run.text if settled is None else lambda s: run.text(s, settled)
        try:
            if isinstance(text, (bytes, bytearray)):
                raw = bytes(text)
                out: str | bytes = run_text(raw.decode("latin-1")).encode("latin-1", "replace")
            else:
                out = run_text(str(text))
        except Exception:
            return FAILED.encode() if isinstance(text, (bytes, bytearray)) else FAILED
        self._count(run.counts)
        return out

    def bearer_jose(self, text: str) -> str | None:
        """Scrubbed ``text`` when it is one JWS/JWE, alone or after "Bearer " (counted), else None: the cheap
        first check of the log redactors, before they look for anything else."""
        if len(text) <= _SETTLE_MAX:  # a token marked before: its output without a pass (see _JOSE_SEEN)
            seen = _JOSE_SEEN.get(hash(text))
            if seen is not None and seen[0] is config.current().fingerprinter and seen[1] == len(text):
                if text.endswith(seen[2]):
                    self._count_one(seen[3])
                    return seen[4]
        run = _Pass()
        try:
            out = run._bearer_jose(text)
        except Exception:
            return None  # (the caller's full scrub fails closed)
        if out is not None:
            self._count(run.counts)
        return out

    def private_key(self, credential: str) -> str:
        """The marker of private key material (counted): a private JWK member's value (Sentry's frame variables)."""
        run = _Pass()
        out = run.mark(p.PRIVATE_KEY, credential)
        self._count(run.counts)
        return out

    def b64_block(self, lines: list[str], starts: list[int]) -> list[str] | None:
        """A base64-encoded token or PEM private key wrapped over lines, for a reader that gets them one by one (the
        scanner): ``lines`` and where their parts of the run start (:func:`patterns.b64_block_starts`). When the
        joined run holds a JWS/JWE, or is a base64 PEM private key (:data:`patterns.B64_PEM`), each line with its
        part of the run as its marker (counted once; the text before each part scrubbed alone); else None.
        ``[REDACTION_FAILED]`` lines on an internal error."""
        try:
            parts = [line.rstrip("\r")[at:] for line, at in zip(lines, starts, strict=True)]
            run = _Pass()
            if parts[0].startswith(p.B64_PEM_START) and p.b64_pem_private(parts[0]):
                # (fingerprinted with its line breaks, as :meth:`_b64_pem` does the same block in one text)
                marker = run.mark(p.PRIVATE_KEY, "\n".join(parts))
            else:
                found = p.b64_wrapped_jose("".join(parts))
                if found is None:
                    return None
                kind, token = found
                marker = run.mark(kind, token if token is not None else "".join(parts))
            self._count(run.counts)
            out = []
            for line, at, part in zip(lines, starts, parts, strict=True):
                head = self.text(line[:at]) if at else ""  # (what precedes the part, scrubbed alone)
                out.append(f"{head if isinstance(head, str) else FAILED}{marker}{line[at + len(part) :]}")
            return out
        except Exception:
            return [FAILED] * len(lines)

    def pem_body(self, line: str) -> str:
        """A line of a PEM private key block whose BEGIN armour was on an earlier line (the scanner reads lines one
        by one, :func:`patterns.pem_open`): its base64 run becomes a marker (counted); a header or blank line stays.
        ``[REDACTION_FAILED]`` on an internal error."""
        try:
            m = p.PEM_BODY_LINE.fullmatch(line)
            if m is None or m.group("b64") is None:
                return line
            return line[: m.start("b64")] + self.private_key(m.group("b64")) + line[m.end("b64") :]
        except Exception:
            return FAILED

    def value(self, obj: Any) -> Any:
        """Scrubbed copy of a nested value; containers are copied, the input is never mutated."""
        run = _Pass()
        try:
            out = run.value(obj)
        except Exception:
            return FAILED
        self._count(run.counts)
        return out

    def item(self, key: Any, value: Any) -> Any:
        """Scrubbed value of one ``(key, value)`` pair, as :meth:`values` would make it (fails closed)."""
        run = _Pass()
        try:
            out = run._item(key, value, 0)
        except Exception:
            return FAILED
        self._count(run.counts)
        return out

    def values(self, items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """Scrubbed copy of ``(key, value)`` pairs as a dict, failing closed per value (not per mapping)."""
        run = _Pass()
        out: dict[str, Any] = {}
        for k, v in items:
            try:
                out[k] = run._item(k, v, 0)
            except Exception:
                out[k] = FAILED
        self._count(run.counts)
        return out


_DEFAULT = Scrubber("api")


def scrub(text: str | bytes) -> str | bytes:
    """Scrubbed copy of ``text`` (str or bytes): every credential replaced by ``[REDACTED:<kind>:<fp>]``."""
    return _DEFAULT.text(text)


def scrub_value(obj: Any) -> Any:
    """Scrubbed copy of a nested value (dicts, lists, tuples, sets, bytes, header lists of (name, value)
    tuples); values of secret-named keys are redacted whole at any depth. Never mutates ``obj``."""
    return _DEFAULT.value(obj)


Redact = Callable[[Any], Any]
