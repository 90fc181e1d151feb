"""Session 36: jwtobs.redact.sentry supports sentry-sdk 3.x as well as 2.x.

sentry-sdk 3.0 (``consts.ClientConstructor``) removed ``before_send_transaction`` (no transactions: every span is
streamed through ``before_send_span``, which can change a span's name and attributes but not drop it), the
``enable_logs`` / ``enable_metrics`` switches (logs and metrics are always sent), ``include_local_variables`` and
``send_default_pii`` / ``event_scrubber`` (``data_collection``), and sends cron check-ins through the new
``before_send_check_in`` instead of ``before_send``. The span envelope's header (the dynamic sampling context, with
the segment span's name) is built from the segment span by ``SpanBatcher._flush``, outside every hook, and frozen the
first time anything asks for it: ``init_options`` wraps the transport to scrub it. 3.x also attaches the current
stack, with local variables, to every message and log event (``attach_stacktrace`` defaults to True).

Each test runs the installed SDK (2.x or 3.x: measured on 2.76.0 and 3.0.0) for real, with a ``Transport``
subclass that keeps each envelope's bytes (the DSN, 127.0.0.1:9, is never contacted). Tokens are signed with PyJWT
and keys generated here. Tests of one major's API are skipped on the other with the reason.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

sentry_sdk = pytest.importorskip("sentry_sdk")

from sentry_sdk.integrations.logging import LoggingIntegration  # noqa: E402

import jwtobs  # noqa: E402
from jwtobs import config  # noqa: E402
from jwtobs.exceptions import ConfigurationError  # noqa: E402
from jwtobs.redact import sentry as jwtobs_sentry  # noqa: E402
from jwtobs.redact.scrub import FAILED  # noqa: E402
from tests.redact.test_sentry import CapturingTransport  # noqa: E402

DSN = "http://public@127.0.0.1:9/1"
LOGGER = "tests.redact.sentry.s36"
MAJOR = int(sentry_sdk.VERSION.split(".")[0])
SDK3 = MAJOR >= 3
ONLY_3 = pytest.mark.skipif(not SDK3, reason=f"sentry-sdk 3.x API; {sentry_sdk.VERSION} is installed")
ONLY_2 = pytest.mark.skipif(SDK3, reason=f"sentry-sdk 2.x API; {sentry_sdk.VERSION} is installed")
MARK = b"[REDACTED:"


def _unbind() -> None:
    client = sentry_sdk.get_client()
    client.flush()
    client.close()
    sentry_sdk.get_global_scope().set_client(None)


@contextmanager
def sentry(jwtobs_hooks: bool = True, **options: Any) -> Iterator[CapturingTransport]:
    """The installed SDK with every kind of item on (errors, breadcrumbs, logs, metrics, traces, local variables),
    initialised through ``init_options`` (or, for the control, without jwtobs)."""
    transport = CapturingTransport()
    base: dict[str, Any] = {
        "dsn": DSN,
        "transport": transport,
        "release": "jwtobs-tests@36",
        "default_integrations": False,
        "auto_enabling_integrations": False,
        "integrations": [LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        "traces_sample_rate": 1.0,
        "attach_stacktrace": True,
    }
    if not SDK3:
        base.update(enable_logs=True, include_local_variables=True)
    base.update(options)
    sentry_sdk.init(**(jwtobs_sentry.init_options(**base) if jwtobs_hooks else base))
    try:
        with sentry_sdk.isolation_scope():
            sentry_sdk.traces.new_trace()  # (not an earlier test's propagation context, frozen without a name)
            yield transport
    finally:
        _unbind()


def envelope_items(envelope: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """(envelope header, [(item header, item payload bytes)])."""
    lines = envelope.split(b"\n")
    header, out, i = json.loads(lines[0]), [], 1
    while i + 1 < len(lines):
        item_header = json.loads(lines[i])
        out.append((item_header, lines[i + 1][: item_header.get("length", len(lines[i + 1]))]))
        i += 2
    return header, out


def by_type(transport: CapturingTransport) -> dict[str, bytes]:
    """Each item type's payloads (and, under "envelope-header:<type>", the headers of the envelopes carrying it)."""
    out: dict[str, bytes] = {}
    for env in transport.envelopes:
        header, its = envelope_items(env)
        for item_header, payload in its:
            kind = item_header["type"]
            out[kind] = out.get(kind, b"") + payload + b"\n"
            key = f"envelope-header:{kind}"
            out[key] = out.get(key, b"") + json.dumps(header).encode() + b"\n"
    return out


