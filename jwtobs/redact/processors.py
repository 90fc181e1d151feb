"""Redaction for log pipelines: a structlog processor, a ``logging.Filter`` and :func:`install`.

Both scrub *copies* of what the caller logged (the caller's dicts, lists and objects are never touched; a
stdlib ``LogRecord`` is the filter's to rewrite, as for any filter), never raise into logging, and fail
closed: a value whose scrubbing fails is written as ``[REDACTION_FAILED]``, never as the original.

Hot-path choices are made once: which keys of an event name a secret is decided per key name and cached, and
strings already seen to be clean (short, repeated values such as event names, levels, logger names) are
remembered so they are not scanned again.
"""

from __future__ import annotations

import logging
import operator
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

from jwtobs import _forksafe
from jwtobs.redact import _regex
from jwtobs.redact import patterns as p
from jwtobs.redact.scrub import FAILED, Scrubber

__all__ = ["LoggingRedactor", "RedactedException", "StructlogRedactor", "install", "uninstall"]

_SCALARS: Final = frozenset({int, float, bool, type(None)})
_CLEAN_MAX_LEN: Final = 256  # strings up to this length are remembered when clean
_CLEAN_MAX: Final = 4096  # remembered clean strings (the cache is emptied when full)
_KEYS_MAX: Final = 4096  # remembered key classifications


class _Probe(Scrubber):
    """A scrubber that counts nothing: used to *test* whether text is clean before the counted scrub."""

    __slots__ = ()

    def _count(self, counts: dict[str, int]) -> None:
        return None

    def _count_one(self, kind: str) -> None:
        return None


