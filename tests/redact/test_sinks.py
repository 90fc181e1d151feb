"""The redaction sinks end to end: real structlog pipelines, real stdlib loggers and handlers, the real
OpenTelemetry SDK (TracerProvider / LoggerProvider with in-memory exporters), tokens signed with real keys.

Every test checks both sides: the credentials appear nowhere in what the sink writes, and the keyed
fingerprint (``config.current().fingerprinter.token(token)``) is there instead.
"""

from __future__ import annotations

import base64
import copy
import importlib
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

import jwtobs
from jwtobs import config, redact, telemetry
from jwtobs.integrations import install_redaction
from jwtobs.redact import FAILED, LoggingRedactor, RedactedException, Scrubber, StructlogRedactor, processors
from jwtobs.redact import patterns as p
from jwtobs.redact.otel import RedactingLogExporter, RedactingSpanExporter


# -- fixtures ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tokens:
    rs256: str
    es256: str
    eddsa: str
    hs256: str

    def all(self) -> list[str]:
        return [self.rs256, self.es256, self.eddsa, self.hs256]


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    now = int(time.time())
    claims = {"iss": "https://issuer.test", "sub": "alice", "aud": "api", "iat": now, "exp": now + 600}
    return Tokens(
        rs256=jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
        es256=jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "k-1"}),
        eddsa=jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        hs256=jwt.encode(claims, os.urandom(32), algorithm="HS256"),
    )


@pytest.fixture
def metrics() -> InMemoryMetricReader:
    reader = InMemoryMetricReader()
    jwtobs.configure(
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key=b"k" * 32,
        fingerprint_key_id="t1",
        from_env=False,
    )
    return reader


def fp(token: str) -> str:
    return config.current().fingerprinter.token(token)


def redactions(reader: InMemoryMetricReader) -> dict[tuple[str, str], int]:
    """jwtobs.redactions totals by (kind, sink)."""
    jwtobs.flush()
    out: dict[tuple[str, str], int] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name != telemetry.REDACTIONS:
                    continue
                for point in metric.data.data_points:
                    attrs = dict(point.attributes or {})
                    key = (str(attrs[telemetry.ATTR_KIND]), str(attrs[telemetry.ATTR_SINK]))
                    out[key] = out.get(key, 0) + int(point.value)
    return out


def assert_clean(text: str, secrets: list[str]) -> None:
    leaked = [s[:20] + "..." for s in secrets if s in text]
    assert leaked == [], f"credentials in output: {leaked}"