def secrets_of(token: str) -> list[str]:
    """The token and its payload and signature segments: none may reach an envelope."""
    return [token, *token.split(".")[1:]]


@pytest.fixture(autouse=True)
def _fingerprint_key() -> None:
    jwtobs.configure(fingerprint_key=b"s36-" * 8)


@pytest.fixture(scope="module")
def token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"sub": "user-4711", "iss": "https://issuer.example", "jti": secrets.token_urlsafe(16)}
    out = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "s36"})
    assert jwt.decode(out, key.public_key(), algorithms=["RS256"], issuer="https://issuer.example")["sub"]
    return out


@pytest.fixture(scope="module")
def es_token() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode({"sub": "svc", "jti": secrets.token_urlsafe(16)}, key, algorithm="ES256")


def fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


# -- the scenario: every kind of item the SDK sends -------------------------------------------------------------
class TokenError(Exception):
    pass


def _verify(value: str) -> None:
    presented = value  # noqa: F841 (a local variable Sentry sends with the frame; a plain name: found by its shape)
    raise TokenError(f"signature check failed for {value}")


@contextmanager
def _root(name: str) -> Iterator[Any]:
    """A transaction (2.x) or a segment span (3.x)."""
    if SDK3:
        with sentry_sdk.start_span(name=name, attributes={"sentry.op": "http.server", "auth.header": name}) as s:
            yield s
    else:
        with sentry_sdk.start_transaction(name=name, op="http.server", source="custom") as tx:
            tx.set_data("auth.header", name)
            yield tx


@contextmanager
def _child(name: str, token: str) -> Iterator[Any]:
    if SDK3:
        with sentry_sdk.start_span(name=name, attributes={"sentry.op": "http.client", "token.raw": token}) as s:
            yield s
    else:
        with sentry_sdk.start_span(op="http.client", name=name) as s:
            s.set_data("token.raw", token)
            yield s


def scenario(token: str) -> None:
    """A token in a span/transaction name and attribute, a breadcrumb, a stdlib log record (breadcrumb, log and
    event), a structured log, a metric, an exception message and a frame's local variables, and a message event
    captured inside the span (which, on 3.x, freezes the span envelope's header with the segment's raw name)."""
    with _root(f"GET /userinfo?access_token={token}"):
        with _child(f"POST /introspect {token}", token):
            sentry_sdk.add_breadcrumb(category="auth", message=f"presented {token}", data={"raw": token})
            logging.getLogger(LOGGER).warning("upstream rejected %s", token)
            sentry_sdk.logger.error("token {t} rejected", t=token, attributes={"auth.value": token})
            sentry_sdk.metrics.count("auth.failures", 1, attributes={"token": token, "why": f"bad {token}"})
            try:
                _verify(token)
            except TokenError as exc:
                sentry_sdk.capture_exception(exc)
            sentry_sdk.capture_message(f"rejected bearer {token}")
            logging.getLogger(LOGGER).error("token %s rejected", token)
    sentry_sdk.flush()


EXPECTED_TYPES = {"event", "log", "trace_metric", "span" if SDK3 else "transaction"}


