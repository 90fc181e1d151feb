"""Each integration behind the real servers users deploy it with, each in its own process, driven with raw HTTP.

Per server (:data:`tests.integrations.real_servers.SERVERS`: uvicorn, hypercorn, gunicorn with uvicorn workers,
``flask run``, gunicorn, waitress, ``django runserver``, gunicorn with Django), with logging and redaction set up as
the docs say (``logging.basicConfig`` then ``jwtobs.redact.install()``, :mod:`tests.integrations.served`):

* odd requests: tokens in ``?access_token=``, ``?token=``, the path and cookies; ``Authorization`` in odd case,
  with extra blanks, a tab, obs-fold, bytes that are no latin-1 text, a 48 KB token, twice, empty; HTTP/1.0;
  two pipelined requests; ``Expect: 100-continue``; a client that goes away mid-request or before the answer.
  Each gets the right status (the server's own 4xx where it refuses the request first), never a 5xx but for the
  route that raises;
* 200 concurrent requests (valid, expired and forged tokens, each with its own ``sub``) over 40 keep-alive
  connections: every verdict right, every answer carries its own request's ``sub``;
* every token's event is in the event file exactly once after the server is stopped as an orchestrator stops it;
* no token (payload or signature segment) and no cookie value in anything the server printed: access logs, error
  logs, tracebacks, the app's own lines.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from jwtobs.fingerprint import Fingerprinter
from tests.integrations import served
from tests.integrations.real_servers import (
    FLASK_EXCEPTIONS,
    LOG_CONFIGS,
    SERVERS,
    Running,
    Server,
    available,
    exchange,
    request_bytes,
    send_and_leave,
    serve,
    statuses,
)
from tests.jwks.server import RsaKey

COOKIE_SECRET = "c00k1e-" + "5e55" * 12


class Tokens:
    def __init__(self) -> None:
        self.key = RsaKey("k1")
        self.impostor = RsaKey("k1")
        self.sent: list[str] = []

    def make(self, sub: str, *, expired: bool = False, forged: bool = False, **extra: Any) -> str:
        now = int(time.time())
        claims = {"iss": served.ISS, "aud": served.AUD, "sub": sub, "iat": now, "exp": now + 600, **extra}
        if expired:
            claims.update(iat=now - 7200, exp=now - 3600)
        token = (self.impostor if forged else self.key).sign(claims)
        self.sent.append(token)
        return token


def _sub(body: bytes) -> str | None:
    body = body[body.rfind(b"HTTP/1.") :]  # the final response (after a 100 Continue)
    start = body.find(b"\r\n\r\n")
    text = body[start + 4 :] if start >= 0 else b""
    if b"\r\n" in text:  # chunked (gunicorn + Django): the JSON is in the first chunk
        text = text.split(b"\r\n")[1]
    try:
        return str(json.loads(text).get("sub"))
    except (ValueError, AttributeError):
        return None


def _battery(srv: Running, t: Tokens) -> tuple[list[str], set[str]]:
    """The odd requests; returns failures and the tokens whose request must have recorded exactly one event."""
    bearer = lambda tok: (("Authorization", f"Bearer {tok}"),)  # noqa: E731
    once: set[str] = set()
    failures: list[str] = []

    def expect(label: str, data: bytes, allowed: set[int], sub: str | None = None) -> None:
        reply = exchange(srv.port, data)
        got = statuses(reply)
        if not got and b"<p>Error code: 400</p>" in reply:  # http.server's answer to a request line it cannot read
            got = [400]  # (no status line: it takes the request for HTTP/0.9)
        if len(got) != 1 or got[0] not in allowed:
            failures.append(f"{label}: {got} not one of {sorted(allowed)}: {reply[:300]!r}")
        elif sub is not None and got[0] == 200 and _sub(reply) != sub:
            failures.append(f"{label}: answered for {_sub(reply)!r}, not {sub!r}")

    tok = t.make("q1")
    expect("?access_token= (not allowed)", request_bytes(f"/items?access_token={tok}"), {400})
    tok = t.make("q2")
    expect("?access_token= (allowed)", request_bytes(f"/q/items?access_token={tok}"), {200}, "q2")
    once.add(tok)
    expect("?token= on a public route", request_bytes(f"/public?token={t.make('q3')}"), {200})
    expect("token in the path", request_bytes(f"/t/{t.make('p1')}/items"), {404})
    tok = t.make("c1")
    expect("odd case", request_bytes("/items", (("aUtHoRiZaTiOn", f"bEaReR {tok}"),)), {200}, "c1")
    once.add(tok)
    tok = t.make("c2")
    expect("extra blanks", request_bytes("/items", (("Authorization", f"  Bearer   {tok}  "),)), {200}, "c2")
    once.add(tok)
    expect("tab", request_bytes("/items", (("Authorization", f"Bearer\t{t.make('c3')}"),)), {400})
    # obs-fold: servers either refuse it (400) or unfold it to a blank (RFC 9112 §5.2), then it is a token
    expect("obs-fold", request_bytes("/items", (("Authorization", f"Bearer\r\n {t.make('c4')}"),)), {200, 400})
    raw = request_bytes("/items", bearer(t.make("c5")))
    raw = raw.replace(b"\r\nConnection", "\u00e9\u20ac".encode() + b"\r\nConnection", 1)  # UTF-8 after the token
    expect("bytes that are no latin-1 text", raw, {400, 401})
    # 48 KB: over every server's or jwtobs's limit (431/400 from the server, 401 JWT_OVERSIZED from jwtobs)
    expect("48 KB token", request_bytes("/items", bearer(t.make("c6", pad="x" * 48_000))), {400, 401, 413, 431})
    expect("Bearer, vertical tab", request_bytes("/items", (("Authorization", f"Bearer\x0b{t.make('c9')}"),)), {400})
    expect("NUL after the token", request_bytes("/items", (("Authorization", f"Bearer {t.make('c10')}\x00"),)),
           {400, 401})  # fmt: skip
    # a request line the server refuses itself: servers log it (http.server's "Bad request version ('...')")
    bad_line = f"GET /items?access_token={t.make('r1')} HTTP/1.1 x\r\nHost: 127.0.0.1\r\n\r\n".encode()
    expect("bad request line", bad_line, {400, 404, 505})
    expect("token as a header name", f"GET /public HTTP/1.1\r\nHost: a\r\n{t.make('n1')}: 1\r\n"
           "Connection: close\r\n\r\n".encode(), {200, 400})  # fmt: skip
    expect("two headers", request_bytes("/items", bearer(t.make("c7")) + bearer(t.make("c8"))), {400})
    expect("Bearer, no token", request_bytes("/items", (("Authorization", "Bearer"),)), {400})
    expect("Bearer and a blank", request_bytes("/items", (("Authorization", "Bearer "),)), {400})
    tok = t.make("h10")
    expect("HTTP/1.0", request_bytes("/items", bearer(tok), version="1.0"), {200}, "h10")
    once.add(tok)
    cookies = (("Cookie", f"session={t.make('k1')}; access_token={t.make('k2')}; sid={COOKIE_SECRET}"),)
    expect("cookies, public route", request_bytes("/public", cookies), {200})
    expect("cookie only", request_bytes("/items", (("Cookie", f"access_token={t.make('k3')}"),)), {401})
    tok = t.make("e1")
    expect("Expect: 100-continue", request_bytes("/items", (*bearer(tok), ("Expect", "100-continue")),
                                                  method="POST", body=b"{}"), {200}, "e1")  # fmt: skip
    once.add(tok)
    tok = t.make("x1", expired=True)
    expect("expired", request_bytes("/items", bearer(tok)), {401})
    once.add(tok)
    tok = t.make("b1")
    boom = (*bearer(tok), ("Cookie", f"jwt={t.make('b2')}; sid={COOKIE_SECRET}"))
    expect("a route that raises", request_bytes("/boom", boom), {500})
    once.add(tok)

    # two pipelined requests on one connection: answered in order, each with its own principal (the development
    # servers answer the first and close)
    a, b = t.make("pipe-a"), t.make("pipe-b")
    reply = exchange(srv.port, request_bytes("/items", bearer(a), close=False) + request_bytes("/items", bearer(b)))
    subs = [s for s in (b"pipe-a", b"pipe-b") if s in reply]
    got = statuses(reply)
    if not got or set(got) != {200} or subs[: len(got)] != [b"pipe-a", b"pipe-b"][: len(got)] or len(subs) != len(got):
        failures.append(f"pipelined: {got} {subs}: {reply[:400]!r}")
    if srv.server.keep_alive and len(got) != 2:
        failures.append(f"pipelined: {len(got)} answers")
    once.add(a)
    if len(got) == 2:
        once.add(b)

    # a client that goes away: halfway through the headers, and after a whole request without reading the answer
    half = request_bytes("/items", bearer(t.make("gone-1")))
    send_and_leave(srv.port, half[: len(half) // 2])
    send_and_leave(srv.port, request_bytes("/items", bearer(t.make("gone-2"))))
    return failures, once


def _concurrent(srv: Running, t: Tokens, n: int = 200, connections: int = 40) -> tuple[list[str], set[str]]:
    """``n`` requests over ``connections`` keep-alive connections at once, a third each valid, expired, forged."""
    plan = []
    for i in range(n):
        kind = ("valid", "expired", "forged")[i % 3]
        plan.append((kind, f"cc-{i}", t.make(f"cc-{i}", expired=kind == "expired", forged=kind == "forged")))
    per_connection = [plan[i::connections] for i in range(connections)]

    def run(requests: list[tuple[str, str, str]]) -> list[str]:
        problems = []
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        try:
            for kind, sub, token in requests:
                conn.request("GET", "/items", headers={"Authorization": f"Bearer {token}"})
                r = conn.getresponse()
                body = r.read()
                want = 200 if kind == "valid" else 401
                if r.status != want:
                    problems.append(f"{sub} ({kind}): {r.status} != {want}")
                elif kind == "valid" and json.loads(body).get("sub") != sub:
                    problems.append(f"{sub}: answered for {json.loads(body).get('sub')!r}")
        finally:
            conn.close()
        return problems

    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(run, per_connection))
    return [p for r in results for p in r], {token for _, _, token in plan}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def _leaks(text: str, t: Tokens) -> list[str]:
    """The tokens (payload or signature segment) and cookie values that appear in ``text``."""
    found = []
    for token in t.sent:
        _, payload, signature = token.split(".")
        if payload in text or signature in text:
            found.append(token[:24] + "...")
    if COOKIE_SECRET in text:
        found.append("cookie " + COOKIE_SECRET[:12] + "...")
    return found


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    return Tokens()


def _setup(server: Server, tokens: Tokens, tmp_path: Path) -> tuple[Path, Tokens]:
    if not available(server):
        pytest.skip(f"{server.needs} is not installed")
    pem = tmp_path / "public.pem"
    pem.write_bytes(
        tokens.key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    t = Tokens.__new__(Tokens)
    t.key, t.impostor, t.sent = tokens.key, tokens.impostor, []
    return pem, t


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server", FLASK_EXCEPTIONS + LOG_CONFIGS, ids=[s.name for s in FLASK_EXCEPTIONS + LOG_CONFIGS])
def test_logging_set_up_after_the_install(server: Server, tokens: Tokens, tmp_path: Path) -> None:
    """The route that logs the request's headers, then raises an exception whose message holds the token, where
    output is set up after jwtobs's install. Flask: Werkzeug's debugger prints the traceback to the request's
    ``wsgi.errors``, outside logging, and in an app that configures no logging Flask gives ``app.logger`` (named
    after the app) a handler of its own once the first exception is logged; before session 21 each of these four
    printed the token (twice: the exception line and the source line of the f-string). uvicorn: ``uvicorn.run(app,
    log_config=...)`` replaces the root handler after the install; before session 21 the app's header line printed
    2 tokens (the Authorization header and a cookie)."""
    pem, t = _setup(server, tokens, tmp_path)
    with serve(server, tmp_path, pem) as srv:
        bearer = (("Authorization", f"Bearer {t.make('b1')}"),)
        assert statuses(exchange(srv.port, request_bytes("/boom", bearer))) == [500]
    output = srv.output()
    assert "backend refused" in output, f"{server.name}: the exception was not printed at all"
    assert _leaks(output, t) == [], f"{server.name}: the server printed credentials"
    assert "REDACTED:jwt:" in output


#: waitress, flask run, django runserver (SIGTERM at its default), and hypercorn when the whole process group gets
#: SIGTERM (its spawned worker leaves it at its default)
SIGTERM_DEFAULT = [s for s in SERVERS if s.stop is not signal.SIGTERM] + [
    dataclasses.replace(s, name=f"{s.name}, SIGTERM to the group", stop_group=True)
    for s in SERVERS
    if s.name == "hypercorn"
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server", SIGTERM_DEFAULT, ids=[s.name for s in SIGTERM_DEFAULT])
def test_sigterm_where_the_server_leaves_it_at_its_default(server: Server, tokens: Tokens, tmp_path: Path) -> None:
    """Stopped with SIGTERM (docker stop, Kubernetes, systemd) right after 50 requests: the process (hypercorn's
    worker) ended at once and the 50 events still buffered were lost (0 of 50 written before session 21); with
    ``exit_on_sigterm()`` called where the app is loaded, SIGTERM exits through ``sys.exit`` and every event is
    written."""
    server = dataclasses.replace(server, stop=signal.SIGTERM, env=(("SERVED_EXIT_ON_SIGTERM", "1"),))
    pem, t = _setup(server, tokens, tmp_path)
    with serve(server, tmp_path, pem) as srv:
        sent = [t.make(f"term-{i}") for i in range(50)]
        for token in sent:
            assert statuses(exchange(srv.port, request_bytes("/items", (("Authorization", f"Bearer {token}"),)))) == [
                200
            ]
    assert srv.process.returncode != -signal.SIGTERM, "the process died of the signal"
    events = srv.events.read_text().splitlines() if srv.events.exists() else []
    fp = Fingerprinter(served.FP_KEY, key_id=served.FP_KEY_ID)
    written = {json.loads(line).get("token_fp") for line in events}
    assert sum(fp.token(tok) in written for tok in sent) == 50


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server", SERVERS, ids=[s.name for s in SERVERS])
def test_real_server(server: Server, tokens: Tokens, tmp_path: Path) -> None:
    pem, t = _setup(server, tokens, tmp_path)
    with serve(server, tmp_path, pem) as srv:
        failures, once = _battery(srv, t)
        concurrent_failures, concurrent = _concurrent(srv, t)
        # stopped right after the last answer, as a deployment does: the events still buffered must be written
    output = srv.output()
    assert srv.process.returncode is not None
    events = [json.loads(line) for line in srv.events.read_text().splitlines()] if srv.events.exists() else []
    fp = Fingerprinter(served.FP_KEY, key_id=served.FP_KEY_ID)
    seen: dict[str, int] = {}
    for e in events:
        if e.get("token_fp"):
            seen[e["token_fp"]] = seen.get(e["token_fp"], 0) + 1
    missing = sorted(_claims(tok)["sub"] for tok in once | concurrent if seen.get(fp.token(tok), 0) != 1)
    twice = sorted(f for f, n in seen.items() if n > 1)

    assert failures == [], f"{server.name}: {failures}"
    assert concurrent_failures == [], f"{server.name}: {concurrent_failures[:10]}"
    assert twice == [], f"{server.name}: events recorded twice: {twice}"
    assert missing == [], f"{server.name}: {len(missing)} of {len(once | concurrent)} events not recorded once"
    assert _leaks(output, t) == [], f"{server.name}: the server printed credentials"
    assert _leaks(srv.events.read_text() if srv.events.exists() else "", t) == []
    assert "REDACTED:jwt:" in output, f"{server.name}: the tokens it logged are not marked"