class ReprRaises:
    """A value whose repr (what renderers print) raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    __str__ = __repr__


class RaisingScrubber(Scrubber):
    """A scrubber that fails on every call (a bug in a detector, say)."""

    def text(self, text: str | bytes) -> str | bytes:
        raise RuntimeError("scrubber bug")

    def value(self, obj: Any) -> Any:
        raise RuntimeError("scrubber bug")

    def values(self, items: Any) -> dict[str, Any]:
        raise RuntimeError("scrubber bug")


# -- the processors' fast path agrees with the scrubber -------------------------------------------------------
FORMS = [
    "Authorization: Bearer opaque-0123456789abcdef",
    "bearer abcdefghijklmnop0123",
    "Basic dXNlcjpwYXNzd29yZA==",
    "DPoP abcdefghijklmnop0123",
    "Cookie: sid=0123456789abcdef",
    "GET /cb?code=abc123def456&state=x",
    "/cb%3Faccess_token%3Dabcdef0123456789",
    "postgres://app:s3cr3t-pw@db:5432/x",
    "password: hunter2-hunter2",
    "x-api-key ak_live_0123456789abcdef",
    "client_secret=cs-9f8e7d6c5b4a",
    "2026-11-29T01:52:00.123Z",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "com.example.auth.TokenService",
    # vendor key shapes without trigger characters: if the scrubber ever learns them, the fast path must too
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefABCDEF0123456789abcd",
    "sk_live_0123456789abcdefghijklmn",
    "xoxb-1234567890-0987654321-abcdefABCDEF",
    "AIzaSyA-0123456789abcdefghijklmnopqrstu",
    # XML elements need no separator character (the fast path once called them clean: a leak-sample probe)
    "<datasource><user>app</user><password>I0Q9f208UGYteN</password></datasource>",
    "<pin>8861</pin>",
    # a token stored base64-encoded has neither "." nor "eyJ" (nor any other trigger character)
    base64.b64encode(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl").decode().rstrip("="),
]


def test_fast_path_agrees_with_scrubber(tokens: Tokens) -> None:
    """StructlogRedactor skips strings the scrubber cannot change (no trigger character, or only timestamp and
    number characters): for every form, the processor's output equals the scrubber's own."""
    processor = StructlogRedactor()
    forms = [*FORMS, *tokens.all(), *(f"x {t} y" for t in tokens.all())]
    logging_redactor = LoggingRedactor()
    for form in forms:
        out = processor(None, "info", {"msg": form})
        assert out["msg"] == redact.scrub(form), form
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (form,), None)
        logging_redactor.filter(record)
        assert record.getMessage() == redact.scrub(form), form


FRAGMENTS = ["bearer", "Basic", "DPoP", " ", "\t", "abcdefghij", "0123456789", "T", "Z", ":", ".", ",", "-", "+",
             "=", "%3D", "token", "eyJ", "e30", "/", "@", "://", "?", "&", "code", "Authorization", "cookie",
             # the gate of patterns.may_hold_secret: words, vendor prefixes, command lines, XML, JOSE pieces
             "ghp_", "AKIA", "sk-proj-", "xoxb-", "SG.", "hooks.slack.com/services/", "ABCDEFGHIJKLMNOP234567",
             "--password ", "sshpass -p ", "mysql -p", "</", "<password>", "secret", "key", "sid", "pass", "auth",
             "jwt", "sig", "sess", "pwd", "assertion", "credential", "ewogICJhbGciOiJIUzI1NiJ9", "%2E", "\\u0026",
             "K", "\u0130", "\u212a", "ZXlK", "V5S", "leU", "ZXdv",
             "ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlKemRXSWlPaUo0SW4wLmMybG5ibUYwZFhKbExYWmhiSFZs"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text(max_size=40))
def test_quiet_strings_hold_nothing(text: str) -> None:
    """What the processors skip without scrubbing is exactly what the scrubber would leave unchanged."""
    if processors._quiet(text):
        assert redact.scrub(text) == text
    if not p.may_hold_secret(text):
        assert redact.scrub(text) == text
    if processors.RedactorCore("test")._gated(text):  # (its one-match shortcut for common shapes first)
        assert redact.scrub(text) == text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([*FRAGMENTS, "\u2003", "\x1c", "\n", "%", "="]), max_size=6).map("".join)
       | st.text(max_size=20))
def test_short_strings_found_clean_by_one_search_are_trivial(text: str) -> None:
    """RedactorCore.items reads a string shorter than VENDOR_MIN_LEN with one search (processors._SHORT_BAD)
    before _TRIVIAL's fullmatch: what that search finds clean is what _TRIVIAL's last form accepts, and the
    scrubber leaves it unchanged."""
    short = len(text) < p.VENDOR_MIN_LEN
    if short and processors._SHORT_BAD(text) is None:
        assert processors._TRIVIAL(text) is not None, text
        assert redact.scrub(text) == text
    last_form = re.fullmatch(r"[^.:=,%\s<]*", text) is not None
    assert (short and processors._SHORT_BAD(text) is None) == (short and last_form), text


def test_hex_ids_hold_no_gate_word_or_vendor_prefix() -> None:
    """The processors skip strings made of processors._HEX_ID characters (UUIDs, hex ids, dates) before any
    search: every gate word and vendor prefix needs another character ("--" needs a blank after it)."""
    for word in (*p.GATE_WORDS, *p.VENDOR_PREFIXES):
        assert word.strip(processors._HEX_ID) or word == "--", word
    for text in ("0b5c7b1e-1f2a-4c3d-9e8f-a1b2c3d4e5f6", "2026-12-01", "deadbeef" * 8, "--"):
        assert processors.StructlogRedactor()(None, "info", {"x": text})["x"] == redact.scrub(text) == text


def test_gate_lets_every_form_through(tokens: Tokens) -> None:
    """patterns.may_hold_secret, the processors' check before the scrubber's full pass, says "may" for every
    form the scrubber redacts (alone and inside other text)."""
    for form in [*FORMS, *tokens.all()]:
        for text in (form, f"GET /a?q=1&page=2 {form} ua=Mozilla/5.0", f"{form}&ts=1733040000"):
            if redact.scrub(text) != text:
                assert p.may_hold_secret(text), text



_LONG = "GET /api/v1/search?q=shoes+5&page=5 200 ua=Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 request="


def test_hyperscan_gate_says_may_wherever_re_does(tokens: Tokens) -> None:
    """The Hyperscan automaton of patterns.may_hold_secret (ASCII text of HS_MIN_LEN characters or more) says
    "may" for every text the ``re`` gate does and for every text the scrubber changes: the forms inside long
    lines and generated text of fragments, words cut and glued, at every length around HS_MIN_LEN."""
    import random

    gate = p.hyperscan_gate()
    if gate is None:
        pytest.skip("hyperscan is not installed (the scan extra)")
    texts = [f"{_LONG}{form}" for form in [*FORMS, *tokens.all()]]
    texts += [f"{form} {_LONG}" for form in FORMS]
    rng = random.Random(17)
    ascii_fragments = [f for f in FRAGMENTS if f.isascii()]
    words = [*p.GATE_WORDS, *p.VENDOR_PREFIXES, "://", "@", "eyJhbGciOi.", "ewogICJh%2E"]
    for _ in range(20000):
        s = "".join(rng.choice(ascii_fragments) for _ in range(rng.randint(0, 12)))
        w = rng.choice(words)
        cut = w[: rng.randint(0, len(w))] if rng.random() < 0.5 else w
        s = s[: rng.randint(0, len(s))] + (cut.upper() if rng.random() < 0.2 else cut) + s
        texts.append((_LONG[: rng.randint(0, len(_LONG))] + s)[: rng.randint(p.HS_MIN_LEN - 4, 200)])
    for text in texts:
        hit = gate.may_hold(text)
        assert hit is not None, text
        if p.may_hold_secret_re(text):
            assert hit, text
        if not hit:
            assert redact.scrub(text) == text, text
            assert not p.may_hold_secret(text), text


def test_hyperscan_gate_is_thread_safe() -> None:
    """One scratch space per thread (the scan releases the GIL): four threads scanning at once agree with the
    ``re`` gate on every text."""
    import threading

    gate = p.hyperscan_gate()
    if gate is None:
        pytest.skip("hyperscan is not installed (the scan extra)")
    texts = [_LONG * 3 + suffix for suffix in ("", "token=abc", "x" * 50, "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln")]
    expected = [p.may_hold_secret_re(t) for t in texts]
    errors: list[str] = []

    def work() -> None:
        for _ in range(2000):
            for text, want in zip(texts, expected, strict=True):
                if gate.may_hold(text) is not want:
                    errors.append(text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_hyperscan_gate_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """JWTOBS_REDACT_HYPERSCAN=0 keeps the gate on ``re`` (same answers)."""
    monkeypatch.setattr(p, "_HS_GATE", [])
    monkeypatch.setenv("JWTOBS_REDACT_HYPERSCAN", "0")
    assert p.hyperscan_gate() is None
    assert p.may_hold_secret(_LONG + "token=abc") and not p.may_hold_secret(_LONG + "x")



def test_bearer_jose_shortcut_equals_the_full_pass(tokens: Tokens) -> None:
    """A text that is one JWS/JWE (alone or after "Bearer ") gets its marker without the scrubber's full pass:
    the same text and the same counts as the full pass; anything else takes the full pass."""
    scrub_module = sys.modules["jwtobs.redact.scrub"]
    jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVydGV4dA.dGFn"
    texts = []
    for t in [*tokens.all(), jwe, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."]:
        texts += [t, f"Bearer {t}", f"bearer {t}", t.replace(".", "%2E"), f"Bearer {t}=", f"Bearer {t}key="]
        texts += [f"BEARER {t}", f"Bearer  {t}", f"Bearer {t} x", f"x {t}", f"Bearer {t}.", t.rsplit(".", 1)[0]]
    texts += ["eyebrows.are.nice", "example.com.au.x", "Bearer example.a.b", "ewok1234.a.b"]
    for text in texts:
        fast, full = scrub_module._Pass(), scrub_module._Pass()
        out = fast.text(text)
        expected = full._text(text)
        if expected is not text and not full.jose_only and expected != text:
            expected = full._text(expected)
        assert out == expected, text
        assert fast.counts == full.counts, text
    assert scrub_module._Pass()._bearer_jose(f"Bearer {tokens.rs256}") is not None
    assert scrub_module._Pass()._bearer_jose(f"Bearer {tokens.rs256} x") is None
    # the same shortcut for secret-named keys and headers (structlog's authorization=..., header tuples)
    names = ("authorization", "Authorization", "x-api-key", "token", "access_token", "dpop", "cookie", "set-cookie")
    for name in names:
        for text in texts:
            fast, full = scrub_module._Pass(), scrub_module._Pass()
            kind = p.header_kind(name) or p.SECRET_FIELD
            expected = full.header_value(kind, name, text)
            assert fast._named(kind, name, text, 0) == expected, (name, text)
            assert fast.counts == full.counts, (name, text)



# -- the stdlib token-argument route (LoggingRedactor._token_argument) -------------------------------------------
_ROUTE_LABELS = ("", "auth=", "auth:", "Authorization: ", "authorization=", "Proxy-Authorization: ", "token=", "token ",
                 "token: ", "access_token=", "id_token:", "password=", "password: ", "passwd=", "secret=", "api_key=",
                 "x-api-key: ", "X-Auth-Token: ", "jwt=", "JWT ", "bearer=", "Bearer ", "bearer ", "Basic ", "DPoP: ",
                 "dpop=", "cookie=", "Cookie: ", "set-cookie=", "session=", "sessionid=", "sid=", "code=", "key=",
                 "sig=", "signature=", "assertion=", "credential=", "pass=", "pwd=", "sshpass", "mysql", "curl",
                 "redis-cli", "user=", "header.authorization=", "a.b.c=", "client_secret=", "private_key:", "ghp_",
                 "AKIA", "eyJhbGciOiJIUzI1NiJ9=", "--token=", "-p", "x", "prompt_tokens=", "token_fp=", "q=")


def _route_contexts() -> list[str]:
    """Clean and dirty text around the token: our own clean lines, every 40th real log line, the forms above."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_redact

    own = (Path(__file__).with_name("data") / "clean_other.log").read_text(encoding="utf-8").splitlines()
    real = [line for lines in bench_redact.corpus_lines().values() for line in lines[::80]]
    return [*own[:: max(1, len(own) // 150)], *real, *FORMS, _LONG, "", "x", "-p", "--", "a=", ":", "</b>", "%", "]"]


def _general_route(fmt: str, args: tuple[Any, ...]) -> logging.LogRecord:
    redactor = LoggingRedactor()
    redactor._token_argument = lambda *a: None  # type: ignore[method-assign]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, fmt, args, None)
    redactor.filter(record)
    return record


def test_token_argument_route_equals_the_detector_pass(tokens: Tokens) -> None:
    """A record whose one token argument ("Bearer <JWS>" or a JWS alone) is marked and whose rebuilt message is
    proven clean without the detector pass: for every label before it (secret names, header names, scheme words,
    command names, vendor prefixes...), every context (real and own clean lines, every form) in the format string
    and as arguments, the record equals the one the general route makes (the detector pass over the rebuilt
    message), and every message proven clean is one the full scrubber leaves as it is."""
    contexts = _route_contexts()
    jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVydGV4dA.dGFn"
    values = [f"Bearer {tokens.rs256}", tokens.es256, f"bearer {tokens.hs256}", jwe, f"Bearer {tokens.eddsa}="]
    redactor = LoggingRedactor()
    proven = cases = ended = 0
    labels = _ROUTE_LABELS
    for j, before in enumerate(contexts):
        for i in (j % len(labels), (j * 7 + 3) % len(labels), (j * 13 + 5) % len(labels)):
            label = labels[i]
            after = contexts[(j * 7 + i) % len(contexts)]
            value = values[(i + j) % len(values)]
            escaped = before.replace("%", "%%"), after.replace("%", "%%")
            for fmt, args in (
                (f"{escaped[0]} {label}%s {escaped[1]}", (value,)),
                (f"%s {label}%s %s", (before, value, after)),
                (f"%s - %d {label}%s", (before, j, value)),
                (f"{label}%s", (value,)),
                (f"{escaped[0]} {label}%s", (value,)),
                (f"%s {label}%s{escaped[1][:3]}", (before, value)),
            ):
                cases += 1
                marked = redactor._token_argument(fmt, args)
                if marked is not None and marked[1]:
                    proven += 1
                    candidate = fmt % marked[0]
                    assert redact.scrub(candidate) == candidate, (fmt, args)
                    assert marked[2] is None or marked[2] == candidate, (fmt, args)  # (the message handed over)
                    ended += marked[2] is not None
                    assert not any(t in candidate for t in tokens.all())
                record = logging.LogRecord("x", logging.INFO, __file__, 1, fmt, args, None)
                LoggingRedactor().filter(record)
                general = _general_route(fmt, args)
                assert (record.msg, record.args) == (general.msg, general.args), (fmt, args)
    assert proven > cases // 10 and ended > cases // 20  # (the route does prove records clean)


def test_token_argument_route_window_ignores_the_fingerprint_digits(tokens: Tokens) -> None:
    """The route remembers a window's verdict with the marker's 12 hex digits written as 0: the verdict is the
    same for any digits (no gate word is made of hex digits; a vendor key inside a marker is left alone)."""
    import random

    rng = random.Random(3)
    for label in _ROUTE_LABELS:
        for prefix in ("", "Bearer ", "bearer "):
            for key_id in ("t1", "glrt", "xoxb", "auth", "sid0", "code", "abcdef0123456789"):
                verdicts = set()
                for _ in range(40):
                    digits = "".join(rng.choice("0123456789abcdef") for _ in range(12))
                    window = f" {label}{prefix}[REDACTED:jwt:{key_id}-{digits}] "
                    verdicts.add(redact.scrub(window) == window)
                window = f" {label}{prefix}[REDACTED:jwt:{key_id}-000000000000] "
                assert verdicts == {redact.scrub(window) == window}, (label, prefix, key_id)
    for word in (*p.GATE_WORDS, *p.VENDOR_PREFIXES):  # (vendor keys are matched case-sensitively: "ACCA")
        assert word.strip("0123456789abcdef"), word


def test_token_argument_route_counts_and_marks_like_the_scrubber(tokens: Tokens, metrics: InMemoryMetricReader) -> None:
    """One jwt redaction counted per record, the marker's fingerprint is the token's, and a record the route
    cannot prove clean (a secret elsewhere in the message) is scrubbed whole, its token counted once."""
    redactor = LoggingRedactor()
    fmt = "%s - %s %s -> %d in %.1f ms ua=%s request=%s auth=%s"
    args = ("10.0.0.1", "GET", "/api/v1/search?q=shoes&page=2", 200, 1.5, "curl/8.4.0", "0b5c7b1e-1f2a-4c3d-9e8f")
    for _ in range(3):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, fmt, (*args, f"Bearer {tokens.rs256}"), None)
        redactor.filter(record)
        assert record.msg is fmt and record.args[:-1] == args
        assert record.args[-1] == f"Bearer [REDACTED:jwt:{fp(tokens.rs256)}]"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, fmt + " password=%s", (*args, tokens.es256, "hunter2-x"),
                               None)
    redactor.filter(record)
    assert "hunter2-x" not in record.getMessage() and fp(tokens.es256) in record.getMessage()
    assert redactions(metrics) == {("jwt", "logging"): 4, ("secret_field", "logging"): 1}


class _KeyByKey(processors.RedactorCore):
    """A core without the joined check."""

    __slots__ = ()

    def _layout(self, keys: Any, values: Any) -> None:
        return None


def test_joined_gate_equals_key_by_key(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    """RedactorCore.items checks the string values of an event of 8+ keys as one NUL-joined text: for generated
    events (real and own clean lines, every form, tokens, numbers, None, containers, secret-named keys, values
    changing type between events of one layout) the result equals the key-by-key check of a fresh core."""
    import random

    rng = random.Random(11)
    contexts = _route_contexts()
    values: list[Any] = [*contexts, *tokens.all(), f"Bearer {tokens.rs256}", 7, 2.5, None, True, {"password": "x1"}]
    values += ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 8))) for _ in range(300)]
    names = ["event", "level", "path", "status", "user_agent", "client_ip", "request_id", "user_id", "route", "bytes",
             "msg", "authorization", "password", "session", "token_fp", "prompt_tokens", "cookie", "x-api-key"]
    core = processors.RedactorCore("test")
    joined: list[str] = []
    may_hold = p.HyperscanGate.may_hold

    def counted(self: p.HyperscanGate, text: str) -> bool | None:
        hit = may_hold(self, text)
        if "\x00" in text and hit is False:
            joined.append(text)
        return hit

    monkeypatch.setattr(p.HyperscanGate, "may_hold", counted)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_redact

    rids = [f"7c9e6679-7425-40de-944b-e07fc1f9{i:04x}" for i in range(64)]
    for n in range(4000):
        keys = names[:8] + rng.sample(names[8:], rng.randint(0, 6))  # (8 keys or more: the joined check)
        access = list(bench_redact.access_fields(n, rids).values())
        event = {k: rng.choice(values) if rng.random() < 0.05 else access[i % 10] for i, k in enumerate(keys)}
        expected = _KeyByKey("test").items(event)
        assert core.items(event) == expected, event
    assert len(joined) > 200 or p.hyperscan_gate() is None  # (events proven clean by the joined check)