class RedactorCore:
    """What every redactor of this package shares (the structlog and logging redactors here, the OpenTelemetry
    exporters in :mod:`jwtobs.redact.otel`): the counted scrubber, an uncounted probe, the key classification
    and clean-string caches. Shared inside ``jwtobs.redact``; not part of the public API (not in ``__all__``)."""

    __slots__ = ("_clean", "_jose", "_layouts", "_plain", "_quiet", "_shapes", "probe", "scrubber")

    def __init__(self, sink: str, scrubber: Scrubber | None = None) -> None:
        """sink: the ``jwtobs.sink`` attribute of the redaction counter; scrubber: a custom one (its own sink)."""
        scrubber = scrubber if scrubber is not None else Scrubber(sink)
        self.scrubber = scrubber
        # a Scrubber subclass may detect more: then it is its own probe (counting twice beats missing)
        self.probe = _Probe(scrubber.sink) if type(scrubber) is Scrubber else scrubber
        self._plain: dict[Any, bool] = {}  # key -> True when its value is scanned as free text only
        self._clean: dict[str, None] = {}  # short strings known to hold nothing to redact
        # ASCII texts known to hold nothing to redact whatever their digits, with every digit written as 0
        # ("/api/v1/search?q=shoes+0&page=0", "u-0000"): log values differ mostly in their numbers
        self._shapes: dict[bytes, None] = {}
        # a Scrubber subclass may detect more than the built-in detectors: only the character-level proof then
        self._quiet = self._gated if type(scrubber) is Scrubber else _quiet
        self._jose = type(scrubber) is Scrubber  # "Bearer <JWS>" marked first (a subclass may detect more there)
        self._layouts: dict[tuple[Any, ...], _Layout | None] = {}  # see items()

    def plain_key(self, key: Any) -> bool:
        """Whether values under ``key`` are plain (not a secret-named field or a credential header). Only keys
        that hold no credential themselves are remembered: :meth:`items` scrubs the others (:meth:`_key`)."""
        known = self._plain.get(key)
        if known is not None:
            return known
        if isinstance(key, (str, bytes)):
            name = key.decode("latin-1") if isinstance(key, bytes) else key
            plain = p.header_kind(name) is None and not p.is_secret_name(name)
            if not self._gated(name) and self.probe.value(key) != key:
                return False  # a key holding a token (an attribute named after one): never on the fast path
        else:
            plain = True
        if len(self._plain) < _KEYS_MAX:
            self._plain[key] = plain
        return plain

    def _key(self, key: Any) -> Any:
        """``key`` scrubbed when it may hold a credential (not remembered by :meth:`plain_key`), else itself.
        Session 21: ``{token: ...}`` as a structlog event's key, a logging ``extra`` or a span attribute name
        was exported raw (nested mappings' keys and Sentry's were scrubbed)."""
        if key in self._plain or not isinstance(key, (str, bytes)):
            return key
        if isinstance(key, str) and self._gated(key):  # clean by the values' gate: no scrub (keys past _KEYS_MAX)
            return key
        try:
            new = self.scrubber.value(key)
        except Exception:
            return FAILED
        return key if new == key else new

    def _gated(self, value: str) -> bool:
        """:func:`_quiet` (without calling it), else whether no detector can match
        (:func:`patterns.may_hold_secret`); a string found clean that way is remembered (log values repeat:
        user agents, routes, messages), a short one also by its shape (its digits written as 0: paths and ids
        that differ only in their numbers)."""
        if value.isalnum() and (len(value) < _ALNUM_KEY_MIN or value.islower()):
            return True
        if _TRIVIAL(value) is not None:  # (one C-level match for the common shapes; not remembered)
            return True
        if _TRIGGER_SEARCH(value) is None:
            if _unseparated_form(value):
                return False
            if " " not in value and "\t" not in value:
                return True  # (cheap: not remembered)
            if _has_scheme(value):
                return False
            if len(value) <= _SHAPE_MAX_LEN:
                self._remember(value)  # words (event names, short messages) repeat
            return True
        shape = (
            value.encode("ascii").translate(_DIGITS_TO_ZERO)
            if len(value) <= _SHAPE_MAX_LEN and value.isascii()
            else None
        )
        if shape is not None and shape in self._shapes:
            return True  # the same text as a clean one but for its digits
        if p.may_hold_secret(value) and _trigger_gate(value) is not False:
            return False
        # (not a shape where a digit could make the base64 of a JOSE header start: "V5S")
        if (
            shape is not None
            and "%" not in value
            and b"V0S" not in shape
            and _DIGIT_PREFIX_PARTS(value.lower()) is None
        ):
            self._remember_shape(shape)
        self._remember(value)
        return True

    def line_clean(self, value: str) -> bool | None:
        """For a text of :data:`patterns.HS_MIN_LEN` characters or more (a log line): True when no trigger of the
        scanner matches it (:class:`_TriggerGate`, one Hyperscan pass; every gate-clean real log line is also
        trigger-clean, so the gate's own pass is not run first), False when one does (or "eyJ" or a marker is in
        it); for a text the trigger check does not read (not one ASCII line; not built yet) the gate's answer
        (True: no gate element); None without Hyperscan or for non-ASCII text (then :meth:`_gated` decides)."""
        if len(value) < _HS_MIN_LEN or not self._jose:
            return None
        triggered = _trigger_gate(value)
        if triggered is not None:
            return not triggered
        gate = p.hyperscan_gate()
        if gate is None or not value.isascii():
            return None
        hit = gate.may_hold(value)
        return None if hit is None else not hit

    def _remember_shape(self, shape: bytes) -> None:
        if len(self._shapes) >= _CLEAN_MAX:
            self._shapes.clear()
        self._shapes[shape] = None

    def _remember(self, value: str) -> None:
        if len(value) <= _CLEAN_MAX_LEN:
            if len(self._clean) >= _CLEAN_MAX:
                self._clean.clear()
            self._clean[value] = None

    def is_clean(self, value: str) -> bool:
        """Whether ``value`` holds nothing to redact (nothing is counted)."""
        return self.probed(value) is None

    def probed(self, value: str) -> str | None:
        """None when ``value`` holds nothing to redact, else its scrubbed text (nothing is counted)."""
        if self._jose and len(value) >= _JOSE_MIN and value[0] in "Bbe":
            marked = self.probe.bearer_jose(value)
            if marked is not None:
                return marked
        if value in self._clean or self._quiet(value):
            return None
        out = self.probe.text(value)
        if out == value:
            self._remember(value)
            return None
        return out if isinstance(out, str) else FAILED

    def args(self, args: Any) -> Any:
        """Scrubbed copy of logging ``%``-arguments (a tuple or a mapping): strings through the clean-string
        cache, scalars as they are, anything else through the scrubber; fails closed as a whole."""
        try:
            if isinstance(args, tuple):
                return tuple(self.text(a) if type(a) is str else a if type(a) in _SCALARS else self.scrubber.value(a)
                             for a in args)  # fmt: skip
            return self.scrubber.value(args)
        except Exception:
            return FAILED

    def text(self, value: str) -> str:
        """Scrubbed ``value`` (the same object when clean); redactions are counted."""
        if self._jose and len(value) >= _JOSE_MIN and value[0] in "Bbe":
            marked = self.scrubber.bearer_jose(value)  # a token argument: its marker without the gate or the pass
            if marked is not None:
                return marked
        if value in self._clean or self._quiet(value):
            return value
        out = self.scrubber.text(value)
        if out == value:
            self._remember(value)
            return value
        return out if isinstance(out, str) else FAILED

    def item(self, key: Any, value: Any) -> Any:
        """Scrubbed value of one field (the same object when clean and not a container)."""
        if self.plain_key(key):
            t = type(value)
            if t is str:
                return self.text(value)
            if t in _SCALARS:
                return value
            return self.scrubber.value(value)
        if self._jose:  # the default scrubber: one pair without building a dict
            return self.scrubber.item(key, value)
        return self.scrubber.values(((key, value),))[key]

    def items(self, values: Mapping[Any, Any]) -> dict[Any, Any] | None:
        """Scrubbed copy of ``values`` as a dict, or None when nothing changed. Fails closed per value.

        Events of one call site have the same keys: for events of 8 keys or more (below, one Hyperscan call costs
        more than the checks it saves: ~0.5 us, a key ~0.07 us, a new string's check 0.15-0.3 us; an 8-key event
        with a timestamp, ids and a path: 25.2k -> 17.5k instructions joined), per key tuple (a layout,
        :meth:`_layout`) the keys that name
        no secret are split once into those whose values were strings and the others. When the strings still
        are strings and the others numbers (or None), the strings joined by NUL go through the gate in one
        Hyperscan pass: no gate element contains NUL and no JOSE run crosses it, so the joined text holds none of
        the gate's elements only when no string does, and each is then clean. Otherwise (or on a "may") each
        value is checked on its own, as before; a layout whose values keep saying "may" skips the joined check
        for a while."""
        if len(values) >= _JOINED_MIN_KEYS:
            keys = tuple(values)
            layout = self._layouts.get(keys, _NO_LAYOUT)
            if layout is _NO_LAYOUT:
                layout = self._layout(keys, values)
            if layout is not None:
                strings, others, secret, misses, gate = layout
                missed = misses[0]
                if missed < _MISSES_MAX:
                    try:
                        joined = "\x00".join(strings(values))
                    except TypeError:  # a value that is no longer a string
                        joined = ""
                    # (ASCII of HS_MIN_LEN characters or more: what may_hold_secret checks with this one pass; else
                    # it would run on re, and key by key is cheaper)
                    joinable = len(joined) >= _HS_MIN_LEN and joined.isascii()
                    if joinable and others is not None:
                        for other in others(values):  # (a loop: cheaper than issuperset over a map for a few)
                            if type(other) not in _SCALARS:
                                joinable = False
                                break
                    if joinable:
                        if gate.may_hold(joined) is False:
                            if missed:
                                misses[0] = 0
                            return self._secret_items(values, secret) if secret else None
                        misses[0] = missed + 1
                else:
                    misses[0] = 0 if missed >= _MISSES_RETRY else missed + 1
        out: dict[Any, Any] | None = None
        plain, clean, quiet = self._plain, self._clean, self._quiet
        trivial, short = (_TRIVIAL, _SHORT_BAD) if self._jose else (_NEVER, _ALWAYS)
        for k, v in values.items():
            t = type(v)
            # fast path: a plain key with a number, or with a string known clean or unable to hold a secret (a
            # secret-named key's value is redacted whole: no check; a key seen first takes the slow path once).
            # A short string is first read by one search (the last form of _TRIVIAL; half the cost of its
            # fullmatch: no match object, no backtracking stack)
            if t is str:
                if plain.get(k) and (
                    v in clean or (len(v) < _VENDOR_MIN and short(v) is None) or trivial(v) is not None or quiet(v)
                ):
                    continue
            elif t in _SCALARS and plain.get(k):
                continue
            out = self._scrubbed_into(out, values, k, v)
        return out

    def _scrubbed_into(
        self, out: dict[Any, Any] | None, values: Mapping[Any, Any], k: Any, v: Any
    ) -> dict[Any, Any] | None:
        """``out`` (a copy of ``values`` made when first needed) with the scrubbed value of ``k`` if it changed;
        fails closed for that value."""
        try:
            new = self.item(k, v)
        except Exception:
            new = FAILED
        new_k = self._key(k)
        if new is not v or new_k is not k:
            if out is None:
                out = dict(values)
            if new_k is not k:
                del out[k]
            out[new_k] = new
        return out

    def _layout(self, keys: tuple[Any, ...], values: Mapping[Any, Any]) -> _Layout | None:
        """(the string values' getter, the other plain values' getter, the keys that name a secret, [misses], the
        Hyperscan gate) for events with ``keys`` (remembered); None when the joined check does not pay (a custom
        scrubber, no Hyperscan)."""
        layout = self._new_layout(keys, values)
        if len(self._layouts) >= _LAYOUTS_MAX:
            self._layouts.clear()
        self._layouts[keys] = layout
        return layout

    def _new_layout(self, keys: tuple[Any, ...], values: Mapping[Any, Any]) -> _Layout | None:
        gate = p.hyperscan_gate()
        if not self._jose or gate is None:
            return None
        strings, others, secret = [], [], []
        for k in keys:
            if not self.plain_key(k):
                secret.append(k)
            elif type(values[k]) is str:
                strings.append(k)
            else:
                others.append(k)
        return _getter(strings), _getter(others) if others else None, tuple(secret), [0], gate

    def _secret_items(self, values: Mapping[Any, Any], secret: tuple[Any, ...]) -> dict[Any, Any] | None:
        """Scrubbed copy of ``values`` when only the values of ``secret`` keys may change (None when none does)."""
        out: dict[Any, Any] | None = None
        for k in secret:
            out = self._scrubbed_into(out, values, k, values[k])
        return out