def test_no_item_the_sdk_sends_carries_the_token(token: str) -> None:
    with sentry() as transport:
        scenario(token)
    kinds = by_type(transport)
    assert EXPECTED_TYPES <= set(kinds), sorted(kinds)
    blob = b"\n".join(transport.envelopes)
    for s in secrets_of(token):
        assert s.encode() not in blob
    assert FAILED.encode() not in blob
    for kind in EXPECTED_TYPES:  # each kind carried the token and carries its marker now
        assert MARK in kinds[kind], kind
        assert fp(token).encode() in kinds[kind], kind
    events = [json.loads(p) for env in transport.envelopes for h, p in envelope_items(env)[1] if h["type"] == "event"]
    crumbs = [c for e in events for c in (e.get("breadcrumbs") or {}).get("values", [])]
    assert any(c.get("category") == "auth" and MARK.decode() in c.get("message", "") for c in crumbs)
    exc = next(e for e in events if e.get("exception"))
    frame = next(f for f in exc["exception"]["values"][-1]["stacktrace"]["frames"] if f["function"] == "_verify")
    assert frame["vars"]["presented"] == f"'[REDACTED:jwt:{fp(token)}]'"  # local variables are sent, scrubbed
    assert "[REDACTED:jwt:" in exc["exception"]["values"][-1]["value"]


def test_control_without_jwtobs_every_kind_leaks(token: str) -> None:
    """The same scenario without jwtobs: the token reaches every kind of item (so the test above can fail)."""
    with sentry(jwtobs_hooks=False) as transport:
        scenario(token)
    kinds = by_type(transport)
    for kind in EXPECTED_TYPES:
        assert token.encode() in kinds[kind], kind


@ONLY_3
def test_span_envelope_header_frozen_before_the_segment_is_renamed(token: str) -> None:
    """3.x: ``SpanBatcher._flush`` puts ``segment._dynamic_sampling_context()`` into the span envelope's header; the
    event captured inside the span froze it with the segment's raw name before ``before_send_span`` renamed the
    segment. No hook sees it: the transport wrapper of ``init_options`` scrubs it."""
    with sentry() as transport:
        with sentry_sdk.start_span(name=f"job {token}"):
            sentry_sdk.capture_message("inside")
        sentry_sdk.flush()
    headers = [envelope_items(env)[0] for env in transport.envelopes]
    names = [h["trace"]["transaction"] for h in headers if "transaction" in h.get("trace", {})]
    assert len(names) == 2  # the event's and the span envelope's
    assert all(n == f"job [REDACTED:jwt:{fp(token)}]" for n in names)
    assert token.encode() not in b"\n".join(transport.envelopes)


@ONLY_3
def test_init_options_for_3x_wires_every_hook(token: str) -> None:
    transport = CapturingTransport()

    def mine(item: Any, hint: Any) -> Any:
        return item

    opts = jwtobs_sentry.init_options(
        dsn=DSN,
        transport=transport,
        enable_logs=True,
        enable_metrics=True,
        before_send_span=mine,
        data_collection={"user_info": False},
    )
    assert {
        "before_send",
        "before_send_check_in",
        "before_breadcrumb",
        "before_send_log",
        "before_send_metric",
        "before_send_span",
    } <= set(opts)
    assert opts["before_send_log"] is jwtobs_sentry.before_send_log
    assert opts["before_send_check_in"] is jwtobs_sentry.before_send_check_in
    assert opts["before_send_span"] is not mine and opts["before_send_span"].__name__ == "jwtobs_before_send_span"
    assert not {"before_send_transaction", "enable_logs", "enable_metrics", "_experiments"} & set(opts)
    assert opts["data_collection"] == {"user_info": False}
    assert opts["transport"] is not transport and opts["transport"]._inner is transport
    assert jwtobs_sentry.init_options(**opts)["transport"] is opts["transport"]  # wrapped once
    sentry_sdk.init(**opts)
    try:
        client = sentry_sdk.get_client()
        assert client.options["before_send_span"] is opts["before_send_span"]
        assert isinstance(client.transport, CapturingTransport)  # (the wrapper reports the wrapped class)
    finally:
        _unbind()