def test_format_plan_reads_printf_conversions() -> None:
    plan = processors._format_plan("%s - %5.1f%% ua=%s auth=%s")
    assert plan is not None and plan[0] == (1,) and plan[2] == 4
    assert plan[1][0] == ("", " - %5.1f%% ua=%s auth=%s", " ")
    assert plan[1][1] is None and plan[1][2] == (" ua=", "%s - %5.1f%%  auth=%s", " ")
    assert plan[1][3] == (" auth=", "%s - %5.1f%% ua=%s ", "")
    assert processors._format_plan("%(a)s %s") is None and processors._format_plan("%*d") is None
    assert processors._format_plan("100%") is None and processors._format_plan("") == ((), (), 0, [])
    assert processors._format_plan("100% done") == ((0,), (None,), 1, [{}])  # ("% d": a conversion, as for %)
    two = processors._format_plan("%s: %s 50%% done")
    assert two is not None and two[1][1] == (" ", "%s:  50%% done", " ")


def test_query_param_search_finds_what_the_alternation_finds() -> None:
    """patterns.QUERY_PARAM starts with one character class (so the engine skips to candidate positions): the
    same matches as the plain alternation of separators it replaced, on generated text."""
    import random
    import re

    plain = re.compile(
        r"(?:[?&#;]|%(?:3f|26|23|3b)|\\u00(?:26|3f|23))(?:amp;)?(?P<name>" + p._QUERY_NAMES + r")(?:=|%3d)"
        + p._QUERY_VALUE
    )
    rng = random.Random(5)
    pieces = ["?", "&", "#", ";", "%", "\\", "u00", "26", "3f", "23", "3b", "3d", "amp;", "token", "code", "sig", "="]
    for _ in range(20000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        found = [(m.span(), m.group("name")) for m in p.QUERY_PARAM.finditer(s)]
        assert found == [(m.span(), m.group("name")) for m in plain.finditer(s)], s



_DIGIT_FRAGMENTS = ["sk-ant-api03-", "sk-ant-admin01-", "dop_v1_", "SWMTKN-1-", "pypi-AgEIcHlwaS5vcmc", "0", "7", "42",
                    "AKIA", "ABCDEFGHIJKLMNOP2345", "eyJhbGciOiJIUzI1NiJ9", "e30", "ew0K"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS + _DIGIT_FRAGMENTS), max_size=12).map("".join),
    st.lists(st.sampled_from("0123456789"), min_size=1, max_size=8),
)
def test_texts_that_differ_only_in_digits_get_the_same_answer(text: str, digits: list[str]) -> None:
    """RedactorCore remembers clean texts by their shape (digits written as 0): a text whose shape was found clean
    is clean whatever its digits (also vendor prefixes that hold digits, sk-ant-api03-, dop_v1_...)."""
    core = processors.RedactorCore("test")
    variants = [text, *("".join(digits[i % len(digits)] if c.isdigit() else c for i, c in enumerate(text)),)]
    variants.append("".join("0" if c.isdigit() else c for c in text))
    for first in variants:
        core._gated(first)
        for other in variants:
            if core._gated(other):
                assert redact.scrub(other) == other, (first, other)