#: A layout of :meth:`RedactorCore.items`: the string values' getter, the other plain values' getter (None: none),
#: the keys that name a secret, [how many events in a row said "may"], the Hyperscan gate.
_Getter = Callable[[Mapping[Any, Any]], tuple[Any, ...]]
_Layout = tuple[_Getter, "_Getter | None", tuple[Any, ...], list[int], p.HyperscanGate]
_NO_LAYOUT: Final[Any] = object()
_JOINED_MIN_KEYS: Final = 8  # (see items: smaller events are cheaper key by key)
_LAYOUTS_MAX: Final = 1024
_MISSES_MAX: Final = 4  # "may" this many events in a row: the joined check is skipped ...
_MISSES_RETRY: Final = 64  # ... until this many more events went by


def _getter(keys: list[Any]) -> _Getter:
    """The values of ``keys`` (as a tuple) of a mapping (one key: its value twice; no Python-level call)."""
    if keys:
        return operator.itemgetter(*keys) if len(keys) >= 2 else operator.itemgetter(keys[0], keys[0])
    return lambda values: ()


#: Texts up to this length are remembered by their shape (every digit written as 0), see :meth:`RedactorCore._gated`.
_SHAPE_MAX_LEN: Final = 64
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")


def _digit_prefix_search() -> Callable[[str], re.Match[str] | None]:
    """A search for the longest digit-free part of every vendor prefix that holds a digit ("sk-ant-api" of
    "sk-ant-api03-"), lower case: a text without any of them has no vendor prefix whatever its digits are. Every
    other gate word, and the JOSE and URL checks, treat all digits alike (a text without "%"), so texts that differ
    only in their digits get the same answer from :func:`patterns.may_hold_secret`: a clean shape proves every text
    of that shape clean. A prefix whose longest digit-free part is one character (Replicate's "r8_": its "r" is in
    nearly every text, which would keep every such text from being remembered by its shape) is looked for whole
    instead, any digit standing for its digits, from its last character ("_(?<=r[0-9]_)")."""
    parts: list[str] = []
    whole: list[str] = []
    for prefix in p.VENDOR_PREFIXES:
        if any(c.isdigit() for c in prefix):
            low = prefix.lower()
            part = max(re.split("[0-9]", low), key=len)
            if len(part) >= 2:
                parts.append(part)
            else:
                shape = "".join("[0-9]" if c.isdigit() else re.escape(c) for c in low)
                whole.append(re.escape(low[-1]) + f"(?<={shape})")
    pattern = p.rare_anchored(tuple(parts), "<qjzxywkvbfug_hdp-ml/ncrisaote.").pattern
    return _regex.compile("|".join((pattern, *dict.fromkeys(whole)))).search


#: (see :func:`_digit_prefix_search`)
_DIGIT_PREFIX_PARTS: Final = _digit_prefix_search()
_TRIGGER_SEARCH: Final = p.TRIGGER.search
_HS_MIN_LEN: Final = p.HS_MIN_LEN
_MARKER_PREFIX: Final = p.MARKER_PREFIX
_UNROUTED: Final[Any] = object()  # (LoggingRedactor._message: the token route not run yet)
_JOSE_MIN: Final = 16  # shorter than any JWS/JWE
_VENDOR_SEARCH: Final = p.VENDOR_PREFIX_SEARCH.search
_B64_JOSE_HINT: Final = p.b64_jose_hint
_VENDOR_MIN: Final = p.VENDOR_MIN_LEN
_ALNUM_KEY_MIN: Final = 20  # the shortest vendor key without "_", "-" or "." (AKIA and 16 characters)
#: Characters of timestamps, numbers, durations and versions. No detector matches a text made only of them
#: (every credential form needs a letter other than T/Z, or one of = % / @).
_INERT: Final = "0123456789TZ:.,+- "
#: Characters of UUIDs, lower-case hex ids and dates: every gate word and vendor prefix holds another character,
#: and without "." or "%" no JOSE run (``tests/redact/test_sinks.py`` checks the prefixes).
_HEX_ID: Final = "0123456789abcdef-"
#: Texts that are clean by their characters alone, in one match: UUIDs, hex ids and dates (only :data:`_HEX_ID`
#: characters), timestamps, numbers and IP addresses (only :data:`_INERT` characters), and short words without a
#: trigger character or a blank (shorter than any vendor key; no "<scheme> <credentials>" or command line).
_NEVER: Final = _regex.compile(r"(?!)").fullmatch  # (custom scrubbers: no shortcut by shape)
_TRIVIAL: Final = _regex.compile(
    rf"[{re.escape(_HEX_ID)}]*+|[{re.escape(_INERT)}]*+|[^.:=,%\s<]{{0,{p.VENDOR_MIN_LEN - 1}}}+"
).fullmatch
#: A character that keeps a text shorter than :data:`patterns.VENDOR_MIN_LEN` out of :data:`_TRIVIAL`'s last form:
#: a short text where this finds nothing is clean (``tests/redact/test_sinks.py`` checks both agree).
_SHORT_BAD: Final = _regex.compile(r"[.:=,%\s<]").search
_ALWAYS: Final = _regex.compile("").search  # (custom scrubbers: a match for every text, so no shortcut)


