"""Session 35: an opaque (non-JWT) bearer credential carried in the WebSocket subprotocol header was left in logs.

A browser cannot set an Authorization header on a WebSocket, so applications send the token as a subprotocol
(``Sec-WebSocket-Protocol: access_token, <token>``, ``Bearer, <token>``, ``bearer.<token>``, Kubernetes'
``base64url.bearer.authorization.k8s.io.<base64url of the token>``), and request-header logs hold it: access logs,
debug dumps, JSON-logged header dicts, ASGI's raw headers. Before, every spelling below kept its token through
``scrub``, the stdlib logging redactor, the structlog processor and every ``jwtobs scan`` / ``jwtobs scrub`` engine
(a JWS there was found by the JOSE detector already: checked here too). Now the credential element is a ``bearer``
marker (a JWS keeps its ``jwt`` marker), the same marker as the token's after ``Authorization: Bearer``; the protocol
names around it are kept byte for byte, and a header holding protocol names only is not changed. Every token is
synthetic, made at run time.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import re
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog

from jwtobs import config
from jwtobs.cli import main
from jwtobs.redact import LoggingRedactor, StructlogRedactor, patterns, scan, scrub, scrub_value
from tests.redact.test_adversarial import BOUND_S, SIZE, _repeat, assert_scrub_linear

KEY = "redact-session-35-fingerprint-key"
MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")
ENGINES = ["python", "all"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else [])


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # (the environment's key: the CLI run in this process and scrub() here make the same markers)
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()


_RND = random.Random(35)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#: an opaque access token (no JWS): what the subprotocol carries
TOKEN = "".join(_RND.choices(_ALNUM, k=32))
#: an OpenShift-style opaque token, the one Kubernetes' form carries base64url-encoded (no padding)
K8S_TOKEN = "sha256~" + "".join(_RND.choices(_ALNUM + "-_", k=43))
K8S_B64 = base64.urlsafe_b64encode(K8S_TOKEN.encode()).decode().rstrip("=")
JWS = jwt.encode({"sub": "alice", "exp": 4102444800}, "s35-hmac-key-" + "k" * 32, algorithm="HS256")
JWS_B64 = base64.urlsafe_b64encode(JWS.encode()).decode().rstrip("=")
H = "Sec-WebSocket-Protocol"

#: name -> (line, what its marker stands for in it, the token whose "Authorization: Bearer" marker it must equal)
LEAKS: dict[str, tuple[str, str, str]] = {
    "access_token": (f"{H}: access_token, {TOKEN}", TOKEN, TOKEN),
    "bearer_comma": (f"{H}: Bearer, {TOKEN}", TOKEN, TOKEN),
    "bearer_dot": (f"{H}: bearer.{TOKEN}", TOKEN, TOKEN),
    "token": (f"{H}: token, {TOKEN}", TOKEN, TOKEN),
    "authorization": (f"{H}: Authorization, {TOKEN}", TOKEN, TOKEN),
    "auth": (f"{H}: auth, {TOKEN}", TOKEN, TOKEN),
    "no_blank": (f"sec-websocket-protocol:access_token,{TOKEN}", TOKEN, TOKEN),
    "after_a_protocol": (f"{H}: graphql-ws, access_token, {TOKEN}", TOKEN, TOKEN),
    "before_a_protocol": (f"{H}: access_token, {TOKEN}, graphql-transport-ws", TOKEN, TOKEN),
    "k8s": (f"{H}: base64url.bearer.authorization.k8s.io.{K8S_B64}, v4.channel.k8s.io", K8S_B64, K8S_TOKEN),
    "k8s_last": (f"{H}: v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.{K8S_B64}", K8S_B64, K8S_TOKEN),
    "access_log": (
        f'10.0.0.7 - - [06/Dec/2026:16:24:35 +0000] "GET /graphql HTTP/1.1" 101 0 "-" "Mozilla/5.0" '
        f'"{H.lower()}: access_token, {TOKEN}"',
        TOKEN,
        TOKEN,
    ),
    "debug_dump": (f"DEBUG websockets.server: < {H}: graphql-ws, access_token, {TOKEN}", TOKEN, TOKEN),
    "json_key": (f'{{"sec-websocket-protocol": "access_token, {TOKEN}"}}', TOKEN, TOKEN),
    "json_in_json": (f'{{"msg": "{{\\"sec-websocket-protocol\\": \\"Bearer, {TOKEN}\\"}}"}}', TOKEN, TOKEN),
    "python_repr": (f"headers=[('sec-websocket-protocol', 'access_token, {TOKEN}')]", TOKEN, TOKEN),
    "asgi_bytes_repr": (
        f"scope['headers']=[(b'host', b'api'), (b'sec-websocket-protocol', b'access_token, {TOKEN}')]",
        TOKEN,
        TOKEN,
    ),
    "wsgi_environ": (f"{{'HTTP_SEC_WEBSOCKET_PROTOCOL': 'access_token, {TOKEN}'}}", TOKEN, TOKEN),
    "otel_attribute": (f"http.request.header.sec_websocket_protocol: ('Bearer, {TOKEN}',)", TOKEN, TOKEN),
    "har_header": (f'{{"name": "Sec-WebSocket-Protocol", "value": "access_token, {TOKEN}"}}', TOKEN, TOKEN),
    "curl": (f"curl -H 'Connection: Upgrade' -H '{H}: bearer.{TOKEN}' https://api/ws", TOKEN, TOKEN),
    # (a client that is no browser may send characters no token has: the credential runs to the next comma)
    "not_a_token": (f"{H}: access_token, {TOKEN}:x=1, graphql-ws", f"{TOKEN}:x=1", f"{TOKEN}:x=1"),
}

#: the same header holding protocol names only, or a naming element with no credential after it, and prose
KEPT = [
    f"{H}: graphql-ws",
    f"{H}: v10.stomp, v11.stomp, v12.stomp",
    f"{H}: mqtt",
    f"{H}: wamp.2.json, wamp.2.msgpack",
    f"{H}: v4.channel.k8s.io",
    f"{H}: v4.channel.k8s.io, v5.channel.k8s.io, base64.channel.k8s.io",
    f"{H}: access_token",
    f"{H}: Bearer",
    f"{H}: access_token, ${{ACCESS_TOKEN}}",
    f"{H}: access_token, ***",
    f"{H}: access_token, <token>",
    f"{H}: access_token, null",
    '{"sec-websocket-protocol": "graphql-ws"}',
    "[(b'sec-websocket-protocol', b'v12.stomp')]",
    '{"name": "Sec-WebSocket-Protocol", "value": "wamp.2.json"}',
    "The client lists its subprotocols in the Sec-WebSocket-Protocol header; the server picks one.",
    "Sec-WebSocket-Protocol: send the token as access_token, then the token itself (see the docs).",
    "unsupported subprotocol requested in Sec-WebSocket-Protocol: mqttv3.1",
]


def _bearer_marker(token: str) -> str:
    """The marker of ``token`` after "Authorization: Bearer" (what the subprotocol's marker must equal)."""
    out = scrub(f"Authorization: Bearer {token}")
    assert isinstance(out, str)
    m = MARKER.search(out)
    assert m is not None, out
    return m.group()


def _assert_redacted(line: str, out: Any, replaced: str, token: str) -> None:
    """One marker stands where ``replaced`` stood, it is ``token``'s bearer marker, the rest is byte for byte."""
    assert isinstance(out, str) and replaced not in out and token not in out, out
    markers = MARKER.findall(out)
    assert len(markers) == 1, out
    marker = _bearer_marker(token)
    assert marker in out and marker.startswith("[REDACTED:bearer:"), (marker, out)
    assert out.replace(marker, replaced) == line


# -- scrub() ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(LEAKS))
def test_scrub_redacts_the_credential_element(name: str) -> None:
    """Before: every line kept its token."""
    line, replaced, token = LEAKS[name]
    out = scrub(line)
    _assert_redacted(line, out, replaced, token)
    assert scrub(out) == out  # idempotent
    assert patterns.may_hold_secret(line) and patterns.may_hold_secret_re(line)


def test_a_jws_in_the_header_was_found_before_and_still_is() -> None:
    """A JWS in the subprotocol was redacted by the JOSE detector before this session (its header starts "eyJ"), and
    the base64url of one in Kubernetes' form by the base64 JOSE detector: the marker is the token's ``jwt`` marker."""
    jws_marker = MARKER.search(str(scrub(f"x {JWS}")))
    assert jws_marker is not None and jws_marker.group(1) == "jwt"
    for line, replaced in (
        (f"{H}: access_token, {JWS}", JWS),
        (f"{H}: Bearer, {JWS}", JWS),
        (f"{H}: bearer.{JWS}", JWS),
        (f"{H}: base64url.bearer.authorization.k8s.io.{JWS_B64}, v4.channel.k8s.io", JWS_B64),
    ):
        out = scrub(line)
        assert isinstance(out, str) and out.replace(jws_marker.group(), replaced) == line, out
    # (under the header's name a value is still read as text: a JWS after a protocol's name)
    value = f"graphql-ws, {JWS}"
    assert scrub_value({"sec-websocket-protocol": value}) == {
        "sec-websocket-protocol": value.replace(JWS, jws_marker.group())
    }


@pytest.mark.parametrize("line", KEPT)
def test_protocol_names_and_prose_are_unchanged(line: str) -> None:
    assert scrub(line) == line
    assert scrub_value({"msg": line}) == {"msg": line}


def test_structured_values_keep_protocol_names() -> None:
    for value in (
        "graphql-ws",
        "v10.stomp, v11.stomp, v12.stomp",
        "mqtt",
        "wamp.2.json, wamp.2.msgpack",
        "access_token",
    ):
        for name in ("sec-websocket-protocol", "Sec-WebSocket-Protocol", "HTTP_SEC_WEBSOCKET_PROTOCOL"):
            assert scrub_value({name: value}) == {name: value}
        pair = (b"sec-websocket-protocol", value.encode())
        assert scrub_value([pair]) == [pair]
    assert scrub_value({"sec-websocket-protocol": ["graphql-ws", "mqtt"]}) == {
        "sec-websocket-protocol": ["graphql-ws", "mqtt"]
    }


def test_another_header_named_alike_is_not_this_one() -> None:
    line = f"X-Sec-WebSocket-Protocol: access_token, {TOKEN}"
    assert scrub(line) == line  # (another header: no name of the subprotocol list)


# -- structured values (structlog, logging extras, Sentry, OpenTelemetry attributes) -------------------------------
def test_scrub_value_redacts_the_element_under_the_header() -> None:
    """Before: the value under the header's name (a mapping's key, a header tuple, an ASGI raw header, a WSGI key, an
    OpenTelemetry attribute, its values apart) kept the token."""
    marker = _bearer_marker(TOKEN)
    expected = f"graphql-ws, access_token, {marker}"
    value = f"graphql-ws, access_token, {TOKEN}"
    for name in ("sec-websocket-protocol", "Sec-WebSocket-Protocol", "HTTP_SEC_WEBSOCKET_PROTOCOL"):
        assert scrub_value({"headers": {name: value}}) == {"headers": {name: expected}}
    assert scrub_value([("Sec-WebSocket-Protocol", value)]) == [("Sec-WebSocket-Protocol", expected)]
    raw = [(b"host", b"api"), (b"sec-websocket-protocol", value.encode())]
    assert scrub_value({"headers": raw}) == {
        "headers": [(b"host", b"api"), (b"sec-websocket-protocol", expected.encode())]
    }
    attr = "http.request.header.sec-websocket-protocol"
    assert scrub_value({attr: [value]}) == {attr: [expected]}
    # the list split at its commas (OpenTelemetry's conventions allow a header's values apart)
    assert scrub_value({attr: ["graphql-ws", "access_token", TOKEN]}) == {attr: ["graphql-ws", "access_token", marker]}
    assert scrub_value({attr: (b"Bearer", TOKEN.encode())}) == {attr: (b"Bearer", marker.encode())}
    k8s = f"base64url.bearer.authorization.k8s.io.{K8S_B64}, v4.channel.k8s.io"
    k8s_marker = _bearer_marker(K8S_TOKEN)
    assert scrub_value({"sec-websocket-protocol": k8s}) == {"sec-websocket-protocol": k8s.replace(K8S_B64, k8s_marker)}
    har = {"headers": [{"name": "Sec-WebSocket-Protocol", "value": f"access_token, {TOKEN}"}]}
    assert scrub_value(har) == {"headers": [{"name": "Sec-WebSocket-Protocol", "value": f"access_token, {marker}"}]}
    # an ASGI scope (Starlette, Django Channels): the raw header, and the list split at its commas
    scope = {"type": "websocket", "headers": raw, "subprotocols": ["graphql-ws", "access_token", TOKEN]}
    assert scrub_value(scope) == {
        "type": "websocket",
        "headers": [(b"host", b"api"), (b"sec-websocket-protocol", expected.encode())],
        "subprotocols": ["graphql-ws", "access_token", marker],
    }
    kept = {"type": "websocket", "subprotocols": ["graphql-ws", "graphql-transport-ws"]}
    assert scrub_value(kept) == kept
    split = {"subprotocols": [f"bearer.{TOKEN}", "graphql-ws"]}
    assert scrub_value(split) == {"subprotocols": [f"bearer.{marker}", "graphql-ws"]}


# -- stdlib logging and structlog, as docs/redaction.md sets them up -----------------------------------------------
def _redacting_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(ws)s"))
    handler.addFilter(LoggingRedactor())  # (on the handler, as docs/redaction.md "stdlib logging" says)
    logger = logging.getLogger("tests.redact.s35")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return logger


def test_the_logging_redactor_redacts_every_spelling() -> None:
    """Before: each line, argument, dict argument and ``extra`` value reached the handler's stream with its token."""
    stream = io.StringIO()
    log = _redacting_logger(stream)
    for line, _, _ in LEAKS.values():
        log.info("%s", line, extra={"ws": "-"})
        log.info(line, extra={"ws": "-"})
    log.info("ws connect %s", {"sec-websocket-protocol": f"access_token, {TOKEN}"}, extra={"ws": "-"})
    log.info("ws connect", extra={"ws": {"sec_websocket_protocol": f"bearer.{TOKEN}"}})
    log.info("ws connect", extra={"ws": [(b"sec-websocket-protocol", f"Bearer, {TOKEN}".encode())]})
    text = stream.getvalue()
    assert TOKEN not in text and K8S_B64 not in text and K8S_TOKEN not in text, text
    assert text.count("[REDACTED:bearer:") == 2 * len(LEAKS) + 3
    assert "graphql-ws, access_token, [REDACTED:bearer:" in text and ", v4.channel.k8s.io" in text


def test_the_structlog_processor_redacts_every_spelling() -> None:
    """Before: the event's header dict, its raw ASGI headers and a rendered message kept the token."""
    redactor = StructlogRedactor()
    renderer = structlog.processors.JSONRenderer()
    events = [
        {"event": "ws connect", "headers": {"sec-websocket-protocol": f"access_token, {TOKEN}"}},
        {"event": "ws connect", "raw_headers": [(b"sec-websocket-protocol", f"Bearer, {TOKEN}".encode())]},
        {"event": "ws connect", "subprotocols": f"{H}: base64url.bearer.authorization.k8s.io.{K8S_B64}"},
        *({"event": line} for line, _, _ in LEAKS.values()),
    ]
    out = [str(renderer(None, "info", redactor(None, "info", dict(e)))) for e in events]
    text = "\n".join(out)
    assert TOKEN not in text and K8S_B64 not in text, text
    assert text.count("[REDACTED:bearer:") == len(events)
    kept = {"event": "ws connect", "headers": {"sec-websocket-protocol": "graphql-ws"}}
    assert redactor(None, "info", dict(kept)) == kept


# -- jwtobs scan and jwtobs scrub, every engine ----------------------------------------------------------------------
def assert_scrub_redacts(text: str, secret: str, kept: str) -> None:
    """``scrub(text)`` holds a marker, not ``secret``, and still ``kept``; idempotent; bytes alike."""
    out = scrub(text)
    assert isinstance(out, str) and secret not in out and "[REDACTED:" in out, out
    assert kept in out, (kept, out)
    assert scrub(out) == out  # idempotent
    raw = scrub(text.encode())
    assert isinstance(raw, bytes) and raw.decode() == out


def assert_logging_redacts(leaks: list[tuple[str, str]], kept: list[str]) -> None:
    """Each ``(text, secret)`` of ``leaks`` as the message, a %-argument and an ``extra`` value reaches the handler's
    stream without its secret; each ``kept`` line reaches it unchanged."""
    stream = io.StringIO()
    log = _redacting_logger(stream)
    for text, _ in leaks:
        log.info("%s", text, extra={"ws": "-"})
        log.info(text, extra={"ws": "-"})
        log.info("got", extra={"ws": text})
    out = stream.getvalue()
    for _, secret in leaks:
        assert secret not in out
    stream.seek(0)
    stream.truncate()
    for text in kept:
        log.info("%s", text, extra={"ws": "-"})
    assert stream.getvalue() == "".join(f"{text} -\n" for text in kept)


def assert_structlog_redacts(leaks: list[tuple[str, str]], kept: list[str]) -> None:
    """Each ``(text, secret)`` of ``leaks`` as the event or a field is rendered with a marker and without its secret;
    each ``kept`` line is left as it is."""
    redactor = StructlogRedactor()
    renderer = structlog.processors.JSONRenderer()
    for text, secret in leaks:
        for event in ({"event": text}, {"event": "request", "detail": text}):
            out = str(renderer(None, "info", redactor(None, "info", dict(event))))
            assert secret not in out and "[REDACTED:" in out, out
    for text in kept:
        assert redactor(None, "info", {"event": "x", "detail": text}) == {"event": "x", "detail": text}


def log_of(path: Path, kept: list[str], leaks: list[str]) -> tuple[Path, list[int]]:
    """A log at ``path`` of clean access-log lines, the ``kept`` lines and the ``leaks`` lines; the leak lines'
    numbers."""
    clean = [f'10.0.0.{n} - - [06/Dec/2026:16:24:{n:02d} +0000] "GET /health HTTP/1.1" 200 2' for n in range(30)]
    lines = [*clean, *kept, *leaks, *clean]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    first = len(clean) + len(kept) + 1
    return path, list(range(first, first + len(leaks)))


def assert_scan_finds(path: Path, leak_lines: list[int], engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``jwtobs scan`` with ``engine`` reports exactly the lines ``leak_lines`` of the log at ``path``."""
    assert main(["scan", "--format", "json", "--engine", engine, str(path)]) == 0
    rows = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row.strip()]
    found = sorted({r["line"] for r in rows if r["type"] == "finding"})
    assert found == leak_lines, found


def assert_scrub_copies(
    path: Path, leak_lines: list[int], secrets: list[str], engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``jwtobs scrub`` with ``engine`` writes a copy of the log at ``path`` whose ``leak_lines`` are ``scrub()``'s
    and the others as they were, with none of ``secrets``, in which ``jwtobs scan`` finds nothing."""
    copy = path.with_suffix(".redacted.log")
    assert main(["scrub", "--engine", engine, str(path), str(copy)]) == 0
    capsys.readouterr()
    original = path.read_text(encoding="utf-8").splitlines()
    redacted = copy.read_text(encoding="utf-8").splitlines()
    assert len(redacted) == len(original)
    for number, (before, after) in enumerate(zip(original, redacted, strict=True), start=1):
        assert after == (scrub(before) if number in leak_lines else before), (number, after)
    text = copy.read_text(encoding="utf-8")
    assert not any(secret in text for secret in secrets)
    assert main(["scan", "--exit-code", "--engine", engine, str(copy)]) == 0


def _log(tmp_path: Path) -> tuple[Path, list[int]]:
    return log_of(tmp_path / "ws.log", list(KEPT), [line for line, _, _ in LEAKS.values()])


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scan_finds_every_spelling(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``jwtobs scan`` found none of these lines, with any engine."""
    path, leak_lines = _log(tmp_path)
    assert main(["scan", "--format", "json", "--engine", engine, str(path)]) == 0
    rows = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row.strip()]
    found = [(r["line"], r["kind"], r["fingerprint"]) for r in rows if r["type"] == "finding"]
    assert [line for line, _, _ in found] == leak_lines, found
    expected = [MARKER.fullmatch(_bearer_marker(token)) for _, _, token in LEAKS.values()]
    assert [(kind, fp) for _, kind, fp in found] == [m.groups() for m in expected if m is not None]


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scrub_writes_a_copy_without_the_tokens(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the copy kept every token. Now each leak line is what ``scrub`` makes of it, every other line is
    copied as it is, and the copy scans clean."""
    assert_scrub_copies(*_log(tmp_path), [TOKEN, K8S_B64], engine, capsys)


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scan_finds_nothing_in_the_kept_lines(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "kept.log"
    path.write_text("".join(line + "\n" for line in KEPT), encoding="utf-8")
    assert main(["scan", "--exit-code", "--engine", engine, str(path)]) == 0


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    "ws_headers": lambda: _repeat(f"{H}: "),
    "ws_headers_and_elements": lambda: _repeat(f"{H}: a, "),
    "ws_one_long_list": lambda: f"{H}: " + _repeat("a, ")[len(H) + 2 :],
    "ws_names_in_a_list": lambda: f"{H}: " + _repeat("sec-websocket-protocol, ")[len(H) + 2 :],
    "ws_names_with_separators_in_a_list": lambda: f"{H}: " + _repeat("sec-websocket-protocol=, ")[len(H) + 2 :],
    "ws_naming_elements_without_comma": lambda: _repeat(f"{H}: access_token "),
    "ws_naming_then_blanks": lambda: (f"{H}: access_token" + " " * SIZE)[: SIZE - 1] + "x",
    "ws_naming_pairs": lambda: _repeat(f"{H}: access_token, "),
    "ws_bearer_dots": lambda: f"{H}: " + _repeat("bearer.")[len(H) + 2 :],
    "ws_k8s_prefixes": lambda: _repeat(f"{H}: base64url.bearer.authorization.k8s.io."),
    "ws_k8s_one_run": lambda: (f"{H}: base64url.bearer.authorization.k8s.io." + "A" * SIZE)[:SIZE],
    "ws_padding_runs": lambda: f"{H}: " + _repeat("a=")[len(H) + 2 :],
    "ws_escaped_names": lambda: _repeat("%26sec-websocket-protocol: "),
    "ws_wsgi_names": lambda: _repeat("http_sec_websocket_protocol: "),
    "ws_quoted_pairs": lambda: _repeat("('sec-websocket-protocol', '"),
    "ws_templates": lambda: _repeat(f"{H}: access_token, ${{"),
    "ws_credential_of_names": lambda: f"{H}: token, " + _repeat("sec-websocket-protocol:")[len(H) + 9 : -1] + "{",
    "ws_names_and_credentials": lambda: _repeat("sec-websocket-protocol=token, "),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])


def test_long_structured_values_are_linear() -> None:
    """4 MB lists under the header's name, and a header's values apart, 20,000 of them (the bound of
    ``test_adversarial.test_wide_structure_is_linear``)."""
    start = time.thread_time()
    scrub_value({"sec-websocket-protocol": _repeat("a, ")})
    scrub_value({"sec-websocket-protocol": _repeat("access_token, x, ")})
    scrub_value({"http.request.header.sec-websocket-protocol": ["access_token"] * 20_000})
    assert time.thread_time() - start < 4 * BOUND_S


def opaque(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    """``n`` characters of ``alphabet`` drawn from ``rng`` with an upper-case letter, a lower-case one and a digit
    among them: what a random password or token holds (the probe files' values, each from its own seeded ``rng``)."""
    while True:
        out = "".join(rng.choices(alphabet, k=n))
        if any(c.isupper() for c in out) and any(c.islower() for c in out) and any(c.isdigit() for c in out):
            return out


def probe_suite(leaks: dict[str, tuple[str, str, str]], kept: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The tests every probe file of real lines runs, as module globals (``globals().update(probe_suite(LEAKS,
    KEPT))``): each leak ``(text, secret, kept part)`` redacted by ``scrub()`` with the rest kept, each ``kept`` line
    unchanged (text and bytes), both through the logging redactor and the structlog processor, and ``jwtobs scan`` /
    ``jwtobs scrub`` with every engine on a log of them."""
    secrets = [secret for _, secret, _ in leaks.values()]
    pairs = [(text, secret) for text, secret, _ in leaks.values()]

    @pytest.mark.parametrize("name", sorted(leaks))
    def test_scrub_redacts_the_credential_and_keeps_the_rest(name: str) -> None:
        assert_scrub_redacts(*leaks[name])

    @pytest.mark.parametrize("text", list(kept))
    def test_the_lines_without_a_credential_are_unchanged(text: str) -> None:
        assert scrub(text) == text
        assert scrub(text.encode()) == text.encode()

    def test_the_logging_redactor_redacts_every_form() -> None:
        assert_logging_redacts(pairs, list(kept))

    def test_the_structlog_processor_redacts_every_form() -> None:
        assert_structlog_redacts(pairs, list(kept))

    def log(tmp_path: Path) -> tuple[Path, list[int]]:
        return log_of(tmp_path / "probe.log", list(kept), [text for text, _, _ in leaks.values()])

    @pytest.mark.parametrize("engine", ENGINES)
    def test_jwtobs_scan_finds_every_line(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert_scan_finds(*log(tmp_path), engine, capsys)

    @pytest.mark.parametrize("engine", ENGINES)
    def test_jwtobs_scrub_writes_a_copy_without_the_credentials(
        engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert_scrub_copies(*log(tmp_path), secrets, engine, capsys)

    return {name: value for name, value in locals().items() if name.startswith("test_")}