def test_a_clean_shape_never_hides_a_vendor_key_with_other_digits() -> None:
    body = "A" * 40
    for clean, key in (
        ("sk-ant-api00-" + body, "sk-ant-api03-" + body),
        ("dop_v0_" + "a" * 64, "dop_v1_" + "a" * 64),
        ("SWMTKN-0-" + "a" * 50 + "-" + "b" * 25, "SWMTKN-1-" + "a" * 50 + "-" + "b" * 25),
    ):
        processor = StructlogRedactor()
        assert processor(None, "info", {"v": clean})["v"] == redact.scrub(clean)
        assert processor(None, "info", {"v": key})["v"] == redact.scrub(key) != key



@pytest.fixture(scope="module")
def trigger_gate() -> Any:
    gate = processors._TriggerGate()
    if p.hyperscan_gate() is None:
        pytest.skip("hyperscan is not installed (the scan extra)")
    gate._started = True
    gate._build()  # (the redactors build theirs in a background thread)
    assert gate("x" * 80) is False
    return gate


def test_trigger_gate_never_calls_a_leaking_line_clean(trigger_gate: Any, tokens: Tokens) -> None:
    """The redactors' second check (the scanner's trigger expressions, one ASCII line): every text the scrubber
    changes is a "may" (or unknown), for every form in several line contexts, every real log line, and generated
    lines of fragments; the gate words alone send 30-90 % of some real logs to the detector pass."""
    import random

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_redact

    texts = [line for lines in bench_redact.corpus_lines().values() for line in lines]
    contexts = ("{} " + _LONG, _LONG + "{}", "sshd[24200]: Failed password for {} from 10.0.0.1 port 22", "a={}&b=2 ")
    for form in [*FORMS, *tokens.all()]:
        texts += [c.format(form) for c in contexts]
    rng = random.Random(23)
    ascii_fragments = [f for f in FRAGMENTS if f.isascii()]
    for _ in range(20000):
        tail = "".join(rng.choice(ascii_fragments) for _ in range(rng.randint(1, 14)))
        texts.append(_LONG[: rng.randint(0, 40)] + tail)
    clean_by_trigger = 0
    for text in texts:
        if "\n" in text or not text.isascii():
            assert trigger_gate(text) is None
            continue
        if trigger_gate(text) is False:
            clean_by_trigger += 1
            assert redact.scrub(text) == text, text
    assert clean_by_trigger > 1000  # (the check does prove lines clean)
    assert trigger_gate("password:\nhunter2") is None  # one line only


def test_trigger_gate_leaves_tokens_and_markers_to_the_detector_pass(trigger_gate: Any, tokens: Tokens) -> None:
    """"eyJ" and a marker are literals of the trigger pass: a line holding one is never called clean by it (the
    filter's clean path relies on this instead of searching the message for them first)."""
    marker = f"[REDACTED:jwt:{fp(tokens.rs256)}]"
    for text in (tokens.rs256, f"{_LONG} eyJ", f"{_LONG}{marker}", f"{marker} {_LONG}", "eyJ"):
        assert trigger_gate(text) is True, text
    assert trigger_gate(f"{_LONG} eyj EYJ [REDACTED]") is False