class _TriggerGate:
    """A second, finer check for one ASCII line (no newline) that holds a gate word: the scanner's trigger
    expressions (:func:`jwtobs.redact.scan.rules.triggers`: each detector's keyword *followed by its separator*,
    e.g. a field stem then ``:``/``=``, a query name then ``=``; a line the scrubber would change always matches
    one of them, which ``tests/redact/test_scan.py`` and ``tests/redact/test_sinks.py`` check) as one Hyperscan
    pass. "Failed password for root", "session opened for user", "pam_unix(sshd:auth): authentication failure"
    hold gate words but no trigger. Built in a background thread on first use (importing the scanner and
    loading or compiling its database takes 0.1-0.4 s): until then, and without Hyperscan, it answers None."""

    __slots__ = ("_db", "_local", "_scratch", "_started", "_terminated")

    def __init__(self) -> None:
        self._db: Any = None
        self._terminated: Any = None
        self._scratch: Any = None
        self._local = threading.local()
        self._started = False

    def check(self, text: str) -> bool | None:
        """False when no trigger matches ``text`` (clean), True when one does (or "eyJ" or a marker is in it: the
        detector pass decides), None when unknown (not one ASCII line, the database not built)."""
        db = self._db
        if db is None:
            if not self._started:
                self._start()
            return None
        if "\n" in text or not text.isascii():
            return None
        local = self._local
        try:
            scratch = local.scratch
        except AttributeError:
            scratch = local.scratch = self._scratch.clone()
        try:
            # the first match ends the scan (the scanner's database reports every end offset: a JWS alone made
            # hundreds of callbacks)
            db.scan(text.encode("ascii"), _stop, 0, None, scratch)  # (positional: see patterns.HyperscanGate)
        except self._terminated:
            return True
        except Exception:
            return None
        return False

    __call__ = check

    def _start(self) -> None:
        with _TRIGGER_LOCK:
            if self._started:
                return
            self._started = True
        if p.hyperscan_gate() is None:  # no Hyperscan (or switched off): never built
            return
        threading.Thread(target=self._build, name="jwtobs-redact-triggers", daemon=True).start()

    def _build(self) -> None:
        try:
            import hyperscan

            from jwtobs.redact.scan.hyperscan_engine import hyperscan_db
            from jwtobs.redact.scan.rules import Trigger, triggers

            # "eyJ" (a token: its trigger matches anyway) and a marker (a rebuilt message) as literals of the same
            # pass: the detector pass decides those
            marks = (
                Trigger("eyj", "eyJ", caseless=False),
                Trigger("marker", re.escape(_MARKER_PREFIX), caseless=False),
            )
            db = hyperscan_db((*triggers(), *marks))
            self._terminated = hyperscan.ScanTerminated
            self._scratch = hyperscan.Scratch(db)
            self._db = db
        except Exception:  # an expression Hyperscan cannot compile, a broken install: the word gate alone
            self._db = None