@ONLY_3
def test_default_transport_is_wrapped_and_stays_an_http_transport() -> None:
    from sentry_sdk.transport import HttpTransportCore

    sentry_sdk.init(**jwtobs_sentry.init_options(dsn=DSN, default_integrations=False))
    try:
        client = sentry_sdk.get_client()
        assert isinstance(client.transport, HttpTransportCore)  # the client's checks still see an HTTP transport
        assert type(client.transport).__name__ == "JwtobsHeaderScrubbingTransport"
        assert client.transport.parsed_dsn is not None and client.transport.parsed_dsn.host == "127.0.0.1"
    finally:
        sentry_sdk.get_client().close(timeout=0)
        sentry_sdk.get_global_scope().set_client(None)


@ONLY_3
@pytest.mark.parametrize(
    ("option", "hint"),
    [
        ("before_send_transaction", "before_send_span"),
        ("include_local_variables", "stack_frame_variables"),
        ("send_default_pii", "data_collection"),
        ("event_scrubber", "data_collection"),
        ("enable_logs", "no switch"),
    ],
)
def test_2x_options_on_3x_name_the_3x_way(option: str, hint: str) -> None:
    value: Any = False if option in ("enable_logs", "include_local_variables", "send_default_pii") else object()
    with pytest.raises(ConfigurationError, match=rf"sentry-sdk 3.x removed {option} \(instead: .*{hint}"):
        jwtobs_sentry.init_options(dsn=DSN, **{option: value})


@ONLY_3
def test_a_user_span_hook_that_breaks_never_sends_the_raw_span(token: str) -> None:
    """3.x keeps the *original* span when before_send_span raises or returns no name: jwtobs scrubs the original."""

    def raises(span: Any, hint: Any) -> Any:
        raise ValueError("user bug")

    def nameless(span: Any, hint: Any) -> Any:
        return {"attributes": span.get("attributes")}

    for hook in (raises, nameless):
        with sentry(before_send_span=hook) as transport:
            with sentry_sdk.start_span(name=f"job {token}", attributes={"t": token}):
                pass
            sentry_sdk.flush()
        spans = by_type(transport)["span"]
        assert token.encode() not in spans and fp(token).encode() in spans, hook.__name__


def test_cron_check_ins_are_scrubbed(token: str) -> None:
    """Check-ins: 2.x sends them through before_send, 3.x through before_send_check_in (both wired)."""
    from sentry_sdk.crons import capture_checkin

    with sentry() as transport:
        capture_checkin(
            monitor_slug=f"rotate-{token}",
            status="ok",
            monitor_config={"schedule": {"type": "crontab", "value": "0 * * * *"}},
        )
        sentry_sdk.flush()
    kinds = by_type(transport)
    assert "check_in" in kinds
    assert token.encode() not in kinds["check_in"] and fp(token).encode() in kinds["check_in"]
    assert b"0 * * * *" in kinds["check_in"]  # the rest is kept


def test_a_credential_named_once_is_redacted_in_plain_named_locals(es_token: str) -> None:
    """An opaque API key is recognizable only by the name it is sent under (an "x-api-key" header pair); the same
    value in a local variable with a plain name (3.x attaches the stack to every message) is redacted as well."""
    opaque = "k" + secrets.token_urlsafe(30) + "7"  # (matches no detector on its own)
    with sentry() as transport:
        value = opaque
        sentry_sdk.set_extra("outgoing_headers", [("x-api-key", value), ("accept", "application/json")])
        try:
            _verify(es_token)
        except TokenError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.capture_message("upstream refused the key")
    blob = b"\n".join(transport.envelopes)
    assert opaque.encode() not in blob and es_token.encode() not in blob
    events = [json.loads(p) for env in transport.envelopes for h, p in envelope_items(env)[1] if h["type"] == "event"]
    assert events and all(e["extra"]["outgoing_headers"][0][1].startswith("[REDACTED:") for e in events if "extra" in e)
    frames = [f for e in events for t in (e.get("threads") or {}).get("values", []) for f in t["stacktrace"]["frames"]]
    mine = [f for f in frames if f.get("function") == "test_a_credential_named_once_is_redacted_in_plain_named_locals"]
    if SDK3:  # 3.x attached the stack, with this frame's locals, to the message event
        assert mine and mine[0]["vars"]["value"].startswith("'[REDACTED:")