def test_line_check_never_calls_a_leaking_line_clean(trigger_gate: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:  # fmt: skip
    """LoggingRedactor's first check of a formatted message (RedactorCore.line_clean: the trigger check, or the
    gate where that does not read the text): a line it calls clean is one the scrubber leaves as it is, for every
    form in line contexts, real and own clean lines and generated lines; with the trigger check not built yet
    the gate decides."""
    import random

    monkeypatch.setattr(processors, "_trigger_gate", trigger_gate)
    core = processors.RedactorCore("test")
    texts = _route_contexts()
    for form in [*FORMS, *tokens.all()]:
        texts += [f"{form} {_LONG}", f"{_LONG}{form}", f"{_LONG}\n{form}", f"{_LONG} é {form}"]
    rng = random.Random(29)
    for _ in range(5000):
        texts.append(_LONG[: rng.randint(20, 90)] + "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))))
    proven = 0
    for text in texts:
        if core.line_clean(text):
            proven += 1
            assert redact.scrub(text) == text, text
    unbuilt = processors._TriggerGate()
    unbuilt._started = True  # (never built: the gate decides)
    monkeypatch.setattr(processors, "_trigger_gate", unbuilt)
    for text in texts:
        if core.line_clean(text):
            assert redact.scrub(text) == text and not p.may_hold_secret(text), text
    assert proven > 1000


# -- structlog --------------------------------------------------------------------------------------------------
@pytest.fixture
def structlog_out() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            StructlogRedactor(),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(buf),
        cache_logger_on_first_use=False,
    )
    yield buf
    structlog.reset_defaults()


def test_structlog_json_pipeline(structlog_out: io.StringIO, tokens: Tokens, metrics: InMemoryMetricReader) -> None:
    log = structlog.get_logger("api")
    headers = {"Authorization": f"Bearer {tokens.rs256}", "Accept": "application/json"}
    header_list = [(b"authorization", f"DPoP {tokens.es256}".encode()), (b"x-request-id", b"5f0c2b7e")]
    nested = {"upstream": {"url": f"https://api.test/cb?code=abc123&access_token={tokens.eddsa}"}, "n": 3}
    snapshot = copy.deepcopy((headers, header_list, nested))
    log.info(f"calling upstream with {tokens.hs256}", headers=headers, raw_headers=header_list, ctx=nested,
             password="hunter2-hunter2", retries=2, ok=True)
    assert (headers, header_list, nested) == snapshot, "the caller's objects are never mutated"

    line = json.loads(structlog_out.getvalue().splitlines()[-1])
    text = json.dumps(line)
    assert_clean(text, [*tokens.all(), "hunter2-hunter2"])
    for token in (tokens.rs256, tokens.es256, tokens.eddsa, tokens.hs256):
        assert fp(token) in text
    assert line["retries"] == 2 and line["ok"] is True and line["level"] == "info"
    assert line["headers"]["Accept"] == "application/json"
    assert line["password"].startswith("[REDACTED:secret_field:")
    counts = redactions(metrics)
    assert counts.get(("jwt", "structlog"), 0) >= 3
    assert counts.get(("secret_field", "structlog"), 0) >= 1


def test_structlog_exception_and_stack(
    structlog_out: io.StringIO, tokens: Tokens, metrics: InMemoryMetricReader
) -> None:
    log = structlog.get_logger()
    try:
        raise PermissionError(f"upstream refused Authorization: Bearer {tokens.rs256}")
    except PermissionError:
        log.exception("call failed", stack_info=True)
    line = json.loads(structlog_out.getvalue())
    assert "Traceback (most recent call last)" in line["exception"]
    assert "PermissionError: upstream refused Authorization: Bearer [REDACTED:jwt:" in line["exception"]
    assert "stack" in line
    assert_clean(json.dumps(line), tokens.all())
    assert fp(tokens.rs256) in line["exception"]


def test_structlog_exc_info_without_format_exc_info(tokens: Tokens, metrics: InMemoryMetricReader) -> None:
    """Misordered chain (no format_exc_info before the redactor): a traceback holding a token is rendered and
    scrubbed by the redactor instead of reaching the renderer raw."""
    buf = io.StringIO()
    structlog.configure(
        processors=[StructlogRedactor(), structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(buf),
        cache_logger_on_first_use=False,
    )
    try:
        try:
            raise ValueError(f"bad token {tokens.es256}")
        except ValueError:
            structlog.get_logger().error("failed", exc_info=True)
        line = json.loads(buf.getvalue())
    finally:
        structlog.reset_defaults()
    assert "exc_info" not in line
    assert f"ValueError: bad token [REDACTED:jwt:{fp(tokens.es256)}]" in line["exception"]
    assert_clean(buf.getvalue(), tokens.all())


def test_structlog_console_renderer_never_sees_the_live_exception(tokens: Tokens) -> None:
    """A dev chain without format_exc_info: ConsoleRenderer's exception formatter (rich shows frame locals)
    gets the scrubbed rendered traceback, never the exception, even when its message is clean."""
    buf = io.StringIO()
    seen: list[set[str]] = []

    def spy(logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        seen.append(set(event_dict))
        return event_dict

    structlog.configure(
        processors=[StructlogRedactor(), spy, structlog.dev.ConsoleRenderer(colors=False)],
        logger_factory=structlog.WriteLoggerFactory(buf),
        cache_logger_on_first_use=False,
    )

    def call_upstream() -> None:
        token = tokens.rs256  # a frame local that a locals-showing formatter would print
        raise TimeoutError(f"upstream timed out after {len(token)} bytes")

    try:
        try:
            call_upstream()
        except TimeoutError:
            structlog.get_logger().exception("failed")
    finally:
        structlog.reset_defaults()
    out = buf.getvalue()
    assert seen == [{"event", "exception"}], "the renderer gets the rendered text, not exc_info"
    assert "TimeoutError: upstream timed out" in out and "call_upstream" in out
    assert_clean(out, tokens.all())


def test_structlog_clean_event_is_passed_through(metrics: InMemoryMetricReader) -> None:
    processor = StructlogRedactor()
    event = {"event": "request handled", "path": "/api/items", "status": 200, "duration_ms": 12.5,
             "timestamp": "2026-11-29T01:52:00.123Z", "request_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}
    snapshot = dict(event)
    for _ in range(3):  # the second pass is served by the caches
        assert processor(None, "info", event) is event
    assert event == snapshot
    assert redactions(metrics) == {}


def test_structlog_fail_closed(structlog_out: io.StringIO, tokens: Tokens) -> None:
    log = structlog.get_logger()
    log.info("odd value", thing=ReprRaises(), token_fp="t1-000000000000", note=f"with {tokens.rs256}")
    line = json.loads(structlog_out.getvalue())
    assert line["thing"] == FAILED
    assert line["token_fp"] == "t1-000000000000"  # a fingerprint field is not a secret
    assert "[REDACTED:jwt:" in line["note"]

    # a scrubber that raises: every value it touched is withheld, nothing raises, the event is still written
    broken = StructlogRedactor(scrubber=RaisingScrubber("structlog"))
    event = {"event": f"token {tokens.rs256}", "password": "pw-123456", "n": 1, "ok": "fine, thanks", "id": "u-1"}
    out = broken(None, "info", event)
    assert out["event"] == FAILED and out["password"] == FAILED and out["ok"] == FAILED
    # numbers and strings that cannot hold a credential (no trigger character) never reach the scrubber
    assert out["n"] == 1 and out["id"] == "u-1"
    assert_clean(json.dumps(out), [tokens.rs256, "pw-123456"])


def test_structlog_internal_error_fails_closed(
    structlog_out: io.StringIO, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error inside the scrubbing engine itself (every detector pass raises)."""
    scrub_module = sys.modules["jwtobs.redact.scrub"]  # (jwtobs.redact.scrub is also the function's name)
    def boom(self: Any, s: str) -> str:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(scrub_module._Pass, "text", boom)
    structlog.get_logger().info(f"token {tokens.rs256}", extra=f"x {tokens.hs256}")
    line = json.loads(structlog_out.getvalue())
    assert line["event"] == FAILED and line["extra"] == FAILED
    assert_clean(structlog_out.getvalue(), tokens.all())


# -- stdlib logging ---------------------------------------------------------------------------------------------
@pytest.fixture
def stdlib() -> Iterator[tuple[logging.Logger, io.StringIO, LoggingRedactor]]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    redactor = LoggingRedactor()
    handler.addFilter(redactor)
    logger = logging.getLogger("tests.redact.sinks")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, buf, redactor
    logger.handlers.clear()
    logger.propagate = True


def test_logging_percent_args(stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens,
                              metrics: InMemoryMetricReader) -> None:
    logger, buf, _ = stdlib
    logger.info("upstream said %s for %r", f"Authorization: Bearer {tokens.rs256}", {"cookie": "sid=s3cr3t-cookie-v"})
    logger.warning("%(who)s sent %(tok)s", {"who": "client-1", "tok": tokens.es256})
    logger.warning("Authorization: %s", "opaque-0123456789abcdef")  # secret only in template + arg together
    logger.info("%s: %s", "X-Api-Key", "ak_live_0123456789abcdef")
    text = buf.getvalue()
    assert_clean(text, [tokens.rs256, tokens.es256, "s3cr3t-cookie-v", "opaque-0123456789abcdef",
                        "ak_live_0123456789abcdef"])
    assert fp(tokens.rs256) in text and fp(tokens.es256) in text
    assert "client-1 sent [REDACTED:jwt:" in text
    assert f"Authorization: [REDACTED:authorization:{fp('opaque-0123456789abcdef')}]" in text
    counts = redactions(metrics)
    assert counts.get(("jwt", "logging"), 0) >= 2 and counts.get(("cookie", "logging"), 0) >= 1


def test_logging_keeps_args_when_scrubbed_args_suffice(
    stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens
) -> None:
    """Formatters that read record.args (uvicorn's access log) keep working: the args are scrubbed copies."""
    from uvicorn.logging import AccessFormatter

    logger, buf, _ = stdlib
    logger.handlers[0].setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s',
                                                    use_colors=False))
    path = f"/items?access_token={tokens.hs256}&page=2"
    args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
    logger.info('%s - "%s %s HTTP/%s" %d', *args)
    line = buf.getvalue()
    assert line.startswith('127.0.0.1:5000 - "GET /items?access_token=[REDACTED:')
    assert line.rstrip().endswith('&page=2 HTTP/1.1" 200 OK')
    assert fp(tokens.hs256) in line
    assert_clean(line, [tokens.hs256])


def test_logging_object_args_are_not_formatted_again(
    stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens
) -> None:
    """When the message held a credential, object arguments are not kept for a second formatting (their
    __str__ may say something else the next time): the scrubbed message is stored instead."""
    logger, buf, _ = stdlib

    class Rotating:
        def __init__(self) -> None:
            self.calls = 0

        def __repr__(self) -> str:
            return "Rotating()"

        def __str__(self) -> str:
            self.calls += 1
            return "client-1" if self.calls <= 2 else f"client {tokens.hs256}"

    logger.info("Authorization: Bearer %s from %s", tokens.rs256, Rotating())
    assert_clean(buf.getvalue(), tokens.all())
    assert fp(tokens.rs256) in buf.getvalue()


def test_logging_clean_record_untouched(stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor]) -> None:
    _, _, redactor = stdlib
    args = ("/api/items", 200, 12.5)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s -> %d in %.1f ms", args, None)
    before = dict(record.__dict__)
    assert redactor.filter(record) is True
    assert record.__dict__ == before and record.args is args


def test_logging_exception_exc_text_and_stack(
    stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens
) -> None:
    logger, buf, redactor = stdlib
    try:
        raise ConnectionError(f"refused {tokens.eddsa}")
    except ConnectionError:
        logger.exception("upstream failed")
    text = buf.getvalue()
    assert f"ConnectionError: refused [REDACTED:jwt:{fp(tokens.eddsa)}]" in text
    assert "Traceback (most recent call last)" in text
    assert_clean(text, tokens.all())

    # exc_info replaced for handlers that render it themselves; exc_text already rendered by an earlier handler
    try:
        raise ValueError(f"bad {tokens.rs256}")
    except ValueError:
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.exc_text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    record.stack_info = f'Stack (most recent call last):\n  File "x.py", line 1\n    call("{tokens.hs256}")'
    redactor.filter(record)
    assert record.exc_info is not None and record.exc_info[0] is RedactedException
    assert str(record.exc_info[1]) == f"ValueError: bad [REDACTED:jwt:{fp(tokens.rs256)}]"
    assert_clean(f"{record.exc_text}\n{record.stack_info}", tokens.all())
    assert fp(tokens.hs256) in str(record.stack_info)
    rendered = logging.Formatter("%(message)s").format(record)
    assert "Traceback" in rendered and fp(tokens.rs256) in rendered
    assert_clean(rendered, tokens.all())


def test_logging_into_opentelemetry_handler(tokens: Tokens) -> None:
    """OpenTelemetry's LoggingHandler renders record.exc_info itself (exception.message / .stacktrace): with the
    filter on it, it sees the RedactedException stand-in, never the original exception."""
    import warnings

    from opentelemetry.sdk._logs import LoggingHandler

    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(inner))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.otelhandler")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        try:
            raise PermissionError(f"refused Bearer {tokens.es256}")
        except PermissionError:
            logger.exception("call with %s failed", f"Authorization: Bearer {tokens.rs256}")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    (record,) = inner.get_finished_logs()
    dump = record.to_json()
    assert_clean(dump, tokens.all())
    assert fp(tokens.rs256) in dump and fp(tokens.es256) in dump
    attrs = record.log_record.attributes or {}
    assert attrs["exception.type"] == "RedactedException"


def test_logging_extra_attributes(stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens) -> None:
    logger, buf, _ = stdlib
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s|%(client_secret)s|%(note)s|%(headers)s|%(n)s"))
    extra = {
        "client_secret": "cs-9f8e7d6c5b4a",
        "note": f"got {tokens.rs256}",
        "headers": {"Cookie": "session=abcdef0123456789"},
        "n": 5,
    }
    snapshot = copy.deepcopy(extra)
    logger.info("request", extra=extra)
    assert extra == snapshot
    text = buf.getvalue()
    assert_clean(text, [tokens.rs256, "cs-9f8e7d6c5b4a", "abcdef0123456789"])
    assert text.startswith("request|[REDACTED:secret_field:") and text.rstrip().endswith("|5")


def test_logging_object_message(stdlib: tuple[logging.Logger, io.StringIO, LoggingRedactor], tokens: Tokens) -> None:
    logger, buf, _ = stdlib
    msg = {"authorization": f"Bearer {tokens.rs256}", "path": "/x"}
    logger.info(msg)
    assert msg["authorization"] == f"Bearer {tokens.rs256}"
    assert_clean(buf.getvalue(), tokens.all())
    assert fp(tokens.rs256) in buf.getvalue()


def test_logging_fail_closed(tokens: Tokens, capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(LoggingRedactor(scrubber=RaisingScrubber("logging")))
    logger = logging.getLogger("tests.redact.broken")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        logger.warning("token %s", tokens.rs256)
        logger.warning("object %s", ReprRaises())
        try:
            raise ValueError(tokens.es256)
        except ValueError:
            logger.exception("boom")
        logger.warning("all fine here")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    lines = buf.getvalue().splitlines()
    assert lines[0] == FAILED
    assert FAILED in buf.getvalue() and "all fine here" in lines[-1]
    assert_clean(buf.getvalue() + capsys.readouterr().err, tokens.all())


def test_logging_broken_format_args_do_not_leak(tokens: Tokens, capsys: pytest.CaptureFixture[str]) -> None:
    """A %-format error makes logging print the message and its arguments to stderr: scrubbed copies."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.badargs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        logger.warning("%d tokens: %s", f"Bearer {tokens.rs256}")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    err = capsys.readouterr().err
    assert "--- Logging error ---" in err
    assert_clean(err + buf.getvalue(), tokens.all())


def test_logging_behind_a_queue_listener(tokens: Tokens) -> None:
    """The filter on the handler behind a QueueListener: scrubbing runs on the listener's thread, off the
    request path (QueueHandler.prepare has already merged message and traceback into record.msg)."""
    import logging.handlers
    import queue

    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    buf = io.StringIO()
    target = logging.StreamHandler(buf)
    target.addFilter(LoggingRedactor())
    listener = logging.handlers.QueueListener(q, target)
    logger = logging.getLogger("tests.redact.queued")
    logger.handlers[:] = [logging.handlers.QueueHandler(q)]
    logger.propagate = False
    listener.start()
    try:
        logger.warning("upstream %s", f"Authorization: Bearer {tokens.rs256}")
        try:
            raise ValueError(f"bad {tokens.es256}")
        except ValueError:
            logger.exception("failed")
    finally:
        listener.stop()
        logger.handlers.clear()
        logger.propagate = True
    text = buf.getvalue()
    assert fp(tokens.rs256) in text and fp(tokens.es256) in text and "Traceback" in text
    assert_clean(text, tokens.all())


def test_logging_redactor_shared_across_threads(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    """One filter, four threads, the clean-string cache filling and emptying meanwhile: every line is scrubbed."""
    import threading

    monkeypatch.setattr(processors, "_CLEAN_MAX", 16)  # emptied every 16 clean lines
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.threads")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)

    def work(n: int) -> None:
        for i in range(300):
            logger.info("thread %d line %d of %s", n, i, "x" * (i % 7))
            if i % 10 == 0:
                logger.info("thread %d sends %s", n, f"Bearer {tokens.all()[i % 4]}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        logger.handlers.clear()
        logger.propagate = True
    lines = buf.getvalue().splitlines()
    assert len(lines) == 4 * (300 + 30)
    assert_clean(buf.getvalue(), tokens.all())
    assert sum("[REDACTED:jwt:" in line for line in lines) == 4 * 30


def test_logging_filter_on_logger(tokens: Tokens) -> None:
    buf = io.StringIO()
    logger = logging.getLogger("tests.redact.onlogger")
    logger.addHandler(logging.StreamHandler(buf))
    logger.propagate = False
    redactor = LoggingRedactor()
    logger.addFilter(redactor)
    try:
        logger.error("Cookie: session=%s", "0123456789abcdef0123")
    finally:
        logger.removeFilter(redactor)
        logger.handlers.clear()
        logger.propagate = True
    assert_clean(buf.getvalue(), ["0123456789abcdef0123"])
    assert "Cookie: session=[REDACTED:" in buf.getvalue()


# -- install() ---------------------------------------------------------------------------------------------------
@pytest.fixture
def clean_install() -> Iterator[None]:
    redact.uninstall()
    yield
    redact.uninstall()
    structlog.reset_defaults()


def test_install_root_named_and_structlog(clean_install: None, tokens: Tokens) -> None:
    root_buf, uv_buf, sl_buf = io.StringIO(), io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(root_buf)
    uv_handler = logging.StreamHandler(uv_buf)
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    root.addHandler(root_handler)
    access.addHandler(uv_handler)
    old_level, access.propagate = root.level, False
    root.setLevel(logging.INFO)
    structlog.configure(
        processors=[structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(sl_buf),
        cache_logger_on_first_use=False,
    )
    try:
        assert install_redaction() is True  # what every integration's setup calls
        redact.install()  # idempotent
        assert sum(isinstance(f, LoggingRedactor) for f in root_handler.filters) == 1
        assert sum(isinstance(f, LoggingRedactor) for f in uv_handler.filters) == 1
        assert logging.lastResort is not None
        assert any(isinstance(f, LoggingRedactor) for f in logging.lastResort.filters)
        chain = structlog.get_config()["processors"]
        assert sum(isinstance(x, StructlogRedactor) for x in chain) == 1
        assert isinstance(chain[-2], StructlogRedactor) and isinstance(chain[-1], structlog.processors.JSONRenderer)

        logging.getLogger("app.module").info("calling with %s", f"Bearer {tokens.rs256}")
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/?id_token={tokens.es256}", "1.1", 200)
        structlog.get_logger().info("sl", authorization=f"Bearer {tokens.eddsa}")
        assert fp(tokens.rs256) in root_buf.getvalue() and fp(tokens.es256) in uv_buf.getvalue()
        assert "[REDACTED:" in sl_buf.getvalue()
        assert_clean(root_buf.getvalue() + uv_buf.getvalue() + sl_buf.getvalue(), tokens.all())

        redact.uninstall()
        assert not any(isinstance(f, LoggingRedactor) for f in root_handler.filters)
        assert not any(isinstance(x, StructlogRedactor) for x in structlog.get_config()["processors"])
        redact.install(structlog=False)
        assert not any(isinstance(x, StructlogRedactor) for x in structlog.get_config()["processors"])
    finally:
        root.removeHandler(root_handler)
        access.removeHandler(uv_handler)
        access.propagate = True
        root.setLevel(old_level)


DICT_STREAM = io.StringIO()


def test_install_covers_framework_logging_configured_later(clean_install: None, tokens: Tokens) -> None:
    """A server that runs logging.config.dictConfig after install() (uvicorn does, when it starts) replaces the
    handlers of its loggers; the logger-level filter install() put on them still scrubs their records."""
    import logging.config

    redact.install(structlog=False)
    access = logging.getLogger("uvicorn.access")
    saved = (access.handlers[:], access.propagate, access.level)
    DICT_STREAM.seek(0)
    DICT_STREAM.truncate()
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"access": {"class": "logging.StreamHandler", "stream": f"ext://{__name__}.DICT_STREAM"}},
        "loggers": {"uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
    })
    try:
        (handler,) = access.handlers
        assert not any(isinstance(f, LoggingRedactor) for f in handler.filters)  # a handler made after install()
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/?access_token={tokens.rs256}", "1.1", 200)
        assert fp(tokens.rs256) in DICT_STREAM.getvalue()
        assert_clean(DICT_STREAM.getvalue(), tokens.all())
    finally:
        for h in access.handlers[:]:
            access.removeHandler(h)
        for h in saved[0]:
            access.addHandler(h)
        access.propagate, access.level = saved[1], saved[2]
    redact.uninstall()
    assert not any(isinstance(f, LoggingRedactor) for f in access.filters)


def test_message_cached_by_an_earlier_handler_is_replaced(tokens: Tokens) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (tokens.rs256,), None)
    logging.Formatter().format(record)  # an earlier handler without the filter cached record.message
    assert tokens.rs256 in record.message
    LoggingRedactor().filter(record)
    assert_clean(record.message + record.getMessage(), tokens.all())


def test_install_keeps_users_own_redactor(clean_install: None) -> None:
    handler = logging.StreamHandler(io.StringIO())
    own = LoggingRedactor()
    handler.addFilter(own)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact.install(structlog=False)
        assert handler.filters == [own]
        redact.uninstall()
        assert handler.filters == [own]
    finally:
        root.removeHandler(handler)


# -- OpenTelemetry ---------------------------------------------------------------------------------------------
@dataclass
class SpanPipeline:
    provider: TracerProvider
    raw: InMemorySpanExporter
    redacted: InMemorySpanExporter
    exporter: RedactingSpanExporter


def span_pipeline(limits: SpanLimits | None = None, scrubber: Scrubber | None = None) -> SpanPipeline:
    provider = TracerProvider(span_limits=limits) if limits else TracerProvider()
    raw, redacted = InMemorySpanExporter(), InMemorySpanExporter()
    exporter = RedactingSpanExporter(redacted, scrubber=scrubber)
    provider.add_span_processor(SimpleSpanProcessor(raw))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return SpanPipeline(provider, raw, redacted, exporter)


def _span_dump(span: Any) -> str:
    parts = [span.name, json.dumps(dict(span.attributes or {}), default=str), str(span.status.description)]
    for ev in span.events:
        parts.append(ev.name + json.dumps(dict(ev.attributes or {}), default=str))
    for link in span.links:
        parts.append(json.dumps(dict(link.attributes or {}), default=str))
    return "\n".join(parts)


def test_span_exporter(tokens: Tokens, metrics: InMemoryMetricReader) -> None:
    pipe = span_pipeline()
    tracer = pipe.provider.get_tracer("tests")
    with tracer.start_as_current_span("linked") as other:
        pass
    link = Link(other.get_span_context(), {"link.note": f"from {tokens.eddsa}", "link.n": 1})
    with tracer.start_as_current_span("GET /items", links=[link]) as span:
        span.set_attribute("http.request.header.authorization", (f"Bearer {tokens.rs256}",))
        span.set_attribute("http.request.header.cookie", ["sid=0123456789abcdef", "theme=dark"])
        span.set_attribute("url.full", f"https://api.test/items?access_token={tokens.es256}&page=2")
        span.set_attribute("http.response.status_code", 500)
        span.set_attribute("user.password", "hunter2-hunter2")
        span.add_event("retry", {"upstream.auth": "Basic dXNlcjpwYXNzd29yZA=="})
        span.record_exception(ValueError(f"bad token {tokens.hs256}"))
        span.set_status(Status(StatusCode.ERROR, f"upstream refused {tokens.hs256}"))
    secrets = [*tokens.all(), "0123456789abcdef", "hunter2-hunter2", "dXNlcjpwYXNzd29yZA=="]

    raw = pipe.raw.get_finished_spans()[-1]
    assert tokens.rs256 in _span_dump(raw), "the SDK's span is not modified"
    out = pipe.redacted.get_finished_spans()
    assert [s.name for s in out] == ["linked", "GET /items"]
    assert out[0] is pipe.raw.get_finished_spans()[0], "a clean span is exported as it is"
    dump = _span_dump(out[1])
    assert_clean(dump, secrets)
    for token in tokens.all():
        assert fp(token) in dump
    red = out[1]
    assert red.attributes is not None
    assert red.attributes["http.response.status_code"] == 500
    assert red.attributes["http.request.header.authorization"][0].startswith("Bearer [REDACTED:jwt:")
    assert red.context == raw.context and red.parent == raw.parent and red.start_time == raw.start_time
    assert red.status.status_code is StatusCode.ERROR
    assert [e.name for e in red.events] == ["retry", "exception"]
    exc_attrs = red.events[1].attributes or {}
    assert f"ValueError: bad token [REDACTED:jwt:{fp(tokens.hs256)}]" in str(exc_attrs["exception.stacktrace"])
    assert exc_attrs["exception.type"] == "ValueError"
    counts = redactions(metrics)
    assert counts.get(("jwt", "otel_spans"), 0) >= 4


def test_span_and_event_names_are_scrubbed(tokens: Tokens) -> None:
    """A name built from a URL or a message ("GET /cb?access_token=...", an event named after the token it
    refreshed) is scrubbed like an attribute; the event keeps its attributes and time, clean names stay."""
    pipe = span_pipeline()
    tracer = pipe.provider.get_tracer("t")
    with tracer.start_as_current_span(f"GET /cb?access_token={tokens.rs256}") as span:
        span.add_event(f"refreshed Bearer {tokens.es256}", {"n": 1})
        span.add_event("plain", {"note": "nothing"})
    with tracer.start_as_current_span("GET /items") as clean:
        clean.add_event("retry", {"n": 2})
    red, plain = pipe.redacted.get_finished_spans()
    raw = pipe.raw.get_finished_spans()[0]
    assert tokens.rs256 in raw.name, "the SDK's span is not modified"
    assert red.name == f"GET /cb?access_token=[REDACTED:jwt:{fp(tokens.rs256)}]"
    assert [e.name for e in red.events] == [f"refreshed Bearer [REDACTED:jwt:{fp(tokens.es256)}]", "plain"]
    assert red.events[0].attributes == {"n": 1} and red.events[0].timestamp == raw.events[0].timestamp
    assert red.events[1] is raw.events[1]
    assert plain is pipe.raw.get_finished_spans()[1], "a clean span is exported as it is"
    assert_clean(_span_dump(red), tokens.all())


def test_redacted_copies_encode_as_otlp(tokens: Tokens) -> None:
    """The copies are what the real OTLP exporters accept: encoded to protobuf, no token in the bytes."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    pipe = span_pipeline()
    with pipe.provider.get_tracer("t").start_as_current_span("GET /cb") as span:
        span.set_attribute("url.full", f"https://app.test/cb#id_token={tokens.rs256}")
        span.set_attribute("http.request.header.authorization", (f"Bearer {tokens.es256}",))
        span.add_event("retry", {"note": f"with {tokens.eddsa}"})
        span.set_status(Status(StatusCode.ERROR, f"refused {tokens.hs256}"))
    spans = pipe.redacted.get_finished_spans()
    wire = encode_spans(spans).SerializeToString()
    assert_clean(wire.decode("latin-1"), tokens.all())
    assert fp(tokens.rs256).encode() in wire and fp(tokens.hs256).encode() in wire

    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RedactingLogExporter(inner)))
    provider.get_logger("t").emit(ApiLogRecord(body={"msg": f"got {tokens.rs256}"}, attributes={"a": tokens.es256}))
    wire = encode_logs(inner.get_finished_logs()).SerializeToString()
    assert_clean(wire.decode("latin-1"), tokens.all())
    assert fp(tokens.rs256).encode() in wire


def test_span_exporter_keeps_dropped_counts(tokens: Tokens) -> None:
    pipe = span_pipeline(SpanLimits(max_span_attributes=2))
    with pipe.provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("a", 1)
        span.set_attribute("b", 2)
        span.set_attribute("note", f"token {tokens.rs256}")
    raw, red = pipe.raw.get_finished_spans()[0], pipe.redacted.get_finished_spans()[0]
    assert raw.dropped_attributes == 1 and red.dropped_attributes == 1
    assert red is not raw and fp(tokens.rs256) in _span_dump(red)


def test_span_exporter_fail_closed(tokens: Tokens) -> None:
    pipe = span_pipeline(scrubber=RaisingScrubber("otel_spans"))
    with pipe.provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("note", f"token {tokens.rs256}")
        span.set_attribute("count", 3)
        span.set_status(Status(StatusCode.ERROR, f"refused {tokens.rs256}"))
    red = pipe.redacted.get_finished_spans()[0]
    assert red.attributes == {"note": FAILED, "count": 3}
    assert red.status.description == FAILED
    assert pipe.exporter.force_flush() is True
    pipe.exporter.shutdown()


def test_log_exporter(tokens: Tokens, metrics: InMemoryMetricReader) -> None:
    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RedactingLogExporter(inner)))
    otel_logger = provider.get_logger("tests")
    attrs = {"http.request.header.authorization": f"Bearer {tokens.rs256}", "n": 1, "ok": "plain"}
    body = {"msg": f"upstream said {tokens.es256}", "cookie": "sid=0123456789abcdef"}
    snapshot = copy.deepcopy((attrs, body))
    otel_logger.emit(ApiLogRecord(body=body, attributes=attrs, severity_text="WARN"))
    otel_logger.emit(ApiLogRecord(body=f"token {tokens.eddsa}"))
    otel_logger.emit(ApiLogRecord(body="all clean", attributes={"k": "v"}))
    try:
        raise ValueError(f"bad token {tokens.hs256}")
    except ValueError as exc:
        otel_logger.emit(ApiLogRecord(body="failed", exception=exc))
    assert (attrs, body) == snapshot
    records = inner.get_finished_logs()
    assert len(records) == 4
    dump = "\n".join(r.to_json() for r in records)
    assert_clean(dump, [*tokens.all(), "0123456789abcdef"])
    for token in tokens.all():
        assert fp(token) in dump
    assert records[0].log_record.attributes is not None and records[0].log_record.attributes["n"] == 1
    assert records[2].log_record.body == "all clean"
    assert records[3].log_record.exception is None
    counts = redactions(metrics)
    assert counts.get(("jwt", "otel_logs"), 0) >= 3