def _stop(_id: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
    return True


_TRIGGER_LOCK: Final = _forksafe.Lock()
_trigger_gate: Final = _TriggerGate()


def _unseparated_form(value: str) -> bool:
    """Whether a text without trigger characters may hold a vendor key, a token or a PEM key in base64 or an XML element
    ("<password>x</password>"): the forms that need no separator (besides "<scheme> <credentials>")."""
    return (
        len(value) >= _VENDOR_MIN
        and (_VENDOR_SEARCH(value) is not None or _B64_JOSE_HINT(value) or p.B64_PEM_START in value)
    ) or ("</" in value or p.cas_ticket_hint(value))  # (a CAS ticket in a message: "ticket ST-... expired")


def _quiet(value: str) -> bool:
    """Cheap proof that the scrubber would return ``value`` unchanged: no trigger character
    (:data:`patterns.TRIGGER`), no vendor key prefix, XML end tag, "<scheme> <credentials>" or command-line form, or
    only timestamp/number characters. ``tests/redact/test_sinks.py`` checks this against the scrubber itself."""
    if value.isalnum() and (len(value) < _ALNUM_KEY_MIN or value.islower()):
        return True
    if _TRIGGER_SEARCH(value) is None:
        if _unseparated_form(value):
            return False
        return (" " not in value and "\t" not in value) or not _has_scheme(value)
    return not value.strip(_INERT)


#: one of :data:`patterns.TRIGGER_FREE_WORDS` (what the scrubber looks for in text without trigger characters)
_SCHEME_SEARCH: Final = _regex.compile("|".join(re.escape(w) for w in p.TRIGGER_FREE_WORDS), re.IGNORECASE).search


def _has_scheme(value: str) -> bool:
    """A "<scheme> <credentials>" or command-line word, a secret-named word and a value after blanks
    ("apikey 9f8e7d6c5b4a": :func:`patterns.spaced_hint`), or a protocol's login command ("AUTH x":
    :func:`patterns.protocol_hint`)."""
    return _SCHEME_SEARCH(value) is not None or p.spaced_hint(value) or p.protocol_hint(value)


class StructlogRedactor:
    """structlog processor: scrubs a copy of the event dict.

    Place it after ``structlog.processors.format_exc_info`` (and ``StackInfoRenderer``), so the rendered
    ``exception`` and ``stack`` strings are scrubbed too, and before the renderer::

        structlog.configure(processors=[..., structlog.processors.format_exc_info,
                                        redact.StructlogRedactor(), structlog.processors.JSONRenderer()])

    An ``exc_info`` still present (no ``format_exc_info`` before it) is rendered here (plain traceback, no
    frame locals) and replaced by the scrubbed ``exception`` string.
    Values of secret-named keys (``password``, ``client_secret``, ``authorization``, ``cookie``...) are
    replaced whole; other strings are scanned for tokens and credentials. Redactions are counted in the
    ``jwtobs.redactions`` metric with sink ``structlog`` (or ``sink=``).
    """

    __slots__ = ("_core",)

    def __init__(self, *, sink: str = "structlog", scrubber: Scrubber | None = None) -> None:
        self._core = RedactorCore(sink, scrubber)

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        # (the type first: an ABC isinstance on every event cost 0.2 us of an 8-key event's 1.8)
        if type(event_dict) is not dict and not isinstance(event_dict, Mapping):
            return self._rendered(event_dict)
        try:
            out = self._core.items(event_dict)
        except Exception:  # pragma: no cover - items() already fails closed per value
            out = dict.fromkeys(event_dict, FAILED)
        result: MutableMapping[str, Any] = event_dict if out is None else out
        if result.get("exc_info"):
            result = self._exc_info(result)
        return result

    def _rendered(self, rendered: Any) -> Any:
        """What a renderer before this processor made of the event (a JSON or key=value line, its bytes, an
        ``(args, kwargs)`` tuple), scrubbed as it is. Session 21: placed after the renderer, the redactor turned the
        line into a dict of its characters and the logger raised ``TypeError`` into the caller's log call."""
        try:
            if isinstance(rendered, str):
                return self._core.text(rendered)
            return self._core.scrubber.value(rendered)
        except Exception:
            return FAILED.encode() if isinstance(rendered, (bytes, bytearray)) else FAILED

    def _exc_info(self, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        try:
            info = _exc_info_tuple(event_dict["exc_info"])
            if info is None:
                return event_dict
            # rendered here even when clean: renderers that show frame locals (rich) would print what this
            # check cannot see
            scrubbed = self._core.text("".join(traceback.format_exception(*info)).rstrip("\n"))
        except Exception:
            scrubbed = FAILED
        out = dict(event_dict)
        del out["exc_info"]
        out["exception"] = scrubbed if isinstance(scrubbed, str) else FAILED
        return out


def _exc_info_tuple(value: Any) -> tuple[Any, Any, Any] | None:
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3:
        return value[0], value[1], value[2]
    if value is True:
        info = sys.exc_info()
        return info if info[0] is not None else None
    return None


_PLAIN_ARG: Final = frozenset({str, int, float, bool, bytes, type(None)})


def _same_args(new: Any, old: Any) -> bool:
    """Whether scrubbing the ``%``-arguments changed none of them (clean strings and scalars come back as the
    same objects)."""
    if isinstance(old, tuple):
        return all(a is b for a, b in zip(new, old, strict=True))
    return bool(new == old)


def _plain_args(args: Any) -> bool:
    """Arguments whose formatting is deterministic (an object's ``__str__`` could differ the next time)."""
    values = args.values() if isinstance(args, Mapping) else args
    return _PLAIN_ARG.issuperset(map(type, values))


#: A conversion of a printf-style format that :func:`_format_plan` reads: "%%", or flags, width and precision as
#: digits, then the conversion (no mapping key, "*" or length modifier); group 1 is the conversion.
_SPEC: Final = _regex.compile(r"%(?:%|[-#0 +]*+[0-9]*+(?:\.[0-9]*+)?+([diouxXeEfFgGcrsa]))")
#: The label before a token argument (see :meth:`LoggingRedactor._token_argument`): name characters, an optional
#: ":" or "=", an optional blank, at the start of the literal or after a blank; or nothing after a blank.
_LABEL: Final = _regex.compile(r"(?:(?<= )|^)(?:[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}+(?:[:=] ?| )?)?\Z")
#: What the "Bearer <JWS>" shortcut makes (:meth:`Scrubber.bearer_jose`).
_JOSE_OUT: Final = _regex.compile(
    r"(?:[Bb]earer )?\[REDACTED:(?P<kind>jwt|jwe):[0-9a-z]{1,16}+-[0-9a-f]{12}\]"
).fullmatch
_NUMBERS: Final = frozenset({int, float, bool})
_BARE: Final = frozenset({str, int, float, bool, type(None)})  # (what a bare "%s" formats as it is)
_PLANS_MAX: Final = 1024
#: The plan of a format the route does not read (no argument matches it).
_NO_ROUTE: Final[_Plan] = ((), (), -1, [])
#: Per argument of a format: (the label with the blank before it if any, the format without the label and the
#: conversion, " " when text follows the conversion else ""); None for an argument not formatted by a bare "%s"
#: with a label.
_Slot = tuple[str, str, str]
#: Of a format: the arguments whose conversion is not a bare "%s"; per argument its _Slot or None; the number of
#: conversions; per argument the window verdicts by marker head (see LoggingRedactor._token_argument).
_Plan = tuple[tuple[int, ...], tuple["_Slot | None", ...], int, list[dict[str, bool]]]
_WINDOWS_MAX: Final = 16  # window verdicts per argument of a format (one per marker head: kind and key id)


def _format_plan(fmt: str) -> _Plan | None:
    """Per argument of the printf-style ``fmt``: what :meth:`LoggingRedactor._token_argument` needs when that
    argument is the token; None when ``fmt`` uses anything :data:`_SPEC` does not read."""
    specs: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        at = fmt.find("%", pos)
        if at < 0:
            break
        m = _SPEC.match(fmt, at)
        if m is None:
            return None
        if m.group(1) is not None:
            specs.append((at, m.end(), m.group(0)))
        pos = m.end()
    # sentinel arguments: each "%s" formats its own marker string, any other conversion an int
    sentinels = tuple(f"\x01{k}\x02" if spec == "%s" else 0 for k, (_, _, spec) in enumerate(specs))
    try:
        whole = fmt % sentinels
    except Exception:
        return None
    slots: list[_Slot | None] = []
    for k, (start, end, spec) in enumerate(specs):
        literal_start = specs[k - 1][1] if k else 0
        tail = fmt[end:]
        label = _LABEL.search(fmt, literal_start, start) if spec == "%s" and tail[:1] in ("", " ") else None
        if label is None or (label.start() == literal_start and k > 0):
            slots.append(None)  # (a label glued to the argument before it: no boundary)
            continue
        without = fmt[: label.start()] + tail
        try:
            rest = without % (*sentinels[:k], *sentinels[k + 1 :])
        except Exception:
            return None
        cut = len(fmt[: label.start()] % sentinels[:k]) if label.start() else 0
        if whole != rest[:cut] + label.group(0) + str(sentinels[k]) + rest[cut:]:
            return None  # (printf formatting read otherwise than _SPEC reads it)
        slots.append((" " + label.group(0) if label.start() else label.group(0), without, " " if tail else ""))
    return (
        tuple(k for k, (_, _, spec) in enumerate(specs) if spec != "%s"),
        tuple(slots),
        len(specs),
        [{} for _ in specs],
    )


class _CheckedRecord(logging.LogRecord):
    """The class of a ``LogRecord`` whose message the filter formatted and proved clean: ``getMessage`` gives that
    message (:data:`_CHECKED`) while the record still has the ``msg`` and ``args`` objects it was formatted from,
    so the handler's formatter does not format it a second time; otherwise (a later filter replaced ``msg`` or
    ``args``, another record was checked meanwhile) it formats as ``LogRecord`` does. Nothing else differs: no
    attribute is added (``__dict__`` is the same), and a copy or a pickle is a plain ``LogRecord``."""

    __slots__ = ()

    def getMessage(self) -> str:
        checked = _CHECKED[0]
        if checked[0] is self and checked[1] is self.msg and checked[2] is self.args:
            return checked[3]  # type: ignore[no-any-return]
        return _GET_MESSAGE(self)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (logging.makeLogRecord, (self.__dict__,))  # (a plain LogRecord with the same attributes)


_LOG_RECORD: Final = logging.LogRecord
_GET_MESSAGE: Final = logging.LogRecord.getMessage
#: The last record the filter proved clean on its formatted message: (record, msg, args, message), see
#: :class:`_CheckedRecord` (one slot: the formatter runs right after the filters, in the same thread).
_CHECKED: Final[list[tuple[Any, ...]]] = [(None, None, None, "")]


class RedactedException(Exception):
    """Stands in for a logged exception whose traceback held a credential (``record.exc_info``), so handlers
    that render ``exc_info`` themselves (JSON formatters, OpenTelemetry's handler) see only scrubbed text."""


_STANDARD_ATTRS: Final = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_BASE_LEN: Final = len(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
_FORMATTER: Final = logging.Formatter()


class LoggingRedactor(logging.Filter):
    """``logging.Filter`` that scrubs each record before it is formatted; attach it to handlers (or use
    :func:`install`). On a logger it sees only records created at that logger, not propagated ones.

    * The message is checked after ``%`` interpolation. When it holds a credential, the arguments are replaced
      by scrubbed copies if that makes the message clean (formatters that read ``record.args``, like uvicorn's
      access log, keep working); otherwise ``record.msg`` becomes the scrubbed message and ``record.args``
      is emptied. A clean record is left exactly as it was.
    * ``exc_info`` is rendered and scrubbed into ``exc_text``; when it held a credential, ``exc_info`` is
      replaced by a :class:`RedactedException` carrying the scrubbed message. ``exc_text`` (set by an earlier
      formatter) and ``stack_info`` are scrubbed.
    * Extra attributes (``extra={...}``) are scrubbed; secret-named ones are replaced whole.

    Always returns True: it never drops a record and never raises; a part whose scrubbing fails becomes
    ``[REDACTION_FAILED]``. Redactions are counted with sink ``logging`` (or ``sink=``).
    """

    def __init__(self, name: str = "", *, sink: str = "logging", scrubber: Scrubber | None = None) -> None:
        super().__init__(name)
        self._core = RedactorCore(sink, scrubber)
        self._plans: dict[str, _Plan] = {}  # format string -> _format_plan (see _token_argument)

    def filter(self, record: logging.LogRecord) -> bool:
        d = record.__dict__  # (read through the dict: asking for it makes every attribute read a dict lookup anyway)
        try:
            common = len(d) == _BASE_LEN and d["exc_info"] is None and d["exc_text"] is None and d["stack_info"] is None
        except KeyError:  # (a record without LogRecord's attributes: the general route)
            common = False
        if common:
            # the common record (no extra attributes, no exception, not formatted yet): a clean formatted message,
            # or a token argument, ends it here
            msg, args = d["msg"], d["args"]
            if type(args) is tuple and args and type(args[-1]) is str and "eyJ" in args[-1]:
                try:  # (a token argument: the message alone needs scrubbing)
                    if type(msg) is str and self._core._jose:
                        routed = self._token_argument(msg, args)
                        if routed is not None and routed[1]:
                            new_args = record.args = routed[0]  # the rest proven clean (see _token_argument)
                            if routed[2] is not None and type(record) is _LOG_RECORD:  # (formatted once, as below)
                                _CHECKED[0] = (record, msg, new_args, routed[2])
                                record.__class__ = _CheckedRecord
                            return True
                        self._message(record, routed)
                    else:
                        self._message(record)
                except Exception:
                    record.msg, record.args = FAILED, ()
                return True
            if type(msg) is str:
                plain = type(record) is _LOG_RECORD
                try:  # (LogRecord.getMessage without the call: str(msg) is msg; a subclass may format otherwise)
                    message = (msg % args if args else msg) if plain else record.getMessage()
                except Exception:
                    message = None  # (_message handles it)
                # (the trigger check alone: a message it cannot read, or with "eyJ" or a marker, takes the route below)
                if message is not None and self._core._jose and _trigger_gate.check(message) is False:
                    if args and plain:  # (the formatter will not format it again)
                        _CHECKED[0] = (record, msg, args, message)
                        record.__class__ = _CheckedRecord
                    return True
        msg, args = record.msg, record.args
        try:
            self._message(record)
        except Exception:
            record.msg, record.args = FAILED, ()
        if "message" in record.__dict__ and (record.msg is not msg or record.args is not args):
            # formatted by an earlier handler: what it cached must not outlive the scrubbing
            try:
                record.message = record.getMessage()
            except Exception:
                record.message = FAILED
        if record.exc_info or record.exc_text:
            try:
                self._exception(record)
            except Exception:
                record.exc_text, record.exc_info = FAILED, None
        if record.stack_info:
            try:
                record.stack_info = self._core.text(record.stack_info)
            except Exception:
                record.stack_info = FAILED
        d = record.__dict__
        if len(d) > _BASE_LEN:
            try:
                extras = {k: v for k, v in d.items() if k not in _STANDARD_ATTRS}
                changed = self._core.items(extras) if extras else None
            except Exception:
                changed = {k: FAILED for k in d if k not in _STANDARD_ATTRS}
            if changed:
                for renamed in extras.keys() - changed.keys():  # a key that held a credential
                    del d[renamed]
                d.update(changed)
        return True

    # -- the message -------------------------------------------------------------------------------------------
    def _message(self, record: logging.LogRecord, routed: Any = _UNROUTED) -> None:
        """Scrub the message (``routed``: what the token route made of this record, when the caller ran it)."""
        msg, args = record.msg, record.args
        if not args and not isinstance(msg, str):
            self._object_message(record)
            return
        core = self._core
        if routed is _UNROUTED:
            routed = None
            if type(args) is tuple and args and type(args[-1]) is str and "eyJ" in args[-1] and type(msg) is str:
                # a token as the last argument: the route before formatting the message
                routed = self._token_argument(msg, args) if core._jose else None
                if routed is not None and routed[1]:
                    record.args = routed[0]  # one token argument, the rest proven clean (see _token_argument)
                    return
        try:
            message = record.getMessage()
        except Exception:  # broken %-args: logging will report it (msg and args): make both safe to print
            record.msg = self._core.text(str(msg))
            record.args = self._core.scrubber.value(args if routed is None else routed[0])
            return
        # (a message holding "eyJ", a gate word, cannot be proven clean: straight to its arguments)
        if "eyJ" not in message:
            clean = core.line_clean(message)
            if clean or message in core._clean or (clean is None and core._quiet(message)):
                return  # clean (the cheap proof: no detector can match)
        if args:
            if routed is None and type(args) is tuple and type(msg) is str and core._jose:
                routed = self._token_argument(msg, args)
                if routed is not None and routed[1]:
                    record.args = routed[0]
                    return
            if routed is not None:
                args = routed[0]  # (its token already marked and counted)
            # The arguments first, each through the clean-string cache and the gate (a token is usually one
            # argument): the message rebuilt from them is then probed once, instead of probing the message with
            # the token, then scrubbing the argument again.
            new_args = core.args(args)
            args = record.args
            if type(new_args) is type(args) and not _same_args(new_args, args):
                candidate: str | None
                try:
                    candidate = str(msg) % new_args
                except Exception:
                    candidate = None
                # (the rebuilt message holds a marker, and every marker kind but jwe and digest is a gate word:
                # straight to the detector pass)
                if candidate is not None and _plain_args(new_args) and core.probe.text(candidate) == candidate:
                    if not p.aws_secret_runs(message):
                        record.args = new_args  # formatting plain values again later gives exactly ``candidate``
                        return
                    # an AWS key id and its secret key were separate arguments: the secret is paired with the
                    # id on the message's line, which ``candidate`` no longer shows (the id is a marker there)
                    candidate = None
                # an argument held a credential: the message becomes the scrubbed text, without arguments
                scrubbed = core.scrubber.text(message if candidate is None else candidate)
                record.msg, record.args = (scrubbed if isinstance(scrubbed, str) else FAILED), ()
                return
        scrubbed = core.scrubber.text(message)
        if scrubbed == message:
            core._remember(message)
            return  # clean after all (nothing was counted: counts are made by redactions)
        record.msg, record.args = (scrubbed if isinstance(scrubbed, str) else FAILED), ()

    def _token_argument(self, msg: str, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool, str | None] | None:
        """The record's ``%``-arguments with its one token argument marked (``"Bearer <JWS>"`` or a JWS/JWE alone:
        ``Bearer [REDACTED:jwt:...]``, counted), whether the message rebuilt from them is proven clean without
        the detector pass, and that message when it is proven and the token's ``%s`` ends the format (``P + L + o``:
        the message without formatting it again); None when the record is not of that kind (nothing counted then).

        The proof. ``msg`` is split once into its conversions (:func:`_format_plan`); the token's is a bare
        ``%s``, preceded in ``msg`` by a label ``L`` (``auth=``, ``Authorization:`` , ``token=`` or nothing: name
        characters, an optional ``:``/``=`` and blank) that starts the message or follows a blank, and followed by
        the message's end or a blank. The rebuilt message is then ``P + L + o + S`` where ``o`` is the marked
        token and ``P + S`` is ``msg`` without ``L`` and the conversion, formatted with the other arguments
        (printf formatting is compositional: the plan is checked on sentinel arguments when it is made). Every
        detector match holds one of the gate's elements (a gate word or vendor prefix, a JOSE run, "://" with
        "@"); when ``P + S`` holds none of them (the Hyperscan gate, which also finds JOSE runs glued to other
        characters, so each part of ``P + S`` is clean alone) and none can straddle a boundary (a blank next to
        an alphanumeric character, ``]`` next to a blank), every match of the rebuilt message lies in ``L + o``,
        reads nothing past the blanks around it, and is therefore a match of the window ``" " + L + o + " "``
        too: when the detector pass leaves that window as it is, it leaves the message as it is. The window's
        verdict is remembered per label, side and marker head (its 12 hex digits written as 0: no gate word is
        made of hex digits and a vendor key inside a marker is left alone). String arguments other than the
        token are formatted by bare ``%s`` only, so each is a part of ``P + S`` and clean: ``record.args`` is
        then what the general route would make. ``tests/redact/test_sinks.py`` checks the route against the
        detector pass on every pinned form and real log lines, as format text and as arguments."""
        plan = self._plans.get(msg)
        if plan is None:
            plan = self._plan(msg)
        others, slots, count, windows = plan
        # numbers, and strings or None formatted by a bare "%s" (a string formatted otherwise: general route)
        if count != len(args) or not _BARE.issuperset(map(type, args)):
            return None
        for i in others:
            if type(args[i]) not in _NUMBERS:
                return None
        index = count - 1  # (a token is usually the last argument)
        while type(args[index]) is not str or "eyJ" not in args[index]:
            index -= 1
            if index < 0:
                return None
        token = args[index]
        marked = self._core.scrubber.bearer_jose(token) if len(token) >= _JOSE_MIN and token[0] in "Bbe" else None
        if marked is None:
            return None
        last = index == count - 1
        new_args = (*args[:-1], marked) if last else (*args[:index], marked, *args[index + 1 :])
        slot = slots[index]
        if slot is None:
            return new_args, False, None
        lead, without, post = slot  # (lead: the blank before the label, if any, and the label)
        try:
            rest = without % (args[:-1] if last else (*args[:index], *args[index + 1 :]))
        except Exception:
            return new_args, False, None
        if rest:
            gate = p.hyperscan_gate() if len(rest) >= _HS_MIN_LEN and rest.isascii() else None
            if gate is None or gate.may_hold(rest) is not False:
                return new_args, False, None
        head = marked[:-13]  # (a marker ends with its fingerprint's 12 hex digits: config's Fingerprinter makes them)
        clean = windows[index].get(head)
        if clean is None:
            window = f"{lead}{head}000000000000]{post}"
            clean = _JOSE_OUT(marked) is not None and self._core.probe.text(window) == window
            if len(windows[index]) < _WINDOWS_MAX:
                windows[index][head] = clean
        if clean and not post:  # (the token's "%s" ends the format: the message is P + L + o, without formatting it)
            return new_args, True, rest + (lead[1:] if lead[:1] == " " else lead) + marked
        return new_args, clean, None

    def _plan(self, msg: str) -> _Plan:
        """:func:`_format_plan` of ``msg``, remembered (bounded)."""
        plan = _format_plan(msg) or _NO_ROUTE
        if len(self._plans) >= _PLANS_MAX:
            self._plans.clear()
        self._plans[msg] = plan
        return plan

    def _object_message(self, record: logging.LogRecord) -> None:
        """``logger.info(some_dict)``: keep the structure (handlers such as OpenTelemetry's export it as is)
        unless its rendering still holds a credential."""
        new = self._core.scrubber.value(record.msg)
        if new is record.msg:
            return
        rendered = str(new)
        if self._core.probe.text(rendered) == rendered:
            record.msg = new
        else:
            scrubbed = self._core.scrubber.text(rendered)
            record.msg = scrubbed if isinstance(scrubbed, str) else FAILED
        record.args = ()

    # -- exceptions --------------------------------------------------------------------------------------------
    def _exception(self, record: logging.LogRecord) -> None:
        if record.exc_text:
            record.exc_text = self._core.text(record.exc_text)
        if not record.exc_info or record.exc_info[0] is None:
            return
        info = record.exc_info
        rendered = _FORMATTER.formatException(info)
        if self._core.probe.text(rendered) == rendered:
            return  # clean: the handler's formatter renders it as usual
        scrubbed = self._core.scrubber.text(rendered)
        if not isinstance(scrubbed, str):
            scrubbed = FAILED
        if not record.exc_text:
            record.exc_text = scrubbed
        try:
            only = "".join(traceback.format_exception_only(info[0], info[1])).strip()
            summary = self._core.probe.text(only)
        except Exception:
            summary = FAILED
        record.exc_info = (RedactedException, RedactedException(summary if isinstance(summary, str) else FAILED), None)


# -- install ---------------------------------------------------------------------------------------------------
#: Framework loggers whose handlers get the filter (they usually do not propagate to the root logger).
FRAMEWORK_LOGGERS: Final = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn",
    "gunicorn.error",
    "gunicorn.access",
    "hypercorn",
    "hypercorn.error",
    "hypercorn.access",
    "django",
    "django.request",
    "django.server",
    "flask.app",
    "werkzeug",
)

_lock = _forksafe.Lock()
_filter: LoggingRedactor | None = None
_installed: list[logging.Handler] = []
_installed_loggers: list[logging.Logger] = []
_structlog_installed = False


def _handlers() -> list[logging.Handler]:
    """The root logger's handlers, ``logging.lastResort``, and the handlers of every existing logger
    (so those of :data:`FRAMEWORK_LOGGERS`, which usually do not propagate, when they exist)."""
    found: list[logging.Handler] = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        found.append(logging.lastResort)
    loggers: list[Any] = []
    for _ in range(5):  # another thread may create a logger meanwhile: take a consistent copy
        try:
            loggers = list(logging.Logger.manager.loggerDict.values())
            break
        except RuntimeError:  # pragma: no cover - "dictionary changed size during iteration"
            continue
    for lg in loggers:
        if isinstance(lg, logging.Logger):
            found.extend(lg.handlers)
    unique: dict[int, logging.Handler] = {}
    for h in found:
        unique.setdefault(id(h), h)
    return list(unique.values())


def install(*, structlog: bool = True, loggers: Iterable[str] = ()) -> None:
    """Redact what already-configured logging writes. Idempotent; call again after reconfiguring logging.

    * stdlib: a shared :class:`LoggingRedactor` is added to every handler that exists now: the root logger's,
      ``logging.lastResort``, and those of every named logger. Handlers that already have a LoggingRedactor
      are skipped.
    * It is also added as a *logger* filter to the root logger and to :data:`FRAMEWORK_LOGGERS` (uvicorn,
      gunicorn, hypercorn, Django, Flask/Werkzeug): a logger filter sees every record created at that logger
      whatever handlers it gets later (``dictConfig`` replaces handlers but keeps logger filters), so a server
      that configures its logging after ``install()`` is still covered. Records of other loggers reach only
      the handlers that existed at ``install()``: call it again after configuring logging, or add
      ``LoggingRedactor()`` to new handlers yourself.
    * ``loggers``: more logger names that get that logger filter (an application's own logger whose handler the
      framework adds later: Flask's ``app.logger``, named after the app).
    * structlog (``structlog=True`` and structlog configured): a :class:`StructlogRedactor` is inserted just
      before the renderer (the last processor) unless the chain already has one.
    """
    global _filter, _structlog_installed
    with _lock:
        if _filter is None:
            _filter = LoggingRedactor()
        for handler in _handlers():
            if any(isinstance(f, LoggingRedactor) for f in handler.filters):
                continue
            handler.addFilter(_filter)
            _installed.append(handler)
        names = (*FRAMEWORK_LOGGERS, *(n for n in loggers if isinstance(n, str) and n))
        for lg in (logging.getLogger(), *(logging.getLogger(n) for n in names)):
            if not any(isinstance(f, LoggingRedactor) for f in lg.filters):
                lg.addFilter(_filter)
                _installed_loggers.append(lg)
        if structlog:
            _structlog_installed = _install_structlog() or _structlog_installed


def uninstall() -> None:
    """Remove what :func:`install` added (filters it put on handlers, its structlog processor)."""
    global _structlog_installed
    with _lock:
        if _filter is not None:
            for handler in _installed:
                handler.removeFilter(_filter)
            for lg in _installed_loggers:
                lg.removeFilter(_filter)
        _installed.clear()
        _installed_loggers.clear()
        if _structlog_installed:
            _uninstall_structlog()
            _structlog_installed = False


def _install_structlog() -> bool:
    sl = sys.modules.get("structlog")
    if sl is None:
        return False
    try:
        if not sl.is_configured():
            return False
        processors = list(sl.get_config()["processors"])
        if not processors or any(isinstance(x, StructlogRedactor) for x in processors):
            return False
        processors.insert(len(processors) - 1, _InstalledStructlogRedactor())
        sl.configure(processors=processors)
        return True
    except Exception:
        return False


def _uninstall_structlog() -> None:
    sl = sys.modules.get("structlog")
    if sl is None:
        return
    try:
        processors = [x for x in sl.get_config()["processors"] if not isinstance(x, _InstalledStructlogRedactor)]
        sl.configure(processors=processors)
    except Exception:
        pass


class _InstalledStructlogRedactor(StructlogRedactor):
    """The processor :func:`install` inserted (so :func:`uninstall` removes only that one)."""

    __slots__ = ()
