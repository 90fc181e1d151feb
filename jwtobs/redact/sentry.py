"""Keep tokens and credentials out of Sentry: hooks for ``sentry_sdk.init`` that scrub every event, breadcrumb,
structured log, metric and span with jwtobs's detectors before the SDK writes it into an envelope.

>>> import sentry_sdk
>>> from jwtobs.redact import sentry as jwtobs_sentry
>>> sentry_sdk.init(**jwtobs_sentry.init_options(dsn=DSN, enable_logs=True, before_send=my_hook))

or, hook by hook (sentry-sdk 2.x)::

    sentry_sdk.init(dsn=DSN,
                    before_send=jwtobs_sentry.compose(my_hook),          # my_hook first, then jwtobs
                    before_send_transaction=jwtobs_sentry.before_send_transaction,
                    before_breadcrumb=jwtobs_sentry.before_breadcrumb,
                    before_send_log=jwtobs_sentry.before_send_log)

sentry-sdk 2.x and 3.x are supported (:data:`SDK_MAJORS`); :func:`init_options` wires what the installed one has.
3.x sends no transactions (every span is streamed through ``before_send_span``) and sends cron check-ins through
``before_send_check_in`` instead of ``before_send``; the envelope header of streamed spans (the dynamic sampling
context, with the segment span's name) is built outside every hook, so on 3.x :func:`init_options` also wraps the
transport to scrub it (see :func:`scrub_envelope_headers`).

Where in the chain: the SDK runs these hooks last, after its integrations, its scope data and its own
``EventScrubber`` (2.x; 3.x filters by field name through ``data_collection``), which stays on: it removes values
by field name; jwtobs replaces credentials anywhere, in exception messages, log messages and their arguments,
URLs, headers, frame variables... Each credential becomes ``[REDACTED:<kind>:<fingerprint>]`` with the fingerprint
of validation events, so a Sentry issue can be joined to the validation that saw the token.

Fail closed: a value whose scrubbing fails becomes ``[REDACTION_FAILED]``; an event, breadcrumb or log that
cannot be scrubbed at all is dropped (the hook returns None), never sent raw; no hook ever raises into the SDK.
A user's own hook runs first (it may drop or change the item) and jwtobs scrubs what it returns, so the user's
hook cannot re-introduce a credential; a user hook that raises drops the item.

This module does not import ``sentry_sdk``: the hooks work on the plain dicts the SDK hands them, and only
:func:`init_options` (which reads the installed SDK's option names and wraps its transport) needs the SDK.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final

from jwtobs import config
from jwtobs.exceptions import ConfigurationError
from jwtobs.redact import _regex
from jwtobs.redact import patterns as p
from jwtobs.redact.scrub import FAILED, Scrubber

__all__ = [
    "before_breadcrumb",
    "before_send",
    "before_send_check_in",
    "before_send_log",
    "before_send_metric",
    "before_send_span",
    "before_send_transaction",
    "compose",
    "init_options",
    "scrub_envelope_headers",
    "scrub_event",
]

Hook = Callable[[Any, Any], Any]

_SCRUBBER = Scrubber("sentry")
_MAX_DEPTH = 64

# Top-level event keys that hold SDK bookkeeping, never data the application supplied: kept as they are
# (package names in "modules" such as "tokenizers" would otherwise read as secret-named fields).
_KEEP = frozenset({"event_id", "timestamp", "start_timestamp", "platform", "level", "type", "sdk", "modules"})
# Keys whose string value is a query string or fragment without its "?" / "#".
_QUERY_KEYS = frozenset({"query_string", "http.query", "url.query", "query"})
_FRAGMENT_KEYS = frozenset({"http.fragment", "url.fragment", "fragment"})
_PARAM_PREFIX = "sentry.message.parameter."
_TEMPLATE_ATTR = "sentry.message.template"
_NAME = _regex.compile(r"[A-Za-z0-9_.\-]{1,64}")  # a header or field name (of a (name, value) pair)
_FLAG = _regex.compile(r"--?[A-Za-z][A-Za-z0-9_\-]{0,63}")
_OPTION = _regex.compile(r"--[A-Za-z][A-Za-z0-9_\-]{0,63}|-[A-Za-z]")  # what follows a flag is an option, not its value
# printf-style and str.format placeholders in message templates
_PLACEHOLDER = _regex.compile(
    r"%(?:\([^()]{0,64}\))?[#0 +\-]*(?:\*|\d{1,3})?(?:\.(?:\*|\d{1,3}))?[diouxXeEfFgGcrsa]|\{[^{}]{0,64}\}"
)
# What the SDK writes in place of a value it removed (its EventScrubber, size limits): nothing left to redact.
_SDK_SUBSTITUTES = frozenset({"[Filtered]", "[Blob substitute]", "[Exceeds maximum size]", "[Unparsable]"})


class _Walk:
    """One scrub of one Sentry item: a copy of its dicts and lists with every leaf scrubbed on its own, so a
    failure costs one value ([REDACTION_FAILED]), not the item."""

    __slots__ = ()

    def node(self, value: Any, depth: int, quoted: bool = False) -> Any:
        if depth > _MAX_DEPTH:
            return FAILED
        if isinstance(value, Mapping):
            return self.mapping(value, depth, quoted)
        if isinstance(value, (list, tuple)):
            if len(value) == 2 and isinstance(value[0], str):
                # a (name, value) header pair serialized as a list (in frame vars: ["'name'", "'value'"])
                inner = _unquote(value[0]) if quoted else None
                name = value[0] if inner is None else inner[1]
                if _NAME.fullmatch(name) is not None and _is_credential_name(name):
                    return [self.leaf(None, value[0], quoted), self.leaf(name, value[1], quoted)]
            out = [self.node(v, depth + 1, quoted) for v in value]
            self.flag_values(value, out, quoted)
            return out
        return self.leaf(None, value, quoted)

    def flag_values(self, value: list[Any] | tuple[Any, ...], out: list[Any], quoted: bool) -> None:
        """Command lines (``sys.argv`` is in every event's extra): the argument after a secret-named option
        (``--token X``, ``--client-secret X``, ``-H "Authorization: ..."`` is text already) is redacted whole."""
        for i in range(len(value) - 1):
            flag = value[i]
            if not isinstance(flag, str) or not flag.startswith(("-", "'-", '"-')):
                continue
            if quoted:
                inner = _unquote(flag)
                flag = inner[1] if inner is not None else flag
            name, nxt = flag.lstrip("-"), value[i + 1]
            if _FLAG.fullmatch(flag) is None or not _is_credential_name(name) or not isinstance(nxt, str):
                continue
            if _OPTION.fullmatch(nxt.strip("'\"")) is None:  # not the next option ("--session --verbose")
                out[i + 1] = self.leaf(name, nxt, quoted)

    def mapping(self, value: Mapping[Any, Any], depth: int, quoted: bool) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        jwk = "kty" in value  # a JWK (a frame variable holding one is sent as a dict): its private members whole
        for k, v in value.items():
            if jwk and k in p.JWK_PRIVATE_NAMES and v is not None:
                out[self.key(k)] = self.private_key(v, quoted)
            else:
                out[self.key(k)] = self.entry(k, v, depth + 1, quoted)
        return out

    def private_key(self, value: Any, quoted: bool) -> Any:
        try:
            inner = _unquote(value) if quoted and isinstance(value, str) else None
            if inner is not None:
                return inner[0] + _SCRUBBER.private_key(inner[1]) + inner[2]
            return _SCRUBBER.private_key(str(value))
        except Exception:
            return FAILED

    def key(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        return _SCRUBBER.text(key)

    def entry(self, key: Any, value: Any, depth: int, quoted: bool) -> Any:
        if not isinstance(key, str) or value is None:
            return self.node(value, depth, quoted)
        if _is_credential_name(_key_name(key)):
            return self.leaf(_key_name(key), value, quoted)  # the whole value is the credential, whatever its type
        lower = key.lower()
        if isinstance(value, str):
            if lower in _QUERY_KEYS:
                return self.prefixed("?", value)
            if lower in _FRAGMENT_KEYS:
                return self.prefixed("#", value)
        if lower == "cookies" and isinstance(value, Mapping):
            return {self.key(k): _cookie(k, v) for k, v in value.items()}
        if lower == "vars":  # frame variables: Sentry sends strings as their repr ("'value'")
            quoted = True
        return self.node(value, depth, quoted)

    def leaf(self, key: str | None, value: Any, quoted: bool) -> Any:
        if isinstance(value, str) and value in _SDK_SUBSTITUTES:
            return value
        try:
            if quoted and isinstance(value, str):
                inner = _unquote(value)
                if inner is not None:
                    start, body, end = inner
                    scrubbed = self.leaf(key, body, False)
                    return f"{start}{scrubbed}{end}" if isinstance(scrubbed, str) else scrubbed
            if key is None:
                if value is None or isinstance(value, (bool, int, float)):
                    return value
                if isinstance(value, str):
                    if not value:
                        return value
                    text = _SCRUBBER.text(value)
                    if text != value:
                        _note(value, text)
                    return text
                return _SCRUBBER.value(value)
            out = _SCRUBBER.values(((key, value),))[key]
            if isinstance(value, str) and out != value:
                _note(value, out)
            return out
        except Exception:
            return FAILED

    def prefixed(self, prefix: str, value: str) -> str:
        """A bare query string ("access_token=...&x=1"): scrubbed as the query part of a URL."""
        out = _SCRUBBER.text(prefix + value)
        if isinstance(out, str) and out.startswith(prefix):
            return out[len(prefix) :]
        return FAILED


_WALK = _Walk()


@functools.lru_cache(maxsize=4096)
def _is_credential_name(name: str) -> bool:
    """A header or field name whose whole value is a credential (cached: event keys repeat on every event)."""
    return p.header_kind(name) is not None or p.is_secret_name(name)


def _key_name(key: str) -> str:
    """The name of a mapping key as the SDK serialized it: a bytes or quoted key is sent as its repr
    (``dict(scope["headers"])`` of an ASGI app: ``"b'authorization'"``), which named nothing before session 13."""
    if key[:1] in ("b", "'", '"'):
        inner = _unquote(key)
        if inner is not None:
            return inner[1]
    return key


def _unquote(value: str) -> tuple[str, str, str] | None:
    """``'abc'`` -> ("'", "abc", "'"); ``b'abc'`` -> ("b'", "abc", "'"); None for anything else."""
    start = 1 if value[:1] in ("b", "u") else 0
    if len(value) - start >= 2 and value[start] in ("'", '"') and value[-1] == value[start]:
        return value[: start + 1], value[start + 1 : -1], value[-1]
    return None


def _cookie(name: Any, value: Any) -> Any:
    """A parsed cookie (name -> value): the value is redacted as a cookie, whatever it looks like."""
    if not isinstance(name, str) or not isinstance(value, str) or value in _SDK_SUBSTITUTES:
        return _WALK.leaf("cookie", value, False)
    out = _SCRUBBER.values((("Cookie", f"{name}={value}"),))["Cookie"]
    if isinstance(out, str) and out.startswith(f"{name}="):
        return out[len(name) + 1 :]
    return FAILED


def _param_text(param: Any) -> str | None:
    if isinstance(param, bool) or not isinstance(param, (str, int, float)):
        return None
    text = str(param)
    return text or None


def _redact_param(param: Any) -> Any:
    """Marker for a message argument that held a credential (its own fingerprint; a JWS keeps kind jwt)."""
    return _SCRUBBER.values((("credential", str(param)),))["credential"]


# -- one event, one set of credentials ----------------------------------------------------------------------------
# A credential recognized by its field name or context in one place of an event (an "x-api-key" header pair, a
# "client_secret" context entry, "password=..." in a message, a message argument that was a credential in the
# message) can be in the same event elsewhere where nothing marks it: a stack frame's local variable with a plain
# name (``key = ...``; sentry-sdk 3.x attaches the stack, with locals, to every message and log event), the same
# value under another key. scrub_event collects each such value (its marker is made when a copy is found) and
# redacts its other copies in the event too.
_FOUND: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("jwtobs_sentry_found", default=None)
_CANDIDATE = _regex.compile(r"[A-Za-z0-9._~+/\-]{12,}={0,2}")  # a credential-like run ("k=v": its v)
_MAX_FOUND = 64


def _note(raw: str, scrubbed: Any) -> None:
    """Within scrub_event: the credential-like runs of ``raw`` that scrubbing removed (``scrubbed`` lacks them)."""
    found = _FOUND.get()
    if found is None or len(found) >= _MAX_FOUND or not isinstance(scrubbed, str):
        return
    for m in itertools.islice(_CANDIDATE.finditer(raw), 8):
        run = m.group(0).strip("._~+/=-")
        if len(run) < 12 or run in found or run in scrubbed:
            continue
        if not any(c.isalpha() for c in run) or not any(c.isdigit() for c in run):
            continue  # a word or a number, not a credential: would replace innocent text
        found[run] = ""


def _replace_found(value: Any, found: dict[str, str], depth: int) -> Any:
    """``value`` (scrub_event's copy) with each collected credential replaced by its marker, in place where
    mutable."""
    if depth > _MAX_DEPTH:
        return FAILED
    if isinstance(value, str):
        for raw in found:
            if raw in value:
                marker = found[raw] or str(_redact_param(raw))
                found[raw] = marker if raw not in marker else FAILED
                value = value.replace(raw, found[raw])
        return value
    if isinstance(value, dict):
        for k in list(value):
            value[k] = _replace_found(value[k], found, depth + 1)
        return value
    if isinstance(value, list):
        value[:] = [_replace_found(v, found, depth + 1) for v in value]
        return value
    return value


def _reconcile(params: list[tuple[Any, Any]], original: str, text: str) -> tuple[list[Any], str]:
    """Message arguments and the message formatted from them, made consistent after scrubbing each on its own:

    * an argument that was a credential only inside the message (``"token=%s"`` with an opaque value, which
      alone matches no detector) is in the message before scrubbing, and neither it nor its own scrubbed form
      is there after: it is redacted whole;
    * an argument redacted on its own (by its name, ``{token}``, or its content) is replaced in the message,
      which showed it verbatim.

    ``params`` holds (original, scrubbed) pairs; returns the scrubbed arguments and the message.
    """
    out = []
    for orig, scrubbed in params:
        raw = _param_text(orig)
        if raw is not None and raw in original and raw not in text and str(scrubbed) not in text:
            scrubbed = _redact_param(orig)  # more of it was a credential in the message than on its own
            _note(raw, scrubbed)
        out.append(scrubbed)
    for (orig, _), scrubbed in zip(params, out, strict=True):
        raw = _param_text(orig)
        if raw is not None and str(scrubbed) != raw and raw in text:
            text = text.replace(raw, str(scrubbed))
    return out, text


def _template(original: Any, scrubbed: Any) -> Any:
    """A message template keeps its placeholders: ``"password=%s"`` reads as a secret field whose value is
    ``%s``; a marker whose fingerprint is that of a placeholder (so it hid no credential) is turned back into
    the placeholder. Sentry groups log events by their template, which then does not change with the
    fingerprint key."""
    if not isinstance(original, str) or not isinstance(scrubbed, str) or original == scrubbed:
        return scrubbed
    candidates: set[str] = set()
    for m in itertools.islice(_PLACEHOLDER.finditer(original), 32):
        candidates.update((m.group(0), m.group(0).split("(", 1)[0]))
    if not candidates:
        return scrubbed
    fingerprint = config.current().fingerprinter.token
    by_fp = {fingerprint(text): text for text in candidates}
    return p.FINDING.sub(lambda m: by_fp.get(m.group(2) or "", m.group(0)), scrubbed)


def _logentry(original: Any, scrubbed: Any) -> Any:
    """``logentry`` (LoggingIntegration): ``formatted`` and ``params`` reconciled (see :func:`_reconcile`)."""
    if not isinstance(original, Mapping) or not isinstance(scrubbed, dict):
        return scrubbed
    if original.get("params"):
        scrubbed["message"] = _template(original.get("message"), scrubbed.get("message"))
    params, new = original.get("params"), scrubbed.get("params")
    text, scrubbed_text = original.get("formatted"), scrubbed.get("formatted")
    if not isinstance(text, str) or not isinstance(scrubbed_text, str):
        return scrubbed
    if isinstance(params, (list, tuple)) and isinstance(new, list) and len(params) == len(new):
        scrubbed["params"], scrubbed["formatted"] = _reconcile(list(zip(params, new, strict=True)), text, scrubbed_text)
    elif isinstance(params, Mapping) and isinstance(new, dict) and len(params) == len(new):
        values, scrubbed["formatted"] = _reconcile(
            list(zip(params.values(), new.values(), strict=True)), text, scrubbed_text
        )
        scrubbed["params"] = dict(zip(new.keys(), values, strict=True))
    return scrubbed


def scrub_event(event: Any) -> dict[str, Any] | None:
    """Scrubbed copy of a Sentry event or transaction (the dict ``before_send`` receives), or None when it
    cannot be scrubbed (the caller then drops it). Never raises, never mutates ``event``."""
    found: dict[str, str] = {}
    token = _FOUND.set(found)
    try:
        if not isinstance(event, Mapping):
            return None
        out: dict[str, Any] = {}
        for key, value in event.items():
            if key in _KEEP:
                out[key] = value
            elif key == "_meta":  # annotations keyed like the event: only their keys can hold data
                out[key] = _meta_keys(value, 0)
            else:
                out[_WALK.key(key)] = _WALK.entry(key, value, 1, False)
        if "logentry" in out:
            out["logentry"] = _logentry(event.get("logentry"), out["logentry"])
        _drop_library_locals(out)
        if found:
            for key in out:
                if key not in _KEEP and key != "_meta":
                    out[key] = _replace_found(out[key], found, 1)
        return out
    except Exception:
        return None
    finally:
        _FOUND.reset(token)


#: Packages whose stack frames never ship their local variables: the JOSE libraries hold the signing input
#: (header.payload) and the raw signature bytes there, from which the token can be rebuilt; jwtobs's own frames
#: hold the token itself; the stdlib's ``logging`` frames hold a record's template and arguments apart (``msg``,
#: ``args``), where an opaque credential shows as one only in the formatted message (sentry-sdk 3.x attaches the
#: stack, with these frames, to every log event: ``attach_stacktrace`` defaults to True there).
LOCALS_DROPPED: Final = ("jwt", "jose", "authlib", "jwcrypto", "joserfc", "jwtobs", "logging")
_DROPPED_PATH = _regex.compile(r"[/\\](?:" + "|".join(LOCALS_DROPPED) + r")[/\\]")


def _library_frame(frame: Mapping[str, Any]) -> bool:
    module = frame.get("module")
    if isinstance(module, str) and module.split(".", 1)[0] in LOCALS_DROPPED:
        return True
    path = frame.get("abs_path") or frame.get("filename")
    return isinstance(path, str) and _DROPPED_PATH.search(path) is not None


def _drop_library_locals(event: dict[str, Any]) -> None:
    """Frames of the JOSE libraries and of jwtobs lose their ``vars`` (in exceptions and threads)."""
    for key in ("exception", "threads"):
        container = event.get(key)
        values = container.get("values") if isinstance(container, Mapping) else container
        if not isinstance(values, list):
            continue
        for value in values:
            stack = value.get("stacktrace") if isinstance(value, Mapping) else None
            frames = stack.get("frames") if isinstance(stack, Mapping) else None
            if not isinstance(frames, list):
                continue
            for frame in frames:
                if isinstance(frame, dict) and "vars" in frame and _library_frame(frame):
                    del frame["vars"]


def _meta_keys(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError("_meta too deep")
    if isinstance(value, Mapping):
        return {_WALK.key(k): _meta_keys(v, depth + 1) for k, v in value.items()}
    return value


def before_send(event: Any, hint: Any) -> dict[str, Any] | None:
    """``before_send``: the error or message event with every credential redacted (None: drop)."""
    return scrub_event(event)


def before_send_transaction(event: Any, hint: Any) -> dict[str, Any] | None:
    """``before_send_transaction`` (sentry-sdk 2.x): transaction name, spans (description, data, tags), request,
    contexts..."""
    return scrub_event(event)


def before_send_check_in(check_in: Any, hint: Any) -> dict[str, Any] | None:
    """``before_send_check_in`` (sentry-sdk 3.x; 2.x sends cron check-ins through ``before_send``): monitor slug,
    config and trace context (None: drop)."""
    return scrub_event(check_in)


def before_breadcrumb(crumb: Any, hint: Any) -> dict[str, Any] | None:
    """``before_breadcrumb``: message, data and category of a breadcrumb (None: drop)."""
    try:
        if not isinstance(crumb, Mapping):
            return None
        return {
            k: (v if k in ("timestamp", "type", "level") else _WALK.entry(k, v, 1, False)) for k, v in crumb.items()
        }
    except Exception:
        return None


def _attributes_item(item: Any, text_key: str) -> dict[str, Any] | None:
    """A log or metric: its text (``body``/``name``) and ``attributes`` scrubbed; ids, times, numbers kept."""
    try:
        if not isinstance(item, Mapping):
            return None
        out = dict(item)
        original_text = item.get(text_key)
        if isinstance(original_text, str):
            out[text_key] = _SCRUBBER.text(original_text)
        attrs = item.get("attributes")
        if attrs is not None:
            if not isinstance(attrs, Mapping):
                return None
            scrubbed = _WALK.mapping(attrs, 1, False)
            if isinstance(original_text, str) and isinstance(out[text_key], str):
                names = [(k, _WALK.key(k)) for k in attrs if isinstance(k, str) and k.startswith(_PARAM_PREFIX)]
                pairs = [(attrs[k], scrubbed[sk]) for k, sk in names]
                values, out[text_key] = _reconcile(pairs, original_text, out[text_key])
                for (_, sk), value in zip(names, values, strict=True):
                    scrubbed[sk] = value
            template = _TEMPLATE_ATTR if _TEMPLATE_ATTR in attrs else None
            if template is not None:
                scrubbed[_WALK.key(template)] = _template(attrs[template], scrubbed.get(_WALK.key(template)))
            out["attributes"] = scrubbed
        return out
    except Exception:
        return None


def before_send_log(log: Any, hint: Any) -> dict[str, Any] | None:
    """``before_send_log`` (``enable_logs=True``): body, template, parameters and attributes (None: drop)."""
    return _attributes_item(log, "body")


def before_send_metric(metric: Any, hint: Any) -> dict[str, Any] | None:
    """``before_send_metric``: the metric's attributes (and name)."""
    return _attributes_item(metric, "name")


def before_send_span(span: Any, hint: Any) -> dict[str, Any]:
    """``before_send_span`` (span streaming, ``trace_lifecycle="stream"``): name and attributes. Streamed spans
    cannot be dropped, so a span that cannot be scrubbed is sent as ``[REDACTION_FAILED]`` without attributes."""
    out = _attributes_item(span, "name")
    if out is None:
        base = dict(span) if isinstance(span, Mapping) else {}
        return {**base, "name": FAILED, "attributes": {}}
    return out


def compose(user_hook: Hook | None, jwtobs_hook: Hook = before_send) -> Hook:
    """One hook from the user's and jwtobs's: the user's runs first (its None drops the item, its exception
    drops the item too, never reaching the SDK), then ``jwtobs_hook`` scrubs what it returned. (Streamed spans
    cannot be dropped: there a None or an exception sends the scrubbed original.)

    ``compose(my_before_send)`` for events; ``compose(my_hook, before_breadcrumb)`` and so on for the others.
    """
    if user_hook is None:
        return jwtobs_hook

    def hook(item: Any, hint: Any) -> Any:
        try:
            out = user_hook(item, hint)
        except Exception:
            out = None
        if out is None:
            # streamed spans cannot be dropped: the SDK would send the original, so scrub that instead
            return jwtobs_hook(item, hint) if jwtobs_hook is before_send_span else None
        try:
            scrubbed = jwtobs_hook(out, hint)
        except Exception:
            scrubbed = None
        if jwtobs_hook is before_send_span and not (isinstance(scrubbed, Mapping) and "name" in scrubbed):
            # the SDK keeps the original span when the hook's result has no name: scrub the original instead
            return jwtobs_hook(item, hint)
        return scrubbed

    hook.__name__ = f"jwtobs_{getattr(jwtobs_hook, '__name__', 'hook')}"
    hook.__qualname__ = hook.__name__
    hook.__doc__ = f"{getattr(user_hook, '__name__', 'user hook')} then jwtobs's {hook.__name__[7:]}."
    return hook


_SDK_MISSING = (
    "jwtobs.redact.sentry.init_options() needs sentry-sdk (>= 2.0): pip install 'jwtobs[sentry]' "
    "(the hooks before_send, before_breadcrumb, ... themselves need nothing and can be passed by hand)"
)


#: the sentry-sdk major versions whose options and event model these hooks are written and tested for
SDK_MAJORS: Final = (2, 3)

#: Options sentry-sdk 3.0 removed (``consts.ClientConstructor``), with what 3.x has instead: ``init_options``
#: names them instead of passing them on to ``sentry_sdk.init`` (which raises ``TypeError: Unknown option``).
#: ``enable_logs=True`` / ``enable_metrics=True`` are dropped instead: 3.x sends logs and metrics without a switch.
REMOVED_IN_3: Final[Mapping[str, str]] = {
    "before_send_transaction": (
        "3.x sends no transactions: every span is streamed through before_send_span, which jwtobs wires (a span "
        "can be changed there, not dropped); give your hook as before_send_span"
    ),
    "enable_logs": (
        "3.x has no switch: sentry_sdk.logger and LoggingIntegration(level=...) send logs (LoggingIntegration"
        "(level=None) stops the logging bridge); enable_logs=True is accepted and dropped"
    ),
    "enable_metrics": "3.x has no switch: sentry_sdk.metrics are sent; enable_metrics=True is accepted and dropped",
    "include_local_variables": 'data_collection={"stack_frame_variables": True or False} (on by default)',
    "include_source_context": 'data_collection={"frame_context_lines": N} (5 by default, 0: none)',
    "send_default_pii": "data_collection (user_info, cookies, http_headers, http_bodies, url_query_params)",
    "event_scrubber": "data_collection (its denylist filters values by field name; jwtobs's hooks stay on)",
    "enable_tracing": "traces_sample_rate or traces_sampler",
    "profiles_sample_rate": "profile_session_sample_rate (continuous profiling)",
    "profiles_sampler": "profile_session_sample_rate (continuous profiling)",
    "propagate_traces": "trace_propagation_targets",
    "instrumenter": "removed in 3.0",
    "stream_gen_ai_spans": "removed in 3.0 (spans are always streamed)",
    "trace_ignore_status_codes": "ignore_spans",
}
_SWITCHES_3 = frozenset({"enable_logs", "enable_metrics"})


def _sdk_major() -> int | None:
    """The installed sentry-sdk's major version, None when its version does not say (ImportError without the SDK,
    ConfigurationError for an unsupported major)."""
    try:
        import sentry_sdk.consts as consts
    except ImportError as exc:
        raise ImportError(_SDK_MISSING) from exc
    version = str(getattr(consts, "VERSION", ""))
    head = version.split(".", 1)[0]
    major = int(head) if head.isdigit() else None
    if major is not None and major not in SDK_MAJORS:
        # session 35: sentry-sdk 3.0 (2026-12) removed options jwtobs passed and init() raised "TypeError: Unknown
        # option"; session 36 supports 3.x. Another major may change the options or the item model again.
        raise ConfigurationError(
            f"jwtobs.redact.sentry supports sentry-sdk 2.x and 3.x; sentry-sdk {version} is installed, whose "
            "options and item model these hooks are not written for: pip install 'sentry-sdk>=2,<4' "
            "(what jwtobs[sentry] installs)"
        )
    return major


def _accepted_options() -> frozenset[str]:
    """The option names the installed SDK's ``sentry_sdk.init`` accepts."""
    _sdk_major()
    import sentry_sdk.consts as consts

    defaults = getattr(consts, "DEFAULT_OPTIONS", None)
    if isinstance(defaults, Mapping):
        return frozenset(defaults)
    import inspect

    return frozenset(inspect.signature(consts.ClientConstructor.__init__).parameters) - {"self"}


def _check_removed(opts: dict[str, Any], experiments: dict[str, Any], accepted: frozenset[str]) -> None:
    """sentry-sdk 3.x: 2.x-only options are a ConfigurationError naming the 3.x way; ``enable_logs=True`` and
    ``enable_metrics=True`` (what 3.x does anyway) are dropped."""
    for name in _SWITCHES_3:
        if opts.get(name) is True and name not in accepted:
            del opts[name]
        if experiments.get(name) is True and name not in accepted:
            del experiments[name]
    given = sorted(n for n in REMOVED_IN_3 if n not in accepted and (n in opts or n in experiments))
    if given:
        raise ConfigurationError(
            "sentry-sdk 3.x removed " + "; ".join(f"{n} (instead: {REMOVED_IN_3[n]})" for n in given)
        )


def init_options(**options: Any) -> dict[str, Any]:
    """The keyword arguments for ``sentry_sdk.init``: ``options`` as given (``dsn``, ``send_default_pii``,
    ``enable_logs``, ``integrations``...) with every jwtobs hook wired in, composed with the user's hooks of
    the same name (the user's first). The SDK's own scrubber (``EventScrubber``, ``data_collection``) is left as
    configured.

    Option names follow the installed SDK: where it has no top-level ``before_send_log`` / ``enable_logs``
    (older 2.x), they go under ``_experiments`` (a user hook given under either name is composed).

    sentry-sdk 2.x: ``before_send``, ``before_send_transaction``, ``before_breadcrumb``, ``before_send_log``,
    ``before_send_metric``; ``before_send_span`` when span streaming is on (``trace_lifecycle="stream"``).
    sentry-sdk 3.x: ``before_send``, ``before_send_check_in``, ``before_breadcrumb``, ``before_send_log``,
    ``before_send_metric`` and ``before_send_span`` (3.x streams every span); options 3.0 removed
    (:data:`REMOVED_IN_3`) are a ConfigurationError naming the 3.x way, except ``enable_logs=True`` and
    ``enable_metrics=True``, which are dropped (3.x sends logs and metrics without a switch), so one call works with
    either major.

    sentry-sdk 3.x and 2.x with span streaming: ``transport`` (yours, given here, or the SDK's default) is wrapped
    so that the envelope header of span envelopes (the dynamic sampling context, which carries the segment span's
    name and is built outside every hook) is scrubbed too (:func:`scrub_envelope_headers`); pass ``transport`` to
    ``init_options``, not beside it.

    Raises ImportError (with the install command) when sentry-sdk is not installed, and ConfigurationError for a
    sentry-sdk major version these hooks are not written for (:data:`SDK_MAJORS`) or a 2.x option on 3.x.
    """
    accepted = _accepted_options()
    major = _sdk_major() or (2 if "before_send_transaction" in accepted else 3)  # (an unreadable version: its options)
    opts = dict(options)
    experiments = dict(opts.pop("_experiments", None) or {})
    if major >= 3:
        _check_removed(opts, experiments, accepted)

    opts["before_send"] = compose(opts.get("before_send"), before_send)
    if "before_send_transaction" in accepted:
        opts["before_send_transaction"] = compose(opts.get("before_send_transaction"), before_send_transaction)
    if "before_send_check_in" in accepted:  # 3.x; 2.x sends check-ins through before_send
        opts["before_send_check_in"] = compose(opts.get("before_send_check_in"), before_send_check_in)
    opts["before_breadcrumb"] = compose(opts.get("before_breadcrumb"), before_breadcrumb)

    wired: list[tuple[str, Hook, str | None]] = [
        ("before_send_log", before_send_log, "enable_logs"),
        ("before_send_metric", before_send_metric, "enable_metrics"),
    ]
    streaming = major >= 3 or (opts.get("trace_lifecycle") or experiments.get("trace_lifecycle")) == "stream"
    if streaming or "before_send_span" in opts or "before_send_span" in experiments:
        wired.append(("before_send_span", before_send_span, None))
    for name, hook, flag in wired:
        user = opts.pop(name, None) or experiments.pop(name, None)
        composed = compose(user, hook)
        if name in accepted:
            opts[name] = composed
        else:
            experiments[name] = composed
        if flag is not None and flag in opts and flag not in accepted:
            experiments[flag] = opts.pop(flag)
    if experiments:
        opts["_experiments"] = experiments
    if streaming:  # (3.x, and 2.x with trace_lifecycle="stream": span envelopes carry a frozen sampling context)
        opts["transport"] = _scrubbing_transport(opts.get("transport"))
    return opts


# -- envelope headers --------------------------------------------------------------------------------------------
#: Envelope header fields that hold SDK bookkeeping only (ids, times, the SDK's name): kept as they are.
_HEADER_KEEP = frozenset({"event_id", "sent_at", "sdk", "dsn"})


def scrub_envelope_headers(headers: Any) -> dict[str, Any]:
    """Scrubbed copy of an envelope's headers (a dict). ``trace``, the dynamic sampling context, carries the
    segment span's (2.x: the transaction's) name: for error events and transactions the SDK copies it from the event
    after ``before_send``/``before_send_transaction``, but span envelopes (sentry-sdk 3.x, and 2.x with
    ``trace_lifecycle="stream"``) take it from the segment span, frozen the first time anything asked for it (an
    error or log inside the span, an outgoing request, a flush), so possibly before ``before_send_span`` renamed
    the segment. When the headers cannot be scrubbed, only the SDK's bookkeeping fields (ids, times) are kept:
    Sentry then lacks the sampling context, never sees it raw. Never raises."""
    if not isinstance(headers, Mapping):
        return {}
    try:
        return {k: (v if k in _HEADER_KEEP or v is None else _WALK.entry(k, v, 1, False)) for k, v in headers.items()}
    except Exception:
        try:
            return {k: v for k, v in headers.items() if k in _HEADER_KEEP}
        except Exception:
            return {}


def _scrubbing_transport(transport: Any) -> Any:
    """``transport`` (a Transport instance or class, or None for the SDK's default) behind a Transport that scrubs
    each envelope's headers (:func:`scrub_envelope_headers`) before handing it on. The SDK's choice of transport
    is kept: a class or None is resolved by ``sentry_sdk.transport.make_transport`` when the client creates it (only
    with a DSN, as the SDK does), and the wrapper reports the wrapped transport's class (as the SDK's own
    ``_EnvelopePrinterTransport`` does), so the client's checks for async and HTTP transports still hold."""
    from sentry_sdk.transport import Transport, make_transport

    if getattr(transport, "_jwtobs_scrubs_headers", False):
        return transport  # already wrapped: init_options(**init_options(...))

    class JwtobsHeaderScrubbingTransport(Transport):
        _jwtobs_scrubs_headers = True

        def __init__(self, options: dict[str, Any] | None = None, inner: Any = None) -> None:
            Transport.__init__(self, None)
            if inner is None:
                inner = make_transport({**(options or {}), "transport": transport})
            self._inner = inner
            self.options = getattr(inner, "options", options)
            self.parsed_dsn = getattr(inner, "parsed_dsn", None)

        @property  # type: ignore[misc]
        def __class__(self) -> type:  # isinstance() sees the wrapped transport's class
            cls: type = self._inner.__class__  # (a wrapper such as the SDK's printer reports its own inner class)
            return cls

        def capture_envelope(self, envelope: Any) -> None:
            headers = getattr(envelope, "headers", None)
            if headers:
                scrubbed = scrub_envelope_headers(headers)
                if scrubbed != headers:
                    envelope.headers = scrubbed
            self._inner.capture_envelope(envelope)

        def flush(self, timeout: float, callback: Any = None) -> Any:
            return self._inner.flush(timeout, callback)

        def kill(self) -> Any:
            return self._inner.kill()

        def record_lost_event(self, *args: Any, **kwargs: Any) -> None:
            self._inner.record_lost_event(*args, **kwargs)

        def is_healthy(self) -> bool:
            return bool(self._inner.is_healthy())

        def __getattr__(self, name: str) -> Any:
            if name == "_inner":
                raise AttributeError(name)
            return getattr(self._inner, name)

    if isinstance(transport, Transport):
        return JwtobsHeaderScrubbingTransport(inner=transport)
    return JwtobsHeaderScrubbingTransport