def test_log_exporter_fail_closed(tokens: Tokens) -> None:
    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogExporter(inner, scrubber=RaisingScrubber("otel_logs")))
    )
    provider.get_logger("t").emit(ApiLogRecord(body=f"token {tokens.rs256}", attributes={"note": f"t {tokens.rs256}"}))
    try:
        raise ValueError(f"bad token {tokens.es256}")
    except ValueError as exc:
        provider.get_logger("t").emit(ApiLogRecord(body="failed", exception=exc))
    first, second = inner.get_finished_logs()
    assert first.log_record.body == FAILED
    assert first.log_record.attributes == {"note": FAILED}
    assert second.log_record.exception is None
    assert_clean(first.to_json() + second.to_json(), tokens.all())


@pytest.mark.parametrize("words", [p.GATE_WORDS, p.VENDOR_PREFIXES], ids=["gate words", "vendor prefixes"])
def test_rare_anchored_finds_what_an_alternation_finds(words: tuple[str, ...]) -> None:
    """patterns.rare_anchored (each word found from its rarest character) agrees with a plain alternation of
    the words on generated text that holds words, parts of words and overlaps."""
    import random
    import re

    plain = re.compile("|".join(map(re.escape, words)))
    anchored = p.rare_anchored(words, "<qjywkbughdp-ml/ncrisaote")
    rng = random.Random(13)
    alphabet = "".join(sorted(set("".join(words)))) + " xyz"
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.5:
            w = rng.choice(words)
            s = s[: rng.randint(0, len(s))] + w[: rng.randint(0, len(w))] + (w if rng.random() < 0.5 else "") + s
        assert (plain.search(s) is None) == (anchored.search(s) is None), s
    shipped = p.GATE_SEARCH if words is p.GATE_WORDS else p.VENDOR_PREFIX_SEARCH
    for w in words:
        assert anchored.search(f"x{w}y") and shipped.search(f"x{w}y") and shipped.search(w), w



def test_a_failing_redaction_counter_is_counted_and_logged_once_and_text_still_scrubbed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Telemetry that raises while counting redactions never breaks scrubbing: the failure is counted and the
    first one logged (exception type only, never its message)."""
    scrub_module = importlib.import_module("jwtobs.redact.scrub")  # (the package exports the function scrub)

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("meter down: this message is not logged")

    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0"
    counter = scrub_module.COUNT_FAILURES
    monkeypatch.setattr(counter, "count", 0)
    monkeypatch.setattr(telemetry.Telemetry, "count", boom)
    with caplog.at_level("WARNING", logger="jwtobs.redact"):
        for _ in range(3):
            out = redact.scrub("Authorization: Bearer " + token)
            assert "[REDACTED:" in out and token not in out
    assert counter.count == 3
    warnings = [r.getMessage() for r in caplog.records if "counting redactions" in r.getMessage()]
    assert len(warnings) == 1 and "RuntimeError" in warnings[0] and "meter down" not in warnings[0]