def test_logging_frames_ship_no_locals() -> None:
    """The stdlib logging frames hold a record's template and arguments apart (msg="X-Auth-Token: %s",
    args=(opaque,)): an opaque credential there shows as one only in the formatted message. With a stack attached
    (3.x's default; 2.x with attach_stacktrace=True) those frames' variables are not sent."""
    opaque = "s" + secrets.token_urlsafe(32)
    with sentry() as transport:
        logging.getLogger(LOGGER).error("X-Auth-Token: %s", opaque)
    blob = b"\n".join(transport.envelopes)
    assert opaque.encode() not in blob
    payloads = [p for env in transport.envelopes for h, p in envelope_items(env)[1] if h["type"] == "event"]
    event = json.loads(payloads[0])
    frames = [f for t in event["threads"]["values"] for f in t["stacktrace"]["frames"]]
    logging_frames = [f for f in frames if f.get("module") == "logging"]
    assert logging_frames and not any("vars" in f for f in logging_frames)


@ONLY_2
def test_2x_span_streaming_envelope_header(token: str) -> None:
    """2.x with trace_lifecycle="stream": the span envelope's trace header is the segment's sampling context,
    frozen before before_send_span renames it (a logger call inside the span asks for it): the transport is
    wrapped as on 3.x (until session 37 only 3.x's was, and this test was a known gap)."""
    with sentry(trace_lifecycle="stream") as transport:
        with sentry_sdk.traces.start_span(name=f"job {token}"):
            sentry_sdk.logger.info("inside")  # (asks the segment for the trace context: freezes its DSC)
        sentry_sdk.flush()
    assert token.encode() not in b"\n".join(transport.envelopes)


def test_scrub_envelope_headers() -> None:
    rs = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    headers = {
        "event_id": "ab" * 16,
        "sent_at": "2026-12-07T00:00:00Z",
        "trace": {"trace_id": "cd" * 16, "transaction": f"GET /cb?id_token={rs}", "sample_rate": "1.0"},
    }
    out = jwtobs_sentry.scrub_envelope_headers(headers)
    assert out["event_id"] == headers["event_id"] and out["trace"]["trace_id"] == "cd" * 16
    assert out["trace"]["transaction"] == f"GET /cb?id_token=[REDACTED:jwt:{fp(rs)}]"
    assert headers["trace"]["transaction"].endswith(rs)  # not modified
    assert jwtobs_sentry.scrub_envelope_headers(None) == {}


def test_removed_in_3_matches_the_installed_sdk() -> None:
    """REMOVED_IN_3 lists options 2.76 has and 3.0 does not (read from consts.DEFAULT_OPTIONS of each)."""
    accepted = jwtobs_sentry._accepted_options()
    if SDK3:
        assert not set(jwtobs_sentry.REMOVED_IN_3) & accepted
        assert "before_send_check_in" in accepted and "before_send_span" in accepted
    else:
        assert set(jwtobs_sentry.REMOVED_IN_3) <= accepted
        assert "before_send_check_in" not in accepted


def test_an_unreadable_sdk_version_follows_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentry_sdk.consts, "VERSION", "dev")
    opts = jwtobs_sentry.init_options(dsn=DSN)
    assert ("before_send_transaction" in opts) is (not SDK3)
    assert ("before_send_span" in opts) is SDK3
